package db

import (
	"context"

	"github.com/aiccfb/aicc"
)

// DeadLetters lists the tenant's dead letters (events the dispatcher gave up on: dead_at set, never delivered),
// the latest first: by inbox ID descending, which is the order the events arrived in, read through
// inbox_dead_idx. Pages go by ID, so a retry or a new dead letter never shifts a page the client holds.
func (s *Store) DeadLetters(ctx context.Context, tenantID string, opt aicc.ListOptions) ([]aicc.InboxEvent, string, error) {
	limit, before, err := deadLetterPages.parse(opt)
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
	rows, next := cutByID(deadLetterPages, rows, limit, func(r inboxRow) int64 { return r.ID })
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
