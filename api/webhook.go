package api

import (
	"crypto/subtle"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// Results of a webhook verification, the label values of aicc_webhook_verifications_total. A channel that
// does not exist is wrong_mode or wrong_token, as a channel that does would be: no label tells whether a
// channel ID exists.
const (
	verifyOK         = "verified"
	verifyWrongMode  = "wrong_mode"
	verifyWrongToken = "wrong_token"
	verifyError      = "error"
)

// verifyWebhook answers Meta's verification request: with hub.mode "subscribe" and the channel's verify
// token it echoes hub.challenge and tells the onboarding workflow; anything else is a bare 403, so a prober
// learns nothing, not even whether the channel exists.
func (s *Server) verifyWebhook(c *gin.Context) error {
	result, err := s.checkVerification(c)
	s.metrics.webhookVerifications.WithLabelValues(result).Inc()
	switch {
	case err != nil:
		return err
	case result != verifyOK:
		s.log(c).Info("webhook verification refused", slog.String("channel_id", c.Param("channelID")),
			slog.String("result", result))
		c.AbortWithStatus(http.StatusForbidden)
		return nil
	}
	s.log(c).Info("webhook verified", slog.String("channel_id", c.Param("channelID")))
	// The challenge is echoed as it came; nosniff keeps a browser from rendering it as anything but text.
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(c.Query("hub.challenge")))
	return nil
}

// checkVerification returns the verification's result, and an error only when a dependency failed.
func (s *Server) checkVerification(c *gin.Context) (string, error) {
	ctx, id := c.Request.Context(), c.Param("channelID")
	ch, err := s.Store.FindChannel(ctx, id)
	switch {
	case err != nil && aicc.ErrorCode(err) != aicc.ENOTFOUND:
		return verifyError, err
	case c.Query("hub.mode") != "subscribe":
		return verifyWrongMode, nil
	case err != nil:
		s.log(c).Debug("webhook verification for a channel that does not exist", slog.String("channel_id", id))
		return verifyWrongToken, nil
	}
	sealed, err := s.Store.ChannelSecret(ctx, ch.ID, aicc.SecretVerifyToken)
	if err != nil {
		return verifyError, err
	}
	want, err := s.Keyring.Open(sealed, aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken))
	if err != nil {
		return verifyError, err
	}
	got := c.Query("hub.verify_token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return verifyWrongToken, nil
	}
	// Meta verifies again whenever the callback is edited; a closed onboarding (NotFound) has nothing to learn.
	err = workflows.NotifyMetaVerified(ctx, s.Temporal, ch.ID, s.now())
	if err != nil && aicc.ErrorCode(err) != aicc.EONBOARDINGFINISHED {
		s.log(c).Warn("signalling meta verification", slog.String("channel_id", ch.ID), slog.String("error", err.Error()))
		return verifyError, aicc.Errorf(aicc.EUNAVAILABLE, "The verification could not be recorded; try again.")
	}
	return verifyOK, nil
}
