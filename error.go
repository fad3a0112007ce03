package aicc

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Error codes. Each maps to one HTTP status in api/errors.go; clients match on the code, never on the message.
const (
	EINVALID   = "INVALID"   // the request is malformed or a field breaks a rule; Fields says which
	ENOTFOUND  = "NOT_FOUND" // the resource does not exist, or belongs to another tenant
	ECONFLICT  = "CONFLICT"  // the request conflicts with the resource's current state
	EFORBIDDEN = "FORBIDDEN" // the caller's role may not do this
	EUNAUTH    = "UNAUTHENTICATED"
	EINTERNAL  = "INTERNAL"
	ETOOLARGE  = "PAYLOAD_TOO_LARGE"
	// EUNAVAILABLE means a dependency (database, Temporal) did not answer; the caller may retry.
	EUNAVAILABLE = "UNAVAILABLE"

	ECHANNELNAMETAKEN   = "CHANNEL_NAME_TAKEN"     // another channel of the tenant has this name
	EAPPCONNECTED       = "APP_ALREADY_CONNECTED"  // another channel proved the Meta app's secret and claimed it
	EPAGECONNECTED      = "PAGE_ALREADY_CONNECTED" // another channel proved the Page's token and claimed it
	ENOTVERIFIED        = "NOT_VERIFIED"           // Meta has not verified the callback URL yet
	EONBOARDINGSTARTED  = "ONBOARDING_ALREADY_STARTED"
	EONBOARDINGFINISHED = "ONBOARDING_FINISHED" // the onboarding is over (active, cancelled, expired or failed)
	EINUSE              = "IN_USE"              // the resource is referenced by another and cannot be deleted
	ENOSUBSCRIBEDPAGE   = "NO_SUBSCRIBED_PAGE"  // confirming needs at least one Page the app is subscribed to
	ECHANNELDELETING    = "CHANNEL_DELETING"    // the channel is being deleted and accepts no other change
	EPAGECONNECTING     = "PAGE_CONNECTING"     // a connection of the Page to Meta is running
	EPAGEDISCONNECTING  = "PAGE_DISCONNECTING"  // a disconnection of the Page from Meta is running
	ENOPREVIOUSSECRET   = "NO_PREVIOUS_SECRET"  // no previous app secret is accepted, so none can be revoked
	EEXPORTTOOLARGE     = "EXPORT_TOO_LARGE"    // the selection matches more than MaxExportRecords channels
	EEXPORTNOTREADY     = "EXPORT_NOT_READY"    // the export has not succeeded (yet): nothing to download
	EEXPORTEXPIRED      = "EXPORT_EXPIRED"      // the export's files were deleted after its retention
	// EOUTSIDEWINDOW: the customer's last message is too old for Meta to take a reply (MessagingFor).
	EOUTSIDEWINDOW = "OUTSIDE_MESSAGING_WINDOW"
	// EAMBIGUOUSSEND: an earlier attempt to send the message ended without knowing whether Meta took it, so it
	// is not sent again; the customer may or may not have it.
	EAMBIGUOUSSEND = "AMBIGUOUS_SEND"
	// The conversation runtime's refusals of an agent's request.
	ECONVERSATIONENDED  = "CONVERSATION_ENDED"   // the conversation is ended; the customer's next message opens it
	ENOTASSIGNED        = "NOT_ASSIGNED"         // the conversation is not assigned to the agent
	ENOTOFFERED         = "NOT_OFFERED"          // the conversation is not offered to the agent (last agent mode)
	ETRANSFERNOTALLOWED = "TRANSFER_NOT_ALLOWED" // session transfer is off, or the queue is not one of its targets
	// EROBOTUNAVAILABLE: no robot has the access code, or the robot failed or keeps failing (its circuit
	// breaker is open); a conversation then goes to the queue.
	EROBOTUNAVAILABLE = "ROBOT_UNAVAILABLE"
	// EASSISTANTDISABLED: the channel's robot assistant is off, so there are no suggestions to ask it for.
	EASSISTANTDISABLED = "ROBOT_ASSISTANT_DISABLED"

	// The Facebook authentication certificate the sysadmin uploads is a prerequisite of every onboarding.
	ECERTMISSING = "FACEBOOK_CERTIFICATE_MISSING"
	ECERTEXPIRED = "FACEBOOK_CERTIFICATE_EXPIRED"
)

// The messages of EAPPCONNECTED and EPAGECONNECTED. They say that the app or Page is connected to another
// channel and nothing more: not which channel, not whether it is of the caller's tenant.
const (
	MsgAppConnected  = "The Meta app is already connected to another channel."
	MsgPageConnected = "The Page is already connected to another channel."
	// MsgAppNotClaimed is the CONFLICT of a Page added to a channel that has not claimed its app: the app's
	// subscription to the Page would deliver the Page's messages to whichever channel holds the app.
	MsgAppNotClaimed = "The channel has not claimed its Meta app yet: its onboarding proves the App Secret with " +
		"Meta first. Add Pages once the channel awaits verification."
)

// codes is every code above and every EMETA code of graph.go.
var codes = []string{
	EINVALID, ENOTFOUND, ECONFLICT, EFORBIDDEN, EUNAUTH, EINTERNAL, ETOOLARGE, EUNAVAILABLE,
	ECHANNELNAMETAKEN, EAPPCONNECTED, EPAGECONNECTED, ENOTVERIFIED, EONBOARDINGSTARTED, EONBOARDINGFINISHED, EINUSE,
	ENOSUBSCRIBEDPAGE, ECHANNELDELETING, EPAGECONNECTING, EPAGEDISCONNECTING, ENOPREVIOUSSECRET, EEXPORTTOOLARGE, EEXPORTNOTREADY,
	EEXPORTEXPIRED, ECERTMISSING, ECERTEXPIRED, EOUTSIDEWINDOW, EAMBIGUOUSSEND,
	ECONVERSATIONENDED, ENOTASSIGNED, ENOTOFFERED, ETRANSFERNOTALLOWED,
	EMETATOKENINVALID, EMETAPERMISSION, EMETARATELIMITED, EMETAINVALIDPARAM, EMETAUSERUNAVAILABLE,
	EMETAUNAVAILABLE, EMETAERROR, EMETAAPPINVALID,
	EROBOTUNAVAILABLE, EASSISTANTDISABLED,
}

// Codes returns every error code of the domain, for adapters that map codes (HTTP statuses) or must tell a
// domain code from any other string (Temporal error types).
func Codes() []string { return slices.Clone(codes) }

// IsCode reports whether code is an error code of the domain.
func IsCode(code string) bool { return slices.Contains(codes, code) }

// Error is the one error type of the domain. Message is safe to show to the caller; it never holds a secret.
type Error struct {
	Code    string
	Message string
	// Fields maps a JSON field path (for example "basic.workTime.workday[1]") to what is wrong with it.
	Fields map[string]string
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	parts := make([]string, 0, len(e.Fields))
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, strings.Join(parts, "; "))
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, EINTERNAL for any other error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// FieldErrors collects every field error of one validation, so that the caller sees them all at once.
type FieldErrors map[string]string

// Add records msg for field unless the field already has an error.
func (f FieldErrors) Add(field, format string, args ...any) {
	if _, ok := f[field]; !ok {
		f[field] = fmt.Sprintf(format, args...)
	}
}

// Err returns nil when there are no field errors, else an EINVALID *Error holding them.
func (f FieldErrors) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "The request has invalid fields.", Fields: map[string]string(f)}
}
