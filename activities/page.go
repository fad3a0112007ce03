package activities

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
)

// PageInput names the Page of a channel an activity works on. It carries IDs only: the Graph activities unseal
// the Page token and the channel's app secret themselves, in memory, so no secret is ever in the workflow
// history. workflows.PageInput is the same type.
type PageInput struct {
	TenantID  string
	ChannelID string
	PageID    string
}

// The Graph activities below share their error contract: Meta's refusals (a bad token, a missing permission, a
// parameter Meta does not accept, …) and domain errors (the Page or channel is gone, a secret does not open, no
// usable certificate) are non-retryable ApplicationErrors whose type is the aicc code and whose message is safe
// to show. Rate limits and Meta being unavailable (META_RATE_LIMITED, META_UNAVAILABLE) are retryable, and so
// is any error without a code (a database that does not answer). No error carries the Page token, the app
// secret or the appsecret_proof: the Graph client promises that, and the activities redact them again.
// Every Graph call records the Page's token health (aicc.TrackTokenHealth).

// CheckPageToken reads the Page the token belongs to (GET /me?fields=id,name), proving that Meta accepts the
// token and that it is this Page's. A refused token, or a token of another Page, is META_TOKEN_INVALID (or
// META_PERMISSION_DENIED).
func (a *Activities) CheckPageToken(ctx context.Context, in PageInput) (aicc.PageInfo, error) {
	g, call, err := a.pageGraph(ctx, in)
	if err != nil {
		return aicc.PageInfo{}, metaError(ctx, "CheckPageToken", call, err)
	}
	info, err := g.CheckPageToken(ctx, call)
	return info, metaError(ctx, "CheckPageToken", call, err)
}

// SubscribeApp subscribes the channel's app to the Page's Messenger webhooks with aicc.SubscribedFields. Meta
// treats a second subscription as the same one, so it is idempotent. A channel being deleted is
// CHANNEL_DELETING: its deletion unsubscribes the Pages, and a subscription made behind it would outlive the
// channel. So the status is read before the call, and again after it: a deletion that began meanwhile may have
// unsubscribed the Page already, and the subscription just made is taken back.
func (a *Activities) SubscribeApp(ctx context.Context, in PageInput) error {
	const op = "SubscribeApp"
	if err := a.notDeleting(ctx, in.ChannelID); err != nil {
		return metaError(ctx, op, aicc.PageCall{PageID: in.PageID}, err)
	}
	g, call, err := a.pageGraph(ctx, in)
	if err != nil {
		return metaError(ctx, op, call, err)
	}
	if err := g.SubscribeApp(ctx, call); err != nil {
		return metaError(ctx, op, call, err)
	}
	if err := a.notDeleting(ctx, in.ChannelID); err != nil {
		if code := aicc.ErrorCode(err); code == aicc.ECHANNELDELETING || code == aicc.ENOTFOUND {
			// A database that did not answer is retried instead, subscribing and checking again.
			if uerr := g.UnsubscribeApp(ctx, call); uerr != nil {
				return metaError(ctx, op, call, uerr)
			}
		}
		return metaError(ctx, op, call, err)
	}
	return nil
}

// notDeleting returns CHANNEL_DELETING when the channel is being deleted, NOT_FOUND when it is gone.
func (a *Activities) notDeleting(ctx context.Context, channelID string) error {
	ch, err := a.Channels.FindChannel(ctx, channelID)
	if err == nil && ch.Onboarding.Status == aicc.StatusDeleting {
		err = aicc.Errorf(aicc.ECHANNELDELETING, "The channel is being deleted; its Pages are not subscribed any more.")
	}
	return err
}

// VerifySubscription reads the Page's subscriptions back from Meta: the channel's app must be listed with every
// field of aicc.SubscribedFields. Otherwise it fails with a non-retryable META_ERROR that says what is missing.
func (a *Activities) VerifySubscription(ctx context.Context, in PageInput) error {
	const op = "VerifySubscription"
	ch, err := a.Channels.FindChannel(ctx, in.ChannelID)
	if err != nil {
		return metaError(ctx, op, aicc.PageCall{PageID: in.PageID}, err)
	}
	g, call, err := a.pageGraph(ctx, in)
	if err != nil {
		return metaError(ctx, op, call, err)
	}
	apps, err := g.SubscribedApps(ctx, call)
	if err != nil {
		return metaError(ctx, op, call, err)
	}
	for _, app := range apps {
		if app.ID != ch.AppID {
			continue
		}
		var missing []string
		for _, f := range aicc.SubscribedFields {
			if !slices.Contains(app.Fields, f) {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			return NonRetryable(aicc.Errorf(aicc.EMETAERROR, "Meta lists app %s on Page %s without the webhook fields %s.",
				ch.AppID, in.PageID, strings.Join(missing, ", ")))
		}
		return nil
	}
	return NonRetryable(aicc.Errorf(aicc.EMETAERROR, "Meta does not list app %s as subscribed to Page %s.", ch.AppID, in.PageID))
}

// UnsubscribeApp removes the app's subscription to the Page (DELETE /{page-id}/subscribed_apps). Meta answers
// success when there is none, so it is idempotent. A Page the channel has not claimed is left to Meta as it is:
// Meta removes the subscription of the token's app, which this channel never made, and which may serve the
// channel that claimed the Page.
func (a *Activities) UnsubscribeApp(ctx context.Context, in PageInput) error {
	p, err := a.Channels.GetPage(ctx, in.TenantID, in.ChannelID, in.PageID)
	if err != nil {
		return metaError(ctx, "UnsubscribeApp", aicc.PageCall{PageID: in.PageID}, err)
	}
	if p.ClaimedAt.IsZero() {
		// The claim comes before the subscription: this channel never subscribed its app to the Page, and a
		// subscription of the app there is the channel's that claimed the Page.
		activity.GetLogger(ctx).Info("The channel never claimed the Page; Meta is not asked", "PageID", in.PageID)
		return nil
	}
	g, call, err := a.pageGraph(ctx, in)
	if err != nil {
		return metaError(ctx, "UnsubscribeApp", call, err)
	}
	return metaError(ctx, "UnsubscribeApp", call, g.UnsubscribeApp(ctx, call))
}

// SetPageStatusInput is the connection status to record for a Page of a tenant's channel.
type SetPageStatusInput struct {
	TenantID  string
	ChannelID string
	PageID    string
	Status    aicc.PageStatus
	Reason    string // the error code behind subscription_failed, "" otherwise
}

// SetPageStatus records the Page's connection status; the token health is left as it is. The write is an
// idempotent overwrite; a Page that no longer exists is an ApplicationError typed NOT_FOUND.
func (a *Activities) SetPageStatus(ctx context.Context, in SetPageStatusInput) error {
	return domainError(a.Channels.SetPageStatus(ctx, in.TenantID, in.ChannelID, in.PageID, in.Status, in.Reason, a.Now()))
}

// ClaimPage makes the channel the one channel of the Page; ConnectPage calls it once CheckPageToken has shown
// that the Page's token is that Page's, and never before: a Page ID is public, and a claim on the ID alone
// would let anyone lock its owner out. Another channel's claim is an ApplicationError typed
// PAGE_ALREADY_CONNECTED whose message says only that; a Page that is gone is NOT_FOUND, a channel being
// deleted CHANNEL_DELETING. Claiming twice changes nothing.
func (a *Activities) ClaimPage(ctx context.Context, in PageInput) error {
	err := a.Channels.ClaimPage(ctx, in.TenantID, in.ChannelID, in.PageID, a.Now())
	if aicc.ErrorCode(err) == aicc.ECONFLICT {
		return NonRetryable(err) // the channel has not claimed its app: an answer, whatever the retry policy
	}
	return domainError(err)
}

// RemovePage deletes the Page with its token. A Page that is already gone is a success, so it is idempotent.
func (a *Activities) RemovePage(ctx context.Context, in PageInput) error {
	err := a.Channels.RemovePage(ctx, in.TenantID, in.ChannelID, in.PageID)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		return nil
	}
	return domainError(err)
}

// CountSubscribedPagesInput names the channel whose subscribed Pages to count.
type CountSubscribedPagesInput struct {
	ChannelID string
}

// CountSubscribedPages counts the channel's Pages the app is subscribed to, which confirming requires.
func (a *Activities) CountSubscribedPages(ctx context.Context, in CountSubscribedPagesInput) (int, error) {
	n, err := a.Channels.CountPages(ctx, in.ChannelID, aicc.PageSubscribed)
	return n, domainError(err)
}

// pageGraph unseals the Page token and the channel's app secret and returns a Graph client that records the
// token's health after every call. On error, the returned PageCall names the Page and holds whatever secret was
// already unsealed, so that metaError can redact it.
func (a *Activities) pageGraph(ctx context.Context, in PageInput) (aicc.Graph, aicc.PageCall, error) {
	call := aicc.PageCall{PageID: in.PageID}
	if in.PageID == "" || in.ChannelID == "" {
		return nil, call, aicc.Errorf(aicc.EINVALID, "A Page and its channel are required.")
	}
	sealed, err := a.Channels.PageToken(ctx, in.TenantID, in.ChannelID, in.PageID)
	if err != nil {
		return nil, call, err
	}
	if call.AccessToken, err = a.Keyring.Open(sealed, aicc.PageTokenOwner(in.PageID)); err != nil {
		return nil, call, err
	}
	sealed, err = a.Channels.ChannelSecret(ctx, in.ChannelID, aicc.SecretAppSecret)
	if err != nil {
		return nil, call, err
	}
	if call.AppSecret, err = a.Keyring.Open(sealed, aicc.ChannelSecretOwner(in.ChannelID, aicc.SecretAppSecret)); err != nil {
		return nil, call, err
	}
	g, err := a.Graph.Graph(ctx)
	if err != nil {
		return nil, call, err
	}
	return aicc.TrackTokenHealth(g, a.Channels, in.TenantID, in.ChannelID, a.Now), call, nil
}

// metaError turns the error of a Graph activity into what the workflow sees (see the contract above), logs
// Meta's diagnostics, and redacts call's secrets from every text it returns or logs.
func metaError(ctx context.Context, op string, call aicc.PageCall, err error) error {
	if err == nil {
		return nil
	}
	redact := redactor(call)
	logger := activity.GetLogger(ctx)
	var e *aicc.Error
	if !errors.As(err, &e) {
		// No domain code: a database or a context that did not answer. Retried; the text is kept for the
		// operator, without the secrets and without the original error, which could quote them.
		logger.Warn("Page activity failed", "Op", op, "PageID", call.PageID, "Error", redact(err.Error()))
		return errors.New(redact(err.Error()))
	}
	msg := redact(e.Message)
	var ge *aicc.GraphError
	if errors.As(err, &ge) {
		logger.Warn("Graph call failed", "Op", op, "PageID", call.PageID, "Code", ge.Code,
			"HTTPStatus", ge.HTTPStatus, "GraphCode", ge.GraphCode, "Subcode", ge.Subcode, "Type", ge.Type,
			"FBTraceID", ge.FBTraceID, "GraphMessage", redact(ge.GraphMessage))
	}
	if metaRetryable(e.Code) {
		return temporal.NewApplicationError(msg, e.Code)
	}
	return refusal(msg, e.Code)
}

// metaRetryable reports whether a Graph call that failed with code may succeed when tried again: Meta rate
// limited it or could not be reached. Every other code is an answer.
func metaRetryable(code string) bool {
	switch code {
	case aicc.EMETARATELIMITED, aicc.EMETAUNAVAILABLE, aicc.EUNAVAILABLE:
		return true
	}
	return false
}

// redactor returns a function that removes call's token, app secret and appsecret_proof from a text.
func redactor(call aicc.PageCall) func(string) string {
	secrets := []string{call.AccessToken, call.AppSecret}
	if call.AccessToken != "" && call.AppSecret != "" {
		m := hmac.New(sha256.New, []byte(call.AppSecret))
		m.Write([]byte(call.AccessToken))
		secrets = append(secrets, hex.EncodeToString(m.Sum(nil)))
	}
	return func(s string) string {
		for _, secret := range secrets {
			if secret != "" {
				s = strings.ReplaceAll(s, secret, "[REDACTED]")
			}
		}
		return s
	}
}
