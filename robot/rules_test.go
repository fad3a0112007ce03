package robot_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/robot"
)

func TestRulesAnswer(t *testing.T) {
	for _, tc := range []struct {
		text     string
		want     string
		transfer bool
	}{
		{"Hello", robot.TextGreeting, false},
		{"hi there!", robot.TextGreeting, false},
		{"Good Morning", robot.TextGreeting, false},
		{"What are your opening hours?", robot.TextHours, false},
		{"Hello, when are you OPEN?", robot.TextHours, false},
		{"thank you", robot.TextThanks, false},
		{"bye", robot.TextGoodbye, false},
		{"I want an AGENT", robot.TextTransfer, true},
		{"hello, a human please", robot.TextTransfer, true},
		{"Human", robot.TextTransfer, true},
		{"humanity", robot.TextNotUnderstood, false},
		{"my order never arrived", robot.TextNotUnderstood, false},
		{"", robot.TextNotUnderstood, false},
		{"this hiring process", robot.TextNotUnderstood, false}, // "hi" only as a word
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, err := robot.Rules{}.Answer(context.Background(), aicc.RobotQuestion{Text: tc.text})
			require.NoError(t, err)
			assert.Equal(t, aicc.RobotAnswer{Texts: []string{tc.want}, Transfer: tc.transfer}, got)
		})
	}
}

// The texts that do not transfer tell the customer how to reach an agent, where it helps.
func TestRulesHint(t *testing.T) {
	for _, text := range []string{robot.TextGreeting, robot.TextNotUnderstood, robot.TextHours} {
		assert.Contains(t, text, `"agent"`)
		assert.Equal(t, "agent", aicc.MatchTransferKeyword(text, []string{"agent"}), "the hint is a whole word")
	}
}

func TestRulesSuggest(t *testing.T) {
	for _, text := range []string{"hello", "opening hours", "thanks", "bye", "agent", "something else", ""} {
		got, err := robot.Rules{}.Suggest(context.Background(), aicc.RobotQuestion{Text: text})
		require.NoError(t, err)
		assert.NotEmpty(t, got, text)
		assert.LessOrEqual(t, len(got), 3, text)
		got[0] = "changed" // a copy: the next call is not affected
	}
	got, err := robot.Rules{}.Suggest(context.Background(), aicc.RobotQuestion{Text: "hello"})
	require.NoError(t, err)
	assert.Equal(t, "Hello! How can I help you today?", got[0])
	// Deterministic.
	again, _ := robot.Rules{}.Suggest(context.Background(), aicc.RobotQuestion{Text: "hello"})
	assert.Equal(t, got, again)
}
