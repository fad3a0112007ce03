package db

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"

	"github.com/aiccfb/aicc"
)

// DeadLetters lists the tenant's dead letters (events the dispatcher gave up on: dead_at set, never delivered),
// the latest first: by inbox ID descending, which is the order the events arrived in, read through
// inbox_dead_idx. Pages go by ID, so a retry or a new dead letter never shifts a page the client holds.
func (s *Store) DeadLetters(ctx context.Context, tenantID string, opt aicc.ListOptions) ([]aicc.InboxEvent, string, error) {
	limit, before, err := deadLetterListing(opt)
	if err != nil {
		return nil, "", err
	}
	var rows []inboxRow
	q := s.db.NewSelect().Model(&rows).Where("tenant_id = ? AND dead_at IS NOT NULL", tenantID)
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list dead letters")
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = deadLetterCursor{ID: rows[limit-1].ID}.String()
	}
	return mapRows(rows, func(r inboxRow) aicc.InboxEvent { return r.domain() }), next, nil
}

// RetryDeadLetter makes the tenant's dead letter pending again, with no attempt counted and no error, in one
// UPDATE; the dispatcher then delivers it like a new event, in its conversation's order. ENOTFOUND when the
// tenant has no dead letter with this ID: an unknown event, another tenant's, one still pending or one
// delivered look alike. It joins Audited's transaction.
func (s *Store) RetryDeadLetter(ctx context.Context, tenantID string, id int64) (*aicc.InboxEvent, error) {
	r := new(inboxRow)
	err := s.conn(ctx).NewUpdate().Model(r).
		Set("dead_at = NULL").Set("attempts = 0").Set("last_error = ''").
		Where("id = ? AND tenant_id = ? AND dead_at IS NOT NULL", id, tenantID).
		Returning("*").Scan(ctx)
	if err != nil {
		return nil, wrap(found(err, "dead letter"), "retry dead letter")
	}
	e := r.domain()
	return &e, nil
}

// deadLetterCursor is the ID of the last dead letter of a page.
type deadLetterCursor struct {
	ID int64 `json:"d"`
}

func (c deadLetterCursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// deadLetterListing returns the page size and the ID the page starts below (0 for the first page) that opt
// asks for. A cursor of another list is refused, not read as this one's.
func deadLetterListing(opt aicc.ListOptions) (int, int64, error) {
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
	var c deadLetterCursor
	if err := dec.Decode(&c); err != nil || c.ID <= 0 {
		return 0, 0, errCursor
	}
	return limit, c.ID, nil
}
