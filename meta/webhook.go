package meta

import (
	"bytes"
	"cmp"
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
	"slices"
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

// Notification is one webhook POST: every messaging item of every entry that is an event, in the order Meta
// sent them, and the parts of its entries that are not.
type Notification struct {
	Object    string
	Events    []Event
	Malformed []MalformedItem
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
	Metadata    string // an echo's message.metadata, as the sender of the message gave it to the Send API
	Text        string // message text, or the postback's title
	Payload     string // the postback's or quick reply's payload
	// Standby marks an item from entry.standby: the app is not the Page's primary receiver (handover
	// protocol), which is why messages "silently stop" for peers.
	Standby bool
	Raw     json.RawMessage // the item as Meta sent it: its bytes within the body ParseWebhook was given
}

// MalformedItem is a part of a notification that should hold events and cannot give one: an item that is not
// an object of an item's shape, an item of an entry without an id, or an entry that is not an object of an
// entry's shape (then the entry as a whole, List "" and Item -1).
type MalformedItem struct {
	Entry  int    // the entry's index in the body's entry array
	List   string // "messaging" or "standby"; "" for a whole entry
	Item   int    // the item's index in its list; -1 for a whole entry
	Reason string // what is wrong, in a few words: a JSON type or key, never a value of the item
	Raw    json.RawMessage
}

// Path says where the item is in the body: "entry[1].messaging[0]", or "entry[1]" for a whole entry.
func (m MalformedItem) Path() string {
	p := "entry[" + strconv.Itoa(m.Entry) + "]"
	if m.List != "" {
		p += "." + m.List + "[" + strconv.Itoa(m.Item) + "]"
	}
	return p
}

// reasonNoID is why the items of an entry without an id are malformed: they belong to no Page.
const reasonNoID = "the entry has no id"

// ParseWebhook parses a webhook POST body (after VerifySignature). It returns every item of every entry that
// is an event, and each part of an entry that cannot be one as a MalformedItem (see there), ordered as the
// events are: by entry, each entry's messaging items before its standby items. A body that is not JSON, whose
// object is not "page" or whose entry is not an array is an error: it is not a Messenger notification at all.
// So is a body with more than aicc.MaxWebhookUpdates entries, or items in all the entries' messaging, standby
// and changes arrays: aicc.ErrTooManyUpdates (errors.Is), returned as the first one past the limit is met,
// which is not read.
//
// The body is read once, by webhookDecoder: it checks the JSON syntax as encoding/json does, takes what an
// Event needs and skips the rest; only a malformed part is read a second time, to check its syntax and find its
// end. Each Event's and MalformedItem's Raw is a slice of body, not a copy, so body must not change while they
// are in use. It accepts and refuses what encoding/json does, decoding the body with each entry and each item
// kept as json.RawMessage and then each of those again, and reads the same values (TestParseWebhookAsEncodingJSON
// checks both): keys matched exactly, else case-insensitively; null as no value; IDs as strings or numbers;
// timestamps and watermarks as numbers (1.7e12 too) or strings holding one. Only a key repeated in one object,
// which JSON leaves undefined and Meta never sends, may be read differently: its last value counts, and the
// items of every repeated entry, messaging or standby list are kept.
func ParseWebhook(body []byte) (*Notification, error) {
	d := webhookDecoder{data: body}
	n, err := d.notification()
	if err != nil {
		return nil, fmt.Errorf("meta: webhook body: %w", err)
	}
	if len(n.Malformed) > 1 {
		slices.SortStableFunc(n.Malformed, func(a, b MalformedItem) int {
			return cmp.Or(cmp.Compare(a.Entry, b.Entry), cmp.Compare(listRank[a.List], listRank[b.List]), cmp.Compare(a.Item, b.Item))
		})
	}
	return n, nil
}

// listRank orders an entry's lists as ParseWebhook orders their items.
var listRank = map[string]int{"messaging": 0, "standby": 1, "": 2}

// Keys of the objects ParseWebhook reads, by object; the values of other keys are checked and skipped.
var (
	notificationKeys = []string{"object", "entry"}
	entryKeys        = []string{"id", "messaging", "standby", "changes"}
	itemKeys         = []string{"sender", "recipient", "timestamp", "message", "postback", "delivery", "read", "reaction"}
	partyKeys        = []string{"id"}
	messageKeys      = []string{"mid", "text", "is_echo", "metadata", "quick_reply"}
	postbackKeys     = []string{"mid", "title", "payload"}
	quickReplyKeys   = []string{"payload"}
	watermarkKeys    = []string{"watermark"}
	reactionKeys     = []string{"mid"}
)

// notification reads the whole body.
func (d *webhookDecoder) notification() (*Notification, error) {
	n := &Notification{Events: make([]Event, 0, 4)}
	entries := 0
	_, err := d.object(notificationKeys, func(key string) error {
		if key == "object" {
			return d.readString(&n.Object)
		}
		return d.array(func() error {
			if entries++; entries > aicc.MaxWebhookUpdates {
				return aicc.ErrTooManyUpdates
			}
			return d.entry(entries-1, n)
		})
	})
	if err != nil {
		return nil, err
	}
	if d.space(); d.off < len(d.data) {
		return nil, d.syntaxError()
	}
	if n.Object != "page" {
		return nil, fmt.Errorf("object %q, want \"page\"", truncate(n.Object, 32))
	}
	return n, nil
}

// entry reads entry i and appends its items to n.Events: its messaging items, then its standby ones, each with
// the entry's id as PageID (which Meta sends first, but JSON need not). An item that is no event goes to
// n.Malformed, and so does every item of an entry without an id, or the entry itself when it is not an entry.
// The error is the body's: it is not JSON.
func (d *webhookDecoder) entry(i int, n *Notification) error {
	d.space()
	start, depth, first, firstMalformed := d.off, d.depth, len(n.Events), len(n.Malformed)
	if d.next() != '{' {
		return d.malformedEntry(n, MalformedItem{Entry: i, Item: -1, Reason: d.typeError("an object").Error()}, start, depth, first, firstMalformed)
	}
	var (
		id      string
		standby []Event
	)
	_, err := d.object(entryKeys, func(key string) error {
		switch key {
		case "id":
			return keyError(key, d.readID(&id))
		case "changes":
			return d.changes()
		}
		j := 0
		return keyError(key, d.array(func() error {
			if err := d.update(); err != nil {
				return err
			}
			d.space()
			itemStart, itemDepth := d.off, d.depth
			e, err := d.item()
			switch {
			case err != nil:
				if err := d.skipFrom(itemStart, itemDepth); err != nil {
					return err
				}
				n.Malformed = append(n.Malformed, MalformedItem{Entry: i, List: key, Item: j, Reason: err.Error(), Raw: d.data[itemStart:d.off]})
			case key == "standby":
				e.Standby = true
				standby = append(standby, e)
			default:
				n.Events = append(n.Events, e)
			}
			j++
			return nil
		}))
	})
	switch {
	case errors.Is(err, aicc.ErrTooManyUpdates):
		return err
	case err != nil:
		return d.malformedEntry(n, MalformedItem{Entry: i, Item: -1, Reason: err.Error()}, start, depth, first, firstMalformed)
	}
	if id == "" {
		return d.entryWithoutID(i, n, start, depth, first, firstMalformed)
	}
	n.Events = append(n.Events, standby...)
	for k := first; k < len(n.Events); k++ {
		n.Events[k].PageID = id
	}
	return nil
}

// update counts one more item of the body's lists, and fails with aicc.ErrTooManyUpdates when there are more
// than aicc.MaxWebhookUpdates: before the item is read.
func (d *webhookDecoder) update() error {
	if d.updates++; d.updates > aicc.MaxWebhookUpdates {
		return aicc.ErrTooManyUpdates
	}
	return nil
}

// changes skips an entry's changes (the updates of other Page fields than Messenger's), counting each item of
// the array as an update; a value that is not an array is skipped as any unknown key's is.
func (d *webhookDecoder) changes() error {
	if d.next() != '[' {
		return d.skip()
	}
	return d.array(func() error {
		if err := d.update(); err != nil {
			return err
		}
		return d.skip()
	})
}

// malformedEntry keeps the entry at start, which reading as an entry failed with m.Reason, as one MalformedItem
// m, in place of whatever was taken of it: n.Events and n.Malformed are cut back to first and firstMalformed.
// depth is the depth at start. It fails only when the entry is not JSON.
func (d *webhookDecoder) malformedEntry(n *Notification, m MalformedItem, start, depth, first, firstMalformed int) error {
	if err := d.skipFrom(start, depth); err != nil {
		return err
	}
	m.Raw = d.data[start:d.off]
	n.Events, n.Malformed = n.Events[:first], append(n.Malformed[:firstMalformed], m)
	return nil
}

// entryWithoutID reads entry i again from start, once it turned out to have no id, and keeps each of its items
// as malformed, in place of the events and malformed items taken of it; an entry without items is kept whole.
func (d *webhookDecoder) entryWithoutID(i int, n *Notification, start, depth, first, firstMalformed int) error {
	end := d.off
	d.off, d.depth = start, depth
	n.Events, n.Malformed = n.Events[:first], n.Malformed[:firstMalformed]
	_, err := d.object(entryKeys, func(key string) error {
		if key == "id" || key == "changes" {
			return d.skip()
		}
		j := 0
		return d.array(func() error {
			d.space()
			itemStart := d.off
			if err := d.skip(); err != nil {
				return err
			}
			n.Malformed = append(n.Malformed, MalformedItem{Entry: i, List: key, Item: j, Reason: reasonNoID, Raw: d.data[itemStart:d.off]})
			j++
			return nil
		})
	})
	if err != nil || d.off != end {
		return fmt.Errorf("entry[%d] read differently the second time: %v", i, err) // never: the entry was read already
	}
	if len(n.Malformed) == firstMalformed {
		n.Malformed = append(n.Malformed, MalformedItem{Entry: i, Item: -1, Reason: reasonNoID, Raw: d.data[start:end]})
	}
	return nil
}

// keyError says that err is about the value of key.
func keyError(key string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// itemFields are what an item's objects of each kind say, before its kind is decided: an object that is
// absent or null is not there.
type itemFields struct {
	message, postback, delivery, read, reaction bool // there
	messageMID, text                            string
	isEcho, quickReply                          bool
	metadata                                    string
	quickReplyPayload                           string
	postbackMID, title, postbackPayload         string
	deliveryWatermark, readWatermark            int64
	reactionMID                                 string
}

// item reads one messaging item, which must be an object of an item's shape; an error that is not the body's
// (see skipFrom) names the key whose value is not of its type.
func (d *webhookDecoder) item() (Event, error) {
	if d.next() != '{' {
		return Event{}, d.typeError("an object")
	}
	start := d.off
	e, f := Event{Kind: KindUnknown}, itemFields{}
	_, err := d.object(itemKeys, func(key string) error {
		var err error
		switch key {
		case "sender":
			_, err = d.object(partyKeys, func(key string) error { return keyError(key, d.readID(&e.SenderID)) })
		case "recipient":
			_, err = d.object(partyKeys, func(key string) error { return keyError(key, d.readID(&e.RecipientID)) })
		case "timestamp":
			err = d.readInteger(&e.Timestamp)
		case "message":
			f.message, err = d.object(messageKeys, func(key string) error {
				switch key {
				case "mid":
					return keyError(key, d.readString(&f.messageMID))
				case "text":
					return keyError(key, d.readString(&f.text))
				case "is_echo":
					return keyError(key, d.readBool(&f.isEcho))
				case "metadata":
					return keyError(key, d.readString(&f.metadata))
				}
				var err error
				f.quickReply, err = d.object(quickReplyKeys, func(key string) error {
					return keyError(key, d.readString(&f.quickReplyPayload))
				})
				return keyError(key, err)
			})
		case "postback":
			f.postback, err = d.object(postbackKeys, func(key string) error {
				switch key {
				case "mid":
					return keyError(key, d.readString(&f.postbackMID))
				case "title":
					return keyError(key, d.readString(&f.title))
				}
				return keyError(key, d.readString(&f.postbackPayload))
			})
		case "delivery":
			f.delivery, err = d.object(watermarkKeys, func(key string) error { return keyError(key, d.readInteger(&f.deliveryWatermark)) })
		case "read":
			f.read, err = d.object(watermarkKeys, func(key string) error { return keyError(key, d.readInteger(&f.readWatermark)) })
		case "reaction":
			f.reaction, err = d.object(reactionKeys, func(key string) error { return keyError(key, d.readString(&f.reactionMID)) })
		}
		return keyError(key, err)
	})
	if err != nil {
		return Event{}, err
	}
	e.Raw = d.data[start:d.off]
	switch {
	case f.message:
		e.Kind, e.MID, e.Text, e.IsEcho = KindMessage, f.messageMID, f.text, f.isEcho
		if f.isEcho {
			e.Kind, e.Metadata = KindEcho, f.metadata
		}
		if f.quickReply {
			e.Payload = f.quickReplyPayload
		}
	case f.postback:
		e.Kind, e.MID, e.Text, e.Payload = KindPostback, f.postbackMID, f.title, f.postbackPayload
	case f.delivery:
		e.Kind, e.Watermark = KindDelivery, f.deliveryWatermark
	case f.read:
		e.Kind, e.Watermark = KindRead, f.readWatermark
	case f.reaction:
		e.Kind, e.MID = KindReaction, f.reactionMID
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
	if !bytes.ContainsAny(raw, " \t\r\n") {
		return raw // Meta's own form: nothing to strip
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}
