package db

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
)

// StoreEvents inserts the events with one statement, INSERT … ON CONFLICT (page_id, dedup_key) DO NOTHING,
// which is one transaction and one round trip: either every new event is stored or none is. It returns how
// many events were duplicates, of events stored earlier or of an earlier event of the same batch; a batch
// never fails for holding the same event twice.
//
// The events are updated in place: a zero ReceivedAt is set to now and normalised as the database keeps it,
// and each stored event gets its ID; a duplicate gets ID 0. DeliveredAt is ignored: a new event is
// undelivered. NUL characters are dropped from the stored strings (the payload keeps them). Any error means
// nothing was stored (an empty DedupKey is refused by the database and fails the whole batch); the caller may
// retry the batch as a whole, unless the error is an *aicc.UnstorableError (see unstorable): the database
// refuses the values themselves, and would again.
func (s *Store) StoreEvents(ctx context.Context, events []aicc.InboxEvent) (duplicates int, err error) {
	return s.StoreWebhook(ctx, events, nil)
}

// StoreWebhook stores the events as StoreEvents does and keeps the rejects in webhook_rejects, in one
// transaction: either all of it is stored or none. Without rejects it is StoreEvents' one statement (on SQLite up
// to sqliteInsertRows events). The rejects'
// ReceivedAt is updated in place like the events': now when zero, as the database keeps it.
func (s *Store) StoreWebhook(ctx context.Context, events []aicc.InboxEvent, rejects []aicc.WebhookReject) (duplicates int, err error) {
	if len(events) == 0 && len(rejects) == 0 {
		return 0, nil
	}
	var now time.Time
	received := func(t time.Time) time.Time {
		if t.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			t = now
		}
		return norm(t)
	}
	rows := make([]inboxRow, len(events))
	for i := range events {
		e := &events[i]
		e.ReceivedAt = received(e.ReceivedAt)
		rows[i] = newInboxRow(e)
	}
	var stored []storedEvent
	if len(rejects) == 0 && len(rows) <= sqliteInsertRows {
		stored, err = s.insertEvents(ctx, s.db.DB, rows)
	} else {
		err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			var err error
			if stored, err = s.insertEvents(ctx, tx.Tx, rows); err != nil {
				return err
			}
			if len(rejects) == 0 {
				return nil
			}
			return s.insertRejects(ctx, tx, rejects, received)
		})
	}
	if err != nil {
		return 0, storeError(err, "store events")
	}
	// RETURNING names the rows it inserted, in no promised order; the first event of each key is the one
	// that was inserted, the others of the batch conflicted with it.
	type key struct{ page, dedup string }
	ids := make(map[key]int64, len(stored))
	for _, r := range stored {
		ids[key{r.PageID, r.DedupKey}] = r.ID
	}
	for i := range events {
		k := key{rows[i].PageID, rows[i].DedupKey}
		events[i].ID = ids[k]
		delete(ids, k)
	}
	return len(events) - len(stored), nil
}

// insertEvents inserts the rows of new events through raw, a connection or a transaction without Bun, and
// returns the ones it inserted.
func (s *Store) insertEvents(ctx context.Context, raw queryer, rows []inboxRow) ([]storedEvent, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	if s.dialect == Postgres {
		return insertEventsPostgres(ctx, raw, rows)
	}
	// modernc's driver watches a cancellable context with a goroutine of its own for each statement, which cost a
	// webhook POST of 1000 events 8 to 15 ms more (docs/benchmarks.md, "Validation", Fix 9). Each statement is
	// short (sqliteInsertRows events), so ctx is looked at between them instead.
	live := ctx
	ctx = context.WithoutCancel(ctx)
	var (
		stored []storedEvent
		full   *sql.Stmt // the statement of a whole chunk, parsed once for all the whole chunks of rows
	)
	for chunk := range slices.Chunk(rows, sqliteInsertRows) {
		if err := live.Err(); err != nil {
			return nil, err
		}
		query, args := s.sqliteInsertEvents(chunk)
		var err error
		if full == nil && len(chunk) == sqliteInsertRows && len(rows) > sqliteInsertRows {
			if full, err = raw.PrepareContext(ctx, query); err != nil {
				return nil, err
			}
			defer full.Close()
		}
		var res *sql.Rows
		if full != nil && len(chunk) == sqliteInsertRows {
			res, err = full.QueryContext(ctx, args...)
		} else {
			res, err = raw.QueryContext(ctx, query, args...)
		}
		more, err := scanStoredEvents(res, err)
		if err != nil {
			return nil, err
		}
		stored = append(stored, more...)
	}
	return stored, nil
}

// sqliteInsertRows is how many events one INSERT takes on SQLite, 14 parameters each: modernc's driver looks
// each parameter up among all of a statement's arguments, so binding n of them takes n²/2 steps (12,000, for
// a webhook POST's 1000 events, cost 195 ms), and each step took 1 to 15 ns from one build to the next; a
// statement also has a cost of its own. 16 rows, 224 parameters, keep both to a few ms for 1000 events
// (docs/benchmarks.md, "Validation"). StoreWebhook runs a batch of more in a transaction.
const sqliteInsertRows = 16

// sqliteInsertEvents is StoreEvents' insert of rows on SQLite, with its arguments: one statement with every
// value bound as a parameter. Bun would write the values into the SQL text, the payloads in hex, which SQLite
// then parses back: for 1000 events of 1 KiB that text is 3 MB, and writing and parsing it cost more than
// storing the rows (measured in docs/benchmarks.md, "Validation").
func (s *Store) sqliteInsertEvents(rows []inboxRow) (string, []any) {
	return sqliteInsert(sqliteInsertEventsHead, " ON CONFLICT (page_id, dedup_key) DO NOTHING RETURNING id, page_id, dedup_key",
		len(rows), func(i int) []any {
			r := &rows[i]
			return []any{r.TenantID, r.ChannelID, r.PageID, r.PSID, r.Kind, r.MID, r.Watermark, r.TS, r.DedupKey,
				r.Text, int64(r.TextOffset), int64(r.TextLength), r.Payload, s.sqliteTime(r.ReceivedAt)}
		})
}

// scanStoredEvents reads the events an insert's RETURNING id, page_id, dedup_key gives back: those it stored.
func scanStoredEvents(res *sql.Rows, err error) ([]storedEvent, error) {
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var stored []storedEvent
	for res.Next() {
		var e storedEvent
		if err := res.Scan(&e.ID, &e.PageID, &e.DedupKey); err != nil {
			return nil, err
		}
		stored = append(stored, e)
	}
	return stored, res.Err()
}

// sqliteInsert is the statement head, then n rows of values (row i's from values(i), each bound as a
// parameter), then tail, with its arguments: a multi-row INSERT as insertEventsSQLite and insertRejects run it.
func sqliteInsert(head, tail string, n int, values func(i int) []any) (string, []any) {
	var q strings.Builder
	q.WriteString(head)
	var args []any
	var placeholders string // "(?,?,…)", one ? per value of a row
	for i := range n {
		row := values(i)
		if i == 0 {
			placeholders = "(?" + strings.Repeat(",?", len(row)-1) + ")"
			args = make([]any, 0, n*len(row))
		} else {
			q.WriteByte(',')
		}
		q.WriteString(placeholders)
		args = append(args, row...)
	}
	q.WriteString(tail)
	return q.String(), args
}

// sqliteTime is t as Bun writes a time for SQLite ('2006-01-02 15:04:05.999999-07:00', without the quotes), so
// that a row bound by sqliteInsert compares and sorts as one Bun wrote.
func (s *Store) sqliteTime(t time.Time) string {
	quoted := s.db.Dialect().AppendTime(nil, t)
	return string(quoted[1 : len(quoted)-1])
}

const sqliteInsertEventsHead = `INSERT INTO inbox
	(tenant_id, channel_id, page_id, psid, kind, mid, watermark, ts, dedup_key, text, text_offset, text_length, payload,
	received_at) VALUES `

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// storedEvent is what the insert of StoreEvents returns of each row it inserted.
type storedEvent struct {
	ID       int64
	PageID   string
	DedupKey string
}

// insertEventsPostgres is StoreEvents' insert on Postgres. It is the hot path of webhook ingest, so it is
// one constant statement with the batch as array parameters, prepared once per connection: Bun would write
// every value into the SQL text, which Postgres then parses and plans anew for each POST (measured: the
// prepared form runs 1.6 times as fast; see docs/benchmarks.md).
func insertEventsPostgres(ctx context.Context, db queryer, rows []inboxRow) ([]storedEvent, error) {
	n := len(rows)
	tenant, channel, page, psid, kind, mid, dedup, text := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	watermark, ts, payload, received := make([]int64, n), make([]int64, n), make([][]byte, n), make([]time.Time, n)
	textOffset, textLength := make([]int32, n), make([]int32, n)
	for i, r := range rows {
		tenant[i], channel[i], page[i], psid[i], kind[i], mid[i] = r.TenantID, r.ChannelID, r.PageID, r.PSID, r.Kind, r.MID
		dedup[i], text[i], watermark[i], ts[i], payload[i], received[i] = r.DedupKey, r.Text, r.Watermark, r.TS, r.Payload, r.ReceivedAt
		textOffset[i], textLength[i] = int32(r.TextOffset), int32(r.TextLength)
	}
	// The database/sql layer of pgx reads a leading QueryExecMode argument as the mode of this one query;
	// the pool's default (simple protocol, which suits Bun's inlined SQL) stays for everything else.
	return scanStoredEvents(db.QueryContext(ctx, pgInsertEvents, pgx.QueryExecModeCacheStatement,
		tenant, channel, page, psid, kind, mid, watermark, ts, dedup, text, textOffset, textLength, payload, received))
}

const pgInsertEvents = `INSERT INTO inbox
	(tenant_id, channel_id, page_id, psid, kind, mid, watermark, ts, dedup_key, text, text_offset, text_length, payload,
	received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
	$8::bigint[], $9::text[], $10::text[], $11::integer[], $12::integer[], $13::bytea[], $14::timestamptz[])
ON CONFLICT (page_id, dedup_key) DO NOTHING
RETURNING id, page_id, dedup_key`

// ClaimConversations leases to owner up to limit conversations that have pending events and no running lease,
// and returns up to perConversation pending events of each, grouped by conversation, by Meta timestamp then ID.
//
// A lease is a row of inbox_leases, taken with one INSERT … ON CONFLICT DO UPDATE … WHERE the lease is over:
// the database decides, on its own clock, which claimer gets a conversation. On Postgres a second claimer of the
// same conversation waits for the first one's transaction to commit and then finds the lease running, so two
// claimers never both get it; SQLite runs one writer at a time. The candidates are the tenants' conversations
// with pending events, the tenants in turn and each tenant's by the arrival (inbox ID) of its oldest pending
// event; on Postgres each tenant's candidates come from its first claimScanFactor×limit pending events, so a
// claim reads a bounded part of a backlog however large it grows.
func (s *Store) ClaimConversations(ctx context.Context, owner string, limit, perConversation int, lease time.Duration) ([]aicc.InboxEvent, error) {
	if limit <= 0 || perConversation <= 0 {
		return nil, nil
	}
	leaseMS := lease.Milliseconds()
	candidates, events, args := sqliteCandidates, sqliteClaimedEvents, []any{limit, owner, leaseMS, leaseMS}
	if s.dialect == Postgres {
		candidates, events, args = pgCandidates, pgClaimedEvents, append([]any{claimScanFactor * limit}, args...)
	}
	// One transaction: a claim whose events cannot be read takes no lease.
	var rows []inboxRow
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var leased []aicc.ConversationKey
		if err := tx.NewRaw(fmt.Sprintf(claimLeases, s.nowMS(), candidates), args...).Scan(ctx, &leased); err != nil {
			return err
		}
		if len(leased) == 0 {
			return nil
		}
		return tx.NewRaw(events, bun.Safe(inboxColumns), conversationValues(leased), perConversation).Scan(ctx, &rows)
	})
	if err != nil {
		return nil, wrap(err, "claim conversations")
	}
	return mapRows(rows, func(r inboxRow) aicc.InboxEvent { return r.domain() }), nil
}

// pgClaimedEvents reads the first perConversation (?2) pending events of each leased conversation (?1) in Meta
// timestamp order, each conversation's from inbox_conversation_idx. Its pending condition is written so that no
// plan can take inbox_pending_idx instead: with statistics taken while the inbox was delivered, as an inbox
// that keeps up is, Postgres expects one pending event and would compare every pending event with every leased
// conversation (75 ms for a claim of 64 at 5,000 pending, 750 ms at 50,000; 1.3 and 2.7 ms this way).
const pgClaimedEvents = `SELECT ?0 FROM (?1) AS k (c, p, s) CROSS JOIN LATERAL (
	SELECT i.* FROM inbox i WHERE i.channel_id = k.c AND i.page_id = k.p AND i.psid = k.s
		AND ` + pendingUnindexed + ` ORDER BY i.ts, i.id LIMIT ?2
) e ORDER BY channel_id, page_id, psid, ts, id`

// sqliteClaimedEvents is pgClaimedEvents for SQLite, which has no LATERAL: it numbers each conversation's
// pending events.
const sqliteClaimedEvents = `SELECT ?0 FROM (
	SELECT i.*, row_number() OVER (PARTITION BY i.channel_id, i.page_id, i.psid ORDER BY i.ts, i.id) AS n
	FROM inbox i WHERE (i.channel_id, i.page_id, i.psid) IN (?1) AND i.delivered_at IS NULL AND i.dead_at IS NULL
) e WHERE n <= ?2 ORDER BY channel_id, page_id, psid, ts, id`

// pendingUnindexed is the condition that an event is pending (undelivered, not a dead letter) in a form that
// inbox_pending_idx cannot serve, for statements that find their events by another key.
const pendingUnindexed = "COALESCE(delivered_at, dead_at) IS NULL"

// claimScanFactor bounds, on Postgres, how many of each tenant's pending events a claim of limit conversations
// looks at: claimScanFactor×limit.
const claimScanFactor = 4

// inboxColumns are the columns of inboxRow.
const inboxColumns = "id, tenant_id, channel_id, page_id, psid, kind, mid, watermark, ts, dedup_key, text, text_offset, " +
	"text_length, payload, received_at, delivered_at, attempts, last_error, dead_at"

// The database's clock, in ms since the epoch.
const (
	pgNowMS     = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
	sqliteNowMS = "CAST(unixepoch('subsec') * 1000 AS INTEGER)"
)

// claimLeases takes the leases of a claim; %[1]s is the clock, %[2]s defines the candidates: (tenant_id,
// channel_id, page_id, psid, first) of conversations with pending events and no running lease, first their oldest
// pending event's ID. Its arguments are those of the candidates, then limit, owner, the lease in ms twice.
const claimLeases = `WITH RECURSIVE clock AS (SELECT %[1]s AS now_ms),
%[2]s,
chosen AS (
	SELECT tenant_id, channel_id, page_id, psid FROM (
		SELECT c.*, row_number() OVER (PARTITION BY tenant_id ORDER BY first) AS turn FROM candidates c
	) ranked ORDER BY turn, first LIMIT ?
)
INSERT INTO inbox_leases AS l (channel_id, page_id, psid, tenant_id, owner, until_ms)
SELECT c.channel_id, c.page_id, c.psid, c.tenant_id, ?, clock.now_ms + ? FROM chosen c, clock WHERE true
ORDER BY c.channel_id, c.page_id, c.psid
ON CONFLICT (channel_id, page_id, psid) DO UPDATE
	SET tenant_id = excluded.tenant_id, owner = excluded.owner, until_ms = excluded.until_ms
	WHERE l.until_ms <= excluded.until_ms - ?
RETURNING channel_id, page_id, psid`

// notLeased is the condition that the conversation of inbox row i has no running lease.
const notLeased = `NOT EXISTS (SELECT 1 FROM inbox_leases r, clock
	WHERE r.channel_id = i.channel_id AND r.page_id = i.page_id AND r.psid = i.psid AND r.until_ms > clock.now_ms)`

// pgCandidates finds the tenants with pending events by skipping through inbox_pending_idx (one index probe
// per tenant), then reads each one's first pending events through the same index.
const pgCandidates = `tenants_pending AS (
	(SELECT tenant_id FROM inbox WHERE delivered_at IS NULL AND dead_at IS NULL ORDER BY tenant_id LIMIT 1)
	UNION ALL
	SELECT (SELECT i.tenant_id FROM inbox i WHERE i.delivered_at IS NULL AND i.dead_at IS NULL
		AND i.tenant_id > t.tenant_id ORDER BY i.tenant_id LIMIT 1)
	FROM tenants_pending t WHERE t.tenant_id IS NOT NULL
),
candidates AS (
	SELECT e.tenant_id, e.channel_id, e.page_id, e.psid, min(e.id) AS first
	FROM tenants_pending t CROSS JOIN LATERAL (
		SELECT i.tenant_id, i.channel_id, i.page_id, i.psid, i.id FROM inbox i
		WHERE i.tenant_id = t.tenant_id AND i.delivered_at IS NULL AND i.dead_at IS NULL AND ` + notLeased + `
		ORDER BY i.id LIMIT ?
	) e GROUP BY e.tenant_id, e.channel_id, e.page_id, e.psid
)`

// sqliteCandidates reads every pending event: SQLite has no LATERAL, and holds a developer's inbox.
const sqliteCandidates = `candidates AS (
	SELECT i.tenant_id, i.channel_id, i.page_id, i.psid, min(i.id) AS first FROM inbox i
	WHERE i.delivered_at IS NULL AND i.dead_at IS NULL AND ` + notLeased + `
	GROUP BY i.tenant_id, i.channel_id, i.page_id, i.psid
)`

// conversationValues is the SQL list of the conversations' keys, for (channel_id, page_id, psid) IN (…).
func conversationValues(convs []aicc.ConversationKey) any {
	args := make([]any, 0, 3*len(convs))
	for _, c := range convs {
		args = append(args, c.ChannelID, c.PageID, c.PSID)
	}
	return bun.SafeQuery("VALUES "+strings.Repeat("(?, ?, ?), ", len(convs)-1)+"(?, ?, ?)", args...)
}

// ExtendLeases renews, for lease from now on the database's clock, the leases owner still holds of convs.
func (s *Store) ExtendLeases(ctx context.Context, owner string, convs []aicc.ConversationKey, lease time.Duration) (int, error) {
	if len(convs) == 0 {
		return 0, nil
	}
	res, err := s.db.NewRaw("UPDATE inbox_leases SET until_ms = ? + ? WHERE owner = ? AND (channel_id, page_id, psid) IN (?)",
		bun.Safe(s.nowMS()), lease.Milliseconds(), owner, conversationValues(convs)).Exec(ctx)
	if err != nil {
		return 0, wrap(err, "extend leases")
	}
	n, err := res.RowsAffected()
	return int(n), wrap(err, "extend leases")
}

// nowMS is the SQL of the database's clock in ms.
func (s *Store) nowMS() string {
	if s.dialect == Postgres {
		return pgNowMS
	}
	return sqliteNowMS
}

// MarkDelivered records, in one transaction, that the events were delivered at at (now when zero) and releases
// owner's leases of the conversations in release. An event delivered already keeps its first delivery time; one
// that another dispatcher made a dead letter meanwhile is a dead letter no more; unknown IDs are ignored.
func (s *Store) MarkDelivered(ctx context.Context, owner string, ids []int64, release []aicc.ConversationKey, at time.Time) error {
	if len(ids) == 0 && len(release) == 0 {
		return nil
	}
	return wrap(s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if len(ids) > 0 {
			_, err := tx.NewUpdate().Model((*inboxRow)(nil)).Set("delivered_at = ?", stateTime(at)).Set("dead_at = NULL").
				Where("id IN (?)", bun.List(ids)).Where("delivered_at IS NULL").Exec(ctx)
			if err != nil {
				return err
			}
		}
		return releaseLeases(ctx, tx, owner, release)
	}), "mark delivered")
}

// releaseLeases ends owner's leases of convs.
func releaseLeases(ctx context.Context, tx bun.Tx, owner string, convs []aicc.ConversationKey) error {
	if len(convs) == 0 {
		return nil
	}
	_, err := tx.NewRaw("DELETE FROM inbox_leases WHERE owner = ? AND (channel_id, page_id, psid) IN (?)",
		owner, conversationValues(convs)).Exec(ctx)
	return err
}

// FailDelivery counts a failed attempt of each pending event of f.IDs and keeps f.Error; an event that reaches
// f.MaxAttempts, or any when f.Permanent, becomes a dead letter. In the same transaction the conversation's
// lease is renewed for f.RetryIn while one of them is to be tried again, and released otherwise. It records
// nothing and returns ECONFLICT when f.Owner no longer holds the lease: the dispatcher that took the
// conversation over delivers the events.
func (s *Store) FailDelivery(ctx context.Context, f aicc.DeliveryFailure) ([]int64, error) {
	if len(f.IDs) == 0 {
		return nil, nil
	}
	maxAttempts := max(f.MaxAttempts, 1)
	if f.Permanent {
		maxAttempts = 1
	}
	var dead []int64
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		held, err := tx.NewSelect().Table("inbox_leases").Where("owner = ? AND channel_id = ? AND page_id = ? AND psid = ?",
			f.Owner, f.Conversation.ChannelID, f.Conversation.PageID, f.Conversation.PSID).Exists(ctx)
		if err != nil {
			return err
		}
		if !held {
			return aicc.Errorf(aicc.ECONFLICT, "the conversation's lease is no longer %s's", f.Owner)
		}
		var rows []inboxRow
		err = tx.NewUpdate().Model(&rows).
			Set("attempts = attempts + 1").Set("last_error = ?", noNUL(f.Error)).
			// ELSE dead_at (NULL here) gives the CASE the column's type on Postgres.
			Set("dead_at = CASE WHEN attempts + 1 >= ? THEN ? ELSE dead_at END", maxAttempts, norm(time.Now())).
			Where("id IN (?)", bun.List(f.IDs)).Where(pendingUnindexed).
			Returning("id, dead_at").Scan(ctx)
		if err != nil {
			return err
		}
		retry := false
		for _, r := range rows {
			if r.DeadAt.IsZero() {
				retry = true
			} else {
				dead = append(dead, r.ID)
			}
		}
		if !retry {
			return releaseLeases(ctx, tx, f.Owner, []aicc.ConversationKey{f.Conversation})
		}
		_, err = tx.NewRaw("UPDATE inbox_leases SET until_ms = ? + ? WHERE owner = ? AND channel_id = ? AND page_id = ? AND psid = ?",
			bun.Safe(s.nowMS()), f.RetryIn.Milliseconds(), f.Owner, f.Conversation.ChannelID, f.Conversation.PageID,
			f.Conversation.PSID).Exec(ctx)
		return err
	})
	slices.Sort(dead)
	return dead, wrap(err, "fail delivery")
}

// HasUnappliedEvents reports whether the tenant's conversation has events, dead letters aside, that are
// undelivered or newer than appliedUpTo.
func (s *Store) HasUnappliedEvents(ctx context.Context, tenantID string, c aicc.ConversationKey, appliedUpTo int64) (bool, error) {
	ok, err := s.db.NewSelect().Model((*inboxRow)(nil)).
		Where("channel_id = ? AND page_id = ? AND psid = ? AND tenant_id = ?", c.ChannelID, c.PageID, c.PSID, tenantID).
		Where("dead_at IS NULL AND (delivered_at IS NULL OR id > ?)", appliedUpTo).Exists(ctx)
	return ok, wrap(err, "unapplied events")
}

// InboxStats counts the pending events (undelivered, dead letters aside) and finds when the oldest of them was
// received.
func (s *Store) InboxStats(ctx context.Context) (aicc.InboxStats, error) {
	var st struct {
		N      int
		Oldest bun.NullTime
	}
	err := s.db.NewSelect().Model((*inboxRow)(nil)).ColumnExpr("count(*) AS n, min(received_at) AS oldest").
		Where("delivered_at IS NULL AND dead_at IS NULL").Scan(ctx, &st.N, &st.Oldest)
	if err != nil {
		return aicc.InboxStats{}, wrap(err, "inbox stats")
	}
	return aicc.InboxStats{Undelivered: st.N, Oldest: utc(st.Oldest.Time)}, nil
}

// ConversationEvents lists the events of the tenant's conversation by Meta timestamp then ID, delivered or
// not; ENOTFOUND when the tenant has no such conversation.
func (s *Store) ConversationEvents(ctx context.Context, tenantID, conversationID string, opt aicc.ListOptions) ([]aicc.InboxEvent, string, error) {
	limit, after, err := eventListing(opt)
	if err != nil {
		return nil, "", err
	}
	c, err := s.GetConversation(ctx, tenantID, conversationID)
	if err != nil {
		return nil, "", err
	}
	var rows []inboxRow
	q := s.db.NewSelect().Model(&rows).
		Where("channel_id = ? AND page_id = ? AND psid = ? AND tenant_id = ?", c.ChannelID, c.PageID, c.PSID, c.TenantID)
	if after != nil {
		q = q.Where("(ts, id) > (?, ?)", after.TS, after.ID)
	}
	if err := q.OrderExpr("ts ASC, id ASC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list conversation events")
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].cursor().String()
	}
	return mapRows(rows, func(r inboxRow) aicc.InboxEvent { return r.domain() }), next, nil
}

// eventCursor is the sort key of the last event of a page of a conversation's events.
type eventCursor struct {
	TS int64 `json:"s"`
	ID int64 `json:"i"`
}

func (c eventCursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// eventListing returns the page size and the cursor that opt asks for.
func eventListing(opt aicc.ListOptions) (int, *eventCursor, error) {
	limit := aicc.DefaultListLimit
	if opt.Limit > 0 {
		limit = min(opt.Limit, aicc.MaxListLimit)
	}
	if opt.Cursor == "" {
		return limit, nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(opt.Cursor)
	if err != nil {
		return 0, nil, errCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	c := new(eventCursor)
	if err := dec.Decode(c); err != nil || c.ID <= 0 {
		return 0, nil, errCursor
	}
	return limit, c, nil
}

// storeError is err of a write of webhook data: an *aicc.UnstorableError when the database refuses the values
// themselves (see unstorable), else as wrap makes it.
func storeError(err error, op string) error {
	if class := unstorable(err); class != "" {
		return &aicc.UnstorableError{Class: class, Err: err}
	}
	return wrap(err, op)
}

// unstorable names the class of err when it is the database refusing the values of a write, which a retry of
// the same write meets again, and is "" for any other error: a connection, a timeout, a cancelled context, a
// lock, a full disk, a unique violation (a conflict, which the inbox's dedup key resolves). The name holds no
// value, only the database's code and the constraint or column it concerns.
//
// On Postgres these are SQLSTATE class 22, data exception (a NUL byte or a byte sequence that is not UTF-8 in
// text, a number out of range, "unsupported Unicode escape sequence"), class 23, integrity constraint violation,
// but for 23505 unique_violation, and class 54, program limit exceeded (a key too large for its index: "index
// row size 3088 exceeds btree version 4 maximum 2704"). On SQLite: SQLITE_TOOBIG, SQLITE_MISMATCH and the
// constraint violations but for UNIQUE and PRIMARY KEY.
func unstorable(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == pgUniqueViolation || len(pgErr.Code) != 5 {
			return ""
		}
		class, ok := pgUnstorableClasses[pgErr.Code[:2]]
		if !ok {
			return ""
		}
		name := "SQLSTATE " + pgErr.Code + " (" + class + ")"
		switch {
		case pgErr.ConstraintName != "":
			name += " on " + pgErr.ConstraintName
		case pgErr.TableName != "" && pgErr.ColumnName != "":
			name += " on " + pgErr.TableName + "." + pgErr.ColumnName
		}
		return name
	}
	var sqliteErr interface{ Code() int }
	if !errors.As(err, &sqliteErr) {
		return ""
	}
	code := sqliteErr.Code()
	switch code & 0xff {
	case sqliteTooBig, sqliteMismatch:
	case sqliteConstraint:
		if _, ok := violatedUnique(err); ok || code == sqliteConstraintPrimaryKey || code == sqliteConstraintUnique {
			return ""
		}
	default:
		return ""
	}
	if name, ok := sqliteCodes[code]; ok {
		return name
	}
	return fmt.Sprintf("SQLite error %d", code)
}

// pgUniqueViolation is the SQLSTATE of a unique violation.
const pgUniqueViolation = "23505"

// pgUnstorableClasses are the SQLSTATE classes of errors a retry of the same write meets again, by name.
var pgUnstorableClasses = map[string]string{
	"22": "data exception",
	"23": "integrity constraint violation",
	"54": "program limit exceeded",
}

// SQLite's result codes that unstorable tells apart (https://sqlite.org/rescode.html); the driver reports the
// extended ones.
const (
	sqliteTooBig               = 18
	sqliteConstraint           = 19
	sqliteMismatch             = 20
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

var sqliteCodes = map[int]string{
	sqliteTooBig:     "SQLITE_TOOBIG",
	sqliteConstraint: "SQLITE_CONSTRAINT",
	sqliteMismatch:   "SQLITE_MISMATCH",
	275:              "SQLITE_CONSTRAINT_CHECK",
	787:              "SQLITE_CONSTRAINT_FOREIGNKEY",
	1299:             "SQLITE_CONSTRAINT_NOTNULL",
	3091:             "SQLITE_CONSTRAINT_DATATYPE",
}
