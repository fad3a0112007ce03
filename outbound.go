package aicc

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Meta's messaging windows, counted from the customer's last message.
const (
	// ResponseWindow is the standard messaging window: any reply goes out as a RESPONSE.
	ResponseWindow = 24 * time.Hour
	// HumanAgentWindow is how long a human agent may still answer with the HUMAN_AGENT tag.
	HumanAgentWindow = 7 * 24 * time.Hour
)

// MaxMessageMetadata is the Send API's limit on message.metadata, in characters.
const MaxMessageMetadata = 1_000

// MessagingFor says how a human agent's message to a customer whose last message was at lastCustomer may be
// sent at now: as a RESPONSE within ResponseWindow, as a MESSAGE_TAG with TagHumanAgent within
// HumanAgentWindow, and not at all after that (an EOUTSIDEWINDOW *Error). A zero lastCustomer (the customer
// never wrote) is outside too.
//
// The windows are half-open: at exactly 24 hours the message already takes the tag, and at exactly 7 days it
// is refused. At the very edge the side Meta cannot refuse wins, whatever the few seconds between its clock
// and ours. A lastCustomer after now (clocks apart) counts as just now.
func MessagingFor(lastCustomer, now time.Time) (MessagingType, string, error) {
	if lastCustomer.IsZero() {
		return "", "", Errorf(EOUTSIDEWINDOW, "The customer has not written to the Page, so Meta takes no message to them.")
	}
	switch age := now.Sub(lastCustomer); {
	case age < ResponseWindow:
		return MessagingResponse, "", nil
	case age < HumanAgentWindow:
		return MessagingMessageTag, TagHumanAgent, nil
	}
	return "", "", Errorf(EOUTSIDEWINDOW, "The customer's last message is 7 days old or older, so Meta takes no "+
		"message to them until they write again.")
}

// OutboundMetadataPrefix starts the metadata of every message the service sends (OutboundMetadata).
const OutboundMetadataPrefix = "aicc:"

// OutboundMetadata is the message.metadata of the outbound message with the given ID. Meta echoes it back in
// the echo of the message, which is how the service tells its own messages' echoes from a person's replies
// typed in the Page's inbox.
func OutboundMetadata(outboundID string) string { return OutboundMetadataPrefix + outboundID }

// OutboundIDOf returns the outbound ID that metadata names, and false when the metadata is not the service's.
func OutboundIDOf(metadata string) (string, bool) {
	id, ok := strings.CutPrefix(metadata, OutboundMetadataPrefix)
	return id, ok && id != ""
}

// MaxOutboundID bounds an outbound ID: it travels in the metadata, with the prefix, within Meta's limit.
const MaxOutboundID = 200

// Purposes of outbound messages: why the service sent a message. They label the outbound metric, so there are
// only these.
const (
	PurposeRobot         = "robot"           // an answer of the intelligent robot
	PurposeAgent         = "agent"           // a reply of a human agent
	PurposeNotice        = "notice"          // a notification, e.g. the non-working-time one
	PurposeEnd           = "end"             // the end message of a session without customer reply
	PurposeNoAgentNotice = "no_agent_notice" // the notice of a transfer due to no agent reply
)

// OutboundPurposes lists every purpose.
var OutboundPurposes = []string{PurposeRobot, PurposeAgent, PurposeNotice, PurposeEnd, PurposeNoAgentNotice}

// OutboundStatus is where the sending of an outbound message stands.
type OutboundStatus string

// Outbound statuses. A message is recorded "sending" before the Send API call, so that an attempt that ends
// without an answer (a timeout, a crashed worker) leaves a trace, and the next attempt never sends a second
// copy.
const (
	OutboundSending OutboundStatus = "sending" // the call is being made, or its attempt ended without an answer
	OutboundSent    OutboundStatus = "sent"    // Meta took the message: MID is its message ID
	// OutboundAmbiguous: an attempt ended without knowing whether Meta took the message; it is not sent again.
	OutboundAmbiguous OutboundStatus = "ambiguous"
	// OutboundFailed: Meta did not take the message (it refused it, or rate-limited the call, or it was never
	// made). Nothing is at Meta, so a later attempt may send it.
	OutboundFailed OutboundStatus = "failed"
)

// OutboundRecord is the record of one outbound message: not its text, only what it was and how its sending
// went.
type OutboundRecord struct {
	// ID is the outbound ID, unique per message, chosen by the conversation's workflow:
	// "<conversationID>/<seq>".
	ID             string
	TenantID       string
	ChannelID      string
	PageID         string
	PSID           string
	ConversationID string
	Purpose        string
	Status         OutboundStatus
	MID            string // Meta's message ID once sent
	Error          string // the error code and message of the last failed or ambiguous attempt
	Attempts       int    // how many times the message was claimed for a Send API call
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Validate checks the record's keys before it is stored.
func (r *OutboundRecord) Validate() error {
	fe := FieldErrors{}
	checkLen(fe, "outboundId", r.ID, 1, MaxOutboundID)
	for field, v := range map[string]string{
		"tenantId": r.TenantID, "channelId": r.ChannelID, "pageId": r.PageID, "psid": r.PSID,
		"conversationId": r.ConversationID,
	} {
		if v == "" {
			fe.Add(field, "is required")
		}
	}
	if !slices.Contains(OutboundPurposes, r.Purpose) {
		fe.Add("purpose", "must be one of %s", strings.Join(OutboundPurposes, ", "))
	}
	return fe.Err()
}

// OutboundStore keeps the records of outbound messages, which make sending a message at most once per
// outbound ID.
type OutboundStore interface {
	// BeginOutbound claims the message for a Send API call. A new ID is inserted as r, "sending", with one
	// attempt, and existing is nil; so is a record that is "failed" (nothing of it at Meta), which becomes
	// "sending" again with one attempt more. Any other record is left as it is and returned as existing: the
	// caller must not call Meta. r is updated to what a read returns. A record of the ID of another tenant is
	// ECONFLICT.
	BeginOutbound(ctx context.Context, r *OutboundRecord) (existing *OutboundRecord, err error)
	// FinishOutbound records how an attempt ended: sent with mid, failed or ambiguous with errText. It changes
	// a record that is "sending" or "ambiguous" only (a late answer to an attempt judged ambiguous still
	// tells the truth); another is left as it is, and an unknown ID is ENOTFOUND.
	FinishOutbound(ctx context.Context, id string, status OutboundStatus, mid, errText string, at time.Time) error
	// ListOutbound lists the tenant's records of a conversation, the oldest first.
	ListOutbound(ctx context.Context, tenantID, conversationID string, opt ListOptions) ([]*OutboundRecord, string, error)
}
