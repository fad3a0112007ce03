package workflows_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// Every workflow checks its input the same way: one INVALID business failure, not retried, that names every
// missing field and every other problem at once, before the workflow does anything.
func TestInvalidInputNamesEveryProblem(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		fn   any
		in   any
		want []string
	}{
		{workflows.OnboardingWorkflowType, workflows.Onboarding, workflows.OnboardingInput{VerificationTTL: -1},
			[]string{"tenantId is required", "channelId is required", "verificationTtl must not be negative"}},
		{workflows.ConnectPageWorkflowType, workflows.ConnectPage, workflows.PageInput{},
			[]string{"tenantId is required", "channelId is required", "pageId is required"}},
		{workflows.DisconnectPageWorkflowType, workflows.DisconnectPage, workflows.PageInput{},
			[]string{"tenantId is required", "channelId is required", "pageId is required"}},
		{workflows.ChannelDeleteWorkflowType, workflows.ChannelDelete, workflows.ChannelDeleteInput{},
			[]string{"tenantId is required", "channelId is required"}},
		{workflows.SendTestMessageWorkflowType, workflows.SendTestMessage, workflows.TestMessageInput{},
			[]string{"tenantId is required", "channelId is required", "pageId is required"}},
		{workflows.ConversationWorkflowType, workflows.Conversation, workflows.ConversationInput{HistoryLimit: -1},
			[]string{"tenantId is required", "channelId is required", "pageId is required", "psid is required", "historyLimit must not be negative"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterWorkflowWithOptions(tc.fn, workflow.RegisterOptions{Name: tc.typ})
			// No activity is mocked or registered: one that ran would fail the test.

			env.ExecuteWorkflow(tc.typ, tc.in)

			require.True(t, env.IsWorkflowCompleted())
			err := env.GetWorkflowError()
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "%v", err)
			assert.Equal(t, aicc.EINVALID, appErr.Type())
			assert.True(t, appErr.NonRetryable())
			msg := appErr.Message()
			for _, w := range tc.want {
				assert.Contains(t, msg, w)
			}
			assert.Equal(t, len(tc.want), strings.Count(msg, ";")+1, "one error for all problems: %q", msg)
			var e *aicc.Error
			require.ErrorAs(t, workflows.DomainError(err), &e)
			assert.Equal(t, aicc.EINVALID, e.Code)
			assert.Equal(t, msg, e.Message, "the API shows the workflow's message")
		})
	}
}

// runToEnd executes the workflow registered as typ with in, requires it to complete without an error, and
// returns its result.
func runToEnd[R any](t *testing.T, env *testsuite.TestWorkflowEnvironment, typ string, in any) R {
	t.Helper()
	env.ExecuteWorkflow(typ, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res R
	require.NoError(t, env.GetWorkflowResult(&res))
	return res
}
