package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

// An agent's request is checked before the conversation's workflow hears of it (the harness's Temporal client
// expects no call): the agent's ID, the reply's text, the queue, the caller's role and tenant.
func TestAgentRequestsChecked(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	ch := h.webhookChannel(a, "fb_main", aicc.AlgorithmSHA256, "101")
	conv := &aicc.Conversation{TenantID: a.ID, ChannelID: ch, PageID: "101", PSID: "9001", UpdatedAt: h.now()}
	require.NoError(t, h.store.SaveConversation(context.Background(), conv))
	path := "/v1/conversations/" + conv.ID

	e := requireError(t, h.post(path+"/assign", a.Admin, map[string]any{}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "agentId")
	e = requireError(t, h.post(path+"/assign", a.Admin, map[string]any{"agentId": strings.Repeat("a", 129)}),
		http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "agentId")
	e = requireError(t, h.post(path+"/messages", a.Admin, map[string]any{"agentId": "ann", "text": strings.Repeat("x", 2001)}),
		http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "text")
	e = requireError(t, h.post(path+"/messages", a.Admin, map[string]any{"agentId": "ann"}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "text")
	e = requireError(t, h.post(path+"/transfer", a.Admin, map[string]any{"agentId": "ann"}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "queueId")
	requireError(t, h.post(path+"/messages", a.Admin, map[string]any{"agentId": "ann", "text": "hi", "tag": "HUMAN_AGENT"}),
		http.StatusBadRequest, aicc.EINVALID) // the messaging type is the service's to choose

	requireError(t, h.post(path+"/close", a.Viewer, map[string]any{"agentId": "ann"}), http.StatusForbidden, aicc.EFORBIDDEN)
	for _, action := range []string{"assign", "close"} {
		requireError(t, h.post(path+"/"+action, b.Admin, map[string]any{"agentId": "ann"}), http.StatusNotFound, aicc.ENOTFOUND)
	}
	requireError(t, h.post("/v1/conversations/cv_missing/assign", a.Admin, map[string]any{"agentId": "ann"}),
		http.StatusNotFound, aicc.ENOTFOUND)
}
