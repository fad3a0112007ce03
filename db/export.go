package db

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// matchChunk is how many selected channel IDs one query of MatchExportChannels checks: a whole selection the
// API accepts, so that its IDs are looked up in one query.
const matchChunk = aicc.MaxExportSelection

// MatchExportChannels counts the tenant's channels sel matches. Without sel.ChannelIDs, those are the channels
// that sel.Status and sel.Name keep, as they filter ListChannels; with them, those of the IDs that are the
// tenant's channels and pass the same filters. unknown lists, sorted and once each, the IDs that are not the
// tenant's channels; a channel that exists but fails a filter is not unknown, only not counted. Channels being
// deleted match nothing, and their IDs are unknown: they are going away. The IDs are checked 10,000 to a query.
func (s *Store) MatchExportChannels(ctx context.Context, tenantID string, sel aicc.ExportSelection) (int, []string, error) {
	if len(sel.ChannelIDs) == 0 {
		n, err := exportMatch(s.db.NewSelect().Model((*channelRow)(nil)), tenantID, sel).Count(ctx)
		return int(n), nil, wrap(err, "match export channels")
	}
	filter, args := channelFilter(sel.Status, sel.Name)
	var unknown []string
	n := 0
	for chunk := range slices.Chunk(uniqueIDs(sel.ChannelIDs), matchChunk) {
		matched, missing, err := s.matchChannelIDs(ctx, tenantID, chunk, filter, args)
		if err != nil {
			return 0, nil, wrap(err, "match export channels")
		}
		n += matched
		unknown = append(unknown, missing...)
	}
	return n, unknown, nil
}

// matchChannelIDs counts the channels of ids, sorted and once each, that are the tenant's, not being deleted,
// and pass filter, and returns, sorted, the IDs that are not the tenant's channels. The IDs travel as one
// array whose items are looked up in the channels' key in turn, and one row comes back: the count, and the
// unknown IDs as a JSON array. 10,000 constants would take either database many times as long to parse and
// plan, and 10,000 rows back as long to read. An ID longer than aicc.MaxIDLength is unknown without a look.
func (s *Store) matchChannelIDs(ctx context.Context, tenantID string, ids []string, filter string, args []any) (int, []string, error) {
	var overlong []string // longer than any ID: unknown without a look
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool {
		if len(id) > aicc.MaxIDLength {
			overlong = append(overlong, id)
			return true
		}
		return false
	})
	if len(ids) == 0 {
		return 0, overlong, nil
	}
	source, unknownIDs := "unnest(?::text[]) AS j (value)", "array_to_json(array_agg(j.value) FILTER (WHERE c.id IS NULL))"
	var list any = pgdialect.Array(ids)
	if s.dialect == SQLite {
		data, err := json.Marshal(ids)
		if err != nil {
			return 0, nil, err
		}
		source, unknownIDs, list = "json_each(?) AS j", "json_group_array(j.value) FILTER (WHERE c.id IS NULL)", string(data)
	}
	var (
		n       int
		missing string
	)
	err := s.db.NewRaw("SELECT coalesce(sum(CASE WHEN c.id IS NOT NULL AND "+filter+" THEN 1 ELSE 0 END), 0), "+
		"coalesce(CAST("+unknownIDs+" AS TEXT), '[]') "+
		"FROM "+source+" LEFT JOIN channels AS c ON c.tenant_id = ? AND c.id = j.value AND c.status <> ?",
		slices.Concat(args, []any{list, tenantID, string(aicc.StatusDeleting)})...).Scan(ctx, &n, &missing)
	if err != nil {
		return 0, nil, err
	}
	var unknown []string
	if err := json.Unmarshal([]byte(missing), &unknown); err != nil {
		return 0, nil, err
	}
	unknown = append(unknown, overlong...)
	slices.Sort(unknown)
	return n, unknown, nil
}

// ExportRecords returns up to limit records (1 to aicc.MaxExportFileRecords) of the channels sel matches, as
// MatchExportChannels counts them, whose ID is greater than after, in ID order. One query reads the channels
// and one more the Pages of all of them, so a batch costs two queries whatever its size.
func (s *Store) ExportRecords(ctx context.Context, tenantID string, sel aicc.ExportSelection, after string, limit int) ([]aicc.ExportRecord, error) {
	if limit < 1 || limit > aicc.MaxExportFileRecords {
		return nil, fmt.Errorf("db: export records: limit %d is not between 1 and %d", limit, aicc.MaxExportFileRecords)
	}
	var rows []*channelRow
	q := s.db.NewSelect().Model(&rows).
		Column("id", "name", "app_id", "algorithm", "status", "basic", "robot", "created_at", "updated_at")
	q = exportMatch(q, tenantID, sel).Where("id > ?", after)
	if len(sel.ChannelIDs) > 0 {
		// At most aicc.MaxExportSelection IDs, so that the database orders and cuts them by the key itself.
		q = q.Where("id IN (?)", bun.List(uniqueIDs(sel.ChannelIDs)))
	}
	if err := q.OrderExpr("id").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, wrap(err, "export records")
	}
	records := make([]aicc.ExportRecord, len(rows))
	if len(rows) == 0 {
		return records, nil
	}
	var pages []*pageRow
	err := s.db.NewSelect().Model(&pages).Column("channel_id", "page_id", "name").
		Where("channel_id IN (?)", bun.List(mapRows(rows, func(r *channelRow) string { return r.ID }))).
		OrderExpr("channel_id, page_id").Scan(ctx)
	if err != nil {
		return nil, wrap(err, "export records")
	}
	byChannel := make(map[string][]aicc.ExportPage, len(rows))
	for _, p := range pages {
		byChannel[p.ChannelID] = append(byChannel[p.ChannelID], aicc.ExportPage{PageID: p.PageID, Name: p.Name})
	}
	for i, r := range rows {
		records[i] = aicc.ExportRecord{
			ChannelID: r.ID, Name: r.Name, AppID: r.AppID, Algorithm: aicc.SignatureAlgorithm(r.Algorithm),
			Status: aicc.ChannelStatus(r.Status), Basic: r.Basic, Robot: r.Robot, Pages: byChannel[r.ID],
			CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
		}
		if records[i].Pages == nil {
			records[i].Pages = []aicc.ExportPage{}
		}
	}
	return records, nil
}

// exportMatch narrows q, a select of channels, to the tenant's channels that the filters of sel keep, leaving
// out those being deleted.
func exportMatch(q *bun.SelectQuery, tenantID string, sel aicc.ExportSelection) *bun.SelectQuery {
	q = q.Where("tenant_id = ? AND status <> ?", tenantID, string(aicc.StatusDeleting))
	return filterChannels(q, sel.Status, sel.Name)
}

// uniqueIDs returns ids sorted, each once.
func uniqueIDs(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// CreateExport stores a new export. An empty ID, a zero CreatedAt, an empty Status (pending) and a zero
// UpdatedAt (CreatedAt) are filled in, and e is updated to what a read returns.
func (s *Store) CreateExport(ctx context.Context, e *aicc.Export) error {
	stamp(&e.ID, aicc.PrefixExport, &e.CreatedAt)
	if e.Status == "" {
		e.Status = aicc.ExportPending
	}
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	r := newExportRow(e)
	if _, err := s.db.NewInsert().Model(r).Exec(ctx); err != nil {
		return wrap(err, "create export")
	}
	*e = *r.domain()
	return nil
}

// GetExport returns the tenant's export with the given ID.
func (s *Store) GetExport(ctx context.Context, tenantID, id string) (*aicc.Export, error) {
	r := new(exportRow)
	if err := getInTenant(ctx, s.db, r, tenantID, id); err != nil {
		return nil, wrap(found(err, "export"), "get export")
	}
	return r.domain(), nil
}

// ListExports lists the tenant's exports, the newest first (ties by ID, descending).
func (s *Store) ListExports(ctx context.Context, tenantID string, opt aicc.ListOptions) ([]*aicc.Export, string, error) {
	l, err := newListing(byCreatedLatest, opt)
	if err != nil {
		return nil, "", err
	}
	var rows []*exportRow
	if err := l.apply(s.db.NewSelect().Model(&rows).Where("tenant_id = ?", tenantID)).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list exports")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*exportRow).domain), next, nil
}

// SetExportProgress overwrites the export's status, error code, counts, files and times with p; a zero time
// is stored as NULL, but a zero p.UpdatedAt is now. It returns ENOTFOUND when the export does not exist.
func (s *Store) SetExportProgress(ctx context.Context, id string, p aicc.ExportProgress) error {
	r := newExportRow(&aicc.Export{
		Status: p.Status, ErrorCode: p.ErrorCode, Total: p.Total, RecordsDone: p.RecordsDone, FilesDone: p.FilesDone,
		Files: p.Files, StartedAt: p.StartedAt, FinishedAt: p.FinishedAt, ExpiresAt: p.ExpiresAt,
		UpdatedAt: stateTime(p.UpdatedAt),
	})
	res, err := s.db.NewUpdate().Model(r).
		Column("status", "error_code", "total", "records_done", "files_done", "files", "started_at", "finished_at",
			"expires_at", "updated_at").
		Where("id = ?", id).Exec(ctx)
	return wrap(affected(res, err, "export"), "set export progress")
}

// ExportsInStatus returns up to limit exports of every tenant that have been in status since before before
// (their last progress is older), the longest waiting first, for the worker's resumer and the expiry sweep.
func (s *Store) ExportsInStatus(ctx context.Context, status aicc.ExportStatus, before time.Time, limit int) ([]*aicc.Export, error) {
	var rows []*exportRow
	err := s.db.NewSelect().Model(&rows).Where("status = ? AND updated_at < ?", string(status), norm(before)).
		OrderExpr("updated_at, id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, wrap(err, "list exports in status")
	}
	return mapRows(rows, (*exportRow).domain), nil
}
