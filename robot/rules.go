package robot

import (
	"context"
	"slices"

	"github.com/aiccfb/aicc"
)

// Rules is the built-in rule robot of aicc dev and the fake setup, under BuiltinAccessCode. It answers by the
// whole words of the customer's message, case-insensitively (aicc.MatchTransferKeyword), always the same way:
// a customer who asks for an agent or a human is handed to the queue; opening hours, thanks, goodbyes and
// greetings get their canned answer, in that order of precedence; anything else gets TextNotUnderstood. It
// never fails.
type Rules struct{}

// The built-in robot's fixed texts; the greeting and the fallback tell the customer how to reach an agent.
const (
	TextTransfer      = "I am passing you to an agent. Please wait a moment."
	TextGreeting      = `Hello! I am the aicc robot. Ask me about our opening hours, or type "agent" to reach an agent.`
	TextHours         = `Our agents work Monday to Friday, 09:00 to 18:00. Type "agent" to reach one.`
	TextThanks        = `You are welcome! Type "agent" if you need an agent.`
	TextGoodbye       = "Goodbye, and thank you for writing to us."
	TextNotUnderstood = `Sorry, I did not understand. Type "agent" to reach an agent.`
)

// transferWords hand the conversation to an agent.
var transferWords = []string{"agent", "human"}

// rule is an answer and the suggestions for the messages that contain one of its words.
type rule struct {
	words       []string
	answer      string
	suggestions []string
}

// rules, by precedence. A message that asks for an agent gets the first one's suggestions.
var rules = []rule{
	{transferWords, TextTransfer, []string{
		"Hello, I am your agent. How can I help you?",
		"Thank you for waiting. What can I do for you?",
	}},
	{[]string{"hours", "opening", "open", "closed"}, TextHours, []string{
		"We are open Monday to Friday, 09:00 to 18:00.",
		"Is there anything else I can help you with?",
	}},
	{[]string{"thanks", "thank you", "thx"}, TextThanks, []string{
		"You are welcome!",
		"Glad I could help. Is there anything else?",
	}},
	{[]string{"bye", "goodbye"}, TextGoodbye, []string{
		"Goodbye, and thank you for contacting us.",
	}},
	{[]string{"hello", "hi", "hey", "good morning", "good afternoon", "good evening"}, TextGreeting, []string{
		"Hello! How can I help you today?",
		"Hi, thank you for writing to us. What can I do for you?",
	}},
}

// suggestionsOtherwise are the suggestions for a message no rule knows.
var suggestionsOtherwise = []string{
	"Thank you for your message. Let me check that for you.",
	"Could you tell me a little more about it?",
	"One moment, please.",
}

// Answer answers the customer's message by the first rule whose word it contains; a request for an agent or a
// human also transfers.
func (Rules) Answer(_ context.Context, q aicc.RobotQuestion) (aicc.RobotAnswer, error) {
	r := match(q.Text)
	if r == nil {
		return aicc.RobotAnswer{Texts: []string{TextNotUnderstood}}, nil
	}
	return aicc.RobotAnswer{Texts: []string{r.answer}, Transfer: r == &rules[0]}, nil
}

// Suggest returns one to three replies for the agent, by the same rules.
func (Rules) Suggest(_ context.Context, q aicc.RobotQuestion) ([]string, error) {
	if r := match(q.Text); r != nil {
		return slices.Clone(r.suggestions), nil
	}
	return slices.Clone(suggestionsOtherwise), nil
}

func match(text string) *rule {
	for i := range rules {
		if aicc.MatchTransferKeyword(text, rules[i].words) != "" {
			return &rules[i]
		}
	}
	return nil
}
