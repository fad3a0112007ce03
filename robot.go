package aicc

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RobotQuestion is what a robot is asked: a customer's message in a conversation of a channel.
type RobotQuestion struct {
	TenantID, ChannelID, ConversationID string
	AccessCode                          string // the channel's robot access code: which robot
	PSID                                string // the customer
	Text                                string // the customer's message
}

// RobotAnswer is a robot's answer to a customer's message.
type RobotAnswer struct {
	Texts    []string // to send to the customer, in order; may be empty
	Transfer bool     // the robot hands the conversation to an agent
}

// Robot answers customers (the intelligent robot) and suggests replies to agents (the robot assistant).
// Its errors are *Error with code EROBOTUNAVAILABLE.
type Robot interface {
	Answer(ctx context.Context, q RobotQuestion) (RobotAnswer, error)
	// Suggest returns suggested agent replies to the customer's last message (robot assistant).
	Suggest(ctx context.Context, q RobotQuestion) ([]string, error)
}

// Robots finds the robot of an access code; ENOTFOUND for an unknown one.
type Robots interface {
	Robot(accessCode string) (Robot, error)
}

// Limits of a robot's answer and suggestions: Meta's text limit for each, and a few of them, so that a robot
// cannot flood a customer or an agent.
const (
	MaxRobotAnswers     = 5
	MaxRobotSuggestions = 5
)

// MatchTransferKeyword reports the first keyword, in the order given, that text contains as a whole word, ""
// if none. The comparison folds case (Unicode simple folding, as strings.EqualFold), trims the keywords and
// treats any run of white space as one space, so "human agent" matches "Human\n  AGENT". A keyword matches
// as a whole word when, at each of its ends, the characters on either side are not both word characters
// (letters, digits, marks) unless one of them is of a script written without spaces between words (Han,
// Hiragana, Katakana, Thai, Lao, Khmer, Myanmar): there a keyword matches anywhere, so "人工" matches in
// "我要人工服务" and "agent" in "我要agent", while "agent" does not match "agents" or "reagent". Empty keywords
// never match. It takes time linear in len(text) for each keyword.
func MatchTransferKeyword(text string, keywords []string) string {
	var folded []rune // text folded, white space collapsed; built on the first non-empty keyword
	for _, k := range keywords {
		kw := foldCollapse(strings.TrimSpace(k), len(k))
		if len(kw) == 0 {
			continue
		}
		if folded == nil {
			folded = foldCollapse(text, utf8.RuneCountInString(text))
		}
		if containsWord(folded, kw) {
			return k
		}
	}
	return ""
}

// foldCollapse returns s with every rune case-folded, every run of white space inside it replaced by one
// space, and the white space at its ends dropped.
func foldCollapse(s string, capacity int) []rune {
	out := make([]rune, 0, capacity)
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && len(out) > 0 {
			out = append(out, ' ')
		}
		space = false
		out = append(out, foldRune(r))
	}
	return out
}

// foldRune maps r to the smallest rune of its simple case-folding orbit, so that two runes equal under
// strings.EqualFold map to the same rune.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A' // the orbit of an ASCII letter starts with its capital ('K' before 'k' and U+212A)
		}
		return r
	}
	lowest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		lowest = min(lowest, f)
	}
	return lowest
}

// containsWord reports whether kw occurs in text with a word boundary at both ends. It is the
// Knuth–Morris–Pratt search, so that a keyword costs time linear in len(text)+len(kw) whatever the two hold.
func containsWord(text, kw []rune) bool {
	if len(kw) > len(text) {
		return false
	}
	// fail[i] is the length of the longest proper prefix of kw[:i+1] that is also its suffix.
	fail := make([]int, len(kw))
	for i, k := 1, 0; i < len(kw); i++ {
		for k > 0 && kw[i] != kw[k] {
			k = fail[k-1]
		}
		if kw[i] == kw[k] {
			k++
		}
		fail[i] = k
	}
	for i, k := 0, 0; i < len(text); i++ {
		for k > 0 && text[i] != kw[k] {
			k = fail[k-1]
		}
		if text[i] == kw[k] {
			k++
		}
		if k == len(kw) {
			start, end := i+1-len(kw), i+1
			if (start == 0 || boundary(text[start-1], text[start])) && (end == len(text) || boundary(text[end-1], text[end])) {
				return true
			}
			k = fail[k-1]
		}
	}
	return false
}

// boundary reports whether a word may end between a and b.
func boundary(a, b rune) bool {
	return !wordRune(a) || !wordRune(b) || spaceless(a) || spaceless(b)
}

func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// spaceless reports whether r is of a script written without spaces between words.
func spaceless(r rune) bool {
	return r >= 0x0E00 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao,
		unicode.Khmer, unicode.Myanmar)
}
