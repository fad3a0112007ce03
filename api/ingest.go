package api

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// rejectReasons are every label value of aicc_webhook_signature_rejections_total, present from the start. None
// depends on whether the channel exists (see checkSignature).
var rejectReasons = []string{aicc.RejectMissing, aicc.RejectOtherAlgorithm, aicc.RejectMalformed, aicc.RejectMismatch}

// Results of webhook events, the label values of aicc_webhook_events_total. stored, duplicate, rejected_page
// and unstorable (the events of a body the database refuses, kept aside whole) count events; malformed counts
// the items kept aside as malformed, and a body that is not a notification at all as one; rejected_signature
// and oversized (a body with more updates than Meta sends in one POST, kept aside whole) count requests, whose
// events are not known.
const (
	eventStored            = "stored"
	eventDuplicate         = "duplicate"
	eventRejectedSignature = "rejected_signature"
	eventRejectedPage      = "rejected_page"
	eventMalformed         = "malformed"
	eventUnstorable        = "unstorable"
	eventOversized         = "oversized"
)

var eventResults = []string{eventStored, eventDuplicate, eventRejectedSignature, eventRejectedPage, eventMalformed,
	eventUnstorable, eventOversized}

// eventReceived is the body of the 200, as Meta's samples answer.
var eventReceived = []byte("EVENT_RECEIVED")

// receiveWebhook takes Meta's event notifications for a channel. It answers 200 only once every event of the
// body for one of the channel's Pages is in the inbox (or was already):
//   - a client that has failed too often (see WebhookLimits) is a 429 with an empty body, its body unread;
//   - the channel is looked up first: an unknown or disabled one is a 403 with an empty body, its body unread,
//     counted as a wrong signature (see refuseDecoy);
//   - the body is read whole, up to the body limit (413 beyond it), and the signature of the channel's
//     algorithm is checked over its raw bytes: a channel without a secret, a missing, malformed or
//     other-algorithm header and a wrong signature are a 403 with an empty body;
//   - a body that is not a Messenger notification at all is a 400;
//   - a body with more updates than Meta sends in one POST (aicc.MaxWebhookUpdates entries, or items in all) is
//     read no further than the first one past the limit, stores no event, and is kept aside whole and answered
//     200 (see keepOversizedBody);
//   - events for a Page that is not the channel's are left out (counted as rejected_page), the others
//     stored in one transaction, duplicates skipped (counted), with each malformed item (an item that is no
//     event, or of an entry without an id) kept aside for operators (GET /v1/webhook-rejects) and counted: a bad
//     item never costs the good ones, nor makes Meta send them again;
//   - when the database refuses the events whatever the retry (an aicc.UnstorableError), the body is kept aside
//     whole instead and answered 200, so that Meta stops sending it;
//   - when the channel cannot be looked up, or the events (or an unstorable body) cannot be stored, the answer
//     is 503 UNAVAILABLE, so that Meta sends them again.
//
// Neither the body nor anything of it is logged: it holds the customers' messages.
func (s *Server) receiveWebhook(c *gin.Context) error {
	start := time.Now()
	defer func() { s.metrics.webhookSeconds.Observe(time.Since(start).Seconds()) }()

	if s.Webhooks == nil {
		return aicc.Errorf(aicc.EUNAVAILABLE, "This server is not configured to receive webhooks.")
	}
	ctx, id, client := c.Request.Context(), c.Param("channelID"), webhookClient(c)
	if s.webhookThrottle.refused(client, s.now()) {
		s.throttleWebhook(c)
		return nil
	}
	ch, err := s.webhookChannels.get(ctx, id, time.Time{})
	if err != nil {
		return s.webhookUnavailable(c, "looking up the webhook's channel", err)
	}
	if !ch.takesEvents() {
		return s.refuseDecoy(c, ch, client)
	}
	body, err := readBody(c)
	if err != nil {
		return err
	}
	reason, matched := s.checkSignature(ch, c.Request.Header, body)
	if reason == aicc.RejectMismatch {
		// The secret may have been edited since the channel was cached.
		if ch, err = s.refreshWebhookChannel(c, ch); err != nil {
			return s.webhookUnavailable(c, "looking up the webhook's channel", err)
		}
		reason, matched = s.checkSignature(ch, c.Request.Header, body)
	}
	if reason != "" {
		s.refuseWebhook(c, client, reason)
		return nil
	}
	s.webhookThrottle.signed(client)
	s.metrics.signatureMatches[matched].Inc()

	batch, err := s.Webhooks.ParseBatch(body)
	if errors.Is(err, aicc.ErrTooManyUpdates) {
		if err := s.keepOversizedBody(c, ch, body); err != nil {
			return err
		}
		c.Data(http.StatusOK, "text/plain; charset=utf-8", eventReceived)
		return nil
	}
	if err != nil {
		if aicc.ErrorCode(err) == aicc.EINVALID {
			s.metrics.webhookEvents[eventMalformed].Inc()
			s.log(c).Info("webhook malformed", slog.String("channel_id", ch.id))
		}
		return err
	}
	kept, foreign := ownEvents(ch, batch.Events)
	if foreign > 0 {
		// A Page may have been added since the channel was cached.
		if ch, err = s.refreshWebhookChannel(c, ch); err != nil {
			return s.webhookUnavailable(c, "looking up the webhook's channel", err)
		}
		kept, foreign = ownEvents(ch, batch.Events)
	}
	if foreign > 0 {
		s.metrics.webhookEvents[eventRejectedPage].Add(float64(foreign))
		s.log(c).Warn("webhook events for Pages of other channels refused", slog.String("channel_id", ch.id),
			slog.Int("events", foreign))
	}
	if len(kept) > 0 || len(batch.Malformed) > 0 {
		now := s.now()
		for i := range kept {
			kept[i].TenantID, kept[i].ChannelID, kept[i].ReceivedAt = ch.tenantID, ch.id, now
		}
		for i := range batch.Malformed {
			batch.Malformed[i].TenantID, batch.Malformed[i].ChannelID, batch.Malformed[i].ReceivedAt = ch.tenantID, ch.id, now
		}
		dups, err := s.Store.StoreWebhook(ctx, kept, batch.Malformed)
		switch unstorable := asUnstorable(err); {
		case unstorable != nil:
			if err := s.keepUnstorableBody(c, ch, body, now, len(kept), unstorable); err != nil {
				return err
			}
		case err != nil:
			return s.webhookUnavailable(c, "storing webhook events", err)
		default:
			s.metrics.webhookEvents[eventStored].Add(float64(len(kept) - dups))
			s.metrics.webhookEvents[eventDuplicate].Add(float64(dups))
		}
		if len(batch.Malformed) > 0 {
			s.metrics.webhookEvents[eventMalformed].Add(float64(len(batch.Malformed)))
			s.log(c).Warn("webhook items kept aside as malformed", slog.String("channel_id", ch.id),
				slog.Int("items", len(batch.Malformed)))
		}
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", eventReceived)
	return nil
}

// Which app secret a signature matched, the label values of aicc_webhook_signature_matches_total: the current
// one, or the previous one during a rotation's overlap window.
const (
	secretCurrent  = "current"
	secretPrevious = "previous"
)

// checkSignature returns why a POST for ch with header and body is refused, "" when it is not, and then which
// secret its signature matched. The previous secret is tried only when the current one does not match.
//
// The reason never tells a channel that exists from one that does not (a decoy channel, see decoySecret):
// other_algorithm is given only when the other algorithm's header is the body's under the channel's own secret
// — the channel's algorithm setting is wrong — and a channel without a secret refuses as a mismatch does.
func (s *Server) checkSignature(ch *webhookChannel, header http.Header, body []byte) (reason, matched string) {
	reason = s.Webhooks.VerifySignature(ch.algorithm, ch.secrets, header, body)
	switch reason {
	case "":
		return "", secretCurrent
	case aicc.RejectOtherAlgorithm:
		if s.Webhooks.VerifySignature(otherAlgorithm(ch.algorithm), ch.secrets, header, body) != "" {
			return aicc.RejectMismatch, ""
		}
		return reason, ""
	case aicc.RejectNoSecret:
		s.Logger.Error("A channel has no app secret: every webhook POST for it is refused", slog.String("channel_id", ch.id))
		return aicc.RejectMismatch, ""
	}
	if previous := ch.previousSecret(s.now()); reason == aicc.RejectMismatch && previous != nil &&
		s.Webhooks.VerifySignature(ch.algorithm, previous, header, body) == "" {
		return "", secretPrevious
	}
	return reason, ""
}

// otherAlgorithm is the signature algorithm a channel of alg does not use.
func otherAlgorithm(alg aicc.SignatureAlgorithm) aicc.SignatureAlgorithm {
	if alg == aicc.AlgorithmSHA1 {
		return aicc.AlgorithmSHA256
	}
	return aicc.AlgorithmSHA1
}

// refreshWebhookChannel looks ch up again unless it was looked up less than webhookRefreshAfter ago.
func (s *Server) refreshWebhookChannel(c *gin.Context, ch *webhookChannel) (*webhookChannel, error) {
	return s.webhookChannels.get(c.Request.Context(), ch.id, s.now().Add(-webhookRefreshAfter))
}

// ownEvents returns the events for Pages of ch, and how many were for other Pages. A Page counts whatever
// its status: a token problem must never cost an inbound message.
func ownEvents(ch *webhookChannel, events []aicc.InboxEvent) (kept []aicc.InboxEvent, foreign int) {
	kept = make([]aicc.InboxEvent, 0, len(events))
	for _, e := range events {
		if ch.hasPage(e.PageID) {
			kept = append(kept, e)
		} else {
			foreign++
		}
	}
	return kept, foreign
}

// webhookUnavailable logs why a webhook could not be taken and answers 503 UNAVAILABLE: Meta retries, and an
// event is never acknowledged before it is stored.
func (s *Server) webhookUnavailable(c *gin.Context, what string, err error) error {
	s.log(c).Error(what, slog.String("channel_id", c.Param("channelID")), slog.String("error", err.Error()))
	return aicc.Errorf(aicc.EUNAVAILABLE, "The events could not be stored; Meta will send them again.")
}
