package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

type PageSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	calls    []string // activities in the order they ran, statuses as "SetPageStatus:status:reason"
	failWith map[string][]error
}

func TestPage(t *testing.T) { suite.Run(t, new(PageSuite)) }

var pageIn = workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "102030405060"}

func (s *PageSuite) SetupTest() {
	s.calls, s.failWith = nil, map[string][]error{}
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflowWithOptions(workflows.ConnectPage, workflow.RegisterOptions{Name: workflows.ConnectPageWorkflowType})
	s.env.RegisterWorkflowWithOptions(workflows.DisconnectPage, workflow.RegisterOptions{Name: workflows.DisconnectPageWorkflowType})

	s.env.OnActivity(a.CheckPageToken, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PageInput) (aicc.PageInfo, error) {
			return aicc.PageInfo{ID: in.PageID, Name: "Acme"}, s.call("CheckPageToken", in)
		}).Maybe()
	for name, fn := range map[string]any{
		"SubscribeApp": a.SubscribeApp, "VerifySubscription": a.VerifySubscription,
		"UnsubscribeApp": a.UnsubscribeApp, "RemovePage": a.RemovePage, "ClaimPage": a.ClaimPage,
	} {
		s.env.OnActivity(fn, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.PageInput) error { return s.call(name, in) }).Maybe()
	}
	s.env.OnActivity(a.SetPageStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SetPageStatusInput) error {
			s.Equal(pageIn, activities.PageInput{TenantID: in.TenantID, ChannelID: in.ChannelID, PageID: in.PageID},
				"the Page is named by tenant, channel and Page ID")
			return s.call("SetPageStatus:"+string(in.Status)+":"+in.Reason, pageIn)
		}).Maybe()
}

// call records an activity and returns the next error queued for it, if any.
func (s *PageSuite) call(name string, in activities.PageInput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Equal(pageIn, in)
	s.calls = append(s.calls, name)
	if errs := s.failWith[name]; len(errs) > 0 {
		s.failWith[name] = errs[1:]
		return errs[0]
	}
	return nil
}

// fail queues errors for the next calls of an activity.
func (s *PageSuite) fail(name string, errs ...error) { s.failWith[name] = errs }

func metaErr(code string) error {
	nonRetryable := code != aicc.EMETARATELIMITED && code != aicc.EMETAUNAVAILABLE
	if nonRetryable {
		return temporal.NewNonRetryableApplicationError("Meta says "+code+".", code, nil)
	}
	return temporal.NewApplicationError("Meta says "+code+".", code)
}

func (s *PageSuite) connect() workflows.ConnectPageResult {
	s.T().Helper()
	s.env.ExecuteWorkflow(workflows.ConnectPageWorkflowType, pageIn)
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var res workflows.ConnectPageResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	return res
}

// connecting is the call that records the Page as connecting, ConnectPage's first step.
const connecting = "SetPageStatus:connecting:"

func (s *PageSuite) TestConnectHappyPath() {
	res := s.connect()

	s.Equal(workflows.ConnectPageResult{Status: aicc.PageSubscribed}, res)
	s.Equal([]string{connecting, "CheckPageToken", "ClaimPage", "SubscribeApp", "VerifySubscription", "SetPageStatus:subscribed:"}, s.calls)
}

// A token Meta refuses is not kept: the Page is removed, nothing is subscribed, and the result says why.
func (s *PageSuite) TestConnectTokenInvalid() {
	for _, code := range []string{aicc.EMETATOKENINVALID, aicc.EMETAPERMISSION} {
		s.Run(code, func() {
			s.SetupTest()
			s.fail("CheckPageToken", metaErr(code))

			res := s.connect()

			s.Equal(aicc.PageTokenInvalid, res.Status)
			s.Equal(code, res.Reason)
			s.Equal("Meta says "+code+".", res.Message)
			s.Equal([]string{connecting, "CheckPageToken", "RemovePage"}, s.calls, "no subscribe, no status after connecting")
		})
	}
}

// Any other refusal of the token check keeps the Page as subscription_failed.
func (s *PageSuite) TestConnectTokenCheckFails() {
	s.fail("CheckPageToken", metaErr(aicc.ECERTMISSING))

	res := s.connect()

	s.Equal(aicc.PageSubscriptionFailed, res.Status)
	s.Equal(aicc.ECERTMISSING, res.Reason)
	s.Equal([]string{connecting, "CheckPageToken", "SetPageStatus:subscription_failed:" + aicc.ECERTMISSING}, s.calls)
}

func (s *PageSuite) TestConnectSubscriptionFails() {
	for _, tc := range []struct {
		step, code string
		want       []string
	}{
		{"SubscribeApp", aicc.EMETAPERMISSION, []string{connecting, "CheckPageToken", "ClaimPage", "SubscribeApp"}},
		{"SubscribeApp", aicc.EMETAINVALIDPARAM, []string{connecting, "CheckPageToken", "ClaimPage", "SubscribeApp"}},
		{"VerifySubscription", aicc.EMETAERROR, []string{connecting, "CheckPageToken", "ClaimPage", "SubscribeApp", "VerifySubscription"}},
	} {
		s.Run(tc.step+"/"+tc.code, func() {
			s.SetupTest()
			s.fail(tc.step, metaErr(tc.code))

			res := s.connect()

			s.Equal(workflows.ConnectPageResult{Status: aicc.PageSubscriptionFailed, Reason: tc.code, Message: "Meta says " + tc.code + "."}, res)
			s.Equal(append(tc.want, "SetPageStatus:subscription_failed:"+tc.code), s.calls)
		})
	}
}

// A rate limit or an outage is retried with backoff; the connection then succeeds.
func (s *PageSuite) TestConnectRetriesTransientErrors() {
	s.fail("SubscribeApp", metaErr(aicc.EMETARATELIMITED), metaErr(aicc.EMETAUNAVAILABLE))

	res := s.connect()

	s.Equal(aicc.PageSubscribed, res.Status)
	s.Equal([]string{connecting, "CheckPageToken", "ClaimPage", "SubscribeApp", "SubscribeApp", "SubscribeApp", "VerifySubscription", "SetPageStatus:subscribed:"}, s.calls)
}

// An outage that outlasts the attempts is an answer too, so that the administrator is not left waiting.
func (s *PageSuite) TestConnectGivesUpOnLongOutage() {
	outage := make([]error, 10)
	for i := range outage {
		outage[i] = metaErr(aicc.EMETAUNAVAILABLE)
	}
	s.fail("SubscribeApp", outage...)

	res := s.connect()

	s.Equal(aicc.PageSubscriptionFailed, res.Status)
	s.Equal(aicc.EMETAUNAVAILABLE, res.Reason)
	s.Len(s.calls, 1+1+1+5+1, "connecting, the token check, the claim, 5 attempts, the status")
}

// A database outage is waited out: the status write is retried until it succeeds.
func (s *PageSuite) TestConnectRetriesStatusWrite() {
	down := errors.New("database is down")
	s.fail("SetPageStatus:subscribed:", down, down, down, down, down, down, down)

	res := s.connect()

	s.Equal(aicc.PageSubscribed, res.Status)
	s.Len(s.calls, 1+4+8, "connecting, the three Meta calls and the claim, 7 failed writes and the one that succeeds")
}

// A Page removed while it was being connected ends the workflow with NOT_FOUND.
func (s *PageSuite) TestConnectPageGone() {
	s.fail("CheckPageToken", temporal.NewNonRetryableApplicationError("The Page does not exist.", aicc.ENOTFOUND, nil))

	s.env.ExecuteWorkflow(workflows.ConnectPageWorkflowType, pageIn)

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Equal(aicc.ENOTFOUND, aicc.ErrorCode(workflows.DomainError(s.env.GetWorkflowError())))
	s.Equal([]string{connecting, "CheckPageToken"}, s.calls)
}

// ConnectPage records connecting itself before it asks Meta anything, so that a reconnection from
// subscription_failed shows connecting while it runs, without the API writing the state.
func (s *PageSuite) TestConnectRecordsConnectingFirst() {
	s.fail(connecting, errors.New("database is down"), errors.New("database is down"))

	res := s.connect()

	s.Equal(aicc.PageSubscribed, res.Status)
	s.Equal([]string{connecting, connecting, connecting, "CheckPageToken", "ClaimPage", "SubscribeApp", "VerifySubscription", "SetPageStatus:subscribed:"},
		s.calls, "the connecting write is retried until the database answers, and Meta is asked only after it")
}

// A Page removed before ConnectPage recorded connecting ends it with NOT_FOUND, without a call to Meta.
func (s *PageSuite) TestConnectPageGoneBeforeConnecting() {
	s.fail(connecting, temporal.NewApplicationError("The Page does not exist.", aicc.ENOTFOUND))

	s.env.ExecuteWorkflow(workflows.ConnectPageWorkflowType, pageIn)

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Equal(aicc.ENOTFOUND, aicc.ErrorCode(workflows.DomainError(s.env.GetWorkflowError())))
	s.Equal([]string{connecting}, s.calls, "not retried, and Meta is not asked")
}

// A Page whose channel is being deleted cannot be connected: the store refuses the connecting write, and
// ConnectPage ends with CHANNEL_DELETING at once, without asking Meta.
func (s *PageSuite) TestConnectChannelDeleting() {
	s.fail(connecting, temporal.NewApplicationError("The channel is being deleted.", aicc.ECHANNELDELETING))

	s.env.ExecuteWorkflow(workflows.ConnectPageWorkflowType, pageIn)

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Equal(aicc.ECHANNELDELETING, aicc.ErrorCode(workflows.DomainError(s.env.GetWorkflowError())))
	s.Equal([]string{connecting}, s.calls, "not retried, and Meta is not asked")
}

// An execution started before ConnectPage recorded connecting itself (its history has no version marker) goes
// on without that step, as it did when it started: the API had written connecting for it.
func (s *PageSuite) TestConnectStartedBeforeRecordingConnecting() {
	s.env.OnGetVersion("record-connecting", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)

	res := s.connect()

	s.Equal(workflows.ConnectPageResult{Status: aicc.PageSubscribed}, res)
	s.Equal([]string{"CheckPageToken", "ClaimPage", "SubscribeApp", "VerifySubscription", "SetPageStatus:subscribed:"}, s.calls)
}

// The Page is claimed only once Meta confirmed the token is this Page's, and a claim refused is not retried
// and subscribes nothing: another channel's claim, made first, removes this channel's Page, and the result
// says so in the words of any such conflict; a channel that has not claimed its app keeps the Page as
// subscription_failed, to be reconnected once the app is claimed.
func (s *PageSuite) TestConnectPageClaimRefused() {
	for _, tc := range []struct {
		code, message string
		status        aicc.PageStatus
		then          string // the call after the claim
	}{
		{aicc.EPAGECONNECTED, aicc.MsgPageConnected, aicc.PageAlreadyConnected, "RemovePage"},
		{aicc.ECONFLICT, aicc.MsgAppNotClaimed, aicc.PageSubscriptionFailed, "SetPageStatus:subscription_failed:" + aicc.ECONFLICT},
	} {
		s.Run(tc.code, func() {
			s.SetupTest()
			s.fail("ClaimPage", temporal.NewApplicationError(tc.message, tc.code))

			res := s.connect()

			s.Equal(workflows.ConnectPageResult{Status: tc.status, Reason: tc.code, Message: tc.message}, res)
			s.Equal([]string{connecting, "CheckPageToken", "ClaimPage", tc.then}, s.calls)
		})
	}
}

// A token of another Page, or one Meta refuses, never reaches the claim; nor does a token Meta could not check
// (a 5xx through every attempt): that Page is kept as subscription_failed, claiming nothing, so that it can be
// reconnected once Meta answers.
func (s *PageSuite) TestConnectClaimsOnlyAProvenPage() {
	for _, code := range []string{aicc.EMETATOKENINVALID, aicc.EMETAUNAVAILABLE} {
		s.Run(code, func() {
			s.SetupTest()
			outage := make([]error, 10)
			for i := range outage {
				outage[i] = metaErr(code)
			}
			s.fail("CheckPageToken", outage...)

			res := s.connect()

			s.NotContains(s.calls, "ClaimPage")
			s.NotContains(s.calls, "SubscribeApp")
			if code == aicc.EMETAUNAVAILABLE {
				s.Equal(aicc.PageSubscriptionFailed, res.Status)
				s.Equal("SetPageStatus:subscription_failed:"+aicc.EMETAUNAVAILABLE, s.calls[len(s.calls)-1])
			} else {
				s.Equal(aicc.PageTokenInvalid, res.Status)
			}
		})
	}
}

// A claim waits out a database outage, and the connection goes on.
func (s *PageSuite) TestConnectRetriesTheClaim() {
	down := errors.New("database is down")
	s.fail("ClaimPage", down, down)

	res := s.connect()

	s.Equal(aicc.PageSubscribed, res.Status)
	s.Equal([]string{connecting, "CheckPageToken", "ClaimPage", "ClaimPage", "ClaimPage", "SubscribeApp", "VerifySubscription",
		"SetPageStatus:subscribed:"}, s.calls)
}

// A Page removed between the token check and the claim ends the workflow with NOT_FOUND.
func (s *PageSuite) TestConnectPageGoneBeforeClaim() {
	s.fail("ClaimPage", temporal.NewApplicationError("The Page does not exist.", aicc.ENOTFOUND))

	s.env.ExecuteWorkflow(workflows.ConnectPageWorkflowType, pageIn)

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Equal(aicc.ENOTFOUND, aicc.ErrorCode(workflows.DomainError(s.env.GetWorkflowError())))
	s.Equal([]string{connecting, "CheckPageToken", "ClaimPage"}, s.calls)
}

// An execution started before ConnectPage claimed Pages (its history has no claim-page marker) goes on
// without the claim, as it did when it started.
func (s *PageSuite) TestConnectStartedBeforeClaiming() {
	s.env.OnGetVersion("claim-page", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)

	res := s.connect()

	s.Equal(workflows.ConnectPageResult{Status: aicc.PageSubscribed}, res)
	s.Equal([]string{connecting, "CheckPageToken", "SubscribeApp", "VerifySubscription", "SetPageStatus:subscribed:"}, s.calls)
}

func (s *PageSuite) TestInvalidInput() {
	for _, wt := range []string{workflows.ConnectPageWorkflowType, workflows.DisconnectPageWorkflowType} {
		s.Run(wt, func() {
			s.SetupTest()
			s.env.ExecuteWorkflow(wt, workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1"})
			s.Require().True(s.env.IsWorkflowCompleted())
			err := s.env.GetWorkflowError()
			s.Equal(aicc.EINVALID, aicc.ErrorCode(workflows.DomainError(err)))
			s.Contains(err.Error(), "pageId")
			s.Empty(s.calls)
		})
	}
}

func (s *PageSuite) disconnect() error {
	s.T().Helper()
	s.env.ExecuteWorkflow(workflows.DisconnectPageWorkflowType, pageIn)
	s.Require().True(s.env.IsWorkflowCompleted())
	return s.env.GetWorkflowError()
}

func (s *PageSuite) TestDisconnect() {
	s.NoError(s.disconnect())
	s.Equal([]string{"UnsubscribeApp", "RemovePage"}, s.calls)
}

// A token Meta refuses cannot remove the subscription; the Page is removed anyway.
func (s *PageSuite) TestDisconnectTokenInvalid() {
	for _, code := range []string{aicc.EMETATOKENINVALID, aicc.EMETAPERMISSION, aicc.ENOTFOUND} {
		s.Run(code, func() {
			s.SetupTest()
			s.fail("UnsubscribeApp", metaErr(code))
			s.NoError(s.disconnect())
			s.Equal([]string{"UnsubscribeApp", "RemovePage"}, s.calls)
		})
	}
}

// Meta failing otherwise keeps the Page, so that removing it can be retried.
func (s *PageSuite) TestDisconnectFails() {
	s.fail("UnsubscribeApp", metaErr(aicc.EMETAERROR))
	err := s.disconnect()
	s.Equal(aicc.EMETAERROR, aicc.ErrorCode(workflows.DomainError(err)))
	s.Equal([]string{"UnsubscribeApp"}, s.calls)
}

func (s *PageSuite) TestDisconnectRetriesTransientErrors() {
	s.fail("UnsubscribeApp", metaErr(aicc.EMETARATELIMITED))
	s.NoError(s.disconnect())
	s.Equal([]string{"UnsubscribeApp", "UnsubscribeApp", "RemovePage"}, s.calls)
}
