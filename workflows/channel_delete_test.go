package workflows_test

import (
	"context"
	"errors"
	"slices"
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

type ChannelDeleteSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu    sync.Mutex
	calls []string // in the order they happened; Page activities as "Name:pageID"
	// rounds are the answers of ChannelPageIDs, one per call; nothing once they are used up.
	rounds   [][]string
	failWith map[string][]error // the next errors of a call, by its name in calls
	// running are the IDs of the channel's workflows that run, so that cancelling them succeeds.
	running []string
}

func TestChannelDelete(t *testing.T) { suite.Run(t, new(ChannelDeleteSuite)) }

var deleteInput = workflows.ChannelDeleteInput{TenantID: "ten_1", ChannelID: "ch_1"}

// cancelOnboarding and cancelRotation are the requests to cancel the channel's onboarding and its secret
// rotation, in calls.
const (
	cancelOnboarding = "cancel:onboarding/ch_1"
	cancelRotation   = "cancel:secret-rotation/ch_1"
)

func (s *ChannelDeleteSuite) SetupTest() {
	s.calls, s.rounds, s.failWith, s.running = nil, nil, map[string][]error{}, nil
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflowWithOptions(workflows.ChannelDelete, workflow.RegisterOptions{Name: workflows.ChannelDeleteWorkflowType})

	for name, fn := range map[string]any{"MarkChannelDeleting": a.MarkChannelDeleting, "DeleteChannel": a.DeleteChannel} {
		s.env.OnActivity(fn, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.ChannelInput) error {
				s.Equal(deleteInput, in)
				return s.call(name)
			}).Maybe()
	}
	s.env.OnActivity(a.ChannelPageIDs, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ChannelInput) ([]string, error) {
			s.Equal(deleteInput, in)
			if err := s.call("ChannelPageIDs"); err != nil {
				return nil, err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.rounds) == 0 {
				return nil, nil
			}
			ids := s.rounds[0]
			s.rounds = s.rounds[1:]
			return ids, nil
		}).Maybe()
	for name, fn := range map[string]any{"UnsubscribeApp": a.UnsubscribeApp, "RemovePage": a.RemovePage} {
		s.env.OnActivity(fn, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.PageInput) error {
				s.Equal("ten_1", in.TenantID)
				s.Equal("ch_1", in.ChannelID)
				return s.call(name + ":" + in.PageID)
			}).Maybe()
	}
	s.env.OnRequestCancelExternalWorkflow(mock.Anything, mock.Anything, mock.Anything).Return(
		func(_, workflowID, runID string) error {
			s.Empty(runID, "the workflow's current run")
			if err := s.call("cancel:" + workflowID); err != nil || slices.Contains(s.running, workflowID) {
				return err
			}
			// No onboarding or rotation runs in most deletions: the request fails, and the deletion goes on.
			return errors.New("workflow not found")
		}).Maybe()
}

// call records a call and returns the next error queued for it, if any.
func (s *ChannelDeleteSuite) call(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, name)
	if errs := s.failWith[name]; len(errs) > 0 {
		s.failWith[name] = errs[1:]
		return errs[0]
	}
	return nil
}

func (s *ChannelDeleteSuite) fail(name string, errs ...error) { s.failWith[name] = errs }

func (s *ChannelDeleteSuite) recorded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// deleteOutcome is what a caller of UpdateAwaitDeleting saw, with the calls made when it got its answer.
type deleteOutcome struct {
	state     workflows.ChannelDeleteState
	err       error
	rejected  error
	done      bool
	callsThen []string
}

// awaitDeleting sends UpdateAwaitDeleting, as DeleteChannel does with the start or when it joins a deletion.
func (s *ChannelDeleteSuite) awaitDeleting(id string) *deleteOutcome {
	out := new(deleteOutcome)
	s.env.UpdateWorkflow(workflows.UpdateAwaitDeleting, id, &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { out.rejected = err },
		OnComplete: func(v any, err error) {
			out.done, out.err = true, err
			if st, ok := v.(workflows.ChannelDeleteState); ok {
				out.state = st
			}
			out.callsThen = s.recorded()
		},
	})
	return out
}

// run deletes the channel and requires the deletion to succeed.
func (s *ChannelDeleteSuite) run() {
	s.T().Helper()
	s.env.ExecuteWorkflow(workflows.ChannelDeleteWorkflowType, deleteInput)
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
}

func (s *ChannelDeleteSuite) TestHappyPath() {
	s.rounds = [][]string{{"p1", "p2"}}
	var first *deleteOutcome
	s.env.RegisterDelayedCallback(func() { first = s.awaitDeleting("delete-1") }, 0)

	s.run()

	s.Equal([]string{
		"MarkChannelDeleting", cancelOnboarding, cancelRotation,
		"ChannelPageIDs", "UnsubscribeApp:p1", "RemovePage:p1", "UnsubscribeApp:p2", "RemovePage:p2",
		"ChannelPageIDs", // asked again: none left
		"DeleteChannel",
	}, s.calls)

	s.Require().NotNil(first)
	s.True(first.done)
	s.NoError(first.rejected)
	s.NoError(first.err)
	s.Equal(workflows.ChannelDeleteState{Deleting: true}, first.state)
	s.Contains(first.callsThen, "MarkChannelDeleting", "answered once deleting was recorded")
	s.NotContains(first.callsThen, "DeleteChannel", "answered without waiting for the Pages")
}

// A second DELETE while the deletion runs joins it and gets the same answer.
func (s *ChannelDeleteSuite) TestSecondDeleteJoins() {
	s.rounds = [][]string{{"p1"}}
	s.fail("UnsubscribeApp:p1", metaErr(aicc.EMETAUNAVAILABLE), metaErr(aicc.EMETAUNAVAILABLE))
	var second *deleteOutcome
	s.env.RegisterDelayedCallback(func() { s.awaitDeleting("delete-1") }, 0)
	s.env.RegisterDelayedCallback(func() { second = s.awaitDeleting("delete-2") }, 2*time.Second)

	s.run()

	s.Require().NotNil(second)
	s.True(second.done)
	s.NoError(second.err)
	s.Equal(workflows.ChannelDeleteState{Deleting: true}, second.state)
	s.Equal(1, count(s.calls, "MarkChannelDeleting"), "one deletion")
	s.Equal(1, count(s.calls, "DeleteChannel"))
}

// A Page added while the first Pages were being disconnected is listed by the next round: none is left behind.
func (s *ChannelDeleteSuite) TestPageAddedMeanwhile() {
	s.rounds = [][]string{{"p1"}, {"p2"}}

	s.run()

	s.Equal([]string{
		"MarkChannelDeleting", cancelOnboarding, cancelRotation,
		"ChannelPageIDs", "UnsubscribeApp:p1", "RemovePage:p1",
		"ChannelPageIDs", "UnsubscribeApp:p2", "RemovePage:p2",
		"ChannelPageIDs", "DeleteChannel",
	}, s.calls)
}

// The running onboarding and secret rotation of the channel are cancelled once deleting is recorded, before
// any Page is touched.
func (s *ChannelDeleteSuite) TestCancelsTheOnboardingAndTheRotation() {
	s.running = []string{workflows.OnboardingWorkflowID("ch_1"), workflows.SecretRotationWorkflowID("ch_1")}
	s.rounds = [][]string{{"p1"}}

	s.run()

	s.Equal([]string{
		"MarkChannelDeleting", cancelOnboarding, cancelRotation,
		"ChannelPageIDs", "UnsubscribeApp:p1", "RemovePage:p1", "ChannelPageIDs", "DeleteChannel",
	}, s.calls)
}

// Meta being unavailable is waited out, however long it lasts: far more attempts than an administrator's
// ConnectPage would make, and then the Page is disconnected properly.
func (s *ChannelDeleteSuite) TestMetaOutageIsWaitedOut() {
	s.rounds = [][]string{{"p1"}}
	outage := make([]error, 8)
	for i := range outage {
		outage[i] = metaErr(aicc.EMETAUNAVAILABLE)
	}
	outage[3] = metaErr(aicc.EMETARATELIMITED)
	s.fail("UnsubscribeApp:p1", outage...)

	s.run()

	s.Equal(len(outage)+1, count(s.calls, "UnsubscribeApp:p1"))
	s.Equal([]string{"UnsubscribeApp:p1", "RemovePage:p1", "ChannelPageIDs", "DeleteChannel"}, s.calls[len(s.calls)-4:])
}

// A refusal of Meta cannot be retried away, and a deletion has no administrator to fix it: the Page is removed
// all the same, and the other Pages and the channel are deleted.
func (s *ChannelDeleteSuite) TestMetaRefusalStillRemovesThePage() {
	for _, code := range []string{aicc.EMETATOKENINVALID, aicc.EMETAPERMISSION, aicc.EMETAERROR, aicc.EMETAINVALIDPARAM, aicc.ECERTMISSING, aicc.ENOTFOUND} {
		s.Run(code, func() {
			s.SetupTest()
			s.rounds = [][]string{{"p1", "p2"}}
			s.fail("UnsubscribeApp:p1", metaErr(code))

			s.run()

			s.Equal([]string{
				"MarkChannelDeleting", cancelOnboarding, cancelRotation,
				"ChannelPageIDs", "UnsubscribeApp:p1", "RemovePage:p1", "UnsubscribeApp:p2", "RemovePage:p2",
				"ChannelPageIDs", "DeleteChannel",
			}, s.calls, "one attempt, then the Page is removed")
		})
	}
}

// A secret this worker cannot open (a master key it lacks) is aicc's failure, not Meta's answer: the deletion
// stops with the Page and the channel kept, to be resumed once the operator mends it, and Meta's subscription
// is not left behind.
func (s *ChannelDeleteSuite) TestInternalFailureStopsTheDeletion() {
	s.rounds = [][]string{{"p1"}}
	s.fail("UnsubscribeApp:p1", temporal.NewNonRetryableApplicationError("The secret cannot be opened.", aicc.EINTERNAL, nil))

	s.env.ExecuteWorkflow(workflows.ChannelDeleteWorkflowType, deleteInput)

	s.Require().True(s.env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	s.Require().ErrorAs(s.env.GetWorkflowError(), &appErr)
	s.Equal(aicc.EINTERNAL, appErr.Type())
	s.NotContains(s.calls, "RemovePage:p1")
	s.NotContains(s.calls, "DeleteChannel")
}

// A database outage is waited out at every step.
func (s *ChannelDeleteSuite) TestDatabaseOutageIsWaitedOut() {
	down := errors.New("database is down")
	s.rounds = [][]string{{"p1"}}
	s.fail("MarkChannelDeleting", down, down)
	s.fail("RemovePage:p1", down)
	s.fail("DeleteChannel", down, down, down)

	s.run()

	s.Equal(3, count(s.calls, "MarkChannelDeleting"))
	s.Equal(2, count(s.calls, "RemovePage:p1"))
	s.Equal(4, count(s.calls, "DeleteChannel"))
}

// A channel that is gone already has nothing to delete: the deletion ends at once, and its Update says so.
func (s *ChannelDeleteSuite) TestChannelGone() {
	s.fail("MarkChannelDeleting", temporal.NewApplicationError("The channel does not exist.", aicc.ENOTFOUND))
	var out *deleteOutcome
	s.env.RegisterDelayedCallback(func() { out = s.awaitDeleting("delete-1") }, 0)

	s.run()

	s.Equal([]string{"MarkChannelDeleting"}, s.calls, "not retried; no other step")
	s.Require().NotNil(out)
	s.True(out.done)
	s.NoError(out.err)
	s.Equal(workflows.ChannelDeleteState{Gone: true}, out.state)
}

func (s *ChannelDeleteSuite) TestInvalidInput() {
	s.env.ExecuteWorkflow(workflows.ChannelDeleteWorkflowType, workflows.ChannelDeleteInput{})

	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Equal(aicc.EINVALID, aicc.ErrorCode(workflows.DomainError(err)))
	s.Contains(err.Error(), "tenantId is required")
	s.Contains(err.Error(), "channelId is required")
	s.Empty(s.calls)
}

// count is how many times name occurs in calls.
func count(calls []string, name string) int {
	n := 0
	for _, c := range calls {
		if c == name {
			n++
		}
	}
	return n
}
