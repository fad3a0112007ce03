package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

type TestMessageSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	sends int // attempts of the SendTestMessage activity
}

func TestSendTestMessage(t *testing.T) { suite.Run(t, new(TestMessageSuite)) }

var testMessage = workflows.TestMessageInput{
	PageInput: activities.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "102030405060"},
	Message:   aicc.OutboundMessage{RecipientPSID: "9988776655", Text: "Is this thing on?", Type: aicc.MessagingUpdate},
}

func (s *TestMessageSuite) SetupTest() {
	s.sends = 0
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterWorkflowWithOptions(workflows.SendTestMessage, workflow.RegisterOptions{Name: workflows.SendTestMessageWorkflowType})
}

// answer makes the activity answer res and err, counting its attempts.
func (s *TestMessageSuite) answer(res aicc.SendResult, err error) {
	s.env.OnActivity(a.SendTestMessage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendTestMessageInput) (aicc.SendResult, error) {
			s.sends++
			s.Equal(testMessage, in, "the message is sent as the administrator wrote it")
			return res, err
		}).Maybe()
}

// send runs the workflow and returns its result and the domain error it failed with.
func (s *TestMessageSuite) send() (aicc.SendResult, error) {
	s.T().Helper()
	s.env.ExecuteWorkflow(workflows.SendTestMessageWorkflowType, testMessage)
	s.Require().True(s.env.IsWorkflowCompleted())
	if err := s.env.GetWorkflowError(); err != nil {
		return aicc.SendResult{}, workflows.DomainError(err)
	}
	var res aicc.SendResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	return res, nil
}

func (s *TestMessageSuite) TestSent() {
	want := aicc.SendResult{RecipientID: "9988776655", MessageID: "m_abc"}
	s.answer(want, nil)

	got, err := s.send()

	s.Require().NoError(err)
	s.Equal(want, got, "Meta's answer, as it came")
	s.Equal(1, s.sends)
}

// A refusal of Meta fails the workflow with Meta's code, so that the administrator sees why.
func (s *TestMessageSuite) TestMetaRefuses() {
	for _, code := range []string{aicc.EMETATOKENINVALID, aicc.EMETAUSERUNAVAILABLE, aicc.ENOTFOUND} {
		s.Run(code, func() {
			s.SetupTest()
			s.answer(aicc.SendResult{}, temporal.NewNonRetryableApplicationError("Meta says "+code+".", code, nil))

			_, err := s.send()

			var e *aicc.Error
			s.Require().ErrorAs(err, &e)
			s.Equal(code, e.Code)
			s.Equal("Meta says "+code+".", e.Message)
			s.Equal(1, s.sends)
		})
	}
}

// The Send API has no idempotency key: whatever went wrong, the message is not sent a second time. A coded
// failure Meta may recover from keeps its code; anything else (a timeout, a database that did not answer) may
// have sent the message, and is META_UNAVAILABLE.
func (s *TestMessageSuite) TestNeverSentTwice() {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"rate limited", metaErr(aicc.EMETARATELIMITED), aicc.EMETARATELIMITED},
		{"meta unavailable", metaErr(aicc.EMETAUNAVAILABLE), aicc.EMETAUNAVAILABLE},
		{"database down", errors.New("database is down"), aicc.EMETAUNAVAILABLE},
		{"timeout", temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil), aicc.EMETAUNAVAILABLE},
	} {
		s.Run(tc.name, func() {
			s.SetupTest()
			s.answer(aicc.SendResult{}, tc.err)

			_, err := s.send()

			s.Equal(tc.want, aicc.ErrorCode(err))
			s.Equal(1, s.sends, "the activity ran exactly once")
		})
	}
}

func (s *TestMessageSuite) TestInvalidInput() {
	s.env.ExecuteWorkflow(workflows.SendTestMessageWorkflowType, workflows.TestMessageInput{})

	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Equal(aicc.EINVALID, aicc.ErrorCode(workflows.DomainError(err)))
	for _, f := range []string{"tenantId", "channelId", "pageId"} {
		s.Contains(err.Error(), f+" is required")
	}
	s.Zero(s.sends)
}
