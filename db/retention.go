package db

import (
	"context"
	"strings"
	"time"
)

// PurgeInbox deletes up to limit inbox events that were delivered before deliveredBefore or became dead letters
// before deadBefore, and then, when fewer than limit were, webhook rejects received before deadBefore (kept as
// long as dead letters: both wait for someone to look at them), and returns how many it deleted in all; a zero
// time deletes nothing of its kind. A pending event (undelivered and not dead) is never deleted, however old:
// neither condition holds while both times are NULL, also for a dead letter retried while the purge runs.
//
// It is one bounded statement on both databases per table, DELETE … WHERE id IN (the first limit IDs of the
// delivered events, read through inbox_delivered_idx, then of the dead letters, read through inbox_dead_idx; of
// the rejects, through webhook_rejects_received_idx), so that a batch holds its locks briefly and costs what it
// deletes; the caller repeats it until it deletes fewer than limit, when nothing older is left in either table.
// Concurrent purges only find less to delete.
//
// Deleting delivered events is safe for delivery: inbox IDs are never reused (an identity on Postgres,
// AUTOINCREMENT on SQLite), so a conversation workflow, which remembers the IDs it applied, never mistakes a new
// event for one of them; and the dispatcher reads only pending events.
func (s *Store) PurgeInbox(ctx context.Context, deliveredBefore, deadBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var (
		conds, old []string
		args       []any
	)
	if !deliveredBefore.IsZero() {
		conds = append(conds, "delivered_at < ?")
		args = append(args, norm(deliveredBefore))
	}
	if !deadBefore.IsZero() {
		conds = append(conds, "dead_at < ?")
		args = append(args, norm(deadBefore))
	}
	if len(conds) == 0 {
		return 0, nil
	}
	for _, c := range conds {
		old = append(old, "SELECT id FROM inbox WHERE "+c)
	}
	// The conditions again on the row deleted: on Postgres a DELETE that waited for a row lock looks at the row
	// anew, but not at the IDs its subquery chose, so a dead letter that a retry made pending meanwhile would go.
	n, err := s.deleteOld(ctx, "inbox", "SELECT id FROM ("+strings.Join(old, " UNION ALL ")+") old LIMIT ?",
		"("+strings.Join(conds, " OR ")+")", append(append(args, limit), args...)...)
	if err != nil || n >= limit || deadBefore.IsZero() {
		return n, wrap(err, "purge inbox")
	}
	rejects, err := s.deleteOld(ctx, "webhook_rejects", "SELECT id FROM webhook_rejects WHERE received_at < ? LIMIT ?",
		"true", norm(deadBefore), limit-n)
	return n + rejects, wrap(err, "purge webhook rejects")
}

// deleteOld deletes the rows of table whose IDs the query old selects and which still meet cond, and returns how
// many.
func (s *Store) deleteOld(ctx context.Context, table, old, cond string, args ...any) (int, error) {
	res, err := s.db.NewRaw("DELETE FROM "+table+" WHERE id IN ("+old+") AND "+cond, args...).Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
