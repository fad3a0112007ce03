package api_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/workflows"
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
	h.flows.graph.AddApp(body["appId"].(string), appSecret) // Meta knows the app with this secret: it is proven
	c := h.createChannel(tn, body)
	id := c.Channel.ID

	requireStatus(t, h.post("/v1/channels/"+id+"/pages", tn.Admin,
		map[string]any{"pageId": "1234567890", "tokenSecret": pageToken, "name": "Shop"}), http.StatusCreated)
	// A Page whose token Meta refuses.
	h.flows.setConnect(h.flows.outcome(workflows.ConnectPageResult{Status: aicc.PageTokenInvalid, Reason: aicc.EMETATOKENINVALID,
		Message: "Meta refused the Page access token."}))
	requireError(t, h.post("/v1/channels/"+id+"/pages", tn.Admin,
		map[string]any{"pageId": "1234567891", "tokenSecret": pageToken}), http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
	h.flows.setConnect(nil)
	// Test messages, sent and refused: the workflow gets IDs, its activity unseals the token and the app secret.
	msgPath := "/v1/channels/" + id + "/pages/1234567890/messages"
	requireStatus(t, h.post(msgPath, tn.Admin, map[string]any{"recipientId": "42", "text": "hi"}), http.StatusOK)
	h.flows.setTestMessage(func(context.Context, workflows.TestMessageInput) (aicc.SendResult, error) {
		return aicc.SendResult{}, metaRefusal(aicc.EMETATOKENINVALID, "Meta refused the Page access token.")
	})
	requireError(t, h.post(msgPath, tn.Admin, map[string]any{"recipientId": "42", "text": "hi"}),
		http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
	h.flows.setTestMessage(nil)
	require.Len(t, h.flows.sentMessages(), 2)
	requireStatus(t, h.get("/v1/channels/"+id+"/pages/1234567890", tn.Viewer), http.StatusOK)
	requireError(t, h.post("/v1/channels/"+id+"/pages/1234567890/connect", tn.Admin, nil), http.StatusConflict, aicc.ECONFLICT)
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
	// Webhooks, accepted and refused: the app secret is unsealed into the channel cache, never shown, and the
	// customer's message is in no log line.
	message := "CANARY-customer-message-" + hex.EncodeToString(aicc.RandomBytes(8))
	wh := metatest.NewPayload(metatest.NewEntry("1234567890", metatest.Text("1234567890", "9001", "m_1", message, 1)))
	whBody := wh.Encode()
	whPath := "/webhooks/facebook/" + id
	requireStatus(t, h.do(request{method: http.MethodPost, path: whPath, body: whBody,
		header: signedBy(aicc.AlgorithmSHA256, appSecret, whBody)}), http.StatusOK)
	requireStatus(t, h.do(request{method: http.MethodPost, path: whPath, body: whBody,
		header: signedBy(aicc.AlgorithmSHA256, "wrong", whBody)}), http.StatusForbidden)
	requireStatus(t, h.do(request{method: http.MethodPost, path: whPath, body: []byte(`{"object":"page","entry":[` + message),
		header: signedBy(aicc.AlgorithmSHA256, appSecret, []byte(`{"object":"page","entry":[`+message))}), http.StatusBadRequest)
	requireStatus(t, h.delete("/v1/channels/"+id+"/pages/1234567890", tn.Admin), http.StatusNoContent)
	// The onboarding, started again, and the deletion, twice, with the changes it refuses.
	require.NoError(t, h.store.SetOnboarding(context.Background(), id,
		aicc.Onboarding{Status: aicc.StatusVerificationExpired, Step: workflows.StepDone, UpdatedAt: h.now()}))
	requireStatus(t, h.post("/v1/channels/"+id+"/onboarding", tn.Admin, nil), http.StatusAccepted)
	requireStatus(t, h.post("/v1/channels/"+id+"/pages", tn.Admin,
		map[string]any{"pageId": "1234567892", "tokenSecret": pageToken}), http.StatusCreated)
	requireStatus(t, h.delete("/v1/channels/"+id, tn.Admin), http.StatusAccepted)
	requireStatus(t, h.delete("/v1/channels/"+id, tn.Admin), http.StatusAccepted)
	requireError(t, h.patch("/v1/channels/"+id, tn.Admin, map[string]any{"name": "fb_canary3"}),
		http.StatusConflict, aicc.ECHANNELDELETING)
	requireError(t, h.post("/v1/channels/"+id+"/pages", tn.Admin, map[string]any{"pageId": "1234567893", "tokenSecret": pageToken}),
		http.StatusConflict, aicc.ECHANNELDELETING)
	requireError(t, h.post("/v1/channels/"+id+"/pages/1234567892/messages", tn.Admin, map[string]any{"recipientId": "42", "text": "hi"}),
		http.StatusConflict, aicc.ECHANNELDELETING)
	requireStatus(t, h.get("/v1/channels/"+id, tn.Viewer), http.StatusOK)
	requireStatus(t, h.do(request{method: http.MethodPost, path: whPath, body: whBody,
		header: signedBy(aicc.AlgorithmSHA256, appSecret, whBody)}), http.StatusOK)

	starts := strings.Join(h.rec.starts, "\n")
	for _, workflow := range []string{workflows.OnboardingWorkflowType, workflows.ConnectPageWorkflowType,
		workflows.DisconnectPageWorkflowType, workflows.SendTestMessageWorkflowType, workflows.ChannelDeleteWorkflowType} {
		assert.Contains(t, starts, " "+workflow+" ", "the walk started every workflow the API starts")
	}
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
		for _, m := range h.flows.sentMessages() {
			assert.NotContains(t, fmt.Sprintf("%+v", m), secret, "test message input")
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
	assert.NotContains(t, logs, message, "webhook bodies are not logged")
	assert.Contains(t, logs, `"route":"/webhooks/facebook/:channelID"`, "the webhook POSTs are logged, without their body")
}

func indexOfBody(bodies []string, s string) int {
	for i, b := range bodies {
		if strings.Contains(b, s) {
			return i
		}
	}
	return -1
}
