package workflows_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

func TestStartOnboardingOptions(t *testing.T) {
	got := workflows.StartOnboardingOptions(workflows.OnboardingInput{TenantID: "ten_1", ChannelID: "ch_1"})

	assert.Equal(t, "onboarding/ch_1", got.ID)
	assert.Equal(t, workflows.TaskQueue, got.TaskQueue)
	assert.True(t, got.WorkflowExecutionErrorWhenAlreadyStarted)
	assert.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, got.WorkflowIDReusePolicy)
	assert.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, got.WorkflowIDConflictPolicy)

	tenant, ok := got.TypedSearchAttributes.GetKeyword(workflows.SearchAttributeTenantID)
	assert.True(t, ok)
	assert.Equal(t, "ten_1", tenant)
	channel, ok := got.TypedSearchAttributes.GetKeyword(workflows.SearchAttributeChannelID)
	assert.True(t, ok)
	assert.Equal(t, "ch_1", channel)
	assert.Equal(t, "TenantId", workflows.SearchAttributeTenantID.GetName())
	assert.Equal(t, "ChannelId", workflows.SearchAttributeChannelID.GetName())
}

func TestDomainError(t *testing.T) {
	notVerified := temporal.NewApplicationError("Meta has not verified the callback URL yet.", aicc.ENOTVERIFIED)
	for _, tc := range []struct {
		name        string
		err         error
		wantCode    string
		wantMessage string
	}{
		{
			name: "rejected update", err: notVerified,
			wantCode: aicc.ENOTVERIFIED, wantMessage: "Meta has not verified the callback URL yet.",
		},
		{
			name: "wrapped", err: fmt.Errorf("update confirm: %w", notVerified),
			wantCode: aicc.ENOTVERIFIED, wantMessage: "Meta has not verified the callback URL yet.",
		},
		{
			name:     "finished",
			err:      temporal.NewNonRetryableApplicationError("The onboarding is over.", aicc.EONBOARDINGFINISHED, nil),
			wantCode: aicc.EONBOARDINGFINISHED, wantMessage: "The onboarding is over.",
		},
		{
			name:     "already started",
			err:      serviceerror.NewWorkflowExecutionAlreadyStarted("workflow already started", "req", "run"),
			wantCode: aicc.EONBOARDINGSTARTED,
		},
		{
			name:     "closed",
			err:      fmt.Errorf("update: %w", serviceerror.NewNotFound("workflow execution already completed")),
			wantCode: aicc.EONBOARDINGFINISHED,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := workflows.DomainError(tc.err)
			var e *aicc.Error
			require.ErrorAs(t, got, &e)
			assert.Equal(t, tc.wantCode, e.Code)
			if tc.wantMessage != "" {
				assert.Equal(t, tc.wantMessage, e.Message)
			}
			assert.NotEmpty(t, e.Message)
		})
	}

	t.Run("unchanged", func(t *testing.T) {
		assert.NoError(t, workflows.DomainError(nil))
		for _, err := range []error{
			errors.New("connection refused"),
			serviceerror.NewUnavailable("frontend is down"),
			temporal.NewApplicationError("boom", "SomethingElse"),
		} {
			assert.Same(t, err, workflows.DomainError(err), "%v", err)
		}
	})
}
