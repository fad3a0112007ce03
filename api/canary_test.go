package api_test

import (
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

// TestSecretsNeverLeak walks a channel through every route that shows it and checks that the app secret and
// the Page token appear in no response body, no log line and no workflow input.
func TestSecretsNeverLeak(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	appSecret := "CANARY-app-secret-" + hex.EncodeToString(aicc.RandomBytes(8))
	pageToken := "CANARY-page-token-" + hex.EncodeToString(aicc.RandomBytes(8))

	body := channelBody(tn, "fb_canary")
	body["appSecret"] = appSecret
	c := h.createChannel(tn, body)
	id := c.Channel.ID

	requireStatus(t, h.post("/v1/channels/"+id+"/pages", tn.Admin,
		map[string]any{"pageId": "1234567890", "tokenSecret": pageToken, "name": "Shop"}), http.StatusCreated)
	// A refused Page (bad ID) with the token must not echo it either.
	requireError(t, h.post("/v1/channels/"+id+"/pages", tn.Admin,
		map[string]any{"pageId": "shop", "tokenSecret": pageToken}), http.StatusBadRequest, aicc.EINVALID)
	// Neither must a refused channel with the secret.
	bad := channelBody(tn, "bad name")
	bad["appSecret"] = appSecret
	requireError(t, h.post("/v1/channels", tn.Admin, bad), http.StatusBadRequest, aicc.EINVALID)

	requireStatus(t, h.get("/v1/channels/"+id, tn.Admin), http.StatusOK)
	requireStatus(t, h.get("/v1/channels", tn.Viewer), http.StatusOK)
	requireStatus(t, h.patch("/v1/channels/"+id, tn.Admin, map[string]any{"name": "fb_canary2"}), http.StatusOK)
	requireStatus(t, h.get("/v1/channels/"+id+"/pages", tn.Viewer), http.StatusOK)
	requireStatus(t, h.get("/webhooks/facebook/"+id+"?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", ""),
		http.StatusForbidden)

	require.NotEmpty(t, h.rec.starts)
	logs := h.logs.String()
	require.NotEmpty(t, logs)
	for _, secret := range []string{appSecret, pageToken} {
		for i, b := range h.rec.bodies {
			assert.NotContains(t, b, secret, "response %d", i)
		}
		assert.NotContains(t, logs, secret)
		for _, s := range h.rec.starts {
			assert.NotContains(t, s, secret, "workflow start")
		}
	}
	// The verify token is shown once, in the create answer, and nowhere else.
	for i, b := range h.rec.bodies {
		if i != indexOfBody(h.rec.bodies, c.MetaSetup.VerifyToken) {
			assert.NotContains(t, b, c.MetaSetup.VerifyToken, "response %d", i)
		}
	}
	assert.NotContains(t, logs, c.MetaSetup.VerifyToken)
	// Bearer tokens are not logged either.
	assert.NotContains(t, logs, tn.Admin)
	assert.NotContains(t, logs, tn.Viewer)
	assert.False(t, strings.Contains(logs, "hub.verify_token"), "the webhook's query string is not logged")
}

func indexOfBody(bodies []string, s string) int {
	for i, b := range bodies {
		if strings.Contains(b, s) {
			return i
		}
	}
	return -1
}
