package meta

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"

	"github.com/aiccfb/aicc"
)

// Signature headers Meta signs webhook POSTs with. Meta sends both; a channel reads the one of its algorithm.
const (
	HeaderSignature256 = "X-Hub-Signature-256" // "sha256=<hex>"
	HeaderSignature1   = "X-Hub-Signature"     // "sha1=<hex>", legacy
)

// SignatureError is why a webhook POST was refused. Reason is a stable label for metrics.
type SignatureError struct{ Reason string }

func (e *SignatureError) Error() string { return "meta: webhook signature: " + e.Reason }

// The reasons VerifySignature fails, one sentinel each, so that callers count them apart (errors.Is).
var (
	ErrNoSecret             = &SignatureError{"no_secret"}         // the channel has no secret to check with
	ErrUnsupportedAlgorithm = &SignatureError{"unknown_algorithm"} // the algorithm is neither sha1 nor sha256
	ErrSignatureMissing     = &SignatureError{"missing"}           // no signature header at all
	ErrSignatureOtherAlg    = &SignatureError{"other_algorithm"}   // only the other algorithm's header
	ErrSignatureMalformed   = &SignatureError{"malformed"}         // not "<alg>=<hex of the right size>"
	ErrSignatureMismatch    = &SignatureError{"mismatch"}          // no secret produces the signature
)

var (
	signatureHeaders = map[aicc.SignatureAlgorithm]string{
		aicc.AlgorithmSHA256: HeaderSignature256, aicc.AlgorithmSHA1: HeaderSignature1,
	}
	signatureHashes = map[aicc.SignatureAlgorithm]func() hash.Hash{
		aicc.AlgorithmSHA256: sha256.New, aicc.AlgorithmSHA1: sha1.New,
	}
	otherAlgorithm = map[aicc.SignatureAlgorithm]aicc.SignatureAlgorithm{
		aicc.AlgorithmSHA256: aicc.AlgorithmSHA1, aicc.AlgorithmSHA1: aicc.AlgorithmSHA256,
	}
)

// Sign returns the signature header Meta would send for body: its name and "<alg>=<hex HMAC>", or two empty
// strings for an unknown algorithm.
func Sign(alg aicc.SignatureAlgorithm, secret, body []byte) (header, value string) {
	newHash, ok := signatureHashes[alg]
	if !ok {
		return "", ""
	}
	m := hmac.New(newHash, secret)
	m.Write(body)
	return signatureHeaders[alg], string(alg) + "=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a webhook POST's signature of algorithm alg over the raw body, exactly as received:
// Meta signs its own escaped form of the JSON (non-ASCII as \uHHHH), so re-encoding would break it. Any of
// secrets may match, so that the previous app secret stays valid during a rotation's overlap window; empty
// secrets are ignored. It fails closed with one of the sentinel errors above.
func VerifySignature(alg aicc.SignatureAlgorithm, secrets [][]byte, header http.Header, body []byte) error {
	name, ok := signatureHeaders[alg]
	if !ok {
		return ErrUnsupportedAlgorithm
	}
	value := header.Get(name)
	if value == "" {
		if header.Get(signatureHeaders[otherAlgorithm[alg]]) != "" {
			return ErrSignatureOtherAlg
		}
		return ErrSignatureMissing
	}
	newHash := signatureHashes[alg]
	prefix, hexSum, ok := strings.Cut(value, "=")
	if !ok || !strings.EqualFold(prefix, string(alg)) {
		return ErrSignatureMalformed
	}
	sum, err := hex.DecodeString(hexSum)
	if err != nil || len(sum) != newHash().Size() {
		return ErrSignatureMalformed
	}
	checked := false
	for _, secret := range secrets {
		if len(secret) == 0 {
			continue
		}
		checked = true
		m := hmac.New(newHash, secret)
		m.Write(body)
		if hmac.Equal(m.Sum(nil), sum) {
			return nil
		}
	}
	if !checked {
		return ErrNoSecret
	}
	return ErrSignatureMismatch
}

// VerifyChallenge answers Meta's verification GET: with hub.mode "subscribe" and hub.verify_token equal to
// want (compared in constant time), it returns hub.challenge to be echoed as the 200 body. Anything else is a
// refusal (403, no detail).
func VerifyChallenge(mode, token, challenge string, want []byte) (string, bool) {
	if mode != "subscribe" || challenge == "" || len(want) == 0 {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(token), want) != 1 {
		return "", false
	}
	return challenge, true
}

// EventKind is what a messaging item is.
type EventKind string

// Event kinds. Unknown kinds are kept, with their raw JSON, never dropped.
const (
	KindMessage  EventKind = "message"
	KindEcho     EventKind = "echo" // a message the Page sent, echoed back: sender is the Page
	KindPostback EventKind = "postback"
	KindDelivery EventKind = "delivery"
	KindRead     EventKind = "read"
	KindReaction EventKind = "reaction"
	KindUnknown  EventKind = "unknown"
)

// Notification is one webhook POST: every messaging item of every entry, in the order Meta sent them.
type Notification struct {
	Object string
	Events []Event
}

// Event is one item of an entry's messaging (or standby) array.
type Event struct {
	PageID      string // the entry's id
	SenderID    string
	RecipientID string
	Timestamp   int64 // milliseconds since the epoch
	Kind        EventKind
	MID         string // message, echo, postback (v11+) and the reacted-to message of a reaction
	Watermark   int64  // delivery and read: everything sent before it was delivered or read
	IsEcho      bool
	Text        string // message text, or the postback's title
	Payload     string // the postback's or quick reply's payload
	// Standby marks an item from entry.standby: the app is not the Page's primary receiver (handover
	// protocol), which is why messages "silently stop" for peers.
	Standby bool
	Raw     json.RawMessage // the item as Meta sent it
}

// ParseWebhook parses a webhook POST body (after VerifySignature). It returns every item of every entry, and
// an error for malformed JSON, an object other than "page", an entry without an id or an item that is not a
// JSON object.
func ParseWebhook(body []byte) (*Notification, error) {
	var env struct {
		Object string `json:"object"`
		Entry  []struct {
			ID        flexString        `json:"id"`
			Messaging []json.RawMessage `json:"messaging"`
			Standby   []json.RawMessage `json:"standby"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("meta: webhook body: %w", err)
	}
	if env.Object != "page" {
		return nil, fmt.Errorf("meta: webhook object %q, want \"page\"", truncate(env.Object, 32))
	}
	n := &Notification{Object: env.Object}
	for i, entry := range env.Entry {
		if entry.ID == "" {
			return nil, fmt.Errorf("meta: webhook entry[%d] has no id", i)
		}
		for j, raw := range append(entry.Messaging, entry.Standby...) {
			e, err := parseItem(raw)
			if err != nil {
				return nil, fmt.Errorf("meta: webhook entry[%d] item %d: %w", i, j, err)
			}
			e.PageID, e.Standby = string(entry.ID), j >= len(entry.Messaging)
			n.Events = append(n.Events, e)
		}
	}
	return n, nil
}

func parseItem(raw json.RawMessage) (Event, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return Event{}, errors.New("not a JSON object")
	}
	var item struct {
		Sender    struct{ ID flexString } `json:"sender"`
		Recipient struct{ ID flexString } `json:"recipient"`
		Timestamp flexInt                 `json:"timestamp"`
		Message   *struct {
			MID        string `json:"mid"`
			Text       string `json:"text"`
			IsEcho     bool   `json:"is_echo"`
			QuickReply *struct {
				Payload string `json:"payload"`
			} `json:"quick_reply"`
		} `json:"message"`
		Postback *struct {
			MID     string `json:"mid"`
			Title   string `json:"title"`
			Payload string `json:"payload"`
		} `json:"postback"`
		Delivery *struct {
			Watermark flexInt `json:"watermark"`
		} `json:"delivery"`
		Read *struct {
			Watermark flexInt `json:"watermark"`
		} `json:"read"`
		Reaction *struct {
			MID string `json:"mid"`
		} `json:"reaction"`
	}
	if err := json.Unmarshal(raw, &item); err != nil {
		return Event{}, err
	}
	e := Event{
		SenderID: string(item.Sender.ID), RecipientID: string(item.Recipient.ID), Timestamp: int64(item.Timestamp),
		Kind: KindUnknown, Raw: raw,
	}
	switch {
	case item.Message != nil:
		m := item.Message
		e.Kind, e.MID, e.Text, e.IsEcho = KindMessage, m.MID, m.Text, m.IsEcho
		if m.IsEcho {
			e.Kind = KindEcho
		}
		if m.QuickReply != nil {
			e.Payload = m.QuickReply.Payload
		}
	case item.Postback != nil:
		e.Kind, e.MID, e.Text, e.Payload = KindPostback, item.Postback.MID, item.Postback.Title, item.Postback.Payload
	case item.Delivery != nil:
		e.Kind, e.Watermark = KindDelivery, int64(item.Delivery.Watermark)
	case item.Read != nil:
		e.Kind, e.Watermark = KindRead, int64(item.Read.Watermark)
	case item.Reaction != nil:
		e.Kind, e.MID = KindReaction, item.Reaction.MID
	}
	return e, nil
}

// DedupKey returns the key under which an event is stored once, whichever delivery or retry of Meta's it came
// in:
//   - messages, echoes and postbacks with a mid: "mid|{page}|{mid}";
//   - deliveries and reads: "wm|{page}|{sender}|{kind}|{watermark}";
//   - anything else, reactions included (their mid names the message reacted to, so a reaction and its undo
//     would collide): "sha256|{page}|{hex of the raw item}".
func DedupKey(e Event) string {
	switch {
	case e.MID != "" && (e.Kind == KindMessage || e.Kind == KindEcho || e.Kind == KindPostback):
		return "mid|" + e.PageID + "|" + e.MID
	case e.Kind == KindDelivery || e.Kind == KindRead:
		return "wm|" + e.PageID + "|" + e.SenderID + "|" + string(e.Kind) + "|" + strconv.FormatInt(e.Watermark, 10)
	}
	sum := sha256.Sum256(compactJSON(e.Raw))
	return "sha256|" + e.PageID + "|" + hex.EncodeToString(sum[:])
}

// compactJSON strips insignificant whitespace, so that a pretty-printed retry hashes like the original.
func compactJSON(raw []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// flexString accepts an ID sent as a JSON string or number; Meta sends strings, some tools numbers.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, (*string)(s))
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = flexString(n)
	return nil
}

// flexInt accepts an integer sent as a JSON number (possibly 1.7e12) or string.
type flexInt int64

func (i *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*i = flexInt(n)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 1<<62 || f < -(1<<62) {
		return fmt.Errorf("meta: %q is not an integer", truncate(s, 32))
	}
	*i = flexInt(f)
	return nil
}
