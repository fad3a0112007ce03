package activities_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/robot"
)

// failingRobot fails every call with err.
type failingRobot struct{ err error }

func (r failingRobot) Answer(context.Context, aicc.RobotQuestion) (aicc.RobotAnswer, error) {
	return aicc.RobotAnswer{}, r.err
}

func (r failingRobot) Suggest(context.Context, aicc.RobotQuestion) ([]string, error) {
	return nil, r.err
}

func robotEnv(t *testing.T, robots aicc.Robots) (*testsuite.TestActivityEnvironment, *activities.Activities) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	acts := &activities.Activities{Robots: robots, Now: time.Now}
	env.RegisterActivity(acts)
	return env, acts
}

func askRobot(t *testing.T, robots aicc.Robots, code, text string) (aicc.RobotAnswer, error) {
	t.Helper()
	env, acts := robotEnv(t, robots)
	in := activities.AskRobotInput{RobotQuestion: aicc.RobotQuestion{
		TenantID: "tn_1", ChannelID: "ch_1", ConversationID: "cv_1", AccessCode: code, PSID: "7001", Text: text,
	}}
	val, err := env.ExecuteActivity(acts.AskRobot, in)
	if err != nil {
		return aicc.RobotAnswer{}, err
	}
	var got aicc.RobotAnswer
	require.NoError(t, val.Get(&got))
	return got, nil
}

// requireRobotUnavailable checks that err is the non-retryable ROBOT_UNAVAILABLE the workflow stops on, and
// returns its message.
func requireRobotUnavailable(t *testing.T, err error) string {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, aicc.EROBOTUNAVAILABLE, appErr.Type())
	assert.True(t, appErr.NonRetryable(), "the workflow hands the conversation to the queue at once")
	return appErr.Message()
}

func TestAskRobotBuiltin(t *testing.T) {
	robots := robot.NewRegistry(map[string]aicc.Robot{robot.BuiltinAccessCode: robot.Rules{}})

	got, err := askRobot(t, robots, robot.BuiltinAccessCode, "Hello")
	require.NoError(t, err)
	assert.Equal(t, aicc.RobotAnswer{Texts: []string{robot.TextGreeting}}, got)

	got, err = askRobot(t, robots, robot.BuiltinAccessCode, "an AGENT please")
	require.NoError(t, err)
	assert.Equal(t, aicc.RobotAnswer{Texts: []string{robot.TextTransfer}, Transfer: true}, got)
}

func TestAskRobotUnknownAccessCode(t *testing.T) {
	robots := robot.NewRegistry(map[string]aicc.Robot{robot.BuiltinAccessCode: robot.Rules{}})
	_, err := askRobot(t, robots, "r9", "Hello")
	assert.Equal(t, `No robot has the access code "r9".`, requireRobotUnavailable(t, err))

	_, err = askRobot(t, nil, "r9", "Hello")
	assert.Equal(t, "No robot is configured.", requireRobotUnavailable(t, err))
}

// A robot that fails and one whose breaker is open: non-retryable, with the safe message only.
func TestAskRobotHTTPFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	rb := robot.NewHTTP("r1", srv.URL+"/?key=s3cr3t", robot.HTTPOptions{Retries: -1, BreakerThreshold: 1, BreakerCooldown: time.Hour})
	robots := robot.NewRegistry(map[string]aicc.Robot{"r1": rb})

	_, err := askRobot(t, robots, "r1", "Hello")
	msg := requireRobotUnavailable(t, err)
	assert.Equal(t, `The robot of access code "r1" did not answer.`, msg)
	assert.NotContains(t, err.Error(), "s3cr3t")

	_, err = askRobot(t, robots, "r1", "Hello")
	assert.Contains(t, requireRobotUnavailable(t, err), "failed repeatedly")
}

// An error that is not the robot's (a bug, a dependency) is left to the retry policy.
func TestAskRobotOtherError(t *testing.T) {
	robots := robot.NewRegistry(map[string]aicc.Robot{"r1": failingRobot{err: errors.New("boom")}})
	_, err := askRobot(t, robots, "r1", "Hello")
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		assert.False(t, appErr.NonRetryable())
	}
}
