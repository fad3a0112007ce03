package workflows

import (
	"time"

	"github.com/aiccfb/aicc"
)

// ConversationWorkflowID is the ID of the workflow of the conversation between a Page and a customer: the
// conversation's ID, which shows neither the Page's nor the customer's ID, since Temporal shows IDs in clear.
func ConversationWorkflowID(channelID, pageID, psid string) string {
	return "conversation/" + aicc.ConversationID(channelID, pageID, psid)
}

// ConversationInput starts (or continues as new) a conversation's workflow. It carries no secret.
type ConversationInput struct {
	TenantID  string
	ChannelID string
	PageID    string
	PSID      string
	// State is the conversation so far when the workflow continues as new; nil on the first start.
	State *ConversationState
	// HistoryLimit is the history length (in events) past which the workflow continues as new; zero means
	// DefaultConversationHistoryLimit. Tests lower it; it is carried over to the next run.
	HistoryLimit int
}

// ConversationWorkflowType is the name Conversation is registered under; the dispatcher starts it by this name.
const ConversationWorkflowType = "Conversation"

// DefaultConversationHistoryLimit is the history length past which a conversation continues as new. The server
// suggests continuing as new at 4,096 events by default, and the workflow follows that suggestion first; this
// bound is the backstop for a namespace configured otherwise. It stays under the 10,240 events at which Temporal
// starts warning, and far from the 51,200 at which it terminates a workflow.
const DefaultConversationHistoryLimit = 10_000

// ConversationState is what the workflow knows of its conversation.
type ConversationState struct {
	Conversation aicc.Conversation
	// Seen are the inbox IDs applied lately, so a redelivered event is ignored; bounded, newest last.
	Seen []int64
	// LastTimestamp is the Meta timestamp of the newest applied event (ms).
	LastTimestamp int64
	// LastCustomerSeenAt is the workflow time at which the conversation's last customer message was applied:
	// the no-customer-reply end counts from it, so that a message that reaches the workflow late (the dispatcher
	// was down) does not end the session at once. Zero until the workflow has seen a customer message.
	LastCustomerSeenAt time.Time
	// LateEvents counts the events applied after one with a later Meta timestamp: the dispatcher delivers each
	// conversation's events in timestamp order, so only an event that reached the inbox late counts.
	LateEvents int
}

// SignalInboxEvents delivers inbox events to their conversation, in Meta timestamp order; the dispatcher sends
// it with signal-with-start, once per conversation per claim.
const SignalInboxEvents = "inbox-events"

// InboxEventsSignal is the payload of SignalInboxEvents.
type InboxEventsSignal struct {
	Events []InboxEventSignal
}

// SignalInboxEvent delivered one inbox event per signal before SignalInboxEvents; runs started then may still
// receive it, so the workflow still applies it.
const SignalInboxEvent = "inbox-event"

// InboxEventSignal is one inbox event as its conversation gets it: the fields the conversation needs.
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
