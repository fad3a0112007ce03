package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// SendTestMessage sends an administrator's test message from a Page through the Send API and returns Meta's
// answer. The Send API has no idempotency key, so the activity runs once: the Graph client itself retries only
// what Meta did not accept. A refusal fails the workflow with Meta's code, anything else with META_UNAVAILABLE.
func SendTestMessage(ctx workflow.Context, in TestMessageInput) (aicc.SendResult, error) {
	if err := invalidInput("test message",
		[]field{{"tenantId", in.TenantID}, {"channelId", in.ChannelID}, {"pageId", in.PageID}}); err != nil {
		return aicc.SendResult{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var a *activities.Activities
	var res aicc.SendResult
	err := workflow.ExecuteActivity(ctx, a.SendTestMessage, in).Get(ctx, &res)
	if err != nil && !aicc.IsCode(applicationErrorType(err)) {
		// A timeout or a database that did not answer: the message may have gone out, so it is not sent again.
		return res, refuse(aicc.EMETAUNAVAILABLE, "The message could not be sent, or Meta did not confirm it in time.")
	}
	return res, err
}
