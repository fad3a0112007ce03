package workflows

import (
	"time"

	"github.com/aiccfb/aicc"
)

// ConversationWorkflowID is the ID of the workflow of the conversation between a Page and a customer.
func ConversationWorkflowID(channelID, pageID, psid string) string {
	return "conversation/" + channelID + "/" + pageID + "/" + psid
}

// ConversationInput starts (or continues as new) a conversation's workflow. It carries no secret.
type ConversationInput struct {
	TenantID  string
	ChannelID string
	PageID    string
	PSID      string
	// State is the conversation so far when the workflow continues as new; nil on the first start.
	State *ConversationState
}

// ConversationState is what the workflow knows of its conversation.
type ConversationState struct {
	Conversation aicc.Conversation
	// Seen are the inbox IDs applied lately, so a redelivered event is ignored; bounded, newest last.
	Seen []int64
	// LastTimestamp is the Meta timestamp of the newest applied event (ms).
	LastTimestamp int64
}

// SignalInboxEvent delivers one inbox event to its conversation; the dispatcher sends it with signal-with-start.
const SignalInboxEvent = "inbox-event"

// InboxEventSignal is the payload of SignalInboxEvent: the inbox event's fields the conversation needs.
type InboxEventSignal struct {
	InboxID   int64
	Kind      aicc.EventKind
	MID       string
	Timestamp int64 // Meta's, ms
	Text      string
	At        time.Time // when the event reached the inbox
}

// QueryConversation returns the live ConversationState.
const QueryConversation = "conversation"
