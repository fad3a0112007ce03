package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

type OnboardingSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu         sync.Mutex
	recorded   []activities.RecordOnboardingInput
	certErr    error    // CheckCertificate's answer
	subscribed int      // CountSubscribedPages's answer
	counted    int      // calls of CountSubscribedPages
	proveErrs  []error  // ProveApp's next answers; nil when exhausted
	claimErrs  []error  // ClaimApp's next answers
	appCalls   []string // ProveApp and ClaimApp, in the order they ran
}

func TestOnboarding(t *testing.T) { suite.Run(t, new(OnboardingSuite)) }

// a is the typed nil receiver activities are referenced through, as in the workflow.
var a *activities.Activities

func (s *OnboardingSuite) SetupTest() {
	s.newEnv()
	s.mockCertificate()
	s.env.OnActivity(a.RecordOnboarding, mock.Anything, mock.Anything).Return(s.record)
}

// newEnv starts a test with one subscribed Page; CheckCertificate and RecordOnboarding are left to the test.
func (s *OnboardingSuite) newEnv() {
	s.recorded, s.certErr, s.subscribed, s.counted = nil, nil, 1, 0
	s.proveErrs, s.claimErrs, s.appCalls = nil, nil, nil
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflowWithOptions(workflows.Onboarding, workflow.RegisterOptions{Name: workflows.OnboardingWorkflowType})
	s.env.OnActivity(a.CountSubscribedPages, mock.Anything, mock.Anything).Return(s.countSubscribed).Maybe()
	s.env.OnActivity(a.ProveApp, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ChannelInput) error {
		return s.appCall("ProveApp", in, &s.proveErrs)
	}).Maybe()
	s.env.OnActivity(a.ClaimApp, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ChannelInput) error {
		return s.appCall("ClaimApp", in, &s.claimErrs)
	}).Maybe()
}

// appCall records ProveApp or ClaimApp and returns the next of errs.
func (s *OnboardingSuite) appCall(name string, in activities.ChannelInput, errs *[]error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Equal(activities.ChannelInput{TenantID: "ten_1", ChannelID: "ch_1"}, in)
	s.appCalls = append(s.appCalls, name)
	if len(*errs) == 0 {
		return nil
	}
	err := (*errs)[0]
	*errs = (*errs)[1:]
	return err
}

// mockCertificate makes CheckCertificate answer certErr, nil (a valid certificate) unless a test sets it.
func (s *OnboardingSuite) mockCertificate() {
	s.env.OnActivity(a.CheckCertificate, mock.Anything).Return(func(context.Context) error { return s.certErr }).Maybe()
}

// countSubscribed is the mocked CountSubscribedPages.
func (s *OnboardingSuite) countSubscribed(_ context.Context, in activities.CountSubscribedPagesInput) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Equal("ch_1", in.ChannelID)
	s.counted++
	return s.subscribed, nil
}

func (s *OnboardingSuite) setSubscribed(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subscribed = n
}

// record is the mocked RecordOnboarding: it keeps every write, in order.
func (s *OnboardingSuite) record(_ context.Context, in activities.RecordOnboardingInput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recorded = append(s.recorded, in)
	return nil
}

// statuses returns the recorded statuses in order.
func (s *OnboardingSuite) statuses() []aicc.ChannelStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var got []aicc.ChannelStatus
	for _, r := range s.recorded {
		got = append(got, r.Onboarding.Status)
	}
	return got
}

// last returns the last recorded onboarding.
func (s *OnboardingSuite) last() aicc.Onboarding {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Require().NotEmpty(s.recorded)
	return s.recorded[len(s.recorded)-1].Onboarding
}

func input(ttl time.Duration) workflows.OnboardingInput {
	return workflows.OnboardingInput{TenantID: "ten_1", ChannelID: "ch_1", VerificationTTL: ttl}
}

// at runs fn after d of virtual time.
func (s *OnboardingSuite) at(d time.Duration, fn func()) { s.env.RegisterDelayedCallback(fn, d) }

func (s *OnboardingSuite) signalVerified() {
	s.env.SignalWorkflow(workflows.SignalMetaVerified, workflows.MetaVerifiedSignal{})
}

// updateOutcome is what a caller of an update saw.
type updateOutcome struct {
	accepted bool
	rejected error
	state    workflows.OnboardingState
	err      error
	done     bool
}

// update sends an update and returns where its outcome will be.
func (s *OnboardingSuite) update(name, id string, arg any) *updateOutcome {
	out := new(updateOutcome)
	s.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnAccept: func() { out.accepted = true },
		OnReject: func(err error) { out.rejected = err },
		OnComplete: func(v any, err error) {
			out.done = true
			out.err = err
			if st, ok := v.(workflows.OnboardingState); ok {
				out.state = st
			}
		},
	}, arg)
	return out
}

func (s *OnboardingSuite) result() workflows.OnboardingResult {
	s.T().Helper()
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var res workflows.OnboardingResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	return res
}

func (s *OnboardingSuite) queryState() workflows.OnboardingState {
	s.T().Helper()
	v, err := s.env.QueryWorkflow(workflows.QueryState)
	s.Require().NoError(err)
	var st workflows.OnboardingState
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *OnboardingSuite) TestHappyPath() {
	var confirm *updateOutcome
	s.at(time.Hour, s.signalVerified)
	s.at(90*time.Minute, s.signalVerified) // Meta verifies again when the callback is edited: harmless
	s.at(2*time.Hour, func() { confirm = s.update(workflows.UpdateConfirm, "confirm-1", workflows.ConfirmRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(48*time.Hour))

	s.Equal(aicc.StatusActive, s.result().Status)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusVerified, aicc.StatusActive}, s.statuses())

	s.Require().NotNil(confirm)
	s.True(confirm.accepted)
	s.NoError(confirm.rejected)
	s.True(confirm.done)
	s.NoError(confirm.err)
	s.Equal(aicc.StatusActive, confirm.state.Status, "confirm returns once active is recorded")
	s.Equal(workflows.StepDone, confirm.state.Step)

	got := s.last()
	s.Equal(workflows.StepDone, got.Step)
	s.False(got.VerifiedAt.IsZero())
	s.False(got.ActivatedAt.IsZero())
	s.Empty(got.ErrorCode)
	for _, r := range s.recorded {
		s.Equal("ch_1", r.ChannelID)
	}
}

func (s *OnboardingSuite) TestConfirmBeforeVerificationIsRejected() {
	var early, confirm *updateOutcome
	s.at(30*time.Minute, func() { early = s.update(workflows.UpdateConfirm, "confirm-early", workflows.ConfirmRequest{}) })
	s.at(time.Hour, s.signalVerified)
	s.at(2*time.Hour, func() { confirm = s.update(workflows.UpdateConfirm, "confirm-1", workflows.ConfirmRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Require().NotNil(early)
	s.False(early.accepted)
	s.Equal(aicc.ENOTVERIFIED, aicc.ErrorCode(workflows.DomainError(early.rejected)))

	s.Equal(aicc.StatusActive, s.result().Status)
	s.Require().NotNil(confirm)
	s.NoError(confirm.err)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusVerified, aicc.StatusActive}, s.statuses())
}

func (s *OnboardingSuite) TestVerificationExpires() {
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{"configured", 48 * time.Hour, 48 * time.Hour},
		{"default", 0, workflows.DefaultVerificationTTL},
	} {
		s.Run(tc.name, func() {
			s.SetupTest()
			var before workflows.OnboardingState
			s.at(tc.want-time.Minute, func() { before = s.queryState() })

			s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(tc.ttl))

			s.Equal(aicc.StatusVerificationExpired, s.result().Status)
			s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusVerificationExpired}, s.statuses())
			s.Equal(aicc.StatusAwaitingVerification, before.Status, "still waiting just before the TTL")
			s.Equal(workflows.StepDone, s.last().Step)
			// Virtual time: the expiry is written a full TTL after the wait began.
			first := s.recorded[0].Onboarding.UpdatedAt
			s.Equal(tc.want, s.last().UpdatedAt.Sub(first).Round(time.Minute))
			s.Equal(before.ExpiresAt, s.last().UpdatedAt)
		})
	}
}

func (s *OnboardingSuite) TestVerificationJustBeforeExpiry() {
	var confirm *updateOutcome
	s.at(47*time.Hour, s.signalVerified)
	s.at(100*time.Hour, func() { confirm = s.update(workflows.UpdateConfirm, "confirm-1", workflows.ConfirmRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(48*time.Hour))

	s.Equal(aicc.StatusActive, s.result().Status, "no timeout once verified")
	s.Require().NotNil(confirm)
	s.NoError(confirm.err)
}

func (s *OnboardingSuite) TestCancelBeforeVerification() {
	var cancel, late *updateOutcome
	s.at(time.Hour, func() {
		cancel = s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{})
		s.signalVerified() // too late: the onboarding is cancelled
		late = s.update(workflows.UpdateConfirm, "confirm-1", workflows.ConfirmRequest{})
	})

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Equal(aicc.StatusCancelled, s.result().Status)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusCancelled}, s.statuses())
	s.Require().NotNil(cancel)
	s.NoError(cancel.err)
	s.Equal(aicc.StatusCancelled, cancel.state.Status, "cancel returns once cancelled is recorded")
	s.Require().NotNil(late)
	s.False(late.accepted)
	s.Equal(aicc.EONBOARDINGFINISHED, aicc.ErrorCode(workflows.DomainError(late.rejected)))
	s.True(s.last().VerifiedAt.IsZero())
}

func (s *OnboardingSuite) TestCancelAfterVerification() {
	var cancel *updateOutcome
	s.at(time.Hour, s.signalVerified)
	s.at(2*time.Hour, func() { cancel = s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Equal(aicc.StatusCancelled, s.result().Status)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusVerified, aicc.StatusCancelled}, s.statuses())
	s.Require().NotNil(cancel)
	s.NoError(cancel.err)
	s.Equal(aicc.StatusCancelled, cancel.state.Status)
	s.False(s.last().VerifiedAt.IsZero())
	s.True(s.last().ActivatedAt.IsZero())
}

func (s *OnboardingSuite) TestConfirmAfterCancelIsRejected() {
	var cancel, confirm *updateOutcome
	s.at(time.Hour, s.signalVerified)
	s.at(2*time.Hour, func() {
		cancel = s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{})
		confirm = s.update(workflows.UpdateConfirm, "confirm-1", workflows.ConfirmRequest{})
	})

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Equal(aicc.StatusCancelled, s.result().Status)
	s.Require().NotNil(cancel)
	s.NoError(cancel.err)
	s.Require().NotNil(confirm)
	s.False(confirm.accepted)
	s.Equal(aicc.EONBOARDINGFINISHED, aicc.ErrorCode(workflows.DomainError(confirm.rejected)))
}

func (s *OnboardingSuite) TestCancelAfterConfirmIsRejected() {
	var confirm, cancel *updateOutcome
	s.at(time.Hour, s.signalVerified)
	s.at(2*time.Hour, func() {
		confirm = s.update(workflows.UpdateConfirm, "confirm-1", workflows.ConfirmRequest{})
		cancel = s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{})
	})

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Equal(aicc.StatusActive, s.result().Status)
	s.Require().NotNil(confirm)
	s.NoError(confirm.err)
	s.Require().NotNil(cancel)
	// The confirm is still counting Pages when the cancel arrives: the cancel is accepted, waits for the
	// confirm, and then fails because the channel is active.
	s.Equal(aicc.EONBOARDINGFINISHED, code(cancel))
	s.Equal(aicc.StatusActive, cancel.state.Status)
}

// code is the domain code of an update's rejection or failure.
func code(o *updateOutcome) string {
	if o.rejected != nil {
		return aicc.ErrorCode(workflows.DomainError(o.rejected))
	}
	return aicc.ErrorCode(workflows.DomainError(o.err))
}

func (s *OnboardingSuite) TestQueryState() {
	var waiting, verified workflows.OnboardingState
	s.at(time.Minute, func() { waiting = s.queryState() })
	s.at(time.Hour, s.signalVerified)
	s.at(2*time.Hour, func() { verified = s.queryState() })
	s.at(3*time.Hour, func() { s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(48*time.Hour))

	s.Equal(aicc.StatusAwaitingVerification, waiting.Status)
	s.Equal(workflows.StepAwaitVerification, waiting.Step)
	s.False(waiting.StartedAt.IsZero())
	s.Equal(48*time.Hour, waiting.ExpiresAt.Sub(waiting.StartedAt).Round(time.Minute))
	s.True(waiting.VerifiedAt.IsZero())

	s.Equal(aicc.StatusVerified, verified.Status)
	s.Equal(workflows.StepAwaitConfirmation, verified.Step)
	s.False(verified.VerifiedAt.IsZero())
	s.Equal(waiting.ExpiresAt, verified.ExpiresAt)
}

func (s *OnboardingSuite) TestInvalidInputFailsWithoutRetry() {
	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, workflows.OnboardingInput{TenantID: "ten_1"})

	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	var appErr *temporal.ApplicationError
	s.Require().ErrorAs(err, &appErr)
	s.Equal(aicc.EINVALID, appErr.Type())
	s.True(appErr.NonRetryable())
	s.Contains(appErr.Message(), "channelId")
	s.Equal(aicc.EINVALID, aicc.ErrorCode(workflows.DomainError(err)))
	s.Empty(s.statuses())
}

// The database may be down for a while: the write is retried until it succeeds.
func (s *OnboardingSuite) TestRecordRetriesTransientErrors() {
	s.newEnv()
	s.mockCertificate()
	s.env.OnActivity(a.RecordOnboarding, mock.Anything, mock.Anything).Return(errors.New("database is down")).Times(3)
	s.env.OnActivity(a.RecordOnboarding, mock.Anything, mock.Anything).Return(s.record)
	s.at(time.Hour, func() { s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Equal(aicc.StatusCancelled, s.result().Status)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusCancelled}, s.statuses())
	s.env.AssertExpectations(s.T())
}

// A channel deleted during its onboarding ends the workflow instead of retrying forever.
func (s *OnboardingSuite) TestRecordStopsOnNotFound() {
	s.newEnv()
	s.mockCertificate()
	s.env.OnActivity(a.RecordOnboarding, mock.Anything, mock.Anything).
		Return(temporal.NewApplicationError("The channel does not exist.", aicc.ENOTFOUND)).Once()

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.Equal(aicc.ENOTFOUND, aicc.ErrorCode(workflows.DomainError(err)))
	s.env.AssertExpectations(s.T()) // called once: not retried
}

// Cancelling the workflow itself (an operator in the Web UI) records the channel as cancelled.
func (s *OnboardingSuite) TestWorkflowCancellationIsRecorded() {
	s.at(time.Hour, func() { s.env.CancelWorkflow() })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Error(s.env.GetWorkflowError())
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusCancelled}, s.statuses())
}

// Without a valid Facebook authentication certificate the onboarding fails at once with the certificate's code,
// recorded on the channel, and waits for nothing.
func (s *OnboardingSuite) TestCertificatePrerequisite() {
	for _, code := range []string{aicc.ECERTMISSING, aicc.ECERTEXPIRED} {
		s.Run(code, func() {
			s.SetupTest()
			s.certErr = temporal.NewNonRetryableApplicationError("a sysadmin must upload one", code, nil)

			s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

			res := s.result()
			s.Equal(aicc.StatusFailed, res.Status)
			s.Equal(code, res.ErrorCode)
			s.Equal([]aicc.ChannelStatus{aicc.StatusFailed}, s.statuses())
			got := s.last()
			s.Equal(code, got.ErrorCode)
			s.Equal(workflows.StepDone, got.Step)
			s.True(got.VerifiedAt.IsZero())
		})
	}
}

// A database that does not answer the certificate check is retried; a valid certificate then lets the
// onboarding go on.
func (s *OnboardingSuite) TestCertificateCheckRetries() {
	s.newEnv()
	s.env.OnActivity(a.RecordOnboarding, mock.Anything, mock.Anything).Return(s.record)
	s.env.OnActivity(a.CheckCertificate, mock.Anything).Return(errors.New("database is down")).Times(2)
	s.env.OnActivity(a.CheckCertificate, mock.Anything).Return(nil).Once()
	s.at(time.Hour, func() { s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Equal(aicc.StatusCancelled, s.result().Status)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusCancelled}, s.statuses())
	s.Empty(s.last().ErrorCode)
}

// Confirming needs a subscribed Page: without one the update fails with NO_SUBSCRIBED_PAGE and the onboarding
// keeps waiting; once a Page is subscribed, confirm succeeds.
func (s *OnboardingSuite) TestConfirmNeedsSubscribedPage() {
	s.subscribed = 0
	var early, confirm *updateOutcome
	var waiting workflows.OnboardingState
	s.at(time.Hour, s.signalVerified)
	s.at(2*time.Hour, func() { early = s.update(workflows.UpdateConfirm, "confirm-early", workflows.ConfirmRequest{}) })
	s.at(3*time.Hour, func() {
		waiting = s.queryState()
		s.setSubscribed(1)
	})
	s.at(4*time.Hour, func() { confirm = s.update(workflows.UpdateConfirm, "confirm-1", workflows.ConfirmRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Require().NotNil(early)
	s.True(early.accepted, "the validator cannot count Pages; the handler does")
	s.True(early.done)
	s.Equal(aicc.ENOSUBSCRIBEDPAGE, aicc.ErrorCode(workflows.DomainError(early.err)))
	s.Contains(early.err.Error(), "Add a Page")
	s.Equal(aicc.StatusVerified, early.state.Status)

	s.Equal(aicc.StatusVerified, waiting.Status, "still waiting for confirmation")
	s.Equal(workflows.StepAwaitConfirmation, waiting.Step)

	s.Equal(aicc.StatusActive, s.result().Status)
	s.Require().NotNil(confirm)
	s.NoError(confirm.err)
	s.Equal(aicc.StatusActive, confirm.state.Status)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusVerified, aicc.StatusActive}, s.statuses())
	s.Equal(2, s.counted)
}

// started sends UpdateStarted, which takes no argument, and returns where its outcome will be, with the
// statuses recorded by the time it completed.
func (s *OnboardingSuite) started(id string) (*updateOutcome, *[]aicc.ChannelStatus) {
	out := new(updateOutcome)
	recordedThen := new([]aicc.ChannelStatus)
	s.env.UpdateWorkflow(workflows.UpdateStarted, id, &testsuite.TestUpdateCallback{
		OnAccept: func() { out.accepted = true },
		OnReject: func(err error) { out.rejected = err },
		OnComplete: func(v any, err error) {
			out.done, out.err = true, err
			if st, ok := v.(workflows.OnboardingState); ok {
				out.state = st
			}
			*recordedThen = s.statuses()
		},
	})
	return out, recordedThen
}

// The Update started, which StartOnboarding sends with the start, answers once the first step is recorded: the
// API shows the channel awaiting verification, as the database has it.
func (s *OnboardingSuite) TestStartedAnswersAfterFirstRecord() {
	var out *updateOutcome
	var recordedThen *[]aicc.ChannelStatus
	s.at(0, func() { out, recordedThen = s.started("started-1") })
	s.at(time.Hour, func() { s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Equal(aicc.StatusCancelled, s.result().Status)
	s.Require().NotNil(out)
	s.True(out.accepted)
	s.NoError(out.rejected)
	s.True(out.done)
	s.NoError(out.err)
	s.Equal(aicc.StatusAwaitingVerification, out.state.Status)
	s.Equal(workflows.StepAwaitVerification, out.state.Step)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification}, *recordedThen, "answered once the first step was recorded")
}

// Without a certificate the first record is failed with the certificate's code, and that is what started
// answers: the API turns it into the code's error.
func (s *OnboardingSuite) TestStartedAnswersFailedWithoutCertificate() {
	for _, code := range []string{aicc.ECERTMISSING, aicc.ECERTEXPIRED} {
		s.Run(code, func() {
			s.SetupTest()
			s.certErr = temporal.NewNonRetryableApplicationError("a sysadmin must upload one", code, nil)
			var out *updateOutcome
			var recordedThen *[]aicc.ChannelStatus
			s.at(0, func() { out, recordedThen = s.started("started-1") })

			s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

			s.Equal(aicc.StatusFailed, s.result().Status)
			s.Require().NotNil(out)
			s.True(out.done, "answered before the workflow closed")
			s.NoError(out.err)
			s.Equal(aicc.StatusFailed, out.state.Status)
			s.Equal(code, out.state.ErrorCode)
			s.Equal([]aicc.ChannelStatus{aicc.StatusFailed}, *recordedThen)
		})
	}
}

// started sent to an onboarding that is further along answers its state at once.
func (s *OnboardingSuite) TestStartedLaterAnswersTheCurrentState() {
	var out *updateOutcome
	s.at(time.Hour, s.signalVerified)
	s.at(2*time.Hour, func() { out, _ = s.started("started-late") })
	s.at(3*time.Hour, func() { s.update(workflows.UpdateCancel, "cancel-1", workflows.CancelRequest{}) })

	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

	s.Equal(aicc.StatusCancelled, s.result().Status)
	s.Require().NotNil(out)
	s.True(out.done)
	s.NoError(out.err)
	s.Equal(aicc.StatusVerified, out.state.Status)
}

// The app is proven with Meta, then claimed, before the channel awaits verification.
func (s *OnboardingSuite) TestProvesThenClaimsTheApp() {
	s.at(time.Hour, func() {
		s.Equal([]string{"ProveApp", "ClaimApp"}, s.appCalls)
		s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification}, s.statuses())
		s.update(workflows.UpdateCancel, "c", workflows.CancelRequest{})
	})
	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))
	s.Equal(aicc.StatusCancelled, s.result().Status)
}

// A secret Meta refuses, or an app another channel claimed, fails the channel with its code, at once and
// without a claim; a transient failure of Meta is retried first, and fails it when it outlasts the attempts.
func (s *OnboardingSuite) TestAppNotProvenOrClaimed() {
	refused := temporal.NewNonRetryableApplicationError("Meta refused the app ID and App Secret.", aicc.EMETAAPPINVALID, nil)
	conflict := temporal.NewApplicationError(aicc.MsgAppConnected, aicc.EAPPCONNECTED)
	outage := make([]error, 10)
	for i := range outage {
		outage[i] = temporal.NewApplicationError("Meta is unavailable.", aicc.EMETAUNAVAILABLE)
	}
	for _, tc := range []struct {
		name  string
		prove []error
		claim []error
		code  string
		calls []string
	}{
		{"secret refused", []error{refused}, nil, aicc.EMETAAPPINVALID, []string{"ProveApp"}},
		{"claimed by another channel", nil, []error{conflict}, aicc.EAPPCONNECTED, []string{"ProveApp", "ClaimApp"}},
		{"meta down", outage, nil, aicc.EMETAUNAVAILABLE, []string{"ProveApp", "ProveApp", "ProveApp", "ProveApp", "ProveApp"}},
	} {
		s.Run(tc.name, func() {
			s.SetupTest()
			s.proveErrs, s.claimErrs = tc.prove, tc.claim

			s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))

			res := s.result()
			s.Equal(workflows.OnboardingResult{Status: aicc.StatusFailed, ErrorCode: tc.code}, res)
			s.Equal(tc.calls, s.appCalls)
			s.Equal([]aicc.ChannelStatus{aicc.StatusFailed}, s.statuses(), "never awaiting verification")
			s.Equal(tc.code, s.last().ErrorCode)
		})
	}
}

// Meta unavailable for a while is waited out within the attempts, and the onboarding goes on.
func (s *OnboardingSuite) TestProveAppRetriesTransientErrors() {
	s.proveErrs = []error{
		temporal.NewApplicationError("Meta is unavailable.", aicc.EMETAUNAVAILABLE),
		temporal.NewApplicationError("Meta rate-limits.", aicc.EMETARATELIMITED),
	}
	s.claimErrs = []error{errors.New("database is down")}
	s.at(time.Hour, func() { s.update(workflows.UpdateCancel, "c", workflows.CancelRequest{}) })
	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))
	s.result()
	s.Equal([]string{"ProveApp", "ProveApp", "ProveApp", "ClaimApp", "ClaimApp"}, s.appCalls)
	s.Equal([]aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusCancelled}, s.statuses())
}

// An execution started before the onboarding proved apps (no prove-app marker in its history) goes on without
// proving or claiming, as it did when it started.
func (s *OnboardingSuite) TestStartedBeforeProvingApps() {
	s.env.OnGetVersion("prove-app", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	s.at(time.Hour, func() { s.update(workflows.UpdateCancel, "c", workflows.CancelRequest{}) })
	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))
	s.result()
	s.Empty(s.appCalls)
}

// A missing certificate fails the onboarding before Meta is asked anything.
func (s *OnboardingSuite) TestNoCertificateNoProof() {
	s.certErr = temporal.NewNonRetryableApplicationError("No certificate.", aicc.ECERTMISSING, nil)
	s.env.ExecuteWorkflow(workflows.OnboardingWorkflowType, input(0))
	s.Equal(aicc.ECERTMISSING, s.result().ErrorCode)
	s.Empty(s.appCalls)
}
