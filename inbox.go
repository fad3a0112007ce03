package aicc

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// InboxEvent is one item of a Meta webhook POST (an entry's messaging[] item), stored in the inbox before Meta
// gets its 200 and delivered from there to the conversation's workflow.
type InboxEvent struct {
	ID          int64 // assigned by the store; increases with insertion
	TenantID    string
	ChannelID   string
	PageID      string
	PSID        string // the customer: the sender of an inbound event, the recipient of an echo
	Kind        EventKind
	MID         string // Meta's message ID, when the event has one
	Watermark   int64  // deliveries and reads: every message before it was delivered or read (ms)
	Timestamp   int64  // Meta's timestamp of the event (ms)
	DedupKey    string // unique per Page: Meta's retries of the same event carry the same key
	Text        string
	Payload     []byte // the messaging item as Meta sent it
	ReceivedAt  time.Time
	DeliveredAt time.Time // zero until the dispatcher has signalled the conversation
	Attempts    int       // failed deliveries so far
	LastError   string    // why the last delivery failed
	DeadAt      time.Time // when the event became a dead letter; zero while it is to be delivered
}

// Conversation returns the key of the event's conversation.
func (e *InboxEvent) Conversation() ConversationKey {
	return ConversationKey{ChannelID: e.ChannelID, PageID: e.PageID, PSID: e.PSID}
}

// ConversationKey names the conversation between a Page of a channel and a customer.
type ConversationKey struct {
	ChannelID string
	PageID    string
	PSID      string
}

// DeliveryFailure is a failed delivery of some of a conversation's events, for InboxStore.FailDelivery.
type DeliveryFailure struct {
	Owner        string // the dispatcher that holds the conversation's lease
	Conversation ConversationKey
	IDs          []int64 // the events the failed signal carried
	Error        string  // why it failed, kept as the events' LastError
	// MaxAttempts is the attempts after which an event is a dead letter.
	MaxAttempts int
	// Permanent says the events can never be delivered: they are dead letters at once.
	Permanent bool
	// RetryIn is how long the conversation stays leased to Owner when an event is to be tried again, so that the
	// conversation's later events wait behind it.
	RetryIn time.Duration
}

// EventKind says what a webhook event is.
type EventKind string

// Event kinds. Unknown kinds are stored all the same, never dropped.
const (
	EventMessage  EventKind = "message"
	EventEcho     EventKind = "echo"     // a message the Page sent, echoed back
	EventOwnEcho  EventKind = "own_echo" // the echo of a message this service sent (OutboundMetadata)
	EventPostback EventKind = "postback"
	EventDelivery EventKind = "delivery"
	EventRead     EventKind = "read"
	EventReaction EventKind = "reaction"
	EventUnknown  EventKind = "unknown"
)

// ConversationID is the ID of the conversation between a Page of a channel and a customer: derived from the
// three, so every component names the conversation alike, free of the slashes a URL path would choke on, and
// showing neither the Page's nor the customer's ID (it names the conversation's workflow in Temporal too).
func ConversationID(channelID, pageID, psid string) string {
	return opaqueID("cv", channelID, pageID, psid)
}

// PageRef names a Page without showing its ID, for the IDs of its workflows, which Temporal shows in clear.
func PageRef(pageID string) string { return opaqueID("pg", pageID) }

// opaqueID is prefix, "_" and 26 base32 characters of the SHA-256 of the parts joined by NUL bytes.
func opaqueID(prefix string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return prefix + "_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

// Conversation is the read model of a conversation, written by its workflow.
type Conversation struct {
	ID                    string
	TenantID              string
	ChannelID             string
	PageID                string
	PSID                  string
	Status                ConversationStatus
	MessageCount          int // customer messages, postbacks and echoes
	LastCustomerMessage   string
	LastCustomerMessageAt time.Time
	LastAgentMessage      string
	LastAgentMessageAt    time.Time
	StartedAt             time.Time
	EndedAt               time.Time
	UpdatedAt             time.Time
	// AppliedInboxIDs are the inbox IDs the conversation's workflow applied lately (ConversationState.Seen when
	// it saved): a run that restarts from the read model after a lost workflow task must not apply them again.
	AppliedInboxIDs []int64

	// Stage is who has an open conversation: the robot, the queue, an agent it is offered to, or its agent;
	// empty while no customer message has been routed, and when the conversation is ended.
	Stage ConversationStage
	// QueueID is the skill queue the conversation waits in, or was taken from by its agent.
	QueueID string
	// AgentID is the agent the conversation is assigned (or, at StageOffered, offered) to.
	AgentID string
	// LastAgentID is the agent who served the customer last, and LastAgentAt when they last did (assigned,
	// replied, or the session ended): last agent mode offers a returning customer to them within its window.
	LastAgentID string
	LastAgentAt time.Time
	// EndReason is why an ended conversation ended.
	EndReason EndReason
	// Timers are the timers of the conversation's workflow that are pending, soonest first.
	Timers []ConversationTimer
}

// Key returns the conversation's key.
func (c *Conversation) Key() ConversationKey {
	return ConversationKey{ChannelID: c.ChannelID, PageID: c.PageID, PSID: c.PSID}
}

// ConversationStage says who has an open conversation.
type ConversationStage string

// Conversation stages.
const (
	StageRobot    ConversationStage = "robot"    // the intelligent robot answers the customer
	StageQueued   ConversationStage = "queued"   // the conversation waits in QueueID for an agent
	StageOffered  ConversationStage = "offered"  // offered to AgentID, the customer's last agent, for a while
	StageAssigned ConversationStage = "assigned" // AgentID serves the customer
)

// EndReason says why a conversation ended.
type EndReason string

// End reasons.
const (
	EndNoCustomerReply EndReason = "no_customer_reply" // the session end due to no customer reply
	EndClosed          EndReason = "closed"            // an agent closed it
)

// ConversationTimer is a pending timer of a conversation: what happens when, unless something comes first.
type ConversationTimer struct {
	Kind TimerKind `json:"kind"`
	At   time.Time `json:"at"`
}

// TimerKind is what a conversation timer does when it fires.
type TimerKind string

// Timer kinds.
const (
	TimerNoCustomerReply TimerKind = "no_customer_reply" // the session ends
	TimerNoAgentReply    TimerKind = "no_agent_reply"    // the session is transferred to the channel's target queue
	TimerOffer           TimerKind = "offer"             // the offer to the last agent lapses: the session is queued
)

// ConversationStatus is whether a conversation is going on.
type ConversationStatus string

// Conversation statuses.
const (
	ConversationOpen  ConversationStatus = "open"
	ConversationEnded ConversationStatus = "ended" // see EndReason; a new customer message opens it again
)

// InboxStats describe the pending part of the inbox: the events to be delivered, dead letters aside.
type InboxStats struct {
	Undelivered int
	Oldest      time.Time // ReceivedAt of the oldest pending event; zero when there is none
}

// WebhookReject is a part of a webhook POST kept aside for operators instead of the inbox: a malformed item,
// which is no event, or a whole body whose events the database refuses. Meta got its 200 for it, so it is never
// delivered; it is kept, raw, so that someone can see what Meta sent and why it was not taken.
type WebhookReject struct {
	ID         int64 // assigned by the store, read back by WebhookRejects; increases with insertion
	TenantID   string
	ChannelID  string
	Kind       WebhookRejectKind
	Location   string // where the item was in the body, e.g. "entry[0].messaging[2]"; "" for a whole body
	Reason     string // why it was kept aside, in a few words; a JSON type or a database's error class, no value
	Payload    []byte // the item, or the body, byte for byte as Meta sent it
	ReceivedAt time.Time
}

// WebhookRejectKind says what a WebhookReject is.
type WebhookRejectKind string

// Webhook reject kinds.
const (
	// MalformedItem is an item of a notification that is no event: not an object of an item's shape, of an entry
	// without an id, or an entry that is not an object of an entry's shape. The body's other events are stored.
	MalformedItem WebhookRejectKind = "malformed_item"
	// UnstorableBody is a body whose events the database refuses whatever the retry (see UnstorableError):
	// kept whole instead, so that Meta stops sending it again.
	UnstorableBody WebhookRejectKind = "unstorable_body"
	// OversizedBody is a body with more updates than Meta sends in one POST (MaxWebhookUpdates): none of it is
	// read past the limit nor stored as events; it is kept whole instead.
	OversizedBody WebhookRejectKind = "oversized_body"
)

// MaxWebhookUpdates is how many updates one webhook POST may hold: at most this many entries, and this many
// items in all their lists (messaging, standby, changes). Meta batches "a maximum of 1000 updates" in one POST
// (Graph API, Webhooks: "Event Notifications"), and a Messenger entry holds one messaging item.
const MaxWebhookUpdates = 1000

// ErrTooManyUpdates is WebhookCodec.ParseBatch's error for a body with more updates than MaxWebhookUpdates,
// found as the first one past the limit is met, before it or anything after it is read.
var ErrTooManyUpdates = fmt.Errorf("more than %d updates, Meta's maximum for one webhook POST", MaxWebhookUpdates)

// WebhookBatch is what a webhook POST holds: its events, and its malformed items (Kind MalformedItem, with
// Location, Reason and Payload).
type WebhookBatch struct {
	Events    []InboxEvent
	Malformed []WebhookReject
}

// UnstorableError is a store error that no retry can fix: the database refuses the values themselves (a data
// exception, a broken constraint, a value beyond its limits), not for a while (a connection, a timeout, a lock).
// Its message is Class alone, never the driver's, which may quote a value: it can be logged and kept.
type UnstorableError struct {
	// Class names the error as the database classes it, e.g. "SQLSTATE 54000 (program limit exceeded) on
	// inbox_page_dedup_key".
	Class string
	Err   error // the driver's error
}

func (e *UnstorableError) Error() string { return "the database refuses the data: " + e.Class }

// Unwrap returns the driver's error.
func (e *UnstorableError) Unwrap() error { return e.Err }

// InboxStore keeps webhook events until they are delivered. Events are never deleted by delivery; PurgeInbox
// deletes them once they are old (the InboxRetention workflow).
type InboxStore interface {
	// StoreEvents inserts events in one transaction and returns how many were duplicates: an event whose
	// (PageID, DedupKey) is stored already is skipped. Either every new event is stored or none is. An error
	// that retrying cannot fix is an *UnstorableError.
	StoreEvents(ctx context.Context, events []InboxEvent) (duplicates int, err error)
	// StoreWebhook stores a webhook POST: its events as StoreEvents does and its rejects, in one transaction;
	// either all of it is stored or none. An error that retrying cannot fix is an *UnstorableError.
	StoreWebhook(ctx context.Context, events []InboxEvent, rejects []WebhookReject) (duplicates int, err error)
	// WebhookRejects lists the tenant's webhook rejects, of one channel unless channelID is "", the latest first.
	WebhookRejects(ctx context.Context, tenantID, channelID string, opt ListOptions) ([]WebhookReject, string, error)
	// ClaimConversations leases to owner, for lease on the database's clock, up to limit conversations that have
	// pending events (undelivered and not dead) and no running lease, and returns up to perConversation of each
	// one's pending events, grouped by conversation, by Meta timestamp then ID. It takes the tenants in turn, and
	// each tenant's conversations in the order their oldest pending event arrived (never by Meta's timestamp).
	// Concurrent claimers never lease the same conversation while its lease runs.
	ClaimConversations(ctx context.Context, owner string, limit, perConversation int, lease time.Duration) ([]InboxEvent, error)
	// ExtendLeases renews, for lease from now, the leases owner still holds of convs; it returns how many.
	ExtendLeases(ctx context.Context, owner string, convs []ConversationKey, lease time.Duration) (int, error)
	// MarkDelivered records that the events were signalled to their conversations at at and releases owner's
	// leases of the conversations in release.
	MarkDelivered(ctx context.Context, owner string, ids []int64, release []ConversationKey, at time.Time) error
	// FailDelivery counts a failed attempt of the events and keeps the error; it returns the events that became
	// dead letters. The conversation stays leased for f.RetryIn while one of them is to be tried again, else its
	// lease is released.
	FailDelivery(ctx context.Context, f DeliveryFailure) (dead []int64, err error)
	// HasUnappliedEvents reports whether the conversation has events its workflow has not applied, knowing that it
	// applied those up to inbox ID appliedUpTo: events still to be delivered, and delivered ones after it. Dead
	// letters do not count.
	HasUnappliedEvents(ctx context.Context, tenantID string, c ConversationKey, appliedUpTo int64) (bool, error)
	InboxStats(ctx context.Context) (InboxStats, error)
	// DeadLetters lists the tenant's dead letters, the latest first.
	DeadLetters(ctx context.Context, tenantID string, opt ListOptions) ([]InboxEvent, string, error)
	// RetryDeadLetter makes the tenant's dead letter pending again with its attempts reset, and returns it;
	// ENOTFOUND when the tenant has no such dead letter.
	RetryDeadLetter(ctx context.Context, tenantID string, id int64) (*InboxEvent, error)
	// ConversationEvents lists a conversation's events by Meta timestamp then ID.
	ConversationEvents(ctx context.Context, tenantID, conversationID string, opt ListOptions) ([]InboxEvent, string, error)
	// PurgeInbox deletes up to limit events delivered before deliveredBefore or made dead letters before
	// deadBefore, and webhook rejects received before deadBefore (a zero time: none of that kind), and returns
	// how many. It never deletes a pending event.
	PurgeInbox(ctx context.Context, deliveredBefore, deadBefore time.Time, limit int) (deleted int, err error)
}

// ConversationStore keeps the conversations read model.
type ConversationStore interface {
	// SaveConversation inserts or replaces the conversation; it is idempotent.
	SaveConversation(ctx context.Context, c *Conversation) error
	GetConversation(ctx context.Context, tenantID, id string) (*Conversation, error)
	// ListConversations lists a channel's conversations, the latest updated first.
	ListConversations(ctx context.Context, tenantID, channelID string, opt ListOptions) ([]*Conversation, string, error)
	// CountConversations counts every tenant's conversations by state (ConversationState).
	CountConversations(ctx context.Context) (map[ConversationState]int, error)
}

// ConversationState is a conversation's state for the metrics: its stage while it is open, "new" while its
// first customer message is not routed yet, or "ended".
type ConversationState string

// The conversation states counted apart from the stages.
const (
	StateNew   ConversationState = "new"
	StateEnded ConversationState = "ended"
)

// ConversationStates are every ConversationState.
var ConversationStates = []ConversationState{
	StateNew, ConversationState(StageRobot), ConversationState(StageQueued), ConversationState(StageOffered),
	ConversationState(StageAssigned), StateEnded,
}

// StateOf is the state of a conversation with the given status and stage.
func StateOf(status ConversationStatus, stage ConversationStage) ConversationState {
	switch {
	case status == ConversationEnded:
		return StateEnded
	case stage == "":
		return StateNew
	}
	return ConversationState(stage)
}

// Webhook signature rejection reasons, as counted in metrics.
const (
	RejectNoSecret       = "no_secret"       // the channel has no app secret to check against
	RejectMissing        = "missing"         // no signature header of the channel's algorithm nor of the other
	RejectOtherAlgorithm = "other_algorithm" // only the header of the other algorithm
	RejectMalformed      = "malformed"       // the header is not "sha256=<hex>" / "sha1=<hex>"
	RejectMismatch       = "mismatch"        // the signature is not the body's under any accepted secret
)

// WebhookCodec authenticates and parses Meta's webhook POSTs; the meta package implements it.
type WebhookCodec interface {
	// VerifySignature checks the signature header of alg over the raw body against each secret (more than one
	// during a rotation's overlap) in constant time. It returns "" when one matches, else a Reject reason.
	VerifySignature(alg SignatureAlgorithm, secrets []string, header http.Header, body []byte) (reason string)
	// ParseBatch returns every messaging item of every entry that is an event, with PageID, PSID, Kind, MID,
	// Watermark, Timestamp, DedupKey, Text and Payload set, and every item that is not as a MalformedItem
	// reject. A body that is not a webhook notification at all (not JSON, an object other than "page", entries
	// that are not a list) is EINVALID; a body with more than MaxWebhookUpdates entries or items is
	// ErrTooManyUpdates.
	ParseBatch(body []byte) (WebhookBatch, error)
}
