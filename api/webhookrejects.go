package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// webhookRejectJSON is a part of a webhook POST kept aside instead of the inbox: where it came from, why, and
// what Meta sent. It is the tenant's own data, shown to the tenant's tokens as the conversations' events are.
type webhookRejectJSON struct {
	ID         int64                  `json:"id"`
	ChannelID  string                 `json:"channelId"`
	Kind       aicc.WebhookRejectKind `json:"kind"`
	Location   string                 `json:"location,omitempty"`
	Reason     string                 `json:"reason"`
	ReceivedAt time.Time              `json:"receivedAt"`
	// Payload is the item or the body as JSON, when it is JSON in UTF-8, which anything Meta sends is; else
	// PayloadBase64 holds its bytes.
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadBase64 []byte          `json:"payloadBase64,omitempty"`
}

func toWebhookRejectJSON(r aicc.WebhookReject) webhookRejectJSON {
	out := webhookRejectJSON{
		ID: r.ID, ChannelID: r.ChannelID, Kind: r.Kind, Location: r.Location, Reason: r.Reason, ReceivedAt: r.ReceivedAt.UTC(),
	}
	if json.Valid(r.Payload) && utf8.Valid(r.Payload) {
		out.Payload = r.Payload
	} else {
		out.PayloadBase64 = r.Payload
	}
	return out
}

// listWebhookRejects lists the tenant's webhook rejects, of one channel with ?channelId=, the latest first.
func (s *Server) listWebhookRejects(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	items, next, err := s.Store.WebhookRejects(c.Request.Context(), principalOf(c).TenantID, c.Query("channelId"), opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toWebhookRejectJSON))
	return nil
}

// asUnstorable returns err as an *aicc.UnstorableError, or nil when it is none.
func asUnstorable(err error) *aicc.UnstorableError {
	var unstorable *aicc.UnstorableError
	if errors.As(err, &unstorable) {
		return unstorable
	}
	return nil
}

// keepOversizedBody keeps aside, whole, the body of a webhook POST for ch with more updates than Meta sends in
// one POST (aicc.ErrTooManyUpdates), of which no event is stored: Meta never sends such a body, so it comes from
// something else that holds the app secret (a replay tool, a proxy that merges POSTs), and whatever it is, a
// retry would bring the same body again. Storing its first updates would read items past the limit to keep the
// rest, and split one POST between the inbox and the rejects; kept whole, it is one row an operator can read
// (GET /v1/webhook-rejects) and replay in parts. Meta, or the sender, is answered 200 so that it stops sending
// it; when the body cannot be kept, the answer is 503, as for any store error.
func (s *Server) keepOversizedBody(c *gin.Context, ch *webhookChannel, body []byte) error {
	r := aicc.WebhookReject{
		TenantID: ch.tenantID, ChannelID: ch.id, Kind: aicc.OversizedBody, Reason: aicc.ErrTooManyUpdates.Error(),
		Payload: body, ReceivedAt: s.now(),
	}
	if _, err := s.Store.StoreWebhook(c.Request.Context(), nil, []aicc.WebhookReject{r}); err != nil {
		if cause := asUnstorable(err); cause != nil {
			err = cause // its class, not the driver's message
		}
		return s.webhookUnavailable(c, "keeping aside a webhook body with too many updates", err)
	}
	s.metrics.webhookEvents[eventOversized].Inc()
	s.log(c).Error("webhook body kept aside: more updates than Meta sends in one POST", slog.String("channel_id", ch.id),
		slog.Int("max_updates", aicc.MaxWebhookUpdates), slog.Int("bytes", len(body)))
	return nil
}

// keepUnstorableBody keeps aside, whole, the body of a webhook POST for ch whose events (events of them) the
// database refused with cause, which no retry of Meta's would change: Meta is answered 200 and stops sending
// it, and operators find it in GET /v1/webhook-rejects. Only the cause's class is logged, never the driver's
// message, which may quote the customer's text. When the body cannot be kept either, the answer is 503, as for
// any store error: Meta sends it again.
func (s *Server) keepUnstorableBody(c *gin.Context, ch *webhookChannel, body []byte, now time.Time, events int, cause *aicc.UnstorableError) error {
	r := aicc.WebhookReject{
		TenantID: ch.tenantID, ChannelID: ch.id, Kind: aicc.UnstorableBody, Reason: cause.Class, Payload: body, ReceivedAt: now,
	}
	if _, err := s.Store.StoreWebhook(c.Request.Context(), nil, []aicc.WebhookReject{r}); err != nil {
		s.log(c).Error("the database refuses a webhook body's events", slog.String("channel_id", ch.id),
			slog.String("class", cause.Class))
		if cause := asUnstorable(err); cause != nil {
			err = cause // its class, not the driver's message
		}
		return s.webhookUnavailable(c, "keeping aside a webhook body the database refuses", err)
	}
	s.metrics.webhookEvents[eventUnstorable].Add(float64(events))
	s.log(c).Error("webhook body kept aside: the database refuses its events", slog.String("channel_id", ch.id),
		slog.String("class", cause.Class), slog.Int("events", events))
	return nil
}
