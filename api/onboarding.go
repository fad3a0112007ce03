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

// startOnboardingWorkflow starts the channel's onboarding. Its input carries IDs only: the workflow's
// activities unseal what they need, so no secret enters Temporal's history.
func (s *Server) startOnboardingWorkflow(c *gin.Context, ch *aicc.Channel) error {
	in := workflows.OnboardingInput{TenantID: ch.TenantID, ChannelID: ch.ID, VerificationTTL: s.verificationTTL()}
	_, err := s.Temporal.ExecuteWorkflow(c.Request.Context(), workflows.StartOnboardingOptions(in), workflows.Onboarding, in)
	return s.temporalError(c, err)
}

// startOnboarding starts the onboarding again, after it expired, failed (for example for want of a Facebook
// authentication certificate, which the sysadmin has since uploaded) or was cancelled.
func (s *Server) startOnboarding(c *gin.Context) error {
	ctx := c.Request.Context()
	ch, err := s.Store.GetChannel(ctx, principalOf(c).TenantID, c.Param("channelID"))
	if err != nil {
		return err
	}
	if ch.Onboarding.Status == aicc.StatusActive {
		return aicc.Errorf(aicc.EONBOARDINGFINISHED, "The channel is active; its onboarding is finished.")
	}
	// The workflow's first step checks the certificate too; checking here answers at once, and leaves the
	// recorded state (failed, with its code) as it is, rather than starting an onboarding bound to fail.
	certs, err := s.Store.ListCertificates(ctx)
	if err != nil {
		return err
	}
	if err := aicc.CheckCertificates(certs, s.now()); err != nil {
		return err
	}
	if err := s.startOnboardingWorkflow(c, ch); err != nil {
		return err
	}
	// Recorded after the start, so that a refused start (a running onboarding) leaves the state untouched.
	// The workflow records the same state as its first step; this write makes the answer show it at once.
	o := aicc.Onboarding{Status: aicc.StatusAwaitingVerification, Step: workflows.StepAwaitVerification, UpdatedAt: s.now()}
	if err := s.Store.SetOnboarding(ctx, ch.ID, o); err != nil {
		return err
	}
	s.log(c).Info("onboarding started", slog.String("channel_id", ch.ID))
	ch.Onboarding = o
	c.JSON(http.StatusAccepted, s.toChannelJSON(ch))
	return nil
}

// getOnboarding answers the live state from the workflow, or the recorded one when the workflow is gone.
func (s *Server) getOnboarding(c *gin.Context) error {
	ctx := c.Request.Context()
	ch, err := s.Store.GetChannel(ctx, principalOf(c).TenantID, c.Param("channelID"))
	if err != nil {
		return err
	}
	v, err := s.Temporal.QueryWorkflow(ctx, workflows.OnboardingWorkflowID(ch.ID), "", workflows.QueryState)
	switch {
	case isNotFound(err):
		c.JSON(http.StatusOK, toOnboardingJSON(ch.Onboarding))
		return nil
	case err != nil:
		return s.temporalError(c, err)
	}
	var st workflows.OnboardingState
	if err := v.Get(&st); err != nil {
		return err
	}
	c.JSON(http.StatusOK, onboardingJSON{
		Status: st.Status, Step: st.Step, ErrorCode: st.ErrorCode, StartedAt: optTime(st.StartedAt),
		ExpiresAt: optTime(st.ExpiresAt), VerifiedAt: optTime(st.VerifiedAt), ActivatedAt: optTime(st.ActivatedAt),
	})
	return nil
}

func (s *Server) confirmOnboarding(c *gin.Context) error {
	return s.updateOnboarding(c, workflows.UpdateConfirm, workflows.ConfirmRequest{})
}

func (s *Server) cancelOnboarding(c *gin.Context) error {
	return s.updateOnboarding(c, workflows.UpdateCancel, workflows.CancelRequest{})
}

// updateOnboarding sends an Update and waits for its outcome: the workflow's validator answers at once with a
// domain code (NOT_VERIFIED, ONBOARDING_FINISHED), and a completed update has recorded the new state.
func (s *Server) updateOnboarding(c *gin.Context, name string, arg any) error {
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	ch, err := s.Store.GetChannel(ctx, tenant, c.Param("channelID"))
	if err != nil {
		return err
	}
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.OnboardingWorkflowID(ch.ID),
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		return s.temporalError(c, err)
	}
	s.log(c).Info("onboarding updated", slog.String("channel_id", ch.ID), slog.String("update", name))
	return getScoped(c, s.Store.GetChannel, ch.ID, s.toChannelJSON)
}

// temporalError maps an error of the Temporal client to the domain: the codes of workflows.DomainError, and
// UNAVAILABLE when Temporal does not answer in time. The cause of the latter is logged, not answered.
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

// isNotFound reports whether Temporal has no running workflow of that ID.
func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
