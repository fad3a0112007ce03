package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// ChannelDelete deletes a channel. It records the channel as deleting first: from then on the channel accepts
// no other change, while its webhooks are still stored, so nothing Meta sends meanwhile is lost. It then
// cancels the channel's onboarding and secret rotation if they run, disconnects every Page from Meta and deletes the channel with
// its secrets. Meta being unavailable or rate limiting is waited out with backoff, however long it lasts; a
// refusal of Meta (a token that no longer works, say) cannot be retried away, so that Page is removed all the
// same and the refusal logged. The Update UpdateAwaitDeleting answers once deleting is recorded; DeleteChannel
// sends it with the start, and a second DELETE joins the running deletion with it.
func ChannelDelete(ctx workflow.Context, in ChannelDeleteInput) error {
	wf := new(channelDeleteImpl)
	if err := wf.setup(ctx, in); err != nil {
		return err
	}
	err := wf.run(ctx)
	wf.closing = true
	if werr := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); werr != nil && err == nil {
		err = werr
	}
	return err
}

// channelDeleteImpl is the state of one ChannelDelete execution.
type channelDeleteImpl struct {
	in      ChannelDeleteInput
	logger  log.Logger
	state   ChannelDeleteState
	closing bool // run has returned
}

func (wf *channelDeleteImpl) setup(ctx workflow.Context, in ChannelDeleteInput) error {
	if err := invalidInput("channel deletion", []field{{"tenantId", in.TenantID}, {"channelId", in.ChannelID}}); err != nil {
		return err
	}
	wf.in = in
	wf.logger = log.With(workflow.GetLogger(ctx), "TenantID", in.TenantID, "ChannelID", in.ChannelID)
	return workflow.SetUpdateHandler(ctx, UpdateAwaitDeleting, func(ctx workflow.Context) (ChannelDeleteState, error) {
		err := workflow.Await(ctx, func() bool { return wf.state.Deleting || wf.state.Gone || wf.closing })
		if err == nil && !wf.state.Deleting && !wf.state.Gone {
			err = refuse(aicc.EINTERNAL, "The deletion ended before it recorded the channel as deleting.")
		}
		return wf.state, err
	})
}

func (wf *channelDeleteImpl) run(ctx workflow.Context) error {
	var a *activities.Activities
	err := workflow.ExecuteActivity(withDatabase(ctx), a.MarkChannelDeleting, wf.in).Get(ctx, nil)
	switch {
	case applicationErrorType(err) == aicc.ENOTFOUND:
		wf.state.Gone = true
		wf.logger.Info("The channel does not exist; there is nothing to delete")
		return nil
	case err != nil:
		return err
	}
	wf.state.Deleting = true

	// A closed or absent onboarding makes the request fail; either way none runs any more.
	err = workflow.RequestCancelExternalWorkflow(ctx, OnboardingWorkflowID(wf.in.ChannelID), "").Get(ctx, nil)
	if err != nil {
		wf.logger.Debug("No onboarding to cancel", "Error", err)
	}
	if workflow.GetVersion(ctx, "cancel-rotation", workflow.DefaultVersion, 1) == 1 {
		err = workflow.RequestCancelExternalWorkflow(ctx, SecretRotationWorkflowID(wf.in.ChannelID), "").Get(ctx, nil)
		if err != nil {
			wf.logger.Debug("No secret rotation to cancel", "Error", err)
		}
	}

	// A Page added just before deleting was recorded is listed by the next round: none is left behind.
	for {
		var pageIDs []string
		if err := workflow.ExecuteActivity(withDatabase(ctx), a.ChannelPageIDs, wf.in).Get(ctx, &pageIDs); err != nil {
			return err
		}
		if len(pageIDs) == 0 {
			break
		}
		for _, id := range pageIDs {
			page := &pageImpl{
				in:        PageInput{TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: id},
				logger:    log.With(wf.logger, "PageID", id),
				metaRetry: metaRetry(5*time.Minute, 0),
				force:     true,
			}
			if err := page.disconnect(ctx); err != nil {
				return err
			}
		}
	}

	if err := workflow.ExecuteActivity(withDatabase(ctx), a.DeleteChannel, wf.in).Get(ctx, nil); err != nil {
		return err
	}
	wf.logger.Info("The channel is deleted")
	return nil
}
