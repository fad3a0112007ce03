package workflows

import (
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// SecretRotationWorkflowID is the ID of a channel's secret rotation: one at a time per channel, which every
// app-secret and Page-token change of the channel joins.
func SecretRotationWorkflowID(channelID string) string { return "secret-rotation/" + channelID }

// SecretRotationWorkflowType is the name SecretRotation is registered under.
const SecretRotationWorkflowType = "SecretRotation"

// DefaultRotationReminderInterval is how often a rotation reminds that Pages still miss their new token.
const DefaultRotationReminderInterval = 24 * time.Hour

// SecretRotationInput starts the rotation of a channel's secrets. It carries IDs only, never a secret.
type SecretRotationInput struct {
	TenantID  string
	ChannelID string
	// ReminderInterval is how often a reminder fires while Pages miss their new token; zero means
	// DefaultRotationReminderInterval.
	ReminderInterval time.Duration
}

// Requester is who asked for a change through the API, for the audit entry the change appends.
type Requester = activities.Requester

// UpdateSetAppSecret is the seed's Edit step: the secret version becomes the channel's app secret, and the
// previous secret stays accepted for the overlap. A second one while the previous secret is accepted replaces
// the new secret and keeps that previous one, with the new overlap counted from now.
const UpdateSetAppSecret = "set-app-secret"

// SetAppSecretRequest is the payload of UpdateSetAppSecret.
type SetAppSecretRequest struct {
	VersionID string
	// Overlap is how long the previous secret stays accepted: 0 (an immediate cut-over, for a leaked secret)
	// to aicc.MaxRotationOverlap.
	Overlap time.Duration
	Requester
}

// UpdateSetPageToken is the seed's Configuration step for one Page: the secret version, once Meta accepts it
// under the current app secret as a token of this Page, replaces the Page's token. A refused token is an
// error with Meta's code, and the Page keeps its token.
const UpdateSetPageToken = "set-page-token"

// SetPageTokenRequest is the payload of UpdateSetPageToken.
type SetPageTokenRequest struct {
	PageID    string
	VersionID string
	Requester
}

// UpdateRevokePrevious ends the overlap window at once: the previous app secret is no longer accepted.
const UpdateRevokePrevious = "revoke-previous"

// RevokePreviousRequest is the payload of UpdateRevokePrevious.
type RevokePreviousRequest struct {
	Requester
}

// QueryRotationState returns the live RotationState.
const QueryRotationState = "rotation"

// MaxListedMissingPages bounds the Page IDs a RotationState lists as missing; PagesMissing counts them all.
const MaxListedMissingPages = 100

// RotationState is the live view of a rotation, which every Update answers and QueryRotation returns.
type RotationState struct {
	// Status is pending while Pages miss a token accepted under the new app secret, then complete; "" in a
	// rotation that changed Page tokens only.
	Status aicc.RotationStatus
	// StartedAt and StartedBy tell when and by whom the app secret was last changed.
	StartedAt time.Time
	StartedBy aicc.AuditActor
	// PreviousUntil is when the previous app secret stops being accepted; zero when none is.
	PreviousUntil time.Time
	// PagesDone are the Pages given a new token by this rotation, by ID.
	PagesDone []string
	// PagesMissing counts the Pages without a token accepted under the current app secret; MissingPageIDs
	// lists up to MaxListedMissingPages of them, by ID.
	PagesMissing   int
	MissingPageIDs []string
	// Reminders counts the reminders fired so far; RemindedAt is when the last one fired.
	Reminders  int
	RemindedAt time.Time
}

// RotationResult is how a rotation ended.
type RotationResult struct {
	Status aicc.RotationStatus
	// ChannelGone is true when the channel was deleted during the rotation.
	ChannelGone bool
}
