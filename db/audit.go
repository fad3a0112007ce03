package db

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
)

// auditTxKey is the context key of the transaction Audited runs its change in.
type auditTxKey struct{}

// auditTx is the transaction of one Audited call, and whether a store method joined it.
type auditTx struct {
	tx     bun.Tx
	joined bool
}

// Audited runs change and appends e in one transaction. The change's store methods join it through the
// context (see conn and inTx); a change that joins none is refused, because its writes would have committed
// on their own, whatever became of the entry. The entry is e as the change leaves it, which may fill in what
// it learns (the channel of the resource it changed). A nil change appends e alone.
func (s *Store) Audited(ctx context.Context, e *aicc.AuditEntry, change func(ctx context.Context) error) error {
	created(&e.At)
	if err := e.Validate(); err != nil {
		return err
	}
	if _, ok := ctx.Value(auditTxKey{}).(*auditTx); ok {
		return errors.New("db: audited changes do not nest")
	}
	var r *auditRow
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if change != nil {
			at := &auditTx{tx: tx}
			if err := change(context.WithValue(ctx, auditTxKey{}, at)); err != nil {
				return err
			}
			if !at.joined {
				return errors.New("db: the audited change made no write in the audit transaction")
			}
		}
		r = newAuditRow(e)
		_, err := tx.NewInsert().Model(r).ExcludeColumn("id").Returning("id").Exec(ctx)
		return err
	})
	if err != nil {
		return wrap(err, "append audit entry")
	}
	e.ID = r.ID
	return nil
}

// conn is what a store method that joins Audited's transaction writes through: that transaction when ctx
// carries one, else the database.
func (s *Store) conn(ctx context.Context) bun.IDB {
	if at, ok := ctx.Value(auditTxKey{}).(*auditTx); ok {
		at.joined = true
		return at.tx
	}
	return s.db
}

// inTx runs fn in a transaction of its own, or, inside Audited, in a savepoint of Audited's transaction, so that
// a failed change rolls back alone and the caller sees its error as it would outside Audited.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return s.conn(ctx).RunInTx(ctx, nil, fn)
}

// ListAudit lists the entries of a tenant, of one of its channels, or of the system (f.TenantID empty), newest
// first by ID.
func (s *Store) ListAudit(ctx context.Context, f aicc.AuditFilter) ([]*aicc.AuditEntry, string, error) {
	limit := aicc.DefaultListLimit
	if f.Limit > 0 {
		limit = min(f.Limit, aicc.MaxListLimit)
	}
	var rows []*auditRow
	q := s.db.NewSelect().Model(&rows).Where("tenant_id = ?", f.TenantID)
	if f.ChannelID != "" {
		q = q.Where("channel_id = ?", f.ChannelID)
	}
	if f.Cursor != "" {
		after, err := auditCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("id < ?", after)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list audit")
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(rows[limit-1].ID, 10)))
	}
	return mapRows(rows, (*auditRow).domain), next, nil
}

// auditCursor decodes the cursor of an audit list: the ID of the last entry of the previous page.
func auditCursor(c string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, errCursor
	}
	id, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || id <= 0 {
		return 0, errCursor
	}
	return id, nil
}
