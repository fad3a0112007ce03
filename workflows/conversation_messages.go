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
	// Revision is the behaviour the run follows: ConversationRevision for runs started now; zero for runs
	// started before the conversation runtime, which only keep the read model and end sessions. A run that
	// continues as new takes ConversationRevision.
	Revision int
}

// The revisions of Conversation. Passing the revision in the input, rather than asking workflow.GetVersion,
// costs a new run no marker and no search-attribute update.
const (
	// runtimeRevision is the conversation runtime: messages are routed to the robot, the queue or an agent, and
	// the channel's timers act. Its runs build the work schedule in the workflow, from the worker's zone rules.
	runtimeRevision = 1
	// workPlanRevision takes the agents' working time from the settings activity, resolved to instants
	// (aicc.WorkPlan): the workflow loads no time zone, so replay does not depend on a worker's zone database.
	workPlanRevision = 2
	// inboxAwareTransferRevision holds the no-agent-reply transfer back, as the no-customer-reply end, while the
	// inbox holds events of the conversation the run has not applied: an agent's reply from the Page may be among
	// them.
	inboxAwareTransferRevision = 3
	// agentsFirstRevision, released with inboxAwareTransferRevision: an agent who takes or closes the
	// conversation while the robot is asked keeps it (the robot's answer is dropped), and an agent's reply answers
	// only the customer messages that came before it went out.
	agentsFirstRevision = inboxAwareTransferRevision
	// ConversationRevision is the revision of runs started now.
	ConversationRevision = inboxAwareTransferRevision
)

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

	// WaitingSince is the workflow time of the customer's oldest message no agent has answered, while the
	// conversation is with the queue or an agent; zero when the customer is not waiting.
	WaitingSince time.Time
	// OfferedAt is when the conversation was offered to the customer's last agent (StageOffered).
	OfferedAt time.Time
	// LastSentAt is the workflow time of the last message the service sent the customer.
	LastSentAt time.Time
	// NoticeUntil is the end of the non-working period whose notice the customer got.
	NoticeUntil time.Time
	// Sent counts the messages the workflow sent of its own accord, across continue-as-new: with the run's start
	// time it names them (OutboundID).
	Sent int
	// Unrouted are the texts of customer messages applied and not routed yet: those that came while the run
	// waited for an agent's Update to finish before continuing as new. The next run routes them first.
	Unrouted []string
}

// The Updates agents send a conversation through the API (AssignConversation and its kin). Each returns the
// conversation as saved, or an ApplicationError typed with an aicc code.
const (
	UpdateAssign       = "assign"        // AgentRequest
	UpdateAgentMessage = "agent-message" // AgentMessageRequest, returning AgentMessageResult
	UpdateTransfer     = "transfer"      // TransferRequest
	UpdateClose        = "close"         // AgentRequest
	UpdateDecline      = "decline"       // AgentRequest: the last agent declines the offer
)

// AgentRequest names the agent who assigns a conversation to themself or closes it.
type AgentRequest struct {
	AgentID string
}

// AgentMessageRequest is an agent's reply to the customer. RequestID makes it idempotent: the same ID sends the
// message once.
type AgentMessageRequest struct {
	AgentID   string
	RequestID string
	Text      string
}

// AgentMessageResult is the reply as sent.
type AgentMessageResult struct {
	MessageID    string // Meta's mid
	Type         aicc.MessagingType
	Tag          string
	Conversation aicc.Conversation
}

// TransferRequest transfers a conversation to one of the channel's session-transfer target queues.
type TransferRequest struct {
	AgentID string
	QueueID string
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
