package aicc

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Graph is the part of Meta's Graph API the service calls: on behalf of one Page, or, to prove that an app
// secret is the app's, as the app. The meta package implements it over HTTP and meta/metatest fakes Meta
// behind it. Every method returns a *GraphError (which unwraps to an *Error with one of the EMETA codes) when
// Meta refuses the call or cannot be reached, and an EINVALID *Error when the input is wrong before any call is
// made.
type Graph interface {
	// CheckApp proves that call.AppSecret is the secret of the Meta app call.AppID: Meta issues an app access
	// token (POST /oauth/access_token with grant_type=client_credentials) only for a matching pair. A pair Meta
	// refuses is EMETAAPPINVALID. The token is not kept.
	CheckApp(ctx context.Context, call AppCall) error
	// CheckPageToken reads the Page the token belongs to (GET /me?fields=id,name with the Page token), proving
	// the token works and is call.PageID's: a token of another Page is refused with EMETATOKENINVALID.
	CheckPageToken(ctx context.Context, call PageCall) (PageInfo, error)
	// SubscribeApp subscribes the app to the Page's Messenger webhooks (POST /{page-id}/subscribed_apps with
	// SubscribedFields).
	SubscribeApp(ctx context.Context, call PageCall) error
	// SubscribedApps lists the apps subscribed to the Page (GET /{page-id}/subscribed_apps), to read a
	// subscription back.
	SubscribedApps(ctx context.Context, call PageCall) ([]SubscribedApp, error)
	// UnsubscribeApp removes the app's subscription (DELETE /{page-id}/subscribed_apps).
	UnsubscribeApp(ctx context.Context, call PageCall) error
	// SendMessage sends a text message to a person through the Send API (POST /{page-id}/messages).
	SendMessage(ctx context.Context, call PageCall, msg OutboundMessage) (SendResult, error)
}

// SubscribedFields are the webhook fields the app subscribes a Page to: inbound messages, postbacks (the "Get
// Started" button, which peers lose), delivery and read receipts, and echoes of what the Page sent.
var SubscribedFields = []string{"messages", "messaging_postbacks", "message_deliveries", "message_reads", "message_echoes"}

// PageCall is who a Graph call is made as. The token and the app secret are unsealed by the caller for the
// call and live in memory only; they never appear in errors or logs.
type PageCall struct {
	PageID      string
	AccessToken string // the Page access token ("Token Secret")
	AppSecret   string // signs the token into appsecret_proof
}

// String hides the secrets, so that a PageCall printed by mistake leaks nothing.
func (c PageCall) String() string { return "PageCall{PageID:" + c.PageID + "}" }

// GoString hides the secrets from %#v too.
func (c PageCall) GoString() string { return c.String() }

// AppCall is a Meta app and the secret that should be its own. The secret is unsealed by the caller for the
// call and lives in memory only; it never appears in errors or logs.
type AppCall struct {
	AppID     string
	AppSecret string
}

// String hides the secret, so that an AppCall printed by mistake leaks nothing.
func (c AppCall) String() string { return "AppCall{AppID:" + c.AppID + "}" }

// GoString hides the secret from %#v too.
func (c AppCall) GoString() string { return c.String() }

// PageInfo is what Graph says about a Page.
type PageInfo struct {
	ID   string
	Name string
}

// SubscribedApp is one app subscribed to a Page's webhooks.
type SubscribedApp struct {
	ID     string
	Name   string
	Fields []string
}

// MessagingType is the Send API's messaging_type.
type MessagingType string

// Messaging types.
const (
	MessagingResponse   MessagingType = "RESPONSE"    // a reply within 24 hours of the person's last message
	MessagingUpdate     MessagingType = "UPDATE"      // a proactive, non-promotional message within the window
	MessagingMessageTag MessagingType = "MESSAGE_TAG" // outside the window, with Tag
)

// TagHumanAgent lets a human agent answer up to 7 days after the person's last message. It is the only tag
// the service sends: Meta retired ACCOUNT_UPDATE and its kin on 2026-04-27, which broke peers that hard-coded
// them.
const TagHumanAgent = "HUMAN_AGENT"

// MaxMessageText is the Send API's limit on a text message, in characters.
const MaxMessageText = 2_000

// OutboundMessage is a text message to one person.
type OutboundMessage struct {
	RecipientPSID string // the person's Page-scoped ID
	Text          string
	Type          MessagingType
	Tag           string // TagHumanAgent with MessagingMessageTag, else empty
	// Metadata is sent as message.metadata and comes back in the echo of the message, so that the service
	// recognises the echoes of its own messages (OutboundMetadata); at most MaxMessageMetadata characters.
	Metadata string
}

// Validate checks the message against the Send API's rules, so that a bad message fails before any call.
func (m OutboundMessage) Validate() error {
	fe := FieldErrors{}
	if !metaIDRE.MatchString(m.RecipientPSID) {
		fe.Add("recipientPsid", "must be the numeric Page-scoped ID of the person")
	}
	if !utf8.ValidString(m.Text) {
		fe.Add("text", "must be valid UTF-8")
	}
	checkLen(fe, "text", m.Text, 1, MaxMessageText)
	if !utf8.ValidString(m.Metadata) {
		fe.Add("metadata", "must be valid UTF-8")
	}
	checkLen(fe, "metadata", m.Metadata, 0, MaxMessageMetadata)
	switch m.Type {
	case MessagingResponse, MessagingUpdate:
		if m.Tag != "" {
			fe.Add("tag", "is allowed only with messaging type %s", MessagingMessageTag)
		}
	case MessagingMessageTag:
		if m.Tag != TagHumanAgent {
			fe.Add("tag", "must be %s", TagHumanAgent)
		}
	default:
		fe.Add("messagingType", "must be %s, %s or %s", MessagingResponse, MessagingUpdate, MessagingMessageTag)
	}
	return fe.Err()
}

// SendResult is the Send API's answer.
type SendResult struct {
	RecipientID string
	MessageID   string // the mid, which comes back in the echo webhook
}

// Graph error codes. Classification is by Graph's error.code and error_subcode only, never by message text,
// which Meta rewords and translates.
const (
	// EMETATOKENINVALID: code 190 whatever its subcode (463 expired, 467 invalidated, 460 password changed,
	// 458 app not installed, …) and 102 (session). The administrator must paste a new Page token.
	EMETATOKENINVALID = "META_TOKEN_INVALID"
	// EMETAPERMISSION: code 10 and 200–299, a permission or Page task the token or the app lacks.
	EMETAPERMISSION = "META_PERMISSION_DENIED"
	// EMETARATELIMITED: codes 4, 17, 32, 613 and the business-use-case limits 80000–80014, or HTTP 429.
	EMETARATELIMITED = "META_RATE_LIMITED"
	// EMETAINVALIDPARAM: code 100, a parameter Meta does not accept.
	EMETAINVALIDPARAM = "META_INVALID_PARAMETER"
	// EMETAUSERUNAVAILABLE: code 551 or subcode 1545041, and the messaging-window subcodes 2018278 and
	// 2534022 (which come with code 10 but are about the recipient, not the token).
	EMETAUSERUNAVAILABLE = "META_USER_UNAVAILABLE"
	// EMETAUNAVAILABLE: HTTP 5xx, codes 1 and 2, timeouts, TLS and transport errors. Meta may answer later.
	EMETAUNAVAILABLE = "META_UNAVAILABLE"
	// EMETAERROR: any other Graph error.
	EMETAERROR = "META_ERROR"
	// EMETAAPPINVALID: Meta refused to issue an app access token for the app ID and app secret (code 1 "Error
	// validating client secret", 101 "Invalid application ID", or any other refusal of that call): the secret is
	// not the app's, or there is no such app. The administrator must correct the app ID or the App Secret.
	EMETAAPPINVALID = "META_APP_CREDENTIALS_INVALID"
)

// GraphError is the detail of a failed Graph call. It unwraps to an *Error with its Code and Message (so
// ErrorCode and the API's error writer see the domain code) and to the transport error, if any. Neither its
// text nor its fields ever hold the access token, the app secret or the appsecret_proof.
type GraphError struct {
	Code       string // one of the EMETA codes
	Message    string // safe to show
	HTTPStatus int    // 0 when no response came back
	GraphCode  int    // error.code, 0 when the body was not a Graph error
	Subcode    int    // error.error_subcode
	Type       string // error.type, e.g. OAuthException
	FBTraceID  string // error.fbtrace_id, for Meta support
	// GraphMessage is Meta's own error.message with the call's secrets removed; for logs, never for matching.
	GraphMessage string
	// Retryable reports whether the same call may succeed later unchanged: rate limits and unavailability.
	Retryable bool
	// RetryAfter is how long Meta says a rate limit lasts (estimated_time_to_regain_access of its usage
	// headers), 0 when it did not say.
	RetryAfter time.Duration
	// Err is the transport error (timeout, TLS, connection refused), nil when Meta answered.
	Err error
}

func (e *GraphError) Error() string {
	s := fmt.Sprintf("%s: %s (http %d, graph code %d, subcode %d", e.Code, e.Message, e.HTTPStatus, e.GraphCode, e.Subcode)
	if e.FBTraceID != "" {
		s += ", fbtrace_id " + e.FBTraceID
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + ")"
}

// Unwrap returns the domain error and the transport error.
func (e *GraphError) Unwrap() []error {
	errs := []error{&Error{Code: e.Code, Message: e.Message}}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// TokenHealth is how a Page's token fared on its latest Graph calls. It is shown on the Page and counted;
// inbound messages are never dropped because of it.
type TokenHealth string

// Token health states.
const (
	TokenHealthy        TokenHealth = "healthy"
	TokenDegraded       TokenHealth = "degraded"        // Meta rate-limits or cannot be reached; it will pass
	TokenReauthRequired TokenHealth = "reauth_required" // the token is invalid or lacks a permission
)

// NextTokenHealth returns the health after a Graph call that ended in err:
//   - success → healthy;
//   - META_TOKEN_INVALID or META_PERMISSION_DENIED → reauth_required: only a new token or grant helps;
//   - META_RATE_LIMITED or META_UNAVAILABLE → degraded, except that reauth_required stays until a success,
//     since a transient error says nothing about the token;
//   - anything else (a bad parameter, an unreachable recipient, our own validation, a cancelled context) says
//     nothing about the token either: the health stays as it was. Flagging reauth on every error is the peers'
//     mistake this avoids.
func NextTokenHealth(current TokenHealth, err error) TokenHealth {
	if current == "" {
		current = TokenHealthy
	}
	if err == nil {
		return TokenHealthy
	}
	if errors.Is(err, context.Canceled) {
		return current
	}
	switch ErrorCode(err) {
	case EMETATOKENINVALID, EMETAPERMISSION:
		return TokenReauthRequired
	case EMETARATELIMITED, EMETAUNAVAILABLE:
		if current == TokenReauthRequired {
			return current
		}
		return TokenDegraded
	}
	return current
}

// GraphProvider gives a Graph client that trusts the Facebook authentication certificates uploaded at the time
// of the call, so a certificate the sysadmin uploads takes effect without a restart.
type GraphProvider interface {
	Graph(ctx context.Context) (Graph, error)
}

// TrackTokenHealth returns g recording, after every call on a Page, the health of the Page token the call used
// (see NextTokenHealth), on that Page of the tenant's channel: the same Page ID may be on the Pages of other
// channels, not yet proven theirs. Recording is best effort: a failure to record never fails the call.
func TrackTokenHealth(g Graph, s PageHealthStore, tenantID, channelID string, now func() time.Time) Graph {
	return &healthTracker{g: g, s: s, tenantID: tenantID, channelID: channelID, now: now}
}

type healthTracker struct {
	g                   Graph
	s                   PageHealthStore
	tenantID, channelID string
	now                 func() time.Time
}

func (t *healthTracker) record(ctx context.Context, pageID string, err error) {
	if ErrorCode(err) == EINVALID {
		return // refused before any call: says nothing about the token
	}
	current, gerr := t.s.PageTokenHealth(ctx, t.tenantID, t.channelID, pageID)
	if gerr != nil {
		return
	}
	next, reason := NextTokenHealth(current, err), ""
	if next != TokenHealthy {
		reason = ErrorCode(err)
	}
	if next != current || next != TokenHealthy {
		_ = t.s.SetPageTokenHealth(ctx, t.tenantID, t.channelID, pageID, next, reason, t.now())
	}
}

// CheckApp uses no Page token: there is no health to record.
func (t *healthTracker) CheckApp(ctx context.Context, call AppCall) error {
	return t.g.CheckApp(ctx, call)
}

func (t *healthTracker) CheckPageToken(ctx context.Context, call PageCall) (PageInfo, error) {
	info, err := t.g.CheckPageToken(ctx, call)
	t.record(ctx, call.PageID, err)
	return info, err
}

func (t *healthTracker) SubscribeApp(ctx context.Context, call PageCall) error {
	err := t.g.SubscribeApp(ctx, call)
	t.record(ctx, call.PageID, err)
	return err
}

func (t *healthTracker) SubscribedApps(ctx context.Context, call PageCall) ([]SubscribedApp, error) {
	apps, err := t.g.SubscribedApps(ctx, call)
	t.record(ctx, call.PageID, err)
	return apps, err
}

func (t *healthTracker) UnsubscribeApp(ctx context.Context, call PageCall) error {
	err := t.g.UnsubscribeApp(ctx, call)
	t.record(ctx, call.PageID, err)
	return err
}

func (t *healthTracker) SendMessage(ctx context.Context, call PageCall, msg OutboundMessage) (SendResult, error) {
	res, err := t.g.SendMessage(ctx, call, msg)
	t.record(ctx, call.PageID, err)
	return res, err
}
