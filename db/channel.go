package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// CreateChannel stores the channel and its secrets in one transaction; a secret without ciphertext is not
// stored. An empty ID and a zero CreatedAt are filled in, UpdatedAt defaults to CreatedAt, and ch is updated to
// what a read returns, SecretInfo included.
func (s *Store) CreateChannel(ctx context.Context, ch *aicc.Channel, secrets aicc.ChannelSecrets) error {
	stamp(&ch.ID, aicc.PrefixChannel, &ch.CreatedAt)
	if ch.UpdatedAt.IsZero() {
		ch.UpdatedAt = ch.CreatedAt
	}
	r := newChannelRow(ch)
	var rows []*secretRow
	for _, secret := range []*secretRow{
		newSecretRow(ch.ID, aicc.SecretAppSecret, secrets.AppSecret),
		newSecretRow(ch.ID, aicc.SecretVerifyToken, secrets.VerifyToken),
	} {
		if len(secret.Ciphertext) > 0 {
			rows = append(rows, secret)
		}
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil || len(rows) == 0 {
			return err
		}
		_, err := tx.NewInsert().Model(&rows).Exec(ctx)
		return err
	})
	if err != nil {
		return wrap(err, "create channel")
	}
	*ch = *r.domain(rows)
	return nil
}

// GetChannel returns the tenant's channel with the given ID.
func (s *Store) GetChannel(ctx context.Context, tenantID, id string) (*aicc.Channel, error) {
	return s.channel(ctx, "id = ? AND tenant_id = ?", id, tenantID)
}

// FindChannel returns the channel with the given ID, whatever its tenant, for the public webhook route.
func (s *Store) FindChannel(ctx context.Context, id string) (*aicc.Channel, error) {
	return s.channel(ctx, "id = ?", id)
}

func (s *Store) channel(ctx context.Context, where string, args ...any) (*aicc.Channel, error) {
	r := new(channelRow)
	if err := selectChannels(s.db, r).Where(where, args...).Scan(ctx); err != nil {
		return nil, wrap(found(err, "channel"), "get channel")
	}
	chs, err := withSecrets(ctx, s.db, []*channelRow{r})
	if err != nil {
		return nil, wrap(err, "get channel")
	}
	return chs[0], nil
}

// ListChannels lists the tenant's channels by name. f.Status keeps the channels of that status; f.Name keeps
// those whose name contains it, ignoring case.
func (s *Store) ListChannels(ctx context.Context, tenantID string, f aicc.ChannelFilter) ([]*aicc.Channel, string, error) {
	l, err := newListing(byName, f.ListOptions)
	if err != nil {
		return nil, "", err
	}
	var rows []*channelRow
	q := filterChannels(selectChannels(s.db, &rows).Where("tenant_id = ?", tenantID), f.Status, f.Name)
	if err := l.apply(q).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list channels")
	}
	rows, next := cut(l, rows)
	chs, err := withSecrets(ctx, s.db, rows)
	if err != nil {
		return nil, "", wrap(err, "list channels")
	}
	return chs, next, nil
}

// selectChannels selects the channels of model (a *channelRow or a *[]*channelRow) with the worst token
// health of each channel's Pages, "" when it has none, in the same query: a correlated subquery that ranks
// the healths, answered from the pages (channel_id, …) indexes.
func selectChannels(idb bun.IDB, model any) *bun.SelectQuery {
	return idb.NewSelect().Model(model).ColumnExpr("?TableAlias.*").ColumnExpr(worstTokenHealth)
}

var worstTokenHealth = fmt.Sprintf(`COALESCE((SELECT p.token_health FROM pages AS p WHERE p.channel_id = ?TableAlias.id
	ORDER BY CASE p.token_health WHEN '%s' THEN 2 WHEN '%s' THEN 1 ELSE 0 END DESC LIMIT 1), '') AS token_health`,
	aicc.TokenReauthRequired, aicc.TokenDegraded)

// filterChannels keeps the channels of q in status and whose name contains name, ignoring case; an empty
// status or name keeps every one. The channel list and the exports filter through it alike.
func filterChannels(q *bun.SelectQuery, status aicc.ChannelStatus, name string) *bun.SelectQuery {
	if status == "" && name == "" {
		return q
	}
	cond, args := channelFilter(status, name)
	return q.Where(cond, args...)
}

// channelFilter is filterChannels' condition as one SQL expression and its arguments, for a query that needs
// it as a value rather than as a WHERE ("1 = 1" with neither filter).
func channelFilter(status aicc.ChannelStatus, name string) (string, []any) {
	var conds []string
	var args []any
	if status != "" {
		conds, args = append(conds, "status = ?"), append(args, string(status))
	}
	if name != "" {
		conds = append(conds, "lower(name) LIKE ? ESCAPE '!'")
		args = append(args, "%"+likeEscaper.Replace(strings.ToLower(name))+"%")
	}
	if len(conds) == 0 {
		return "1 = 1", nil
	}
	return strings.Join(conds, " AND "), args
}

// likeEscaper escapes the LIKE wildcards of a search term, with '!' as the escape character (a backslash
// would depend on the server's string settings).
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// withSecrets returns the channels of rows with the SecretInfo of their secrets.
func withSecrets(ctx context.Context, idb bun.IDB, rows []*channelRow) ([]*aicc.Channel, error) {
	if len(rows) == 0 {
		return []*aicc.Channel{}, nil
	}
	ids := mapRows(rows, func(r *channelRow) string { return r.ID })
	var secrets []*secretRow
	if err := idb.NewSelect().Model(&secrets).Where("channel_id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	byChannel := map[string][]*secretRow{}
	for _, s := range secrets {
		byChannel[s.ChannelID] = append(byChannel[s.ChannelID], s)
	}
	return mapRows(rows, func(r *channelRow) *aicc.Channel { return r.domain(byChannel[r.ID]) }), nil
}

// UpdateChannel writes the channel's name, basic and robot configuration and UpdatedAt (now when zero), if
// its UpdatedAt is still readAt: a change read before another one was written is ECONFLICT, never a silent
// overwrite of it. A channel being deleted is ECHANNELDELETING.
func (s *Store) UpdateChannel(ctx context.Context, ch *aicc.Channel, readAt time.Time) error {
	if ch.UpdatedAt.IsZero() {
		ch.UpdatedAt = time.Now()
	}
	ch.UpdatedAt = norm(ch.UpdatedAt)
	return wrap(s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, ch.TenantID, ch.ID); err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model(newChannelRow(ch)).Column("name", "basic", "robot", "updated_at").
			Where("id = ? AND updated_at = ?", ch.ID, norm(readAt)).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return aicc.Errorf(aicc.ECONFLICT, "The channel was changed meanwhile; read it again and repeat the change.")
	}), "update channel")
}

// DeleteChannel deletes the tenant's channel with its secrets, secret versions and Pages, whose IDs are then
// free to connect again.
func (s *Store) DeleteChannel(ctx context.Context, tenantID, id string) error {
	return wrap(s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := channelInTenant(ctx, tx, tenantID, id); err != nil {
			return err
		}
		for _, model := range []any{(*pageRow)(nil), (*secretRow)(nil), (*secretVersionRow)(nil)} {
			if _, err := tx.NewDelete().Model(model).Where("channel_id = ?", id).Exec(ctx); err != nil {
				return err
			}
		}
		_, err := tx.NewDelete().Model((*channelRow)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	}), "delete channel")
}

// SetOnboarding records the onboarding state of the channel. Writing the same state twice changes nothing. A
// channel being deleted keeps its status: the write is ECHANNELDELETING.
func (s *Store) SetOnboarding(ctx context.Context, channelID string, o aicc.Onboarding) error {
	return wrap(s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, "", channelID); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model(newChannelRow(&aicc.Channel{Onboarding: o})).
			Column("status", "step", "error_code", "verified_at", "activated_at", "onboarding_updated_at").
			Where("id = ?", channelID).Exec(ctx)
		return err
	}), "set onboarding")
}

// MarkChannelDeleting records that the channel's deletion runs (status deleting, at at, now when zero); from
// then on it accepts no other change. Marking it twice changes nothing.
func (s *Store) MarkChannelDeleting(ctx context.Context, channelID string, at time.Time) error {
	res, err := s.db.NewUpdate().Model((*channelRow)(nil)).
		Set("status = ?", string(aicc.StatusDeleting)).Set("onboarding_updated_at = ?", stateTime(at)).
		Where("id = ? AND status <> ?", channelID, string(aicc.StatusDeleting)).Exec(ctx)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = s.db.NewSelect().Model((*channelRow)(nil)).Column("id").Where("id = ?", channelID).Scan(ctx, new(string))
			err = found(err, "channel")
		}
	}
	return wrap(err, "mark channel deleting")
}

// ClaimApp makes the tenant's channel the one channel of its Meta app, at at (now when zero): call it once
// Meta has confirmed that the channel's App Secret is the app's. Another channel's claim on the app ID is
// EAPPCONNECTED, in the same words whatever its tenant (the unique index channels_app_claim_key decides, so
// two channels claiming at once cannot both win). A channel that claimed already keeps its claim; a channel
// being deleted is ECHANNELDELETING.
func (s *Store) ClaimApp(ctx context.Context, tenantID, channelID string, at time.Time) error {
	return wrap(s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, tenantID, channelID); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*channelRow)(nil)).Set("app_claimed_at = ?", stateTime(at)).
			Where("id = ? AND tenant_id = ? AND app_claimed_at IS NULL", channelID, tenantID).Exec(ctx)
		return err
	}), "claim app")
}

// ChannelsInStatus returns up to limit channels of every tenant that have been in status since before before,
// the longest waiting first, for the worker's resumer.
func (s *Store) ChannelsInStatus(ctx context.Context, status aicc.ChannelStatus, before time.Time, limit int) ([]*aicc.Channel, error) {
	var rows []*channelRow
	err := selectChannels(s.db, &rows).Where("status = ? AND onboarding_updated_at < ?", string(status), norm(before)).
		OrderExpr("onboarding_updated_at, id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, wrap(err, "list channels in status")
	}
	chs, err := withSecrets(ctx, s.db, rows)
	return chs, wrap(err, "list channels in status")
}

// ChannelSecret returns the channel's sealed secret of the given kind.
func (s *Store) ChannelSecret(ctx context.Context, channelID string, kind aicc.SecretKind) (aicc.SealedSecret, error) {
	var r secretRow
	err := s.db.NewSelect().Model(&r).Where("channel_id = ? AND kind = ?", channelID, string(kind)).Scan(ctx)
	if err != nil {
		return aicc.SealedSecret{}, wrap(found(err, "channel secret"), "get channel secret")
	}
	return r.sealed(), nil
}

// SetChannelSecret replaces the channel's secret of the given kind, or stores it when the channel has none
// of that kind yet; the secret then comes from no secret version and never expires. It returns ENOTFOUND when
// the channel does not exist and ECHANNELDELETING while it is being deleted.
func (s *Store) SetChannelSecret(ctx context.Context, channelID string, kind aicc.SecretKind, sealed aicc.SealedSecret) error {
	if len(sealed.Ciphertext) == 0 {
		return fmt.Errorf("db: set channel secret: the %s secret has no ciphertext", kind)
	}
	r := newSecretRow(channelID, kind, sealed)
	return wrap(s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, "", channelID); err != nil {
			return err
		}
		return upsertSecret(ctx, tx, r)
	}), "set channel secret")
}

// AddPage adds a Page to a channel of the page's tenant, with its sealed access token and p.State as its first
// state (ECHANNELDELETING while the channel is being deleted): an empty status is connecting, an empty token
// health healthy, and a zero State.UpdatedAt is CreatedAt. A zero CreatedAt is filled in, and p is updated to
// what a read returns. The Page is not claimed (p.ClaimedAt is ignored): other channels may have the same
// Page ID, and a Page of this channel with that ID already is EPAGECONNECTED. A channel with
// aicc.MaxChannelPages Pages already is ECONFLICT.
func (s *Store) AddPage(ctx context.Context, p *aicc.Page, token aicc.SealedSecret) error {
	created(&p.CreatedAt)
	if p.State.Status == "" {
		p.State.Status = aicc.PageConnecting
	}
	if p.State.TokenHealth == "" {
		p.State.TokenHealth = aicc.TokenHealthy
	}
	if p.State.UpdatedAt.IsZero() {
		p.State.UpdatedAt = p.CreatedAt
	}
	p.ClaimedAt = time.Time{}
	r := newPageRow(p, token)
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		// The channel's row lock (Postgres; SQLite writes one at a time) makes the count and the insert one step.
		if err := changeableChannel(ctx, tx, p.TenantID, p.ChannelID); err != nil {
			return err
		}
		n, err := tx.NewSelect().Model((*pageRow)(nil)).Where("channel_id = ?", p.ChannelID).Count(ctx)
		if err != nil {
			return err
		}
		if n >= aicc.MaxChannelPages {
			return aicc.Errorf(aicc.ECONFLICT, "The channel has %d Pages, the most it can have; remove one first.", n)
		}
		_, err = tx.NewInsert().Model(r).Exec(ctx)
		return err
	})
	if err != nil {
		return wrap(err, "add page")
	}
	*p = *r.domain()
	return nil
}

// ListPages lists the Pages of the tenant's channel by Page ID.
func (s *Store) ListPages(ctx context.Context, tenantID, channelID string, opt aicc.ListOptions) ([]*aicc.Page, string, error) {
	l, err := newListing(byPageID, opt)
	if err != nil {
		return nil, "", err
	}
	if err := channelInTenant(ctx, s.db, tenantID, channelID); err != nil {
		return nil, "", wrap(err, "list pages")
	}
	var rows []*pageRow
	q := s.db.NewSelect().Model(&rows).Where("channel_id = ? AND tenant_id = ?", channelID, tenantID)
	if err := l.apply(q).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list pages")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*pageRow).domain), next, nil
}

// RemovePage disconnects a Page from the tenant's channel.
func (s *Store) RemovePage(ctx context.Context, tenantID, channelID, pageID string) error {
	res, err := s.db.NewDelete().Model((*pageRow)(nil)).
		Where("page_id = ? AND channel_id = ? AND tenant_id = ?", pageID, channelID, tenantID).Exec(ctx)
	return wrap(affected(res, err, "page"), "remove page")
}

// changeableChannel returns ENOTFOUND unless there is a channel with the given ID (of the tenant, unless
// tenantID is empty), and ECHANNELDELETING when it is being deleted. Called inside the transaction that changes
// the channel, so that nothing changes a channel once its deletion has begun.
func changeableChannel(ctx context.Context, idb bun.IDB, tenantID, id string) error {
	q := idb.NewSelect().Model((*channelRow)(nil)).Column("status").Where("id = ?", id)
	if tenantID != "" {
		q = q.Where("tenant_id = ?", tenantID)
	}
	if idb.Dialect().Name() == dialect.PG {
		// Until the change commits, MarkChannelDeleting waits; a change that waited reads deleting. The lock
		// is the one the change's own UPDATE takes, so that two changes queue instead of deadlocking on an
		// upgrade. (SQLite runs one write transaction at a time.)
		q = q.For("NO KEY UPDATE")
	}
	var status string
	if err := q.Scan(ctx, &status); err != nil {
		return found(err, "channel")
	}
	if aicc.ChannelStatus(status) == aicc.StatusDeleting {
		return aicc.Errorf(aicc.ECHANNELDELETING, "The channel is being deleted; it accepts no other change.")
	}
	return nil
}

// channelInTenant returns ENOTFOUND unless the tenant has a channel with the given ID.
func channelInTenant(ctx context.Context, idb bun.IDB, tenantID, id string) error {
	ok, err := idb.NewSelect().Model((*channelRow)(nil)).Where("id = ? AND tenant_id = ?", id, tenantID).Exists(ctx)
	if err == nil && !ok {
		err = notFound("channel")
	}
	return err
}
