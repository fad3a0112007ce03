package activities

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/aiccfb/aicc"
)

// AskRobotInput is a customer's message for the channel's intelligent robot, named by its access code.
type AskRobotInput struct {
	aicc.RobotQuestion
}

// AskRobot asks the robot of the access code to answer the customer. The robot retries what may pass within
// its own bounds (robot.HTTP: timeouts and 5xx), so no robot for the access code, a robot that failed and a
// robot whose circuit breaker is open are all a non-retryable ApplicationError typed ROBOT_UNAVAILABLE: the
// workflow then hands the conversation to the queue instead of keeping the customer waiting. A call cut short
// by the activity's own end (timeout, worker stop) returns the context's error, for Temporal to retry.
func (a *Activities) AskRobot(ctx context.Context, in AskRobotInput) (aicc.RobotAnswer, error) {
	code := in.AccessCode
	if a.Robots == nil {
		return aicc.RobotAnswer{}, NonRetryable(aicc.Errorf(aicc.EROBOTUNAVAILABLE, "No robot is configured."))
	}
	robot, err := a.Robots.Robot(code)
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND:
		return aicc.RobotAnswer{}, NonRetryable(aicc.Errorf(aicc.EROBOTUNAVAILABLE, "No robot has the access code %q.", code))
	case err != nil:
		return aicc.RobotAnswer{}, domainError(err)
	}
	answer, err := robot.Answer(ctx, in.RobotQuestion)
	if err == nil {
		return answer, nil
	}
	if ctx.Err() != nil {
		return aicc.RobotAnswer{}, ctx.Err()
	}
	// The error's text holds the cause (status, timeout) for operators; the workflow sees the safe message.
	activity.GetLogger(ctx).Warn("The robot did not answer", "AccessCode", code, "ConversationID", in.ConversationID,
		"Error", err.Error())
	if aicc.ErrorCode(err) == aicc.EROBOTUNAVAILABLE {
		return aicc.RobotAnswer{}, NonRetryable(err)
	}
	return aicc.RobotAnswer{}, domainError(err)
}
