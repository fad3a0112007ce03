package metatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
)

// WebhookSender plays Meta towards a callback URL: the verification GET and signed event POSTs. A Meta retry
// is the same body sent again, byte for byte.
type WebhookSender struct {
	URL       string // the callback URL, e.g. https://…/webhooks/facebook/{channelID}
	AppSecret string
	// Algorithm is the one header to sign with; empty signs with both X-Hub-Signature-256 and X-Hub-Signature,
	// as Meta does.
	Algorithm aicc.SignatureAlgorithm
	HTTP      *http.Client // nil for http.DefaultClient
}

// SendOption changes how Send signs a POST, to test refusals.
type SendOption func(*sendOptions)

type sendOptions struct {
	secret    string
	unsigned  bool
	tamper    bool
	algorithm aicc.SignatureAlgorithm
}

// WithWrongSignature signs with another secret.
func WithWrongSignature() SendOption { return func(o *sendOptions) { o.secret = "not-" + o.secret } }

// WithoutSignature sends no signature header.
func WithoutSignature() SendOption { return func(o *sendOptions) { o.unsigned = true } }

// WithTamperedBody signs the body, then changes its last byte before sending it.
func WithTamperedBody() SendOption { return func(o *sendOptions) { o.tamper = true } }

// WithAlgorithm signs with alg only, overriding the sender's Algorithm.
func WithAlgorithm(alg aicc.SignatureAlgorithm) SendOption {
	return func(o *sendOptions) { o.algorithm = alg }
}

func (s *WebhookSender) client() *http.Client {
	if s.HTTP != nil {
		return s.HTTP
	}
	return http.DefaultClient
}

// Verify sends Meta's verification GET (hub.mode=subscribe) and returns the answer's status and body.
func (s *WebhookSender) Verify(ctx context.Context, verifyToken, challenge string) (int, string, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return 0, "", err
	}
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.verify_token", verifyToken)
	q.Set("hub.challenge", challenge)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, "", err
	}
	status, body, err := s.do(req)
	return status, string(body), err
}

// Send POSTs body as Meta does (JSON, signed, User-Agent facebookexternalua) and returns the answer's status.
func (s *WebhookSender) Send(ctx context.Context, body []byte, opts ...SendOption) (int, error) {
	o := sendOptions{secret: s.AppSecret, algorithm: s.Algorithm}
	for _, opt := range opts {
		opt(&o)
	}
	sent := body
	if o.tamper && len(body) > 0 {
		sent = bytes.Clone(body)
		sent[len(sent)-1] ^= 1
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(sent))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	if !o.unsigned {
		algs := []aicc.SignatureAlgorithm{aicc.AlgorithmSHA256, aicc.AlgorithmSHA1}
		if o.algorithm != "" {
			algs = algs[:0]
			algs = append(algs, o.algorithm)
		}
		for _, alg := range algs {
			name, value := meta.Sign(alg, []byte(o.secret), body)
			req.Header.Set(name, value)
		}
	}
	status, _, err := s.do(req)
	return status, err
}

// SendPayload encodes p as Meta does (Encode) and sends it; it returns the bytes sent, so that a test can
// resend them as Meta's retry would.
func (s *WebhookSender) SendPayload(ctx context.Context, p Payload, opts ...SendOption) ([]byte, int, error) {
	body := p.Encode()
	status, err := s.Send(ctx, body, opts...)
	return body, status, err
}

func (s *WebhookSender) do(req *http.Request) (int, []byte, error) {
	resp, err := s.client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// Payload is a webhook notification as Meta sends it: object "page" and a batch of entries.
type Payload struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry is the events of one Page. Standby items are those of a secondary receiver (handover protocol).
type Entry struct {
	ID        string `json:"id"`
	Time      int64  `json:"time"`
	Messaging []Item `json:"messaging,omitempty"`
	Standby   []Item `json:"standby,omitempty"`
}

// Item is one messaging event. Exactly one of the event fields is set.
type Item struct {
	Sender    Party          `json:"sender"`
	Recipient Party          `json:"recipient"`
	Timestamp int64          `json:"timestamp"`
	Message   *ItemMessage   `json:"message,omitempty"`
	Postback  *ItemPostback  `json:"postback,omitempty"`
	Delivery  *ItemWatermark `json:"delivery,omitempty"`
	Read      *ItemWatermark `json:"read,omitempty"`
	Reaction  *ItemReaction  `json:"reaction,omitempty"`
	Optin     *ItemOptin     `json:"optin,omitempty"`
}

// Party is a sender or recipient.
type Party struct {
	ID string `json:"id"`
}

// ItemMessage is a message or, with IsEcho, an echo.
type ItemMessage struct {
	MID    string `json:"mid"`
	Text   string `json:"text,omitempty"`
	IsEcho bool   `json:"is_echo,omitempty"`
	AppID  int64  `json:"app_id,omitempty"`
	// Metadata is what the sender of the echoed message gave the Send API as message.metadata.
	Metadata string `json:"metadata,omitempty"`
}

// ItemPostback is a button tap ("Get Started" included).
type ItemPostback struct {
	MID     string `json:"mid,omitempty"`
	Title   string `json:"title"`
	Payload string `json:"payload"`
}

// ItemWatermark is a delivery or read receipt.
type ItemWatermark struct {
	MIDs      []string `json:"mids,omitempty"`
	Watermark int64    `json:"watermark"`
}

// ItemReaction is a reaction to the message MID.
type ItemReaction struct {
	MID      string `json:"mid"`
	Action   string `json:"action"` // react or unreact
	Reaction string `json:"reaction,omitempty"`
	Emoji    string `json:"emoji,omitempty"`
}

// ItemOptin is an opt-in, a kind the service does not interpret: it stands for every unknown kind.
type ItemOptin struct {
	Ref string `json:"ref"`
}

// NewPayload returns a page notification with the given entries.
func NewPayload(entries ...Entry) Payload { return Payload{Object: "page", Entry: entries} }

// NewEntry returns the entry of a Page with the given messaging items; its time is the latest item's.
func NewEntry(pageID string, items ...Item) Entry {
	e := Entry{ID: pageID, Messaging: items}
	for _, it := range items {
		e.Time = max(e.Time, it.Timestamp)
	}
	return e
}

func inbound(pageID, psid string, ts int64) Item {
	return Item{Sender: Party{psid}, Recipient: Party{pageID}, Timestamp: ts}
}

// Text is a person's text message to the Page.
func Text(pageID, psid, mid, text string, ts int64) Item {
	it := inbound(pageID, psid, ts)
	it.Message = &ItemMessage{MID: mid, Text: text}
	return it
}

// Echo is the echo of a message the Page sent to the person: the sender is the Page.
func Echo(pageID, psid, mid, text string, ts int64) Item {
	return EchoWithMetadata(pageID, psid, mid, text, "", ts)
}

// EchoWithMetadata is the echo of a message the Page sent with the Send API's message.metadata.
func EchoWithMetadata(pageID, psid, mid, text, metadata string, ts int64) Item {
	it := Item{Sender: Party{pageID}, Recipient: Party{psid}, Timestamp: ts}
	it.Message = &ItemMessage{MID: mid, Text: text, IsEcho: true, AppID: 1234567890123456, Metadata: metadata}
	return it
}

// Postback is a button tap.
func Postback(pageID, psid, mid, title, payload string, ts int64) Item {
	it := inbound(pageID, psid, ts)
	it.Postback = &ItemPostback{MID: mid, Title: title, Payload: payload}
	return it
}

// Delivery is a delivery receipt up to watermark.
func Delivery(pageID, psid string, watermark int64, mids ...string) Item {
	it := inbound(pageID, psid, watermark+100)
	it.Delivery = &ItemWatermark{MIDs: mids, Watermark: watermark}
	return it
}

// Read is a read receipt up to watermark.
func Read(pageID, psid string, watermark int64) Item {
	it := inbound(pageID, psid, watermark+200)
	it.Read = &ItemWatermark{Watermark: watermark}
	return it
}

// Reaction is a reaction to the message mid.
func Reaction(pageID, psid, mid, emoji string, ts int64) Item {
	it := inbound(pageID, psid, ts)
	it.Reaction = &ItemReaction{MID: mid, Action: "react", Reaction: "other", Emoji: emoji}
	return it
}

// Optin is an opt-in, an event kind the service does not interpret.
func Optin(pageID, psid, ref string, ts int64) Item {
	it := inbound(pageID, psid, ts)
	it.Optin = &ItemOptin{Ref: ref}
	return it
}

// Encode returns p as Meta puts it on the wire, the bytes it signs: JSON with every non-ASCII character
// escaped as \uHHHH with lowercase hex digits (ä as \u00e4) and "/" as "\/".
func (p Payload) Encode() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a Payload always marshals
	}
	return MetaEscape(b)
}

// MetaEscape rewrites valid JSON into Meta's escaped form: inside strings, non-ASCII characters become
// \uHHHH (surrogate pairs beyond U+FFFF) and "/" becomes "\/"; existing escapes are kept as they are.
func MetaEscape(b []byte) []byte {
	var out strings.Builder
	inString := false
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case inString && r == '\\' && len(b) > 1:
			out.Write(b[:2]) // an escape, copied whole: its second byte is ASCII
			n = 2
		case r == '"':
			inString = !inString
			out.WriteByte('"')
		case inString && r == '/':
			out.WriteString(`\/`)
		case r < utf8.RuneSelf:
			out.WriteByte(b[0])
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
		b = b[n:]
	}
	return []byte(out.String())
}
