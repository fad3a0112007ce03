package db

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/aiccfb/aicc"
)

// webhookRejectRow is a row of webhook_rejects: a part of a webhook POST kept aside instead of the inbox.
type webhookRejectRow struct {
	bun.BaseModel `bun:"table:webhook_rejects"`
	ID            int64 `bun:",pk,autoincrement"`
	TenantID      string
	ChannelID     string
	Kind          string
	Location      string
	Reason        string
	Payload       []byte
	ReceivedAt    time.Time
}

func (r webhookRejectRow) domain() aicc.WebhookReject {
	return aicc.WebhookReject{
		ID: r.ID, TenantID: r.TenantID, ChannelID: r.ChannelID, Kind: aicc.WebhookRejectKind(r.Kind),
		Location: r.Location, Reason: r.Reason, Payload: r.Payload, ReceivedAt: utc(r.ReceivedAt),
	}
}

// insertRejects inserts rejects with one statement and sets their ReceivedAt to received's (the time the
// database keeps of it). Strings lose their NUL characters, as the inbox's do; the payload keeps them.
func insertRejects(ctx context.Context, db bun.IDB, rejects []aicc.WebhookReject, received func(time.Time) time.Time) error {
	rows := make([]webhookRejectRow, len(rejects))
	for i := range rejects {
		r := &rejects[i]
		r.ReceivedAt = received(r.ReceivedAt)
		payload := r.Payload
		if payload == nil {
			payload = []byte{} // NOT NULL
		}
		rows[i] = webhookRejectRow{
			TenantID: noNUL(r.TenantID), ChannelID: noNUL(r.ChannelID), Kind: noNUL(string(r.Kind)),
			Location: noNUL(r.Location), Reason: noNUL(r.Reason), Payload: payload, ReceivedAt: r.ReceivedAt,
		}
	}
	_, err := db.NewInsert().Model(&rows).ExcludeColumn("id").Exec(ctx)
	return err
}

// WebhookRejects lists the tenant's webhook rejects, only channelID's unless it is "", the latest first: by ID
// descending, which is the order they were kept in, read through webhook_rejects_tenant_idx (or _channel_idx).
// Pages go by ID, as the dead letters' do, so a new reject never shifts a page the client holds. A channel of
// another tenant, or one that does not exist, has none.
func (s *Store) WebhookRejects(ctx context.Context, tenantID, channelID string, opt aicc.ListOptions) ([]aicc.WebhookReject, string, error) {
	limit, before, err := webhookRejectListing(opt)
	if err != nil {
		return nil, "", err
	}
	var rows []webhookRejectRow
	q := s.db.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID)
	if channelID != "" {
		q = q.Where("channel_id = ?", channelID)
	}
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list webhook rejects")
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = webhookRejectCursor{ID: rows[limit-1].ID}.String()
	}
	return mapRows(rows, webhookRejectRow.domain), next, nil
}

// webhookRejectCursor is the ID of the last reject of a page. Its key is not the dead letters' cursor's, so
// that neither list takes the other's cursor.
type webhookRejectCursor struct {
	ID int64 `json:"w"`
}

func (c webhookRejectCursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// webhookRejectListing returns the page size and the ID the page starts below (0 for the first page) that opt
// asks for. A cursor of another list is refused, not read as this one's.
func webhookRejectListing(opt aicc.ListOptions) (int, int64, error) {
	limit := aicc.DefaultListLimit
	if opt.Limit > 0 {
		limit = min(opt.Limit, aicc.MaxListLimit)
	}
	if opt.Cursor == "" {
		return limit, 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(opt.Cursor)
	if err != nil {
		return 0, 0, errCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c webhookRejectCursor
	if err := dec.Decode(&c); err != nil || c.ID <= 0 {
		return 0, 0, errCursor
	}
	return limit, c.ID, nil
}
