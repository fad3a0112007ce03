package api_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/api/serviceerror"

	"github.com/aiccfb/aicc/workflows"
)

func verifyURL(channelID, mode, token, challenge string) string {
	q := url.Values{}
	for k, v := range map[string]string{"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return "/webhooks/facebook/" + channelID + "?" + q.Encode()
}

func TestWebhookVerification(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	c := h.createChannel(tn, channelBody(tn, "fb_main"))
	id, token := c.Channel.ID, c.MetaSetup.VerifyToken
	signal := func() *mock.Call {
		return h.temporal.On("SignalWorkflow", mock.Anything, onboardingID(id), "", workflows.SignalMetaVerified,
			workflows.MetaVerifiedSignal{At: h.now()})
	}

	t.Run("right token", func(t *testing.T) {
		h := h.on(t)
		signal().Return(nil).Once()
		r := h.get(verifyURL(id, "subscribe", token, "1158201444"), "")
		requireStatus(t, r, http.StatusOK)
		assert.Equal(t, "1158201444", string(r.Body))
		assert.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
		h.temporal.AssertNumberOfCalls(t, "SignalWorkflow", 1)
	})
	t.Run("challenge is echoed as given", func(t *testing.T) {
		h := h.on(t)
		signal().Return(nil).Once()
		r := h.get(verifyURL(id, "subscribe", token, "<b>abc def</b>"), "")
		requireStatus(t, r, http.StatusOK)
		assert.Equal(t, "<b>abc def</b>", string(r.Body))
		assert.Equal(t, "nosniff", r.Header.Get("X-Content-Type-Options"))
	})
	t.Run("closed onboarding", func(t *testing.T) {
		h := h.on(t)
		signal().Return(serviceerror.NewNotFound("workflow execution already completed")).Once()
		r := h.get(verifyURL(id, "subscribe", token, "42"), "")
		requireStatus(t, r, http.StatusOK)
		assert.Equal(t, "42", string(r.Body))
	})
	t.Run("signal fails", func(t *testing.T) {
		h := h.on(t)
		signal().Return(errors.New("connection reset")).Once()
		r := h.get(verifyURL(id, "subscribe", token, "42"), "")
		requireStatus(t, r, http.StatusServiceUnavailable)
		assert.NotContains(t, string(r.Body), "connection reset")
	})

	calls := len(h.temporal.Calls)
	for name, u := range map[string]string{
		"wrong token":     verifyURL(id, "subscribe", token+"x", "42"),
		"missing token":   verifyURL(id, "subscribe", "", "42"),
		"wrong mode":      verifyURL(id, "unsubscribe", token, "42"),
		"missing mode":    verifyURL(id, "", token, "42"),
		"unknown channel": verifyURL("ch_unknown", "subscribe", token, "42"),
	} {
		t.Run(name, func(t *testing.T) {
			h := h.on(t)
			r := h.get(u, "")
			requireStatus(t, r, http.StatusForbidden)
			assert.Empty(t, r.Body)
		})
	}
	assert.Len(t, h.temporal.Calls, calls, "a refused verification signals nothing")

	m := string(h.get("/metrics", "").Body)
	assert.Contains(t, m, `aicc_webhook_verifications_total{result="verified"} 3`)
	// The unknown channel counts as a wrong token: no metric tells whether a channel exists.
	assert.Contains(t, m, `aicc_webhook_verifications_total{result="wrong_token"} 3`)
	assert.Contains(t, m, `aicc_webhook_verifications_total{result="wrong_mode"} 2`)
	assert.NotContains(t, m, "unknown_channel")
	assert.Contains(t, m, `aicc_webhook_verifications_total{result="error"} 1`)
}

func TestRotateVerifyToken(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	c := h.createChannel(tn, channelBody(tn, "fb_main"))
	id, old := c.Channel.ID, c.MetaSetup.VerifyToken
	path := "/v1/channels/" + id + "/verify-token"

	r := h.post(path, tn.Admin, nil)
	requireStatus(t, r, http.StatusOK)
	var setup struct{ CallbackURL, VerifyToken string }
	r.decode(t, &setup)
	assert.Equal(t, c.MetaSetup.CallbackURL, setup.CallbackURL)
	assert.NotEqual(t, old, setup.VerifyToken)

	h.temporal.On("SignalWorkflow", mock.Anything, onboardingID(id), "", workflows.SignalMetaVerified,
		workflows.MetaVerifiedSignal{At: h.now()}).Return(nil).Once()
	requireStatus(t, h.get(verifyURL(id, "subscribe", old, "1"), ""), http.StatusForbidden)
	requireStatus(t, h.get(verifyURL(id, "subscribe", setup.VerifyToken, "1"), ""), http.StatusOK)

	requireStatus(t, h.post(path, tn.Viewer, nil), http.StatusForbidden)
	other := h.newTenant("B")
	requireError(t, h.post(path, other.Admin, nil), http.StatusNotFound, "NOT_FOUND")
}
