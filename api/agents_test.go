package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// conversationOn stores a conversation of customer 9001 on Page 101 of a new channel fb_main of tn.
func (h *harness) conversationOn(tn tenant) *aicc.Conversation {
	h.t.Helper()
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	conv := &aicc.Conversation{TenantID: tn.ID, ChannelID: ch, PageID: "101", PSID: "9001", UpdatedAt: h.now()}
	require.NoError(h.t, h.store.SaveConversation(context.Background(), conv))
	return conv
}

// An agent's request is checked before the conversation's workflow hears of it (the harness's Temporal client
// expects no call): the agent's ID, the reply's text, the queue, the caller's role and tenant.
func TestAgentRequestsChecked(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	conv := h.conversationOn(a)
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
	e = requireError(t, h.post(path+"/decline", a.Admin, map[string]any{"agentId": ""}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "agentId")
	e = requireError(t, h.post(path+"/transfer", a.Admin, map[string]any{"agentId": "ann"}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "queueId")
	requireError(t, h.post(path+"/messages", a.Admin, map[string]any{"agentId": "ann", "text": "hi", "tag": "HUMAN_AGENT"}),
		http.StatusBadRequest, aicc.EINVALID) // the messaging type is the service's to choose

	requireError(t, h.post(path+"/close", a.Viewer, map[string]any{"agentId": "ann"}), http.StatusForbidden, aicc.EFORBIDDEN)
	for _, action := range []string{"assign", "close", "decline"} {
		requireError(t, h.post(path+"/"+action, b.Admin, map[string]any{"agentId": "ann"}), http.StatusNotFound, aicc.ENOTFOUND)
	}
	requireError(t, h.post("/v1/conversations/cv_missing/assign", a.Admin, map[string]any{"agentId": "ann"}),
		http.StatusNotFound, aicc.ENOTFOUND)
}

// Declining an offer is the conversation's decline Update with the agent's ID; the workflow's refusal of an
// agent the conversation is not offered to is a 409 NOT_OFFERED, and an accepted decline answers with the
// conversation queued.
func TestDeclineOffer(t *testing.T) {
	h := newHarness(t)
	a := h.newTenant("A")
	conv := h.conversationOn(a)
	path := "/v1/conversations/" + conv.ID + "/decline"

	// The conversation's Updates are answered here, not by the played workflows.
	h.temporal.ExpectedCalls = slices.DeleteFunc(h.temporal.ExpectedCalls, func(c *mock.Call) bool {
		return c.Method == "NewWithStartWorkflowOperation" || c.Method == "UpdateWithStartWorkflow"
	})
	var declines []string
	h.temporal.On("NewWithStartWorkflowOperation", mock.Anything, workflows.ConversationWorkflowType, mock.Anything).
		Return(nil).Twice()
	h.temporal.On("UpdateWithStartWorkflow", mock.Anything, mock.Anything).
		Return(func(_ context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
			req := o.UpdateOptions.Args[0].(workflows.AgentRequest)
			declines = append(declines, o.UpdateOptions.UpdateName+" "+req.AgentID)
			if req.AgentID != "agent_7" {
				return nil, temporal.NewApplicationError("The conversation is not offered to the agent.", aicc.ENOTOFFERED)
			}
			queued := *conv
			queued.Stage, queued.QueueID = aicc.StageQueued, "sq_1"
			return updateAnswer{workflowID: o.UpdateOptions.WorkflowID, result: queued}, nil
		}).Twice()

	e := requireError(t, h.post(path, a.Admin, map[string]any{"agentId": "agent_9"}), http.StatusConflict, aicc.ENOTOFFERED)
	assert.Contains(t, e.Message, "not offered")
	r := h.post(path, a.Admin, map[string]any{"agentId": "agent_7"})
	require.Equal(t, http.StatusOK, r.Code, "body: %s", r.Body)
	var got struct {
		Stage   string `json:"stage"`
		QueueID string `json:"queueId"`
	}
	r.decode(t, &got)
	assert.Equal(t, string(aicc.StageQueued), got.Stage)
	assert.Equal(t, "sq_1", got.QueueID)
	assert.Equal(t, []string{"decline agent_9", "decline agent_7"}, declines)
}
