package workflows

import (
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// ConnectPage connects a Page the API has stored to Meta: it records the Page as connecting (a reconnection
// starts from subscription_failed), checks the Page token with Graph (it must be this Page's), claims the Page
// for the channel, subscribes the channel's app to the Page's webhooks and reads the subscription back, and
// records the outcome on the Page. The claim comes only after Meta's confirmation: until then the Page claims
// nothing, so a Page ID typed by someone without its token locks no one out. A token Meta refuses
// (META_TOKEN_INVALID, META_PERMISSION_DENIED, or a token of another Page) is not kept: the Page is removed and
// the result is token_invalid. A Page another channel claimed first is removed too, and the result is
// already_connected. Any other failure keeps the Page as subscription_failed with the error code as its reason
// (unclaimed, when the token could not be checked). These are results, not workflow failures; the workflow
// fails only when the Page is gone (NOT_FOUND), the input is invalid, or it is cancelled.
func ConnectPage(ctx workflow.Context, in PageInput) (ConnectPageResult, error) {
	wf := new(pageImpl)
	if err := wf.setup(ctx, in); err != nil {
		return ConnectPageResult{}, err
	}
	return wf.connect(ctx)
}

// DisconnectPage unsubscribes the channel's app from the Page and removes the Page with its token. When Meta
// refuses the token (META_TOKEN_INVALID, META_PERMISSION_DENIED), the subscription cannot be removed with it:
// the workflow logs that and removes the Page anyway, since the administrator has no better token to offer.
// Other Meta failures fail the workflow with their code and keep the Page, so that removing it can be retried.
func DisconnectPage(ctx workflow.Context, in PageInput) error {
	wf := new(pageImpl)
	if err := wf.setup(ctx, in); err != nil {
		return err
	}
	return wf.disconnect(ctx)
}

// pageImpl is the state of one ConnectPage or DisconnectPage execution, or of one Page of a ChannelDelete.
type pageImpl struct {
	in     activities.PageInput
	logger log.Logger
	// metaRetry is the retry policy of the Meta calls.
	metaRetry *temporal.RetryPolicy
	// force removes the Page in spite of any refusal of Meta: a channel's deletion has no administrator to
	// fix a token or a permission, and must not stop at one Page.
	force bool
}

func (wf *pageImpl) setup(ctx workflow.Context, in PageInput) error {
	if err := invalidInput("Page", []field{{"tenantId", in.TenantID}, {"channelId", in.ChannelID}, {"pageId", in.PageID}}); err != nil {
		return err
	}
	wf.in = in
	wf.logger = log.With(workflow.GetLogger(ctx), "TenantID", in.TenantID, "ChannelID", in.ChannelID, "PageID", in.PageID)
	wf.metaRetry = metaRetry(10*time.Second, metaCallAttempts)
	return nil
}

// versionRecordConnecting is the change that made ConnectPage record connecting itself, so that the API no
// longer writes a Page's state; executions started before it skip that step.
const versionRecordConnecting = "record-connecting"

func (wf *pageImpl) connect(ctx workflow.Context) (ConnectPageResult, error) {
	var a *activities.Activities
	if workflow.GetVersion(ctx, versionRecordConnecting, workflow.DefaultVersion, 1) == 1 {
		if err := wf.setStatus(ctx, aicc.PageConnecting, ""); err != nil {
			return ConnectPageResult{}, err
		}
	}
	if err := wf.callMeta(ctx, a.CheckPageToken); err != nil {
		code, msg, err := wf.outcome(err)
		switch {
		case err != nil:
			return ConnectPageResult{}, err
		case code == aicc.EMETATOKENINVALID || code == aicc.EMETAPERMISSION:
			// An invalid token is a clear answer to the administrator, not a stored broken Page.
			if err := wf.removePage(ctx); err != nil {
				return ConnectPageResult{}, err
			}
			wf.logger.Info("Meta refused the Page token; the Page is removed", "Reason", code)
			return ConnectPageResult{Status: aicc.PageTokenInvalid, Reason: code, Message: msg}, nil
		}
		return wf.subscriptionFailed(ctx, code, msg)
	}
	if workflow.GetVersion(ctx, versionClaimPage, workflow.DefaultVersion, 1) == 1 {
		if res, err := wf.claim(ctx); err != nil || res.Status != "" {
			return res, err
		}
	}
	for _, step := range []any{a.SubscribeApp, a.VerifySubscription} {
		if err := wf.callMeta(ctx, step); err != nil {
			code, msg, err := wf.outcome(err)
			if err != nil {
				return ConnectPageResult{}, err
			}
			return wf.subscriptionFailed(ctx, code, msg)
		}
	}
	if err := wf.setStatus(ctx, aicc.PageSubscribed, ""); err != nil {
		return ConnectPageResult{}, err
	}
	wf.logger.Info("The app is subscribed to the Page")
	return ConnectPageResult{Status: aicc.PageSubscribed}, nil
}

// versionClaimPage is the change that made ConnectPage claim the Page once Meta confirmed its token, before
// subscribing; executions started before it skip the claim.
const versionClaimPage = "claim-page"

// claim claims the Page for the channel. When another channel claimed it first, the Page is removed and the
// result is already_connected, with the words of aicc.MsgPageConnected whoever that channel is; when the channel
// has not claimed its app, the result is subscription_failed; a zero result means the Page is claimed.
func (wf *pageImpl) claim(ctx workflow.Context) (ConnectPageResult, error) {
	var a *activities.Activities
	err := workflow.ExecuteActivity(withClaim(ctx), a.ClaimPage, wf.in).Get(ctx, nil)
	switch applicationErrorType(err) {
	case "":
		return ConnectPageResult{}, err
	case aicc.EPAGECONNECTED:
		if err := wf.removePage(ctx); err != nil {
			return ConnectPageResult{}, err
		}
		wf.logger.Info("Another channel has claimed the Page; the Page is removed")
		return ConnectPageResult{Status: aicc.PageAlreadyConnected, Reason: aicc.EPAGECONNECTED, Message: aicc.MsgPageConnected}, nil
	case aicc.ENOTFOUND:
		return ConnectPageResult{}, refuse(aicc.ENOTFOUND, "The Page is no longer connected to the channel.")
	case aicc.ECONFLICT:
		// The channel has not claimed its app: the administrator reconnects the Page once it has.
		return wf.subscriptionFailed(ctx, aicc.ECONFLICT, aicc.MsgAppNotClaimed)
	}
	return ConnectPageResult{}, err
}

// withClaim runs a claim: a database write retried like withDatabase's until the database answers, except
// that another channel's claim, and a channel that has not claimed its app, are answers.
func withClaim(ctx workflow.Context) workflow.Context {
	retry := *databaseRetry
	retry.NonRetryableErrorTypes = append(slices.Clone(retry.NonRetryableErrorTypes), aicc.EAPPCONNECTED, aicc.EPAGECONNECTED,
		aicc.ECONFLICT)
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second, RetryPolicy: &retry})
}

// subscriptionFailed records the Page as subscription_failed with code as its reason and returns that result.
func (wf *pageImpl) subscriptionFailed(ctx workflow.Context, code, msg string) (ConnectPageResult, error) {
	if err := wf.setStatus(ctx, aicc.PageSubscriptionFailed, code); err != nil {
		return ConnectPageResult{}, err
	}
	wf.logger.Warn("The app could not be subscribed to the Page", "Reason", code)
	return ConnectPageResult{Status: aicc.PageSubscriptionFailed, Reason: code, Message: msg}, nil
}

func (wf *pageImpl) disconnect(ctx workflow.Context) error {
	var a *activities.Activities
	if err := wf.callMeta(ctx, a.UnsubscribeApp); err != nil {
		code, msg, err := wf.outcome(err)
		switch {
		case err != nil && code != aicc.ENOTFOUND:
			return err
		case code == aicc.ENOTFOUND:
			// The Page, and its token, are gone already: a previous run removed it.
		case code == aicc.EMETATOKENINVALID || code == aicc.EMETAPERMISSION:
			wf.logger.Warn("Meta refused the Page token, so the app's subscription cannot be removed with it; "+
				"removing the Page anyway", "Reason", code)
		case wf.force && code == aicc.EINTERNAL &&
			workflow.GetVersion(ctx, versionForceNotOnInternal, workflow.DefaultVersion, 1) == 1:
			// Not Meta's answer but aicc's own failure (a token sealed under a master key this worker lacks):
			// the deletion stops, to be resumed once the operator mends it, rather than leave the subscription.
			return refuse(code, "%s", msg)
		case wf.force:
			wf.logger.Warn("The app's subscription could not be removed; removing the Page anyway", "Reason", code)
		default:
			return refuse(code, "%s", msg)
		}
	}
	if err := wf.removePage(ctx); err != nil {
		return err
	}
	wf.logger.Info("The Page is disconnected")
	return nil
}

// versionForceNotOnInternal is the change that made a deletion stop at an unsubscribe that failed with
// INTERNAL instead of removing the Page all the same; executions started before it remove the Page.
const versionForceNotOnInternal = "force-not-on-internal"

// outcome classifies the failure of a Meta activity into the domain code and message of a result. The third
// value is an error that must end the workflow instead: cancellation, or NOT_FOUND when the Page or its channel
// was removed meanwhile (its code is returned too). A failure without a domain code (a timeout, a database
// that did not answer through every attempt) becomes META_UNAVAILABLE or UNAVAILABLE: the administrator may
// try again.
func (wf *pageImpl) outcome(err error) (code, message string, fatal error) {
	if temporal.IsCanceledError(err) {
		return "", "", err
	}
	var appErr *temporal.ApplicationError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr) && aicc.IsCode(appErr.Type()):
		if appErr.Type() == aicc.ENOTFOUND {
			return aicc.ENOTFOUND, appErr.Message(), refuse(aicc.ENOTFOUND, "The Page is no longer connected to the channel.")
		}
		return appErr.Type(), appErr.Message(), nil
	case errors.As(err, &timeout):
		wf.logger.Warn("A Meta call timed out", "Error", err)
		return aicc.EMETAUNAVAILABLE, "Meta did not answer in time; try again later.", nil
	}
	wf.logger.Warn("A Meta call failed", "Error", err)
	return aicc.EUNAVAILABLE, "Meta or the database did not answer; try again later.", nil
}

// metaCallAttempts bounds the attempts of a Meta call that an administrator waits for: a rate limit or an
// outage that outlasts them is better reported than waited out.
const metaCallAttempts = 5

// metaRetry retries a Graph activity only while Meta is unavailable or rate limiting, with backoff up to
// maxInterval and at most attempts attempts (0: as long as it lasts); everything Meta refuses is an answer at
// once. A call an administrator waits for is bounded (metaCallAttempts, every 10 s at most); one nobody waits
// for, in a deletion, is not (every 5 min at most).
func metaRetry(maxInterval time.Duration, attempts int32) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        maxInterval,
		MaximumAttempts:        attempts,
		NonRetryableErrorTypes: metaRefusals,
	}
}

// metaRefusals are the errors of a Graph activity that no retry can change.
var metaRefusals = []string{
	aicc.EMETATOKENINVALID, aicc.EMETAPERMISSION, aicc.EMETAINVALIDPARAM, aicc.EMETAUSERUNAVAILABLE,
	aicc.EMETAERROR, aicc.EMETAAPPINVALID, aicc.ENOTFOUND, aicc.EINVALID, aicc.EINTERNAL, aicc.ECERTMISSING,
	aicc.ECERTEXPIRED,
}

// callMeta runs a Graph activity on the Page with the retry policy of wf.
func (wf *pageImpl) callMeta(ctx workflow.Context, activity any) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second, RetryPolicy: wf.metaRetry})
	return workflow.ExecuteActivity(ctx, activity, wf.in).Get(ctx, nil)
}

// setStatus records the Page's connection status.
func (wf *pageImpl) setStatus(ctx workflow.Context, status aicc.PageStatus, reason string) error {
	var a *activities.Activities
	in := activities.SetPageStatusInput{
		TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: wf.in.PageID, Status: status, Reason: reason,
	}
	err := workflow.ExecuteActivity(withDatabase(ctx), a.SetPageStatus, in).Get(ctx, nil)
	if applicationErrorType(err) == aicc.ENOTFOUND {
		return refuse(aicc.ENOTFOUND, "The Page is no longer connected to the channel.")
	}
	return err
}

// removePage removes the Page; one that is gone already counts as removed.
func (wf *pageImpl) removePage(ctx workflow.Context) error {
	var a *activities.Activities
	return workflow.ExecuteActivity(withDatabase(ctx), a.RemovePage, wf.in).Get(ctx, nil)
}
