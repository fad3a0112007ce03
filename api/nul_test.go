package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aiccfb/aicc"
)

// A NUL character can be stored in no text column of either database: in a path, a query or a body it is a bad
// request or an unknown ID, never an internal error, and an agent's ID holding one never reaches the
// conversation's workflow (whose saves would fail on it forever).
func TestNULCharactersRefused(t *testing.T) {
	h := newHarness(t)
	a := h.newTenant("A")
	conv := h.conversationOn(a)

	for _, path := range []string{"/v1/channels/%00", "/v1/channels/" + conv.ChannelID + "%00", "/v1/ous/%00", "/v1/conversations/%00"} {
		requireError(t, h.get(path, a.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
	}
	e := requireError(t, h.get("/v1/channels?name=x%00", a.Viewer), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "name")

	requireError(t, h.post("/v1/ous", a.Admin, map[string]any{"name": "A\x00"}), http.StatusBadRequest, aicc.EINVALID)
	for _, action := range []string{"assign", "close", "decline"} {
		requireError(t, h.post("/v1/conversations/"+conv.ID+"/"+action, a.Admin, map[string]any{"agentId": "a\x00b"}),
			http.StatusBadRequest, aicc.EINVALID)
	}
	requireError(t, h.post("/v1/conversations/"+conv.ID+"/messages", a.Admin,
		map[string]any{"agentId": "ann", "text": "hi", "requestId": "r\x00"}), http.StatusBadRequest, aicc.EINVALID)
	// An escaped backslash before "u0000" is text, not a NUL.
	requireStatus(t, h.post("/v1/ous", a.Admin, map[string]any{"name": `A\u0000`}), http.StatusCreated)
}
