package activities

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/ops"
)

// SendConversationMessageInput is a message of a conversation's workflow to the customer.
type SendConversationMessageInput struct {
	PageInput
	PSID string
	// OutboundID is unique per message, chosen by the workflow (deterministic): "<conversationID>/<seq>". The
	// message is sent at most once per OutboundID.
	OutboundID string
	Purpose    string // one of aicc.OutboundPurposes: robot, agent, notice, end, no_agent_notice
	Text       string
	Type       aicc.MessagingType
	Tag        string
}

// finishTimeout bounds the write of an attempt's outcome, which is made even when the activity's context has
// ended: the outcome of a call Meta answered must not be lost to a timeout that came just after.
const finishTimeout = 5 * time.Second

// SendConversationMessage sends the message through the Send API at most once per OutboundID, with
// aicc.OutboundMetadata(OutboundID) as its metadata, so that its echo is recognised as the service's own. The
// store records the message as "sending" right before the call, then "sent" with its MID:
//   - a retry that finds it sent returns the MID without calling Meta;
//   - one that finds it "sending" (the earlier attempt ended without an outcome: the worker died or the
//     activity timed out) marks it "ambiguous" and fails non-retryable with AMBIGUOUS_SEND, never sending a
//     second copy; so does an attempt whose call ends without Meta's answer (a timeout, a connection lost
//     after the request went out);
//   - Meta's refusals are non-retryable with their META_ code, and the message is "failed";
//   - Meta's rate limits and Meta being unavailable leave it "failed" too (nothing of it is at Meta) and are
//     retryable, after Meta's estimate of when the limit ends when it gave one (NextRetryDelay); the Page is
//     held for that long in this worker, so that its other messages wait without calling Meta.
//
// Calls are paced per Page by the Pacer before the message is claimed. The Page token and app secret are
// unsealed as for the other Graph activities, whose error contract it shares, and the token's health is
// recorded.
func (a *Activities) SendConversationMessage(ctx context.Context, in SendConversationMessageInput) (aicc.SendResult, error) {
	const op = "SendConversationMessage"
	res, result, err := a.sendConversationMessage(ctx, op, in)
	a.OutboundMetrics.count(in.Purpose, result)
	return res, err
}

// Results of a send, the result label of aicc_outbound_messages_total.
const (
	resultSent        = "sent"         // Meta took the message
	resultDuplicate   = "duplicate"    // an earlier attempt sent it: answered from the record
	resultAmbiguous   = "ambiguous"    // not known whether Meta took it; not sent again
	resultFailed      = "failed"       // refused, by Meta or before any call; not retried
	resultRateLimited = "rate_limited" // Meta's rate limit, or the Page's hold: retried
	resultRetried     = "retried"      // Meta or the database unavailable: retried
)

var sendResults = []string{resultSent, resultDuplicate, resultAmbiguous, resultFailed, resultRateLimited, resultRetried}

func (a *Activities) sendConversationMessage(ctx context.Context, op string, in SendConversationMessageInput) (aicc.SendResult, string, error) {
	msg := aicc.OutboundMessage{
		RecipientPSID: in.PSID, Text: in.Text, Type: in.Type, Tag: in.Tag, Metadata: aicc.OutboundMetadata(in.OutboundID),
	}
	rec := &aicc.OutboundRecord{
		ID: in.OutboundID, TenantID: in.TenantID, ChannelID: in.ChannelID, PageID: in.PageID, PSID: in.PSID,
		ConversationID: aicc.ConversationID(in.ChannelID, in.PageID, in.PSID), Purpose: in.Purpose, CreatedAt: a.Now(),
	}
	call := aicc.PageCall{PageID: in.PageID}
	if err := rec.Validate(); err != nil {
		return aicc.SendResult{}, resultFailed, metaError(ctx, op, call, err)
	}
	if err := msg.Validate(); err != nil {
		return aicc.SendResult{}, resultFailed, metaError(ctx, op, call, err)
	}
	if a.Outbound == nil {
		return aicc.SendResult{}, resultFailed, refusal("The worker keeps no record of outbound messages.", aicc.EINTERNAL)
	}

	g, call, err := a.pageGraph(ctx, in.PageInput)
	if err != nil {
		return aicc.SendResult{}, outcome(err), metaError(ctx, op, call, err)
	}
	if err := a.Pacer.Wait(ctx, in.PageID); err != nil {
		return aicc.SendResult{}, outcome(err), withRetryDelay(metaError(ctx, op, call, err), err)
	}

	existing, err := a.Outbound.BeginOutbound(ctx, rec)
	if err != nil {
		return aicc.SendResult{}, outcome(err), metaError(ctx, op, call, err)
	}
	if existing != nil {
		return a.answerFromRecord(ctx, op, in, existing)
	}

	res, err := g.SendMessage(ctx, call, msg)
	if err == nil {
		if res.RecipientID == "" {
			res.RecipientID = in.PSID
		}
		if ferr := a.finish(ctx, in.OutboundID, aicc.OutboundSent, res.MessageID, ""); ferr != nil {
			// The customer has the message: say so, even though the record could not tell a retry. There is
			// none to tell: the activity succeeds.
			activity.GetLogger(ctx).Warn("A sent message could not be recorded as sent", "Op", op,
				"OutboundID", in.OutboundID, "MID", res.MessageID, "Error", redactor(call)(ferr.Error()))
		}
		return res, resultSent, nil
	}
	if !sentMaybe(err) {
		// Meta answered, or the call never left: nothing of the message is at Meta, and a retry may send it.
		if ferr := a.finish(ctx, in.OutboundID, aicc.OutboundFailed, "", errText(err, call)); ferr != nil {
			// The record stays "sending": a retry takes it for an unknown outcome and does not send it. An
			// ambiguous message rather than a second copy.
			activity.GetLogger(ctx).Warn("A message Meta did not take could not be recorded as failed", "Op", op,
				"OutboundID", in.OutboundID, "Error", redactor(call)(ferr.Error()))
		}
		var ge *aicc.GraphError
		if errors.As(err, &ge) && ge.Code == aicc.EMETARATELIMITED && ge.RetryAfter > 0 {
			a.Pacer.Hold(in.PageID, ge.RetryAfter)
		}
		return aicc.SendResult{}, outcome(err), withRetryDelay(metaError(ctx, op, call, err), err)
	}
	// Meta may have taken the message: it is not sent again.
	_ = metaError(ctx, op, call, err) // logged, with Meta's detail
	text := errText(err, call)
	if ferr := a.finish(ctx, in.OutboundID, aicc.OutboundAmbiguous, "", text); ferr != nil {
		activity.GetLogger(ctx).Warn("An ambiguous send could not be recorded; the next attempt will find it "+
			"still sending and mark it", "Op", op, "OutboundID", in.OutboundID, "Error", redactor(call)(ferr.Error()))
	}
	return aicc.SendResult{}, resultAmbiguous, ambiguous()
}

// answerFromRecord answers an attempt that finds the message recorded already, without calling Meta.
func (a *Activities) answerFromRecord(ctx context.Context, op string, in SendConversationMessageInput, r *aicc.OutboundRecord) (aicc.SendResult, string, error) {
	logger := activity.GetLogger(ctx)
	switch r.Status {
	case aicc.OutboundSent:
		logger.Info("The message was sent by an earlier attempt", "Op", op, "OutboundID", in.OutboundID, "MID", r.MID)
		return aicc.SendResult{RecipientID: in.PSID, MessageID: r.MID}, resultDuplicate, nil
	case aicc.OutboundSending:
		// An earlier attempt claimed it and ended without an outcome, or still runs after its timeout.
		if err := a.finish(ctx, in.OutboundID, aicc.OutboundAmbiguous, "",
			aicc.EAMBIGUOUSSEND+": an earlier attempt ended without Meta's answer"); err != nil {
			return aicc.SendResult{}, resultRetried, err
		}
	}
	logger.Warn("The message may or may not have reached the customer; it is not sent again", "Op", op,
		"OutboundID", in.OutboundID, "Attempts", r.Attempts)
	return aicc.SendResult{}, resultAmbiguous, ambiguous()
}

// finish records an attempt's outcome, even once ctx has ended.
func (a *Activities) finish(ctx context.Context, id string, status aicc.OutboundStatus, mid, text string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	return a.Outbound.FinishOutbound(ctx, id, status, mid, text, a.Now())
}

// ambiguous is the non-retryable error of a message that may or may not have reached the customer.
func ambiguous() error {
	return refusal("Meta did not answer whether it took the message, so it is not sent again: the customer may "+
		"or may not have it.", aicc.EAMBIGUOUSSEND)
}

// sentMaybe reports whether a failed Send API call may have been carried out: it ended without Meta's answer,
// after the request may have left; or Meta took it (a 2xx) but its answer could not be read; or a 5xx came
// without Graph's error body, from a gateway between, which says nothing of what Meta did. A call Meta refused
// (an error body, a rate limit), one refused before it was made, and one whose connection was never set up
// (refused, not resolved, an untrusted certificate) were not.
func sentMaybe(err error) bool {
	var ge *aicc.GraphError
	if !errors.As(err, &ge) {
		return aicc.ErrorCode(err) == aicc.EINTERNAL // our own refusals (EINVALID, …) made no call
	}
	switch {
	case ge.HTTPStatus/100 == 2, ge.HTTPStatus >= 500 && ge.GraphCode == 0:
		return true
	case ge.HTTPStatus != 0 || ge.Err == nil:
		return false
	}
	var op *net.OpError
	var dns *net.DNSError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(ge.Err, &op) && op.Op == "dial", errors.As(ge.Err, &dns), errors.As(ge.Err, &cv), errors.As(ge.Err, &ua):
		return false
	}
	return true
}

// outcome is the metric result of an error that leaves the message unsent.
func outcome(err error) string {
	code := aicc.ErrorCode(err)
	switch {
	case code == aicc.EMETARATELIMITED:
		return resultRateLimited
	case code == aicc.EINTERNAL || metaRetryable(code):
		return resultRetried // a database or Meta that did not answer
	}
	return resultFailed
}

// errText is what the record keeps of an error: its code and safe message.
func errText(err error, call aicc.PageCall) string {
	var e *aicc.Error
	if errors.As(err, &e) {
		return redactor(call)(e.Code + ": " + e.Message)
	}
	return aicc.EINTERNAL
}

// withRetryDelay asks Temporal to retry appErr, the activity error of cause, no sooner than Meta said its
// rate limit lasts, when it said; a limit longer than maxRetryDelay makes appErr final.
func withRetryDelay(appErr, cause error) error {
	var ge *aicc.GraphError
	var ae *temporal.ApplicationError
	switch {
	case !errors.As(cause, &ge) || ge.RetryAfter <= 0 || !errors.As(appErr, &ae) || ae.NonRetryable():
		return appErr
	case ge.RetryAfter > maxRetryDelay:
		return refusal(ae.Message(), ae.Type())
	}
	return temporal.NewApplicationErrorWithOptions(ae.Message(), ae.Type(), temporal.ApplicationErrorOptions{
		NextRetryDelay: ge.RetryAfter,
	})
}

// maxRetryDelay is the longest rate limit a message waits out. Its conversation waits for the send, and Meta's
// estimates reach a day: a message under a longer limit fails now (an agent is told META_RATE_LIMITED, a
// robot's answer or a notice is not sent), and the Page stays held, so that its other messages fail alike
// without calling Meta.
const maxRetryDelay = time.Minute

// OutboundMetrics counts the messages the worker sends to customers. A nil *OutboundMetrics counts nothing.
type OutboundMetrics struct {
	messages *prometheus.CounterVec
}

// NewOutboundMetrics registers aicc_outbound_messages_total on reg.
func NewOutboundMetrics(reg prometheus.Registerer) *OutboundMetrics {
	m := &OutboundMetrics{messages: ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aicc_outbound_messages_total",
		Help: "Attempts to send a conversation's message to the customer, by purpose (robot, agent, notice, end, " +
			"no_agent_notice) and result: sent; duplicate (an earlier attempt sent it); ambiguous (Meta may have " +
			"it; not sent again); failed (refused, not retried); rate_limited and retried (tried again later).",
	}, []string{"purpose", "result"}))}
	for _, p := range aicc.OutboundPurposes {
		for _, r := range sendResults {
			m.messages.WithLabelValues(p, r)
		}
	}
	return m
}

// count counts one attempt; an unknown purpose (refused by the activity) is counted as "invalid".
func (m *OutboundMetrics) count(purpose, result string) {
	if m == nil {
		return
	}
	if !slices.Contains(aicc.OutboundPurposes, purpose) {
		purpose = "invalid"
	}
	m.messages.WithLabelValues(purpose, result).Inc()
}
