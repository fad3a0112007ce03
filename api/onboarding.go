package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// startOnboardingWorkflow starts the channel's onboarding and waits, within WorkflowWait, until the workflow has
// recorded its first step. Its input carries IDs only: the workflow's activities unseal what they need, so no
// secret enters Temporal's history.
func (s *Server) startOnboardingWorkflow(c *gin.Context, ch *aicc.Channel) (workflows.OnboardingState, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.workflowWait())
	defer cancel()
	in := workflows.OnboardingInput{TenantID: ch.TenantID, ChannelID: ch.ID, VerificationTTL: s.verificationTTL()}
	st, err := workflows.StartOnboarding(ctx, s.Temporal, in)
	return st, s.temporalError(c, err)
}

// startOnboarding starts the onboarding again, after it expired, failed (for example for want of a Facebook
// authentication certificate, which the sysadmin has since uploaded, or because Meta refused the App Secret,
// which the administrator has since changed) or was cancelled, or when it never started. The answer is the
// state the workflow recorded; a first step that fails again is its error code.
func (s *Server) startOnboarding(c *gin.Context) error {
	ch, err := s.channelForChange(c)
	if err != nil {
		return err
	}
	if ch.Onboarding.Status == aicc.StatusActive {
		return aicc.Errorf(aicc.EONBOARDINGFINISHED, "The channel is active; its onboarding is finished.")
	}
	st, err := s.startOnboardingWorkflow(c, ch)
	if err != nil {
		return err
	}
	if st.Status == aicc.StatusFailed && st.ErrorCode != "" {
		return onboardingFailure(st.ErrorCode)
	}
	if err := s.auditOnboarding(c, aicc.AuditOnboardingStart, ch); err != nil {
		return err
	}
	s.log(c).Info("onboarding started", slog.String("channel_id", ch.ID))
	return s.answerChannel(c, http.StatusAccepted, ch.ID)
}

// onboardingFailure is the error of an onboarding whose first steps failed with code: the prerequisite (a
// certificate), or the proof and claim of the app. Its message depends on the code alone, so that a conflict
// with another channel's claim reads the same whoever that channel is.
func onboardingFailure(code string) error {
	switch code {
	case aicc.ECERTMISSING:
		return aicc.Errorf(code, "The onboarding cannot start: no Facebook authentication certificate is uploaded; "+
			"a sysadmin must upload one.")
	case aicc.ECERTEXPIRED:
		return aicc.Errorf(code, "The onboarding cannot start: every uploaded Facebook authentication certificate "+
			"has expired; a sysadmin must upload a valid one.")
	case aicc.EAPPCONNECTED:
		return &aicc.Error{Code: code, Message: aicc.MsgAppConnected, Fields: map[string]string{"appId": "is already connected to another channel"}}
	case aicc.EMETAAPPINVALID:
		return &aicc.Error{Code: code, Message: "Meta refused the app ID and App Secret: the secret is not this app's, " +
			"or there is no such app. Change the App Secret (PUT …/app-secret) or create the channel again.",
			Fields: map[string]string{"appSecret": "is not the secret of the app"}}
	}
	return aicc.Errorf(code, "The onboarding cannot start: Meta could not confirm the App Secret (%s); try again later.", code)
}

// getOnboarding answers the live state from the workflow, or the recorded one when the workflow is gone.
func (s *Server) getOnboarding(c *gin.Context) error {
	ctx := c.Request.Context()
	ch, err := s.Store.GetChannel(ctx, principalOf(c).TenantID, c.Param("channelID"))
	if err != nil {
		return err
	}
	st, err := workflows.QueryOnboarding(ctx, s.Temporal, ch.ID)
	switch {
	case aicc.ErrorCode(err) == aicc.EONBOARDINGFINISHED || ch.Onboarding.Status == aicc.StatusDeleting:
		c.JSON(http.StatusOK, toOnboardingJSON(ch.Onboarding))
		return nil
	case err != nil:
		return s.temporalError(c, err)
	}
	c.JSON(http.StatusOK, onboardingJSON{
		Status: st.Status, Step: st.Step, ErrorCode: st.ErrorCode, StartedAt: optTime(st.StartedAt),
		ExpiresAt: optTime(st.ExpiresAt), VerifiedAt: optTime(st.VerifiedAt), ActivatedAt: optTime(st.ActivatedAt),
	})
	return nil
}

func (s *Server) confirmOnboarding(c *gin.Context) error {
	return s.updateOnboarding(c, aicc.AuditOnboardingConfirm, workflows.ConfirmOnboarding)
}

func (s *Server) cancelOnboarding(c *gin.Context) error {
	return s.updateOnboarding(c, aicc.AuditOnboardingCancel, workflows.CancelOnboarding)
}

// updateOnboarding sends an Update through send and waits for its outcome, within WorkflowWait (then
// UNAVAILABLE): the workflow's validator answers at once with a domain code (NOT_VERIFIED,
// ONBOARDING_FINISHED), and a completed update has recorded the new state, which the answer shows, and the
// audit log records it as action.
func (s *Server) updateOnboarding(c *gin.Context, action aicc.AuditAction,
	send func(context.Context, client.Client, string) (workflows.OnboardingState, error),
) error {
	ch, err := s.channelForChange(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.workflowWait())
	defer cancel()
	if _, err := send(ctx, s.Temporal, ch.ID); err != nil {
		return s.temporalError(c, err)
	}
	if err := s.auditOnboarding(c, action, ch); err != nil {
		return err
	}
	s.log(c).Info("onboarding updated", slog.String("channel_id", ch.ID), slog.String("update", string(action)))
	return s.answerChannel(c, http.StatusOK, ch.ID)
}

// auditOnboarding records a request the onboarding workflow accepted (see the audit log's comment in audit.go).
func (s *Server) auditOnboarding(c *gin.Context, action aicc.AuditAction, ch *aicc.Channel) error {
	entry := s.audit(c, action, aicc.AuditTarget{Type: aicc.TargetChannel, ID: ch.ID}, ch.ID,
		map[string]string{aicc.DetailName: ch.Name})
	return s.audited(c, entry, nil)
}

// answerChannel answers the tenant's channel as stored, with status.
func (s *Server) answerChannel(c *gin.Context, status int, channelID string) error {
	ch, err := s.Store.GetChannel(c.Request.Context(), principalOf(c).TenantID, channelID)
	if err != nil {
		return err
	}
	c.JSON(status, s.toChannelJSON(ch))
	return nil
}

// temporalError maps an error of the Temporal client or of a workflow run to the domain: the codes of
// workflows.DomainError, and UNAVAILABLE when Temporal does not answer in time. The cause of the latter is
// logged, not answered.
func (s *Server) temporalError(c *gin.Context, err error) error {
	err = workflows.DomainError(err)
	var (
		e           *aicc.Error
		unavailable *serviceerror.Unavailable
		deadline    *serviceerror.DeadlineExceeded
	)
	switch {
	case err == nil || errors.As(err, &e):
		return err
	case errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded):
		s.log(c).Warn("temporal unavailable", slog.String("error", err.Error()))
		return aicc.Errorf(aicc.EUNAVAILABLE, "The workflow service is not reachable; try again later.")
	}
	return err
}
