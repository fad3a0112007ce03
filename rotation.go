package aicc

import (
	"context"
	"time"
)

// A secret rotation follows the seed's two steps. The administrator edits the channel's App Secret: the new
// value becomes current, and the previous one stays accepted for webhook signatures during an overlap window,
// because Meta's reset is a hard cut-over and webhooks signed with the old secret are still on their way. Then
// the administrator gives each Page a new Token Secret. Each new value is first sealed by the API into a
// SecretVersion; the channel's rotation workflow knows it by ID only and puts it in use.

// Overlap windows of an app-secret change: how long the previous secret stays accepted.
const (
	DefaultRotationOverlap = 24 * time.Hour
	MaxRotationOverlap     = 7 * 24 * time.Hour
)

// SecretVersion is a new value of a channel's app secret or of a Page's token, sealed by the API (with
// SecretVersionOwner) and waiting for the channel's rotation to put it in use, which removes it.
type SecretVersion struct {
	ID        string
	TenantID  string
	ChannelID string
	Kind      SecretKind // SecretAppSecret or SecretPageToken
	PageID    string     // the Page whose token it is, with SecretPageToken
	Sealed    SealedSecret
	CreatedAt time.Time
}

// SecretVersionOwner is the additional data a secret version is sealed with.
func SecretVersionOwner(id string) string { return "secret_version/" + id }

// RotationStatus is where a channel's latest secret rotation is.
type RotationStatus string

// Rotation statuses. A channel whose app secret never changed has none ("").
const (
	// RotationPending: the app secret changed and some Pages have no token accepted under it yet.
	RotationPending RotationStatus = "pending"
	// RotationComplete: every Page has a token accepted under the current app secret.
	RotationComplete RotationStatus = "complete"
)

// Rotation is what the store keeps of a channel's latest secret rotation, as its workflow recorded it, so
// that lists and metrics never ask Temporal.
type Rotation struct {
	Status RotationStatus
	// StartedAt is when the app secret last changed.
	StartedAt time.Time
	// PreviousUntil is when the previous app secret stops being accepted; zero when none is.
	PreviousUntil time.Time
	// PagesMissing counts the Pages without a token accepted under the current app secret.
	PagesMissing int
	// RemindedAt is when the last reminder about the missing Pages fired; zero before the first.
	RemindedAt time.Time
	UpdatedAt  time.Time
}

// AppSecretChange puts a new app secret in use (see RotationStore.ChangeAppSecret).
type AppSecretChange struct {
	ChannelID string
	VersionID string       // the version the new secret comes from; it is removed
	Current   SealedSecret // the new secret, sealed for ChannelSecretOwner(ChannelID, SecretAppSecret)
	// Previous is the secret to accept until PreviousUntil (the one replaced), sealed for
	// ChannelSecretOwner(ChannelID, SecretPreviousAppSecret). A zero PreviousUntil accepts no previous secret.
	Previous      *SealedSecret
	PreviousUntil time.Time
}

// PageTokenChange puts a new Page token in use (see RotationStore.ChangePageToken).
type PageTokenChange struct {
	ChannelID string
	PageID    string
	VersionID string       // the version the token comes from; it is removed
	Token     SealedSecret // sealed for PageTokenOwner(PageID)
}

// RotationStats are the numbers behind the rotation metrics.
type RotationStats struct {
	// Count counts the channels by the status of their latest rotation (channels without one are left out).
	Count map[RotationStatus]int
	// Reminded counts the pending rotations that have fired at least one reminder.
	Reminded      int
	OldestPending time.Time // when the oldest pending rotation started; zero when none is pending
}

// RotationStore keeps what secret rotations need: secret versions, the previous app secret and the rotation
// state of each channel. The Change methods join an Audited transaction.
type RotationStore interface {
	// AddSecretVersion stores a sealed secret version of the channel; a channel being deleted is refused.
	AddSecretVersion(ctx context.Context, v *SecretVersion) error
	// SecretVersion returns the channel's secret version with the given ID; ENOTFOUND once it is in use.
	SecretVersion(ctx context.Context, channelID, id string) (*SecretVersion, error)
	// DeleteSecretVersion removes a version that will not be used (a refused token); a missing one is no error.
	DeleteSecretVersion(ctx context.Context, channelID, id string) error
	// ChangeAppSecret makes c.Current the channel's app secret and sets or keeps its previous secret, and
	// removes the version, in one transaction. It is idempotent: when the current secret already came from
	// c.VersionID, nothing changes.
	ChangeAppSecret(ctx context.Context, c AppSecretChange) error
	// PreviousAppSecret returns the channel's previous app secret and until when it is accepted; ENOTFOUND
	// when there is none.
	PreviousAppSecret(ctx context.Context, channelID string) (SealedSecret, time.Time, error)
	// RetirePreviousAppSecret removes the channel's previous app secret; it is idempotent.
	RetirePreviousAppSecret(ctx context.Context, channelID string) error
	// ChangePageToken replaces the Page's token (without changing its subscription), records it healthy and
	// removes the version, in one transaction. It is idempotent: when the token already came from
	// c.VersionID, nothing changes.
	ChangePageToken(ctx context.Context, c PageTokenChange) error
	// PagesWithoutNewToken returns the number of the channel's Pages whose token was last changed before its
	// app secret, and the IDs of up to limit of them, by Page ID.
	PagesWithoutNewToken(ctx context.Context, channelID string, limit int) (int, []string, error)
	// SetRotation records the channel's rotation state; it is idempotent.
	SetRotation(ctx context.Context, channelID string, r Rotation) error
	// RotationStats counts the pending rotations of every tenant.
	RotationStats(ctx context.Context) (RotationStats, error)
}
