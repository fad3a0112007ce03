package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// Onboarding walks a channel from awaiting_verification to active. It first checks the prerequisite, a valid
// Facebook authentication certificate: without one the channel is failed with FACEBOOK_CERTIFICATE_MISSING or
// FACEBOOK_CERTIFICATE_EXPIRED, and the API starts a new run once a sysadmin has uploaded one. It then proves
// with Meta that the channel's App Secret is its app's (ProveApp) and only then claims the app for the channel
// (ClaimApp): a secret Meta refuses fails the channel with META_APP_CREDENTIALS_INVALID, another channel's
// claim with APP_ALREADY_CONNECTED, and Meta unavailable through every attempt with its code; nothing is
// claimed then, and a new run (POST …/onboarding) tries again. It then waits
// durably for Meta's verification request (signal SignalMetaVerified) until the verification TTL ends, then for
// the administrator's confirmation (Update UpdateConfirm, which needs at least one subscribed Page), and may be
// cancelled (Update UpdateCancel) at any point before it is active. Every transition is written to the database
// by the RecordOnboarding activity, so lists and filters never ask Temporal; the live view is the QueryState
// query.
func Onboarding(ctx workflow.Context, in OnboardingInput) (OnboardingResult, error) {
	wf := new(onboardingImpl)
	if err := wf.setup(ctx, in); err != nil {
		return OnboardingResult{}, err
	}
	res, err := wf.run(ctx)
	wf.closing = true
	// Accepted updates wait for the state they promised to be recorded; let them see the outcome and return
	// before the workflow closes, so that no caller gets "workflow completed" instead of an answer.
	if werr := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); werr != nil && err == nil {
		err = werr
	}
	return res, err
}

// onboardingImpl is the state of one Onboarding execution. state is what has been recorded in the database;
// the other fields are decisions taken by signals and updates that run has not recorded yet.
type onboardingImpl struct {
	in     OnboardingInput
	ttl    time.Duration
	logger log.Logger

	state OnboardingState

	verified   bool
	verifiedAt time.Time
	errorCode  string // why the onboarding failed, recorded with failed
	confirming int    // confirms counting the subscribed Pages
	confirmed  bool
	cancelled  bool
	expired    bool
	closing    bool // run has returned; nothing more will be recorded
}

func (wf *onboardingImpl) setup(ctx workflow.Context, in OnboardingInput) error {
	if err := invalidInput("onboarding", []field{{"tenantId", in.TenantID}, {"channelId", in.ChannelID}},
		when(in.VerificationTTL < 0, "verificationTtl must not be negative")); err != nil {
		return err
	}

	wf.in = in
	wf.ttl = in.VerificationTTL
	if wf.ttl == 0 {
		wf.ttl = DefaultVerificationTTL
	}
	wf.logger = log.With(workflow.GetLogger(ctx), "TenantID", in.TenantID, "ChannelID", in.ChannelID)
	wf.state.StartedAt = workflow.Now(ctx)
	wf.state.Step = StepCheckPrerequisites

	if err := workflow.SetQueryHandler(ctx, QueryState, func() (OnboardingState, error) {
		return wf.state, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateStarted, wf.started); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateConfirm, wf.confirm, workflow.UpdateHandlerOptions{
		Validator: wf.validateConfirm,
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel, wf.cancel, workflow.UpdateHandlerOptions{
		Validator: wf.validateCancel,
	}); err != nil {
		return err
	}

	signals := workflow.GetSignalChannel(ctx, SignalMetaVerified)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var s MetaVerifiedSignal
			signals.Receive(ctx, &s)
			wf.metaVerified(ctx, s)
		}
	})
	return nil
}

func (wf *onboardingImpl) run(ctx workflow.Context) (OnboardingResult, error) {
	if err := wf.checkCertificate(ctx); err != nil {
		switch code := applicationErrorType(err); code {
		case aicc.ECERTMISSING, aicc.ECERTEXPIRED:
			wf.errorCode = code
			wf.logger.Warn("The onboarding lacks its prerequisite", "ErrorCode", code)
			return wf.finish(ctx, aicc.StatusFailed)
		}
		return wf.fail(ctx, err)
	}
	if workflow.GetVersion(ctx, versionProveApp, workflow.DefaultVersion, 1) == 1 {
		if err := wf.proveApp(ctx); err != nil {
			if temporal.IsCanceledError(err) {
				return wf.fail(ctx, err)
			}
			wf.errorCode = applicationErrorType(err)
			if !aicc.IsCode(wf.errorCode) {
				// A call that timed out through every attempt.
				wf.errorCode = aicc.EMETAUNAVAILABLE
			}
			wf.logger.Warn("The app is not proven and claimed", "ErrorCode", wf.errorCode)
			return wf.finish(ctx, aicc.StatusFailed)
		}
	}
	if wf.cancelled {
		return wf.finish(ctx, aicc.StatusCancelled)
	}

	if err := wf.record(ctx, aicc.StatusAwaitingVerification, StepAwaitVerification); err != nil {
		return wf.fail(ctx, err)
	}

	// The TTL counts from when the channel is visibly awaiting verification.
	wf.state.ExpiresAt = workflow.Now(ctx).Add(wf.ttl)
	ok, err := workflow.AwaitWithTimeout(ctx, wf.ttl, func() bool { return wf.verified || wf.cancelled })
	if err != nil {
		return wf.fail(ctx, err)
	}
	switch {
	case wf.cancelled:
		return wf.finish(ctx, aicc.StatusCancelled)
	case !ok:
		wf.expired = true
		wf.logger.Info("Meta did not verify the callback URL in time", "TTL", wf.ttl)
		return wf.finish(ctx, aicc.StatusVerificationExpired)
	}

	if err := wf.record(ctx, aicc.StatusVerified, StepAwaitConfirmation); err != nil {
		return wf.fail(ctx, err)
	}
	// No timeout here: once Meta has verified the callback, the administrator adds Pages at their own pace.
	if err := workflow.Await(ctx, func() bool { return wf.confirmed || wf.cancelled }); err != nil {
		return wf.fail(ctx, err)
	}
	if wf.cancelled {
		return wf.finish(ctx, aicc.StatusCancelled)
	}
	return wf.finish(ctx, aicc.StatusActive)
}

// checkCertificate runs the CheckCertificate activity. A missing or expired certificate is its non-retryable
// answer; a database that does not answer is retried until it does.
func (wf *onboardingImpl) checkCertificate(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{aicc.ECERTMISSING, aicc.ECERTEXPIRED},
		},
	})
	var a *activities.Activities
	return workflow.ExecuteActivity(ctx, a.CheckCertificate).Get(ctx, nil)
}

// versionProveApp is the change that made the onboarding prove the App Secret with Meta and claim the app
// before it waits for Meta's verification; executions started before it skip both.
const versionProveApp = "prove-app"

// proveApp runs ProveApp, with the retries of a Meta call an administrator waits for, and then ClaimApp. Its
// error's type is the code the channel fails with.
func (wf *onboardingImpl) proveApp(ctx workflow.Context) error {
	var a *activities.Activities
	in := activities.ChannelInput{TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID}
	meta := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, RetryPolicy: metaRetry(10*time.Second, metaCallAttempts),
	})
	if err := workflow.ExecuteActivity(meta, a.ProveApp, in).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.ExecuteActivity(withClaim(ctx), a.ClaimApp, in).Get(ctx, nil)
}

// finish records a final status and returns it as the result.
func (wf *onboardingImpl) finish(ctx workflow.Context, status aicc.ChannelStatus) (OnboardingResult, error) {
	if err := wf.record(ctx, status, StepDone); err != nil {
		return wf.fail(ctx, err)
	}
	wf.logger.Info("Onboarding finished", "Status", status)
	return OnboardingResult{Status: status, ErrorCode: wf.errorCode}, nil
}

// fail ends the workflow with err. When the workflow itself was cancelled (by an operator in the Web UI, or by
// the channel's deletion), the channel is recorded as cancelled on a disconnected context first, so the
// database does not show a wait that no longer exists; a channel being deleted keeps its deleting status.
func (wf *onboardingImpl) fail(ctx workflow.Context, err error) (OnboardingResult, error) {
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && !isFinal(wf.state.Status) {
		wf.cancelled = true
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		rerr := wf.record(dctx, aicc.StatusCancelled, StepDone)
		switch {
		case applicationErrorType(rerr) == aicc.ENOTFOUND:
			wf.logger.Info("The onboarding ends with its channel's deletion")
		case rerr != nil:
			wf.logger.Error("Could not record the cancelled onboarding", "Error", rerr)
		}
		return OnboardingResult{Status: wf.state.Status, ErrorCode: wf.state.ErrorCode}, err
	}
	wf.logger.Error("Onboarding failed", "Error", err)
	return OnboardingResult{Status: wf.state.Status, ErrorCode: wf.state.ErrorCode}, err
}

// record writes the onboarding state through the RecordOnboarding activity and, once it is written, makes it
// the state the query and the update handlers see.
func (wf *onboardingImpl) record(ctx workflow.Context, status aicc.ChannelStatus, step string) error {
	now := workflow.Now(ctx)
	o := aicc.Onboarding{
		Status:      status,
		Step:        step,
		ErrorCode:   wf.errorCode,
		VerifiedAt:  wf.verifiedAt,
		ActivatedAt: wf.state.ActivatedAt,
		UpdatedAt:   now,
	}
	if status == aicc.StatusActive {
		o.ActivatedAt = now
	}

	// A channel that no longer exists, or a state the store refuses, ends the retries (see withDatabase).
	var a *activities.Activities
	in := activities.RecordOnboardingInput{ChannelID: wf.in.ChannelID, Onboarding: o}
	if err := workflow.ExecuteActivity(withDatabase(ctx), a.RecordOnboarding, in).Get(ctx, nil); err != nil {
		return err
	}

	wf.state.Status = o.Status
	wf.state.Step = o.Step
	wf.state.ErrorCode = o.ErrorCode
	wf.state.VerifiedAt = o.VerifiedAt
	wf.state.ActivatedAt = o.ActivatedAt
	return nil
}

// metaVerified handles SignalMetaVerified. Meta sends the verification request again whenever the callback is
// edited in the app dashboard, so a repeated signal, or one after the onboarding ended, changes nothing.
func (wf *onboardingImpl) metaVerified(ctx workflow.Context, s MetaVerifiedSignal) {
	if wf.verified || wf.over() {
		wf.logger.Debug("Ignoring Meta verification", "Status", wf.state.Status)
		return
	}
	wf.verified = true
	wf.verifiedAt = s.At
	if wf.verifiedAt.IsZero() {
		wf.verifiedAt = workflow.Now(ctx)
	}
	wf.logger.Info("Meta verified the callback URL")
}

// over reports whether the onboarding has ended or is about to: nothing but a pending confirmation can change
// its outcome any more.
func (wf *onboardingImpl) over() bool {
	return wf.closing || wf.cancelled || wf.expired || isFinal(wf.state.Status)
}

// started returns the state once the first step is recorded (or the run is over without one).
func (wf *onboardingImpl) started(ctx workflow.Context) (OnboardingState, error) {
	err := workflow.Await(ctx, func() bool { return wf.state.Status != "" || wf.closing })
	return wf.state, err
}

func (wf *onboardingImpl) validateConfirm(ctx workflow.Context, _ ConfirmRequest) error {
	switch {
	case wf.over():
		return wf.finishedError()
	case !wf.verified:
		return refuse(aicc.ENOTVERIFIED, "Meta has not verified the callback URL yet.")
	}
	return nil
}

// confirm makes the channel active once it has at least one subscribed Page; without one it fails with
// NO_SUBSCRIBED_PAGE and the onboarding keeps waiting. It returns once active is recorded, so a read right after
// it sees active. A second confirm while the first is being recorded waits for the same outcome.
func (wf *onboardingImpl) confirm(ctx workflow.Context, _ ConfirmRequest) (OnboardingState, error) {
	wf.confirming++
	n, err := wf.countSubscribedPages(ctx)
	wf.confirming--
	if err != nil {
		return wf.state, err
	}
	if n == 0 {
		return wf.state, refuse(aicc.ENOSUBSCRIBEDPAGE, "Add a Page and let it subscribe before confirming.")
	}
	// The onboarding may have ended while the Pages were counted; a confirm that came first is the exception,
	// since this one waits for its outcome.
	if !wf.confirmed && wf.over() {
		return wf.state, wf.finishedError()
	}
	wf.confirmed = true
	if err := workflow.Await(ctx, wf.settled); err != nil {
		return wf.state, err
	}
	if wf.state.Status != aicc.StatusActive {
		return wf.state, wf.finishedError()
	}
	return wf.state, nil
}

// countSubscribedPages counts the channel's subscribed Pages for confirm. An administrator waits for the answer,
// so a database that does not answer is retried a few times only and then reported as UNAVAILABLE.
func (wf *onboardingImpl) countSubscribedPages(ctx workflow.Context) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Second,
			MaximumAttempts:        4,
			NonRetryableErrorTypes: []string{aicc.ENOTFOUND, aicc.EINVALID},
		},
	})
	var a *activities.Activities
	var n int
	in := activities.CountSubscribedPagesInput{ChannelID: wf.in.ChannelID}
	err := workflow.ExecuteActivity(ctx, a.CountSubscribedPages, in).Get(ctx, &n)
	switch {
	case err == nil:
		return n, nil
	case temporal.IsCanceledError(err) || aicc.IsCode(applicationErrorType(err)):
		return 0, err
	}
	wf.logger.Error("Could not count the subscribed Pages", "Error", err)
	return 0, refuse(aicc.EUNAVAILABLE, "The subscribed Pages could not be counted; try again.")
}

func (wf *onboardingImpl) validateCancel(ctx workflow.Context, _ CancelRequest) error {
	if wf.confirmed || wf.closing || wf.expired || isFinal(wf.state.Status) {
		return wf.finishedError()
	}
	return nil
}

// cancel ends the onboarding. It returns once cancelled is recorded. A confirm accepted before it goes first:
// when that confirm makes the channel active, the cancel fails with EONBOARDINGFINISHED.
func (wf *onboardingImpl) cancel(ctx workflow.Context, _ CancelRequest) (OnboardingState, error) {
	if err := workflow.Await(ctx, func() bool { return wf.confirming == 0 }); err != nil {
		return wf.state, err
	}
	if !wf.confirmed && !wf.over() {
		wf.cancelled = true
	}
	if err := workflow.Await(ctx, wf.settled); err != nil {
		return wf.state, err
	}
	if wf.state.Status != aicc.StatusCancelled {
		return wf.state, wf.finishedError()
	}
	return wf.state, nil
}

// settled reports whether a final status is recorded or nothing more will be.
func (wf *onboardingImpl) settled() bool { return wf.closing || isFinal(wf.state.Status) }

func (wf *onboardingImpl) finishedError() error {
	if !isFinal(wf.state.Status) {
		return refuse(aicc.EONBOARDINGFINISHED, "The onboarding is over.")
	}
	return refuse(aicc.EONBOARDINGFINISHED, "The onboarding is over: the channel is %s.", wf.state.Status)
}

// isFinal reports whether the onboarding ends in status s.
func isFinal(s aicc.ChannelStatus) bool {
	switch s {
	case aicc.StatusActive, aicc.StatusCancelled, aicc.StatusVerificationExpired, aicc.StatusFailed:
		return true
	}
	return false
}
