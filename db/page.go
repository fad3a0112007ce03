package db

import (
	"context"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
)

// GetPage returns the Page of the tenant's channel; ENOTFOUND when the Page is not connected to that channel
// of that tenant.
func (s *Store) GetPage(ctx context.Context, tenantID, channelID, pageID string) (*aicc.Page, error) {
	r := new(pageRow)
	err := s.db.NewSelect().Model(r).
		Where("page_id = ? AND channel_id = ? AND tenant_id = ?", pageID, channelID, tenantID).Scan(ctx)
	if err != nil {
		return nil, wrap(found(err, "page"), "get page")
	}
	return r.domain(), nil
}

// PageToken returns the sealed access token of the Page of the tenant's channel.
func (s *Store) PageToken(ctx context.Context, tenantID, channelID, pageID string) (aicc.SealedSecret, error) {
	r := new(pageRow)
	err := s.db.NewSelect().Model(r).
		Column("token_key_id", "token_ciphertext", "token_fingerprint", "token_updated_at").
		Where("page_id = ? AND channel_id = ? AND tenant_id = ?", pageID, channelID, tenantID).Scan(ctx)
	if err != nil {
		return aicc.SealedSecret{}, wrap(found(err, "page"), "get page token")
	}
	return r.sealed(), nil
}

// SetPageStatus records the connection status of the Page of the tenant's channel and its reason, at at (now
// when zero); the token health is left as it is. A Page of a channel being deleted is ECHANNELDELETING: no
// connection may begin or end on it.
func (s *Store) SetPageStatus(ctx context.Context, tenantID, channelID, pageID string, status aicc.PageStatus, reason string, at time.Time) error {
	return wrap(s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, tenantID, channelID); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*pageRow)(nil)).
			Set("status = ?", string(status)).Set("status_reason = ?", reason).Set("state_updated_at = ?", stateTime(at)).
			Where("page_id = ? AND channel_id = ? AND tenant_id = ?", pageID, channelID, tenantID).Exec(ctx)
		return affected(res, err, "page")
	}), "set page status")
}

// ClaimPage makes the tenant's channel the one channel of the Page, at at (now when zero): call it once Meta
// has confirmed that the Page's token is that Page's. Another channel's claim on the Page ID is
// EPAGECONNECTED, in the same words whatever its tenant (the unique index pages_claim_key decides, so two
// channels claiming at once cannot both win). A Page claimed already keeps its claim; a Page that is gone is
// ENOTFOUND, and one of a channel being deleted ECHANNELDELETING. A channel that has not claimed its app is
// ECONFLICT (aicc.MsgAppNotClaimed): subscribing that app would serve the channel that holds it, if any.
func (s *Store) ClaimPage(ctx context.Context, tenantID, channelID, pageID string, at time.Time) error {
	return wrap(s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, tenantID, channelID); err != nil {
			return err
		}
		claimed, err := tx.NewSelect().Model((*channelRow)(nil)).
			Where("id = ? AND tenant_id = ? AND app_claimed_at IS NOT NULL", channelID, tenantID).Exists(ctx)
		if err != nil {
			return err
		}
		if !claimed {
			return aicc.Errorf(aicc.ECONFLICT, aicc.MsgAppNotClaimed)
		}
		where := "page_id = ? AND channel_id = ? AND tenant_id = ?"
		res, err := tx.NewUpdate().Model((*pageRow)(nil)).Set("claimed_at = ?", stateTime(at)).
			Where(where+" AND claimed_at IS NULL", pageID, channelID, tenantID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		ok, err := tx.NewSelect().Model((*pageRow)(nil)).Where(where, pageID, channelID, tenantID).Exists(ctx)
		if err == nil && !ok {
			err = notFound("page")
		}
		return err
	}), "claim page")
}

// PagesInStatus returns up to limit Pages of every tenant that have been in status since before before, the
// longest waiting first, for the worker's resumer. Pages of a channel being deleted are left out: the
// deletion takes care of them.
func (s *Store) PagesInStatus(ctx context.Context, status aicc.PageStatus, before time.Time, limit int) ([]*aicc.Page, error) {
	var rows []*pageRow
	err := s.db.NewSelect().Model(&rows).Where("status = ? AND state_updated_at < ?", string(status), norm(before)).
		Where("channel_id NOT IN (SELECT id FROM channels WHERE status = ?)", string(aicc.StatusDeleting)).
		OrderExpr("state_updated_at, page_id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, wrap(err, "list pages in status")
	}
	return mapRows(rows, (*pageRow).domain), nil
}

// PageTokenHealth returns the health of the token of the Page of the tenant's channel.
func (s *Store) PageTokenHealth(ctx context.Context, tenantID, channelID, pageID string) (aicc.TokenHealth, error) {
	var h string
	err := s.db.NewSelect().Model((*pageRow)(nil)).Column("token_health").
		Where("page_id = ? AND channel_id = ? AND tenant_id = ?", pageID, channelID, tenantID).Scan(ctx, &h)
	if err != nil {
		return "", wrap(found(err, "page"), "get page token health")
	}
	return aicc.TokenHealth(h), nil
}

// SetPageTokenHealth records the health of the token of the Page of the tenant's channel and its reason, at at
// (now when zero); the connection status is left as it is.
func (s *Store) SetPageTokenHealth(ctx context.Context, tenantID, channelID, pageID string, h aicc.TokenHealth, reason string, at time.Time) error {
	res, err := s.db.NewUpdate().Model((*pageRow)(nil)).
		Set("token_health = ?", string(h)).Set("token_health_reason = ?", reason).Set("state_updated_at = ?", stateTime(at)).
		Where("page_id = ? AND channel_id = ? AND tenant_id = ?", pageID, channelID, tenantID).Exec(ctx)
	return wrap(affected(res, err, "page"), "set page token health")
}

// CountPages counts the channel's Pages in the given status; 0 when the channel has none or does not exist.
func (s *Store) CountPages(ctx context.Context, channelID string, status aicc.PageStatus) (int, error) {
	n, err := s.db.NewSelect().Model((*pageRow)(nil)).Where("channel_id = ? AND status = ?", channelID, string(status)).
		Count(ctx)
	return int(n), wrap(err, "count pages")
}

// CountPagesByTokenHealth counts every Page of the system by token health. Only the healths that some Page
// has are in the map: a missing health counts 0.
func (s *Store) CountPagesByTokenHealth(ctx context.Context) (map[aicc.TokenHealth]int, error) {
	var rows []struct {
		TokenHealth string
		N           int
	}
	err := s.db.NewSelect().Model((*pageRow)(nil)).ColumnExpr("token_health, count(*) AS n").
		Group("token_health").Scan(ctx, &rows)
	if err != nil {
		return nil, wrap(err, "count pages by token health")
	}
	counts := make(map[aicc.TokenHealth]int, len(rows))
	for _, r := range rows {
		counts[aicc.TokenHealth(r.TokenHealth)] = r.N
	}
	return counts, nil
}

// stateTime is the time a state change is recorded at: at, or now when zero, as the database keeps it.
func stateTime(at time.Time) time.Time {
	if at.IsZero() {
		at = time.Now()
	}
	return norm(at)
}
