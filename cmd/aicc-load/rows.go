package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
)

// rowsBaseline is the floor of durable ingest of the rows aicc stores: a Gin handler with no middleware, no
// signature check, no channel lookup, no Page filter, no metrics and no log, which decodes the body into just
// what an inbox row needs and stores the rows with one statement, store.StoreEvents (on Postgres one prepared
// INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING RETURNING), into the same inbox table through the same
// pool as aicc. Its rows carry a tenant and a channel of their own and are deleted after the run.
type rowsBaseline struct {
	*server
	store   *db.Store
	tenant  string
	channel string
}

// startRowsBaseline serves the rows baseline of run runID over store.
func startRowsBaseline(store *db.Store, runID string) (*rowsBaseline, error) {
	b := &rowsBaseline{store: store, tenant: "load-baseline-" + runID, channel: "load-baseline-rows-" + runID}
	r := gin.New()
	r.POST("/baseline-rows", func(c *gin.Context) {
		body, ok := readBaselineBody(c)
		if !ok {
			return
		}
		events, err := inboxRows(body, b.tenant, b.channel, time.Now())
		if err != nil {
			c.Status(http.StatusBadRequest)
			return
		}
		if _, err := store.StoreEvents(c.Request.Context(), events); err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.String(http.StatusOK, "EVENT_RECEIVED")
	})
	s, base, err := serve(r)
	if err != nil {
		return nil, err
	}
	s.target = target{name: "baseline-rows", url: base + "/baseline-rows", channel: b.channel}
	b.server = s
	return b, nil
}

// Close stops the handler and deletes the baseline's rows from the inbox.
func (b *rowsBaseline) Close(ctx context.Context) error {
	err := b.server.Close()
	_, derr := b.store.DB().NewDelete().Table("inbox").Where("channel_id = ?", b.channel).Exec(context.WithoutCancel(ctx))
	if derr != nil {
		err = errors.Join(err, fmt.Errorf("baseline-rows: delete rows: %w", derr))
	}
	return err
}

// rowsEnvelope and rowsItem are the rows baseline's minimal view of a webhook body: the fields an inbox row of
// a message needs, nothing else.
type rowsEnvelope struct {
	Entry []struct {
		ID        string            `json:"id"`
		Messaging []json.RawMessage `json:"messaging"`
	} `json:"entry"`
}

type rowsItem struct {
	Sender struct {
		ID string `json:"id"`
	} `json:"sender"`
	Recipient struct {
		ID string `json:"id"`
	} `json:"recipient"`
	Timestamp int64 `json:"timestamp"`
	Message   struct {
		MID    string `json:"mid"`
		Text   string `json:"text"`
		IsEcho bool   `json:"is_echo"`
	} `json:"message"`
}

// inboxRows decodes body into the inbox rows aicc stores for it, under tenant and channel, received at now:
// one per messaging item, keyed as meta.DedupKey keys messages ("mid|{page}|{mid}"), the item's bytes as
// payload. It handles messages and echoes only, which is all the generator sends; anything without a mid is
// an error.
func inboxRows(body []byte, tenant, channel string, now time.Time) ([]aicc.InboxEvent, error) {
	var env rowsEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	var events []aicc.InboxEvent
	for _, entry := range env.Entry {
		if entry.ID == "" {
			return nil, errors.New("entry without id")
		}
		for _, raw := range entry.Messaging {
			var it rowsItem
			if err := json.Unmarshal(raw, &it); err != nil {
				return nil, err
			}
			if it.Message.MID == "" {
				return nil, errors.New("item without message.mid")
			}
			e := aicc.InboxEvent{
				TenantID: tenant, ChannelID: channel, PageID: entry.ID, PSID: it.Sender.ID, Kind: aicc.EventMessage,
				MID: it.Message.MID, Timestamp: it.Timestamp, DedupKey: "mid|" + entry.ID + "|" + it.Message.MID,
				Text: it.Message.Text, Payload: raw, ReceivedAt: now,
			}
			if it.Message.IsEcho {
				e.Kind, e.PSID = aicc.EventEcho, it.Recipient.ID
			}
			events = append(events, e)
		}
	}
	return events, nil
}
