package db

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
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

// insertRejects inserts rejects through tx, their values bound as parameters as the inbox's are (on Postgres
// one statement, on SQLite one per sqliteInsertRows: see sqliteInsertEvents), and sets their ReceivedAt to received's (the time
// the database keeps of it). Strings lose their NUL characters, as the inbox's do; the payload keeps them.
func (s *Store) insertRejects(ctx context.Context, tx bun.Tx, rejects []aicc.WebhookReject, received func(time.Time) time.Time) error {
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
	if s.dialect == Postgres {
		return insertRejectsPostgres(ctx, tx, rows)
	}
	for chunk := range slices.Chunk(rows, sqliteInsertRows) {
		query, args := sqliteInsert(sqliteInsertRejects, "", len(chunk), func(i int) []any {
			r := &chunk[i]
			return []any{r.TenantID, r.ChannelID, r.Kind, r.Location, r.Reason, r.Payload, s.sqliteTime(r.ReceivedAt)}
		})
		if _, err := tx.Tx.ExecContext(ctx, query, args...); err != nil {
			return err
		}
	}
	return nil
}

// insertRejectsPostgres is insertRejects on Postgres: one constant statement with the rejects as array
// parameters, as insertEventsPostgres, so that a payload goes as bytes rather than as hex in the SQL text for
// Postgres to parse (a 1 MiB body kept aside: 33 ms of Postgres' CPU that way).
func insertRejectsPostgres(ctx context.Context, tx bun.Tx, rows []webhookRejectRow) error {
	n := len(rows)
	tenant, channel, kind, location, reason := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	payload, received := make([][]byte, n), make([]time.Time, n)
	for i, r := range rows {
		tenant[i], channel[i], kind[i], location[i], reason[i], payload[i], received[i] =
			r.TenantID, r.ChannelID, r.Kind, r.Location, r.Reason, r.Payload, r.ReceivedAt
	}
	_, err := tx.Tx.ExecContext(ctx, pgInsertRejects, pgx.QueryExecModeCacheStatement,
		tenant, channel, kind, location, reason, payload, received)
	return err
}

const pgInsertRejects = `INSERT INTO webhook_rejects (tenant_id, channel_id, kind, location, reason, payload, received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::timestamptz[])`

const sqliteInsertRejects = `INSERT INTO webhook_rejects
	(tenant_id, channel_id, kind, location, reason, payload, received_at) VALUES `

// WebhookRejects lists the tenant's webhook rejects, only channelID's unless it is "", the latest first: by ID
// descending, which is the order they were kept in, read through webhook_rejects_tenant_idx (or _channel_idx).
// Pages go by ID, as the dead letters' do, so a new reject never shifts a page the client holds. A channel of
// another tenant, or one that does not exist, has none.
func (s *Store) WebhookRejects(ctx context.Context, tenantID, channelID string, opt aicc.ListOptions) ([]aicc.WebhookReject, string, error) {
	limit, before, err := webhookRejectPages.parse(opt)
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
	rows, next := cutByID(webhookRejectPages, rows, limit, func(r webhookRejectRow) int64 { return r.ID })
	return mapRows(rows, webhookRejectRow.domain), next, nil
}
