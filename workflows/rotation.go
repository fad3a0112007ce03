package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// awaitFirstRequest is how long a rotation started without an Update (by hand, or with an Update its
// validator rejected) waits for one before it ends.
const awaitFirstRequest = time.Minute

// SecretRotation rotates a channel's secrets in the seed's two steps, and is the only writer of their
// rotation state. UpdateSetAppSecret makes a new app secret current and keeps the previous one accepted for an
// overlap window; UpdateSetPageToken gives a Page a new token once Meta accepts it under the current app
// secret. The rotation is pending until every Page has such a token, with a reminder every ReminderInterval
// meanwhile, and complete then; it ends when it is complete and the window is over, whose timer retires the
// previous secret (UpdateRevokePrevious retires it at once). Changes are applied one at a time, in the order
// they arrive. A rotation of Page tokens alone, with no app-secret change, ends once its changes are made.
//
// The workflow sees secret version IDs, never a secret: its activities open the versions and seal them again
// for their place. The channel's deletion cancels it.
func SecretRotation(ctx workflow.Context, in SecretRotationInput) (RotationResult, error) {
	wf := &rotationImpl{in: in}
	if err := wf.setup(ctx); err != nil {
		return RotationResult{}, err
	}
	err := wf.run(ctx)
	return RotationResult{Status: wf.state.Status, ChannelGone: wf.gone}, err
}

// rotationImpl is the state of one SecretRotation execution.
type rotationImpl struct {
	in     SecretRotationInput
	logger log.Logger
	state  RotationState
	// mu makes the changes one at a time: each is a few activities, and two interleaved would each decide on
	// state the other is about to change.
	mu workflow.Mutex
	// requests counts the Updates accepted so far; changes counts the ones applied, which wakes run.
	requests, changes int
	nextReminder      time.Time
	gone              bool // the channel is being deleted or is gone: nothing is left to rotate
}

func (wf *rotationImpl) setup(ctx workflow.Context) error {
	if err := invalidInput("secret rotation", []field{{"tenantId", wf.in.TenantID}, {"channelId", wf.in.ChannelID}},
		when(wf.in.ReminderInterval < 0, "reminderInterval must not be negative")); err != nil {
		return err
	}
	if wf.in.ReminderInterval == 0 {
		wf.in.ReminderInterval = DefaultRotationReminderInterval
	}
	wf.logger = log.With(workflow.GetLogger(ctx), "TenantID", wf.in.TenantID, "ChannelID", wf.in.ChannelID)
	wf.mu = workflow.NewMutex(ctx)
	if err := workflow.SetQueryHandler(ctx, QueryRotationState, func() (RotationState, error) { return wf.state, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSetAppSecret, wf.setAppSecret,
		workflow.UpdateHandlerOptions{Validator: wf.validateSetAppSecret}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSetPageToken, wf.setPageToken,
		workflow.UpdateHandlerOptions{Validator: wf.validateSetPageToken}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateRevokePrevious, wf.revokePrevious,
		workflow.UpdateHandlerOptions{Validator: wf.validateRevokePrevious})
}

// run waits for the first request, then for the window's end and the reminders, until the rotation is over.
func (wf *rotationImpl) run(ctx workflow.Context) error {
	if ok, err := workflow.AwaitWithTimeout(ctx, awaitFirstRequest, func() bool { return wf.requests > 0 }); err != nil || !ok {
		return err
	}
	for {
		over := func() bool {
			return wf.gone || (wf.state.Status != aicc.RotationPending && wf.state.PreviousUntil.IsZero() &&
				workflow.AllHandlersFinished(ctx))
		}
		if over() {
			return nil
		}
		seen := wf.changes
		timedOut := false
		if next := wf.nextDeadline(); next.IsZero() {
			err := workflow.Await(ctx, func() bool { return wf.changes != seen || over() })
			if err != nil {
				return err
			}
		} else {
			ok, err := workflow.AwaitWithTimeout(ctx, next.Sub(workflow.Now(ctx)), func() bool { return wf.changes != seen || over() })
			if err != nil {
				return err
			}
			timedOut = !ok
		}
		// A channel found gone at a deadline ends the rotation as one found gone by an Update does: with
		// ChannelGone, not as a failure.
		if timedOut {
			if err := wf.onDeadline(ctx); err != nil && !wf.gone {
				return err
			}
		}
	}
}

// nextDeadline is the earliest of the window's end and the next reminder; zero when neither is due.
func (wf *rotationImpl) nextDeadline() time.Time {
	var next time.Time
	if !wf.state.PreviousUntil.IsZero() {
		next = wf.state.PreviousUntil
	}
	if wf.state.Status == aicc.RotationPending && (next.IsZero() || wf.nextReminder.Before(next)) {
		next = wf.nextReminder
	}
	return next
}

// onDeadline retires the previous secret when its window is over, and reminds when Pages are still missing.
func (wf *rotationImpl) onDeadline(ctx workflow.Context) error {
	if err := wf.mu.Lock(ctx); err != nil {
		return err
	}
	defer wf.mu.Unlock()
	now := workflow.Now(ctx)
	if !wf.state.PreviousUntil.IsZero() && !now.Before(wf.state.PreviousUntil) {
		if err := wf.retirePrevious(ctx, nil); err != nil {
			return err
		}
		wf.logger.Info("The overlap window is over: the previous app secret is retired")
	}
	if wf.state.Status != aicc.RotationPending || now.Before(wf.nextReminder) {
		return nil
	}
	if err := wf.checkPages(ctx); err != nil {
		return err
	}
	remind := wf.state.Status == aicc.RotationPending
	if remind {
		wf.state.Reminders++
		wf.state.RemindedAt = now
		wf.nextReminder = now.Add(wf.in.ReminderInterval)
	}
	return wf.record(ctx, remind)
}

func (wf *rotationImpl) validateSetAppSecret(req SetAppSecretRequest) error {
	return wf.validate("app secret change", []field{{"versionId", req.VersionID}},
		when(req.Overlap < 0 || req.Overlap > aicc.MaxRotationOverlap, "overlap must be 0 to 7 days"))
}

// setAppSecret makes the version the app secret. The secret it replaces stays accepted until the overlap is
// over, and a previous secret still accepted is retired: every secret is checked with Meta before it is made
// current, so the one replaced is the one Meta signed with until now.
func (wf *rotationImpl) setAppSecret(ctx workflow.Context, req SetAppSecretRequest) (RotationState, error) {
	return wf.change(ctx, func(ctx workflow.Context) error {
		now := workflow.Now(ctx)
		var until time.Time
		if req.Overlap > 0 {
			until = now.Add(req.Overlap)
		}
		var a *activities.Activities
		err := workflow.ExecuteActivity(withMeta(ctx), a.ChangeAppSecret, activities.ChangeAppSecretInput{
			TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, VersionID: req.VersionID,
			PreviousUntil: until, Requester: req.Requester,
		}).Get(ctx, nil)
		if err != nil {
			return wf.channelError(err)
		}
		wf.state.Status = aicc.RotationPending
		wf.state.StartedAt, wf.state.StartedBy, wf.state.PreviousUntil = now, req.Actor, until
		wf.state.PagesDone = nil
		wf.nextReminder = now.Add(wf.in.ReminderInterval)
		wf.logger.Info("The app secret is changed", "PreviousUntil", until)
		if err := wf.checkPages(ctx); err != nil {
			return err
		}
		return wf.record(ctx, false)
	})
}

// withMeta runs a change that asks Meta first, with the retries of a Meta call an administrator waits for; a
// channel being deleted is an answer.
func withMeta(ctx workflow.Context) workflow.Context {
	retry := metaRetry(10*time.Second, metaCallAttempts)
	retry.NonRetryableErrorTypes = append(slices.Clone(retry.NonRetryableErrorTypes), aicc.ECHANNELDELETING)
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, RetryPolicy: retry,
	})
}

func (wf *rotationImpl) validateSetPageToken(req SetPageTokenRequest) error {
	return wf.validate("Page token change", []field{{"pageId", req.PageID}, {"versionId", req.VersionID}})
}

// setPageToken gives the Page the version as its token, once Meta accepts it.
func (wf *rotationImpl) setPageToken(ctx workflow.Context, req SetPageTokenRequest) (RotationState, error) {
	return wf.change(ctx, func(ctx workflow.Context) error {
		var a *activities.Activities
		err := workflow.ExecuteActivity(withMeta(ctx), a.ChangePageToken, activities.ChangePageTokenInput{
			TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: req.PageID, VersionID: req.VersionID,
			Requester: req.Requester,
		}).Get(ctx, nil)
		if applicationErrorType(err) == aicc.ECHANNELDELETING {
			return wf.channelError(err)
		}
		if err != nil {
			return err // NOT_FOUND here is the Page's: the channel may well be there
		}
		wf.logger.Info("The Page's token is changed", "PageID", req.PageID)
		if wf.state.Status == "" {
			return nil // no app secret changed in this rotation: nothing to record
		}
		if !slices.Contains(wf.state.PagesDone, req.PageID) {
			wf.state.PagesDone = append(wf.state.PagesDone, req.PageID)
			slices.Sort(wf.state.PagesDone)
		}
		if err := wf.checkPages(ctx); err != nil {
			return err
		}
		return wf.record(ctx, false)
	})
}

func (wf *rotationImpl) validateRevokePrevious(RevokePreviousRequest) error {
	if err := wf.validate("revocation", nil); err != nil {
		return err
	}
	if wf.state.PreviousUntil.IsZero() {
		return refuse(aicc.ENOPREVIOUSSECRET, "No previous app secret is accepted: there is nothing to revoke.")
	}
	return nil
}

// revokePrevious ends the overlap window at once.
func (wf *rotationImpl) revokePrevious(ctx workflow.Context, req RevokePreviousRequest) (RotationState, error) {
	return wf.change(ctx, func(ctx workflow.Context) error {
		if wf.state.PreviousUntil.IsZero() {
			return refuse(aicc.ENOPREVIOUSSECRET, "No previous app secret is accepted: there is nothing to revoke.")
		}
		if err := wf.retirePrevious(ctx, &req.Requester); err != nil {
			return err
		}
		wf.logger.Info("The previous app secret is revoked")
		return nil
	})
}

// validate refuses every request once the channel is found gone, and checks the request's fields.
func (wf *rotationImpl) validate(what string, required []field, problems ...string) error {
	if wf.gone {
		return refuse(aicc.ECHANNELDELETING, "The channel is being deleted.")
	}
	return invalidInput(what, required, problems...)
}

// change applies one request after those before it, and answers the state it leaves.
func (wf *rotationImpl) change(ctx workflow.Context, apply func(ctx workflow.Context) error) (RotationState, error) {
	wf.requests++
	if err := wf.mu.Lock(ctx); err != nil {
		return wf.state, err
	}
	defer wf.mu.Unlock()
	if wf.gone {
		return wf.state, refuse(aicc.ECHANNELDELETING, "The channel is being deleted.")
	}
	err := apply(ctx)
	wf.changes++
	return wf.state, err
}

// retirePrevious stops accepting the previous app secret; revoked is who ended the window early, nil when it
// ran out.
func (wf *rotationImpl) retirePrevious(ctx workflow.Context, revoked *activities.Requester) error {
	var a *activities.Activities
	err := workflow.ExecuteActivity(withDatabase(ctx), a.RetirePreviousAppSecret, activities.RetirePreviousAppSecretInput{
		TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, Revoked: revoked,
	}).Get(ctx, nil)
	if err != nil {
		return wf.channelError(err)
	}
	wf.state.PreviousUntil = time.Time{}
	if wf.state.Status == "" {
		return nil
	}
	return wf.record(ctx, false)
}

// checkPages counts the Pages still missing a new token; none missing completes the rotation.
func (wf *rotationImpl) checkPages(ctx workflow.Context) error {
	var a *activities.Activities
	var pages activities.RotationPages
	err := workflow.ExecuteActivity(withDatabase(ctx), a.PagesWithoutNewToken, activities.RotationPagesInput{
		ChannelID: wf.in.ChannelID, Limit: MaxListedMissingPages,
	}).Get(ctx, &pages)
	if err != nil {
		return wf.channelError(err)
	}
	wf.state.PagesMissing, wf.state.MissingPageIDs = pages.Missing, pages.IDs
	if pages.Missing == 0 && wf.state.Status == aicc.RotationPending {
		wf.state.Status = aicc.RotationComplete
		wf.logger.Info("The rotation is complete: every Page has a token accepted under the new app secret")
	}
	return nil
}

// record writes the rotation state to the channel; remind marks a reminder.
func (wf *rotationImpl) record(ctx workflow.Context, remind bool) error {
	var a *activities.Activities
	s := wf.state
	return wf.channelError(workflow.ExecuteActivity(withDatabase(ctx), a.RecordRotation, activities.RecordRotationInput{
		TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, Remind: remind,
		Rotation: aicc.Rotation{
			Status: s.Status, StartedAt: s.StartedAt, PreviousUntil: s.PreviousUntil, PagesMissing: s.PagesMissing,
			RemindedAt: s.RemindedAt, UpdatedAt: workflow.Now(ctx),
		},
	}).Get(ctx, nil))
}

// channelError notes, from the error of an activity on the channel, a channel that is being deleted or is
// gone, which ends the rotation, and returns err.
func (wf *rotationImpl) channelError(err error) error {
	switch applicationErrorType(err) {
	case aicc.ECHANNELDELETING, aicc.ENOTFOUND:
		if !wf.gone {
			wf.logger.Info("The channel is being deleted or is gone; the rotation ends")
		}
		wf.gone = true
	}
	return err
}
