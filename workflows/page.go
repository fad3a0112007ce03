package workflows

import (
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// ConnectPage connects a Page the API has just stored (status connecting) to Meta: it checks the Page token with
// Graph, subscribes the channel's app to the Page's webhooks and reads the subscription back, and records the
// outcome on the Page. A token Meta refuses (META_TOKEN_INVALID, META_PERMISSION_DENIED) is not kept: the Page
// is removed and the result is token_invalid. Any other failure keeps the Page as subscription_failed with the
// error code as its reason. These are results, not workflow failures; the workflow fails only when the Page is
// gone (NOT_FOUND), the input is invalid, or it is cancelled.
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

// pageImpl is the state of one ConnectPage or DisconnectPage execution.
type pageImpl struct {
	in     activities.PageInput
	logger log.Logger
}

func (wf *pageImpl) setup(ctx workflow.Context, in PageInput) error {
	var problems []string
	if in.TenantID == "" {
		problems = append(problems, "tenantId is required")
	}
	if in.ChannelID == "" {
		problems = append(problems, "channelId is required")
	}
	if in.PageID == "" {
		problems = append(problems, "pageId is required")
	}
	if len(problems) > 0 {
		return businessError(aicc.EINVALID, "The Page input is invalid: %s.", strings.Join(problems, "; "))
	}
	wf.in = in
	wf.logger = log.With(workflow.GetLogger(ctx), "TenantID", in.TenantID, "ChannelID", in.ChannelID, "PageID", in.PageID)
	return nil
}

func (wf *pageImpl) connect(ctx workflow.Context) (ConnectPageResult, error) {
	var a *activities.Activities
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
		default:
			return businessError(code, "%s", msg)
		}
	}
	if err := wf.removePage(ctx); err != nil {
		return err
	}
	wf.logger.Info("The Page is disconnected")
	return nil
}

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
			return aicc.ENOTFOUND, appErr.Message(), businessError(aicc.ENOTFOUND, "The Page is no longer connected to the channel.")
		}
		return appErr.Type(), appErr.Message(), nil
	case errors.As(err, &timeout):
		wf.logger.Warn("A Meta call timed out", "Error", err)
		return aicc.EMETAUNAVAILABLE, "Meta did not answer in time; try again later.", nil
	}
	wf.logger.Warn("A Meta call failed", "Error", err)
	return aicc.EUNAVAILABLE, "Meta or the database did not answer; try again later.", nil
}

// metaCallAttempts bounds the attempts of a Meta call: an administrator waits for ConnectPage's answer, and
// a rate limit or an outage that outlasts them is better reported than waited out.
const metaCallAttempts = 5

// callMeta runs a Graph activity on the Page. Only a rate limit or Meta being unavailable is retried, with
// backoff and a bounded number of attempts; everything Meta refuses is an answer at once.
func (wf *pageImpl) callMeta(ctx workflow.Context, activity any) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    metaCallAttempts,
			NonRetryableErrorTypes: []string{
				aicc.EMETATOKENINVALID, aicc.EMETAPERMISSION, aicc.EMETAINVALIDPARAM, aicc.EMETAUSERUNAVAILABLE,
				aicc.EMETAERROR, aicc.ENOTFOUND, aicc.EINVALID, aicc.EINTERNAL, aicc.ECERTMISSING, aicc.ECERTEXPIRED,
			},
		},
	})
	return workflow.ExecuteActivity(ctx, activity, wf.in).Get(ctx, nil)
}

// setStatus records the Page's connection status.
func (wf *pageImpl) setStatus(ctx workflow.Context, status aicc.PageStatus, reason string) error {
	var a *activities.Activities
	in := activities.SetPageStatusInput{PageID: wf.in.PageID, Status: status, Reason: reason}
	err := workflow.ExecuteActivity(withDatabase(ctx), a.SetPageStatus, in).Get(ctx, nil)
	if applicationErrorType(err) == aicc.ENOTFOUND {
		return businessError(aicc.ENOTFOUND, "The Page is no longer connected to the channel.")
	}
	return err
}

// removePage removes the Page; one that is gone already counts as removed.
func (wf *pageImpl) removePage(ctx workflow.Context) error {
	var a *activities.Activities
	return workflow.ExecuteActivity(withDatabase(ctx), a.RemovePage, wf.in).Get(ctx, nil)
}

// withDatabase sets the options of a database write: the database may be down for a while and the writes are
// idempotent, so they are retried until it is back. Only a row that no longer exists, or a write the store
// refuses, ends the retries.
func withDatabase(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{aicc.ENOTFOUND, aicc.EINVALID},
		},
	})
}
