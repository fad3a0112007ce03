package meta

import (
	"errors"
	"net/http"

	"github.com/aiccfb/aicc"
)

// Codec is aicc.WebhookCodec over this package's VerifySignature, ParseWebhook and DedupKey.
type Codec struct{}

var _ aicc.WebhookCodec = Codec{}

// rejectReasons maps the reasons of VerifySignature onto the domain's. An algorithm that is neither sha1 nor
// sha256 leaves nothing to check the signature against, as a missing secret does: both are a misconfigured
// channel, and both fail closed.
var rejectReasons = map[string]string{
	ErrNoSecret.Reason:             aicc.RejectNoSecret,
	ErrUnsupportedAlgorithm.Reason: aicc.RejectNoSecret,
	ErrSignatureMissing.Reason:     aicc.RejectMissing,
	ErrSignatureOtherAlg.Reason:    aicc.RejectOtherAlgorithm,
	ErrSignatureMalformed.Reason:   aicc.RejectMalformed,
	ErrSignatureMismatch.Reason:    aicc.RejectMismatch,
}

// VerifySignature checks the signature header of alg over the raw body against each secret; see the package's
// VerifySignature. It returns "" when one matches, else an aicc.Reject reason.
func (Codec) VerifySignature(alg aicc.SignatureAlgorithm, secrets []string, header http.Header, body []byte) string {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		keys[i] = []byte(s)
	}
	err := VerifySignature(alg, keys, header, body)
	if err == nil {
		return ""
	}
	var se *SignatureError
	if errors.As(err, &se) {
		if reason, ok := rejectReasons[se.Reason]; ok {
			return reason
		}
	}
	return aicc.RejectMismatch // a reason this codec does not know still refuses
}

// eventKinds maps this package's kinds onto the domain's.
var eventKinds = map[EventKind]aicc.EventKind{
	KindMessage:  aicc.EventMessage,
	KindEcho:     aicc.EventEcho,
	KindPostback: aicc.EventPostback,
	KindDelivery: aicc.EventDelivery,
	KindRead:     aicc.EventRead,
	KindReaction: aicc.EventReaction,
	KindUnknown:  aicc.EventUnknown,
}

// ParseBatch returns every messaging (and standby) item of every entry that is an event as an inbox event, in
// the order Meta sent them, and each malformed item as a MalformedItem reject (see ParseWebhook). The Page is
// the entry's id; the customer (PSID) is the sender of an inbound event and the recipient of an echo, so that
// both sides of a conversation land on the same one. Payload is the item as Meta sent it, a slice of body. A
// body ParseWebhook refuses is EINVALID, but for one with too many updates: aicc.ErrTooManyUpdates.
func (Codec) ParseBatch(body []byte) (aicc.WebhookBatch, error) {
	n, err := ParseWebhook(body)
	switch {
	case errors.Is(err, aicc.ErrTooManyUpdates):
		return aicc.WebhookBatch{}, aicc.ErrTooManyUpdates
	case err != nil:
		return aicc.WebhookBatch{}, notNotification()
	}
	b := aicc.WebhookBatch{Events: inboxEvents(n.Events)}
	if len(n.Malformed) > 0 {
		b.Malformed = make([]aicc.WebhookReject, len(n.Malformed))
		for i, m := range n.Malformed {
			b.Malformed[i] = aicc.WebhookReject{Kind: aicc.MalformedItem, Location: m.Path(), Reason: m.Reason, Payload: m.Raw}
		}
	}
	return b, nil
}

// ParseEvents returns the events of a body every item of which is one, as ParseBatch does; a malformed item, as
// a body ParseWebhook refuses, is EINVALID. It is for tools and tests that send or check well-formed bodies; the
// webhook handler takes what it can of any body with ParseBatch.
func (Codec) ParseEvents(body []byte) ([]aicc.InboxEvent, error) {
	n, err := ParseWebhook(body)
	if err != nil || len(n.Malformed) > 0 {
		return nil, notNotification()
	}
	return inboxEvents(n.Events), nil
}

// notNotification is the error of a body that is not a Messenger webhook notification.
func notNotification() error {
	return aicc.Errorf(aicc.EINVALID, "The body is not a Messenger webhook notification.")
}

// inboxEvents maps events onto inbox events.
func inboxEvents(in []Event) []aicc.InboxEvent {
	events := make([]aicc.InboxEvent, len(in))
	for i, e := range in {
		kind, ok := eventKinds[e.Kind]
		if !ok {
			kind = aicc.EventUnknown
		}
		psid := e.SenderID
		if e.Kind == KindEcho {
			psid = e.RecipientID
			if _, own := aicc.OutboundIDOf(e.Metadata); own {
				kind = aicc.EventOwnEcho
			}
		}
		events[i] = aicc.InboxEvent{
			PageID:    e.PageID,
			PSID:      psid,
			Kind:      kind,
			MID:       e.MID,
			Watermark: e.Watermark,
			Timestamp: e.Timestamp,
			DedupKey:  DedupKey(e),
			Text:      e.Text,
			Payload:   e.Raw,
		}
	}
	return events
}
