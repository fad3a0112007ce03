package db

import (
	"context"
	"strings"
	"time"
)

// PurgeInbox deletes up to limit inbox events that were delivered before deliveredBefore or became dead letters
// before deadBefore, and returns how many it deleted; a zero time deletes nothing of its kind. A pending event
// (undelivered and not dead) is never deleted, however old: neither condition holds while both times are NULL.
//
// It is one bounded statement on both databases, DELETE … WHERE id IN (the first limit IDs of the delivered
// events, read through inbox_delivered_idx, then of the dead letters, read through inbox_dead_idx), so that a
// batch holds its locks briefly and costs what it deletes; the caller repeats it until it deletes fewer than
// limit. Concurrent purges only find less to delete.
//
// Deleting delivered events is safe for delivery: inbox IDs are never reused (an identity on Postgres,
// AUTOINCREMENT on SQLite), so a conversation workflow, which remembers the IDs it applied, never mistakes a new
// event for one of them; and the dispatcher reads only pending events.
func (s *Store) PurgeInbox(ctx context.Context, deliveredBefore, deadBefore time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	var (
		old  []string
		args []any
	)
	if !deliveredBefore.IsZero() {
		old = append(old, "SELECT id FROM inbox WHERE delivered_at < ?")
		args = append(args, norm(deliveredBefore))
	}
	if !deadBefore.IsZero() {
		old = append(old, "SELECT id FROM inbox WHERE dead_at < ?")
		args = append(args, norm(deadBefore))
	}
	if len(old) == 0 {
		return 0, nil
	}
	res, err := s.db.NewRaw("DELETE FROM inbox WHERE id IN (SELECT id FROM ("+strings.Join(old, " UNION ALL ")+") old LIMIT ?)",
		append(args, limit)...).Exec(ctx)
	if err != nil {
		return 0, wrap(err, "purge inbox")
	}
	n, err := res.RowsAffected()
	return int(n), wrap(err, "purge inbox")
}
