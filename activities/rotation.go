package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/aiccfb/aicc"
)

// The rotation activities put secret versions in use. A version is opened here, in memory, and sealed again
// for the place it goes to; the workflow only ever passes its ID. Each change appends its audit entry in the
// same transaction. A version that is gone was put in use by an earlier attempt of the same activity, which
// the store then confirms, so a retry changes nothing and appends no second entry.

// Requester is who asked for a change through the API, for the audit entry the change appends.
type Requester struct {
	Actor     aicc.AuditActor
	RequestID string
}

// ChangeAppSecretInput puts a secret version in use as the channel's app secret.
type ChangeAppSecretInput struct {
	TenantID  string
	ChannelID string
	VersionID string
	// PreviousUntil is until when the secret replaced stays accepted; zero accepts none.
	PreviousUntil time.Time
	Requester
}

// ChangeAppSecret checks with Meta that the version is the secret of the channel's app (as ProveApp does), then
// makes it the channel's app secret and keeps the secret it replaces accepted until in.PreviousUntil: a
// mistyped secret made current would have Meta's webhooks refused. Meta's refusal is a non-retryable
// META_APP_CREDENTIALS_INVALID, and the version is dropped; Meta unavailable is retried. A version removed
// meanwhile (the request gave up waiting) is CONFLICT, a channel being deleted CHANNEL_DELETING. No error
// carries the secret.
func (a *Activities) ChangeAppSecret(ctx context.Context, in ChangeAppSecretInput) error {
	v, err := a.Channels.SecretVersion(ctx, in.ChannelID, in.VersionID)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		made := aicc.AppSecretChange{ChannelID: in.ChannelID, VersionID: in.VersionID}
		return versionGone(a.Channels.ChangeAppSecret(ctx, made))
	}
	if err != nil {
		return domainError(err)
	}
	if v.Kind != aicc.SecretAppSecret {
		return NonRetryable(aicc.Errorf(aicc.EINVALID, "Secret version %s is not an app secret.", v.ID))
	}
	now := a.Now()
	secret, err := a.Keyring.Open(v.Sealed, aicc.SecretVersionOwner(v.ID))
	if err != nil {
		return NonRetryable(err)
	}
	if err := a.checkAppSecret(ctx, in, secret); err != nil {
		return err
	}
	change := aicc.AppSecretChange{
		ChannelID: in.ChannelID, VersionID: in.VersionID, PreviousUntil: in.PreviousUntil,
		Current: a.Keyring.Seal(secret, aicc.ChannelSecretOwner(in.ChannelID, aicc.SecretAppSecret), now),
	}
	details := map[string]string{aicc.DetailAppSecretFingerprint: change.Current.Fingerprint}
	if !in.PreviousUntil.IsZero() {
		details[aicc.DetailPreviousUntil] = in.PreviousUntil.UTC().Format(time.RFC3339)
	}
	if !in.PreviousUntil.IsZero() {
		replaced, err := a.Channels.ChannelSecret(ctx, in.ChannelID, aicc.SecretAppSecret)
		if err != nil {
			return domainError(err)
		}
		old, err := a.Keyring.Open(replaced, aicc.ChannelSecretOwner(in.ChannelID, aicc.SecretAppSecret))
		if err != nil {
			return NonRetryable(err)
		}
		previous := a.Keyring.Seal(old, aicc.ChannelSecretOwner(in.ChannelID, aicc.SecretPreviousAppSecret), now)
		change.Previous = &previous
		details[aicc.DetailPreviousFingerprint] = previous.Fingerprint
	}
	entry := in.Requester.entry(in.TenantID, in.ChannelID, aicc.AuditAppSecretChange,
		aicc.AuditTarget{Type: aicc.TargetChannel, ID: in.ChannelID}, details, now)
	err = a.Audit.Audited(ctx, entry, func(ctx context.Context) error { return a.Channels.ChangeAppSecret(ctx, change) })
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		// The version went while Meta was asked, or the channel did: as when it was missing at the start.
		made := aicc.AppSecretChange{ChannelID: in.ChannelID, VersionID: in.VersionID}
		return versionGone(a.Channels.ChangeAppSecret(ctx, made))
	}
	return domainError(err)
}

// checkAppSecret asks Meta whether secret is the secret of the channel's app; a refused version is deleted.
func (a *Activities) checkAppSecret(ctx context.Context, in ChangeAppSecretInput, secret string) error {
	const op = "ChangeAppSecret"
	redact := aicc.PageCall{AppSecret: secret} // what metaError redacts
	ch, err := a.Channels.GetChannel(ctx, in.TenantID, in.ChannelID)
	if err != nil {
		return metaError(ctx, op, redact, err)
	}
	g, err := a.Graph.Graph(ctx)
	if err != nil {
		return metaError(ctx, op, redact, err)
	}
	err = g.CheckApp(ctx, aicc.AppCall{AppID: ch.AppID, AppSecret: secret})
	if err != nil && refused(err) {
		if derr := a.Channels.DeleteSecretVersion(ctx, in.ChannelID, in.VersionID); derr != nil {
			activity.GetLogger(ctx).Warn("A refused app secret version is left behind", "VersionID", in.VersionID,
				"Error", derr.Error())
		}
	}
	return metaError(ctx, op, redact, err)
}

// RetirePreviousAppSecretInput names the channel whose previous app secret to retire. Revoked is set when an
// administrator ended the window early, nil when it ran out.
type RetirePreviousAppSecretInput struct {
	TenantID  string
	ChannelID string
	Revoked   *Requester
}

// RetirePreviousAppSecret stops accepting the channel's previous app secret. An early end is audited. It is
// idempotent: a channel without a previous secret has nothing to retire.
func (a *Activities) RetirePreviousAppSecret(ctx context.Context, in RetirePreviousAppSecretInput) error {
	if in.Revoked == nil {
		return domainError(a.Channels.RetirePreviousAppSecret(ctx, in.ChannelID))
	}
	previous, _, err := a.Channels.PreviousAppSecret(ctx, in.ChannelID)
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND:
		return nil
	case err != nil:
		return domainError(err)
	}
	entry := in.Revoked.entry(in.TenantID, in.ChannelID, aicc.AuditRotationRevokePrevious,
		aicc.AuditTarget{Type: aicc.TargetChannel, ID: in.ChannelID},
		map[string]string{aicc.DetailPreviousFingerprint: previous.Fingerprint}, a.Now())
	return domainError(a.Audit.Audited(ctx, entry, func(ctx context.Context) error {
		return a.Channels.RetirePreviousAppSecret(ctx, in.ChannelID)
	}))
}

// ChangePageTokenInput puts a secret version in use as a Page's token.
type ChangePageTokenInput struct {
	TenantID  string
	ChannelID string
	PageID    string
	VersionID string
	Requester
}

// ChangePageToken checks the version with Meta, as a token of this Page under the channel's current app secret
// (GET /me with its appsecret_proof), and then makes it the Page's token; the Page stays subscribed. Meta's
// refusal, or a token of another Page, is a non-retryable META error, the version is dropped and the Page
// keeps its token, and its token's health: the check says nothing of the token the Page holds. The change
// records the new token healthy. The error contract is that of the Graph activities (page.go).
func (a *Activities) ChangePageToken(ctx context.Context, in ChangePageTokenInput) error {
	const op = "ChangePageToken"
	call := aicc.PageCall{PageID: in.PageID}
	v, err := a.Channels.SecretVersion(ctx, in.ChannelID, in.VersionID)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		err = a.Channels.ChangePageToken(ctx, aicc.PageTokenChange{ChannelID: in.ChannelID, PageID: in.PageID, VersionID: in.VersionID})
		return metaError(ctx, op, call, versionGone(err))
	}
	if err != nil {
		return metaError(ctx, op, call, err)
	}
	if v.Kind != aicc.SecretPageToken || v.PageID != in.PageID {
		return NonRetryable(aicc.Errorf(aicc.EINVALID, "Secret version %s is not a token of Page %s.", v.ID, in.PageID))
	}
	if call.AccessToken, err = a.Keyring.Open(v.Sealed, aicc.SecretVersionOwner(v.ID)); err != nil {
		return metaError(ctx, op, call, err)
	}
	sealed, err := a.Channels.ChannelSecret(ctx, in.ChannelID, aicc.SecretAppSecret)
	if err != nil {
		return metaError(ctx, op, call, err)
	}
	if call.AppSecret, err = a.Keyring.Open(sealed, aicc.ChannelSecretOwner(in.ChannelID, aicc.SecretAppSecret)); err != nil {
		return metaError(ctx, op, call, err)
	}
	g, err := a.Graph.Graph(ctx)
	if err != nil {
		return metaError(ctx, op, call, err)
	}
	if _, err := g.CheckPageToken(ctx, call); err != nil {
		if refused(err) {
			// A refused version is never put in use; keeping it would only keep a secret.
			if derr := a.Channels.DeleteSecretVersion(ctx, in.ChannelID, in.VersionID); derr != nil {
				activity.GetLogger(ctx).Warn("A refused Page token version is left behind", "PageID", in.PageID,
					"VersionID", in.VersionID, "Error", derr.Error())
			}
		}
		return metaError(ctx, op, call, err)
	}
	now := a.Now()
	change := aicc.PageTokenChange{
		ChannelID: in.ChannelID, PageID: in.PageID, VersionID: in.VersionID,
		Token: a.Keyring.Seal(call.AccessToken, aicc.PageTokenOwner(in.PageID), now),
	}
	entry := in.Requester.entry(in.TenantID, in.ChannelID, aicc.AuditPageTokenSecretChange,
		aicc.AuditTarget{Type: aicc.TargetPage, ID: in.PageID},
		map[string]string{aicc.DetailTokenSecretFingerprint: change.Token.Fingerprint}, now)
	err = a.Audit.Audited(ctx, entry, func(ctx context.Context) error { return a.Channels.ChangePageToken(ctx, change) })
	return metaError(ctx, op, call, err)
}

// versionGone is the answer of a change whose secret version is not there: nil when an earlier attempt put it
// in use (err is nil), else CONFLICT: the API removed it because the request gave up waiting, or its Page went.
func versionGone(err error) error {
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		return NonRetryable(aicc.Errorf(aicc.ECONFLICT, "The new secret is no longer there: the request that sent it "+
			"gave up waiting, or its Page was removed. Send it again."))
	}
	return domainError(err)
}

// refused reports whether err is Meta's answer, which no retry can change, rather than a failure to get one.
func refused(err error) bool {
	var e *aicc.Error
	return errors.As(err, &e) && e.Code != aicc.EINTERNAL && !metaRetryable(e.Code)
}

// RotationPages are the channel's Pages without a token accepted under its current app secret.
type RotationPages struct {
	Missing int
	IDs     []string // up to the limit asked, by ID
}

// RotationPagesInput names the channel whose Pages to check.
type RotationPagesInput struct {
	ChannelID string
	Limit     int
}

// PagesWithoutNewToken returns the channel's Pages whose token was last changed before its app secret.
func (a *Activities) PagesWithoutNewToken(ctx context.Context, in RotationPagesInput) (RotationPages, error) {
	n, ids, err := a.Channels.PagesWithoutNewToken(ctx, in.ChannelID, in.Limit)
	return RotationPages{Missing: n, IDs: ids}, domainError(err)
}

// RecordRotationInput is the rotation state to write for a channel. Remind marks a reminder: Pages are still
// missing their token, which is logged as a warning for the operator.
type RecordRotationInput struct {
	TenantID  string
	ChannelID string
	Rotation  aicc.Rotation
	Remind    bool
}

// RecordRotation writes the rotation state to the database, so lists and metrics never ask Temporal; it is an
// idempotent overwrite.
func (a *Activities) RecordRotation(ctx context.Context, in RecordRotationInput) error {
	if in.Remind {
		activity.GetLogger(ctx).Warn("Secret rotation pending: Pages have no token accepted under the new app secret; "+
			"give each a new Token Secret", "TenantID", in.TenantID, "ChannelID", in.ChannelID,
			"PagesMissing", in.Rotation.PagesMissing, "Since", in.Rotation.StartedAt)
	}
	return domainError(a.Channels.SetRotation(ctx, in.ChannelID, in.Rotation))
}

// entry is the audit entry of a change r asked for.
func (r Requester) entry(tenantID, channelID string, action aicc.AuditAction, target aicc.AuditTarget,
	details map[string]string, at time.Time) *aicc.AuditEntry {
	return &aicc.AuditEntry{
		TenantID: tenantID, ChannelID: channelID, Actor: r.Actor, Action: action, Target: target,
		Details: details, RequestID: r.RequestID, At: at,
	}
}
