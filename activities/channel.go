package activities

import (
	"context"

	"github.com/aiccfb/aicc"
)

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
