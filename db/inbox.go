package db

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/jackc/pgx/v5"
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
// retry the batch as a whole.
func (s *Store) StoreEvents(ctx context.Context, events []aicc.InboxEvent) (duplicates int, err error) {
	if len(events) == 0 {
		return 0, nil
	}
	var now time.Time
	rows := make([]inboxRow, len(events))
	for i := range events {
		e := &events[i]
		if e.ReceivedAt.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			e.ReceivedAt = now
		}
		e.ReceivedAt = norm(e.ReceivedAt)
		rows[i] = newInboxRow(e)
	}
	var stored []storedEvent
	if s.dialect == Postgres {
		stored, err = s.insertEventsPostgres(ctx, rows)
	} else {
		err = s.db.NewInsert().Model(&rows).ExcludeColumn("id", "delivered_at", "lease_owner", "lease_until").
			On("CONFLICT (page_id, dedup_key) DO NOTHING").
			Returning("id, page_id, dedup_key").Scan(ctx, &stored)
	}
	if err != nil {
		return 0, wrap(err, "store events")
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
func (s *Store) insertEventsPostgres(ctx context.Context, rows []inboxRow) ([]storedEvent, error) {
	n := len(rows)
	tenant, channel, page, psid, kind, mid, dedup, text := make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	watermark, ts, payload, received := make([]int64, n), make([]int64, n), make([][]byte, n), make([]time.Time, n)
	for i, r := range rows {
		tenant[i], channel[i], page[i], psid[i], kind[i], mid[i] = r.TenantID, r.ChannelID, r.PageID, r.PSID, r.Kind, r.MID
		dedup[i], text[i], watermark[i], ts[i], payload[i], received[i] = r.DedupKey, r.Text, r.Watermark, r.TS, r.Payload, r.ReceivedAt
	}
	// The database/sql layer of pgx reads a leading QueryExecMode argument as the mode of this one query;
	// the pool's default (simple protocol, which suits Bun's inlined SQL) stays for everything else.
	res, err := s.db.DB.QueryContext(ctx, pgInsertEvents, pgx.QueryExecModeCacheStatement,
		tenant, channel, page, psid, kind, mid, watermark, ts, dedup, text, payload, received)
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

const pgInsertEvents = `INSERT INTO inbox
	(tenant_id, channel_id, page_id, psid, kind, mid, watermark, ts, dedup_key, text, payload, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
	$8::bigint[], $9::text[], $10::text[], $11::bytea[], $12::timestamptz[])
ON CONFLICT (page_id, dedup_key) DO NOTHING
RETURNING id, page_id, dedup_key`

// ClaimEvents leases to owner, until leaseUntil, up to limit undelivered events whose lease is free or ended
// before now, and returns them by Meta timestamp then ID. One statement claims them: on Postgres it locks the
// rows it picks with FOR UPDATE SKIP LOCKED, so concurrent claimers take different rows and never wait on
// each other; SQLite has a single writer, which runs claims one at a time.
func (s *Store) ClaimEvents(ctx context.Context, owner string, limit int, now, leaseUntil time.Time) ([]aicc.InboxEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	pick := s.db.NewSelect().Model((*inboxRow)(nil)).Column("id").
		Where("delivered_at IS NULL").Where("(lease_until IS NULL OR lease_until < ?)", norm(now)).
		OrderExpr("ts ASC, id ASC").Limit(int64(limit))
	if s.dialect == Postgres {
		pick = pick.For("UPDATE SKIP LOCKED")
	}
	var rows []inboxRow
	err := s.db.NewUpdate().Model((*inboxRow)(nil)).
		Set("lease_owner = ?", owner).Set("lease_until = ?", norm(leaseUntil)).
		Where("id IN (?)", pick).Returning("*").Scan(ctx, &rows)
	if err != nil {
		return nil, wrap(err, "claim events")
	}
	// UPDATE … RETURNING returns rows in no promised order.
	slices.SortFunc(rows, func(a, b inboxRow) int { return cmp.Or(cmp.Compare(a.TS, b.TS), cmp.Compare(a.ID, b.ID)) })
	return mapRows(rows, func(r inboxRow) aicc.InboxEvent { return r.domain() }), nil
}

// MarkDelivered records that the events were delivered at at (now when zero) and ends their leases. An event
// delivered already keeps its first delivery time; unknown IDs are ignored.
func (s *Store) MarkDelivered(ctx context.Context, ids []int64, at time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.db.NewUpdate().Model((*inboxRow)(nil)).
		Set("delivered_at = ?", stateTime(at)).Set("lease_owner = NULL").Set("lease_until = NULL").
		Where("id IN (?)", bun.List(ids)).Where("delivered_at IS NULL").Exec(ctx)
	return wrap(err, "mark delivered")
}

// InboxStats counts the undelivered events and finds when the oldest of them was received.
func (s *Store) InboxStats(ctx context.Context) (aicc.InboxStats, error) {
	var st struct {
		N      int
		Oldest bun.NullTime
	}
	err := s.db.NewSelect().Model((*inboxRow)(nil)).ColumnExpr("count(*) AS n, min(received_at) AS oldest").
		Where("delivered_at IS NULL").Scan(ctx, &st.N, &st.Oldest)
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
