package activities

import (
	"context"

	"github.com/aiccfb/aicc"
)

// ProveApp checks with Meta that the channel's App Secret is the secret of its Meta app (an app access token
// request: aicc.Graph.CheckApp), before ClaimApp claims the app for the channel; the app ID is public, so the
// secret is the proof of ownership. The secret is unsealed for the call only. Meta's refusal is a
// non-retryable ApplicationError typed META_APP_CREDENTIALS_INVALID; Meta unavailable or rate limiting is
// retryable; the error contract is otherwise that of the Graph activities (page.go), and no error carries the
// secret.
func (a *Activities) ProveApp(ctx context.Context, in ChannelInput) error {
	const op = "ProveApp"
	ch, err := a.Channels.GetChannel(ctx, in.TenantID, in.ChannelID)
	if err != nil {
		return metaError(ctx, op, aicc.PageCall{}, err)
	}
	call := aicc.AppCall{AppID: ch.AppID}
	sealed, err := a.Channels.ChannelSecret(ctx, in.ChannelID, aicc.SecretAppSecret)
	if err == nil {
		call.AppSecret, err = a.Keyring.Open(sealed, aicc.ChannelSecretOwner(in.ChannelID, aicc.SecretAppSecret))
	}
	redact := aicc.PageCall{AppSecret: call.AppSecret} // what metaError redacts
	if err != nil {
		return metaError(ctx, op, redact, err)
	}
	g, err := a.Graph.Graph(ctx)
	if err != nil {
		return metaError(ctx, op, redact, err)
	}
	return metaError(ctx, op, redact, g.CheckApp(ctx, call))
}

// ClaimApp makes the channel the one channel of its Meta app; the Onboarding calls it once ProveApp has shown
// that the channel's App Secret is the app's, and never before. Another channel's claim is an ApplicationError
// typed APP_ALREADY_CONNECTED whose message says only that, whatever that channel's tenant; a channel being
// deleted is CHANNEL_DELETING. Claiming twice changes nothing.
func (a *Activities) ClaimApp(ctx context.Context, in ChannelInput) error {
	return domainError(a.Channels.ClaimApp(ctx, in.TenantID, in.ChannelID, a.Now()))
}

// ChannelInput names a channel an activity works on.
type ChannelInput struct {
	TenantID  string
	ChannelID string
}

// MarkChannelDeleting records that the channel's deletion runs: status deleting, and no other change accepted
// from then on. It is idempotent; a channel that is gone is an ApplicationError typed NOT_FOUND.
func (a *Activities) MarkChannelDeleting(ctx context.Context, in ChannelInput) error {
	return domainError(a.Channels.MarkChannelDeleting(ctx, in.ChannelID, a.Now()))
}

// ChannelPageIDs returns the IDs of the channel's Pages, at most aicc.MaxListLimit of them: the deletion removes
// the ones it got and asks again until none is left.
func (a *Activities) ChannelPageIDs(ctx context.Context, in ChannelInput) ([]string, error) {
	pages, _, err := a.Channels.ListPages(ctx, in.TenantID, in.ChannelID, aicc.ListOptions{Limit: aicc.MaxListLimit})
	if err != nil {
		return nil, domainError(err)
	}
	ids := make([]string, len(pages))
	for i, p := range pages {
		ids[i] = p.PageID
	}
	return ids, nil
}

// DeleteChannel deletes the channel with its secrets and any Page left. A channel that is gone already counts
// as deleted, so it is idempotent.
func (a *Activities) DeleteChannel(ctx context.Context, in ChannelInput) error {
	err := a.Channels.DeleteChannel(ctx, in.TenantID, in.ChannelID)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		return nil
	}
	return domainError(err)
}
