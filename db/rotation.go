package db

import (
	"context"
	"fmt"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
)

// AddSecretVersion stores a sealed secret version of the channel (of v.TenantID): an app secret, or the token
// of one of the channel's Pages. It returns ENOTFOUND when the channel or the Page does not exist and
// ECHANNELDELETING while the channel is being deleted. A zero CreatedAt is the seal's UpdatedAt, or now, and v
// is updated to what a read returns. It joins an Audited transaction.
func (s *Store) AddSecretVersion(ctx context.Context, v *aicc.SecretVersion) error {
	if err := validVersion(v); err != nil {
		return err
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = v.Sealed.UpdatedAt
	}
	created(&v.CreatedAt)
	r := newSecretVersionRow(v)
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, v.TenantID, v.ChannelID); err != nil {
			return err
		}
		if v.Kind == aicc.SecretPageToken {
			ok, err := tx.NewSelect().Model((*pageRow)(nil)).Where("page_id = ? AND channel_id = ?", v.PageID, v.ChannelID).
				Exists(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return notFound("page")
			}
		}
		_, err := tx.NewInsert().Model(r).Exec(ctx)
		return err
	})
	if err != nil {
		return wrap(err, "add secret version")
	}
	*v = *r.domain()
	return nil
}

// validVersion refuses a version that no rotation could use.
func validVersion(v *aicc.SecretVersion) error {
	switch {
	case v.ID == "" || v.TenantID == "" || v.ChannelID == "":
		return fmt.Errorf("db: add secret version: want an ID, a tenant and a channel")
	case v.Kind != aicc.SecretAppSecret && v.Kind != aicc.SecretPageToken:
		return fmt.Errorf("db: add secret version: kind %q is neither %s nor %s", v.Kind, aicc.SecretAppSecret, aicc.SecretPageToken)
	case (v.Kind == aicc.SecretPageToken) != (v.PageID != ""):
		return fmt.Errorf("db: add secret version: a page ID goes with a %s and only with it", aicc.SecretPageToken)
	case len(v.Sealed.Ciphertext) == 0:
		return fmt.Errorf("db: add secret version: the %s has no ciphertext", v.Kind)
	}
	return nil
}

// SecretVersion returns the channel's secret version with the given ID; ENOTFOUND when the channel has none
// with that ID, as once the version is in use.
func (s *Store) SecretVersion(ctx context.Context, channelID, id string) (*aicc.SecretVersion, error) {
	r := new(secretVersionRow)
	if err := s.db.NewSelect().Model(r).Where("id = ? AND channel_id = ?", id, channelID).Scan(ctx); err != nil {
		return nil, wrap(found(err, "secret version"), "get secret version")
	}
	return r.domain(), nil
}

// DeleteSecretVersion removes the channel's secret version with the given ID; a missing one is no error. It
// joins an Audited transaction.
func (s *Store) DeleteSecretVersion(ctx context.Context, channelID, id string) error {
	_, err := s.conn(ctx).NewDelete().Model((*secretVersionRow)(nil)).Where("id = ? AND channel_id = ?", id, channelID).
		Exec(ctx)
	return wrap(err, "delete secret version")
}

// ChangeAppSecret makes c.Current the channel's app secret and c.Previous its previous secret, accepted until
// c.PreviousUntil, and removes the version c.VersionID, in one transaction that joins an Audited one. A zero
// c.PreviousUntil removes the previous secret. When the current secret came from c.VersionID already, nothing
// changes. It returns ENOTFOUND when the channel or the version
// does not exist and ECHANNELDELETING while the channel is being deleted. Only the IDs are needed to learn
// whether the change was made already: NOT_FOUND for the version then says it was not.
func (s *Store) ChangeAppSecret(ctx context.Context, c aicc.AppSecretChange) error {
	if c.VersionID == "" {
		return fmt.Errorf("db: change app secret: want a version ID")
	}
	current := newSecretRow(c.ChannelID, aicc.SecretAppSecret, c.Current)
	current.VersionID = c.VersionID
	return wrap(s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, "", c.ChannelID); err != nil {
			return err
		}
		var from []string
		err := tx.NewSelect().Model((*secretRow)(nil)).Column("version_id").
			Where("channel_id = ? AND kind = ?", c.ChannelID, string(aicc.SecretAppSecret)).Scan(ctx, &from)
		if err != nil || (len(from) == 1 && from[0] == c.VersionID) {
			return err
		}
		if err := versionExists(ctx, tx, c.ChannelID, c.VersionID, aicc.SecretAppSecret, ""); err != nil {
			return err
		}
		if len(c.Current.Ciphertext) == 0 || !c.PreviousUntil.IsZero() && (c.Previous == nil || len(c.Previous.Ciphertext) == 0) {
			return fmt.Errorf("db: change app secret: want a current secret, and a previous one with its end, with ciphertext")
		}
		if err := upsertSecret(ctx, tx, current); err != nil {
			return err
		}
		if c.PreviousUntil.IsZero() {
			_, err = tx.NewDelete().Model((*secretRow)(nil)).
				Where("channel_id = ? AND kind = ?", c.ChannelID, string(aicc.SecretPreviousAppSecret)).Exec(ctx)
		} else {
			r := newSecretRow(c.ChannelID, aicc.SecretPreviousAppSecret, *c.Previous)
			r.ExpiresAt = norm(c.PreviousUntil)
			err = upsertSecret(ctx, tx, r)
		}
		if err != nil {
			return err
		}
		_, err = tx.NewDelete().Model((*secretVersionRow)(nil)).Where("id = ?", c.VersionID).Exec(ctx)
		return err
	}), "change app secret")
}

// upsertSecret stores r as the channel's secret of its kind, replacing the one stored.
func upsertSecret(ctx context.Context, idb bun.IDB, r *secretRow) error {
	_, err := idb.NewInsert().Model(r).On("CONFLICT (channel_id, kind) DO UPDATE").
		Set("key_id = EXCLUDED.key_id").Set("ciphertext = EXCLUDED.ciphertext").
		Set("fingerprint = EXCLUDED.fingerprint").Set("updated_at = EXCLUDED.updated_at").
		Set("version_id = EXCLUDED.version_id").Set("expires_at = EXCLUDED.expires_at").Exec(ctx)
	return err
}

// versionExists returns ENOTFOUND unless the channel has the secret version id of the given kind (and Page).
func versionExists(ctx context.Context, idb bun.IDB, channelID, id string, kind aicc.SecretKind, pageID string) error {
	ok, err := idb.NewSelect().Model((*secretVersionRow)(nil)).
		Where("id = ? AND channel_id = ? AND kind = ? AND page_id = ?", id, channelID, string(kind), pageID).Exists(ctx)
	if err == nil && !ok {
		err = notFound("secret version")
	}
	return err
}

// PreviousAppSecret returns the channel's previous app secret and until when it is accepted; ENOTFOUND when
// there is none. A secret past its time is returned until RetirePreviousAppSecret removes it.
func (s *Store) PreviousAppSecret(ctx context.Context, channelID string) (aicc.SealedSecret, time.Time, error) {
	var r secretRow
	err := s.db.NewSelect().Model(&r).
		Where("channel_id = ? AND kind = ?", channelID, string(aicc.SecretPreviousAppSecret)).Scan(ctx)
	if err != nil {
		return aicc.SealedSecret{}, time.Time{}, wrap(found(err, "previous app secret"), "get previous app secret")
	}
	return r.sealed(), utc(r.ExpiresAt), nil
}

// RetirePreviousAppSecret removes the channel's previous app secret; a missing one is no error. It joins an
// Audited transaction.
func (s *Store) RetirePreviousAppSecret(ctx context.Context, channelID string) error {
	_, err := s.conn(ctx).NewDelete().Model((*secretRow)(nil)).
		Where("channel_id = ? AND kind = ?", channelID, string(aicc.SecretPreviousAppSecret)).Exec(ctx)
	return wrap(err, "retire previous app secret")
}

// ChangePageToken replaces the Page's token with c.Token, records it healthy at c.Token.UpdatedAt (now when
// zero) and removes the version c.VersionID, in one transaction that joins an Audited one; the connection
// status stays. When the token came from c.VersionID already, nothing changes. It returns ENOTFOUND when the
// Page is not the channel's or the version does not exist, and ECHANNELDELETING while the channel is being
// deleted.
func (s *Store) ChangePageToken(ctx context.Context, c aicc.PageTokenChange) error {
	if c.VersionID == "" {
		return fmt.Errorf("db: change page token: want a version ID")
	}
	at := stateTime(c.Token.UpdatedAt)
	return wrap(s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var from []string
		err := tx.NewSelect().Model((*pageRow)(nil)).Column("token_version_id").
			Where("page_id = ? AND channel_id = ?", c.PageID, c.ChannelID).Scan(ctx, &from)
		if err != nil {
			return err
		}
		if len(from) == 0 {
			return notFound("page")
		}
		if err := changeableChannel(ctx, tx, "", c.ChannelID); err != nil || from[0] == c.VersionID {
			return err
		}
		if err := versionExists(ctx, tx, c.ChannelID, c.VersionID, aicc.SecretPageToken, c.PageID); err != nil {
			return err
		}
		if len(c.Token.Ciphertext) == 0 {
			return fmt.Errorf("db: change page token: want a token with ciphertext")
		}
		_, err = tx.NewUpdate().Model((*pageRow)(nil)).
			Set("token_key_id = ?", c.Token.KeyID).Set("token_ciphertext = ?", c.Token.Ciphertext).
			Set("token_fingerprint = ?", c.Token.Fingerprint).Set("token_updated_at = ?", at).
			Set("token_version_id = ?", c.VersionID).
			Set("token_health = ?", string(aicc.TokenHealthy)).Set("token_health_reason = ''").
			Set("state_updated_at = ?", at).
			Where("page_id = ? AND channel_id = ?", c.PageID, c.ChannelID).Exec(ctx)
		if err != nil {
			return err
		}
		_, err = tx.NewDelete().Model((*secretVersionRow)(nil)).Where("id = ?", c.VersionID).Exec(ctx)
		return err
	}), "change page token")
}

// PagesWithoutNewToken returns the number of the channel's Pages whose token was last changed before its app
// secret, and the IDs of up to limit of them, by Page ID. A channel without an app secret, or that does not
// exist, has none.
func (s *Store) PagesWithoutNewToken(ctx context.Context, channelID string, limit int) (int, []string, error) {
	q := s.db.NewSelect().Model((*pageRow)(nil)).Where("channel_id = ?", channelID).
		Where("token_updated_at < (SELECT updated_at FROM channel_secrets WHERE channel_id = ? AND kind = ?)",
			channelID, string(aicc.SecretAppSecret))
	n, err := q.Count(ctx) // leaves q as it is
	if err != nil {
		return 0, nil, wrap(err, "list pages without new token")
	}
	ids := []string{}
	if n > 0 && limit > 0 {
		err = q.Column("page_id").OrderExpr("page_id").Limit(int64(limit)).Scan(ctx, &ids)
	}
	return int(n), ids, wrap(err, "list pages without new token")
}

// SetRotation records the channel's rotation state; a zero time is stored as NULL. Writing the same state
// twice changes nothing. It returns ENOTFOUND when the channel does not exist and ECHANNELDELETING while it is
// being deleted.
func (s *Store) SetRotation(ctx context.Context, channelID string, r aicc.Rotation) error {
	return wrap(s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := changeableChannel(ctx, tx, "", channelID); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model(newChannelRow(&aicc.Channel{Rotation: r})).
			Column("rotation_status", "rotation_started_at", "rotation_previous_until", "rotation_pages_missing",
				"rotation_reminded_at", "rotation_updated_at").
			Where("id = ?", channelID).Exec(ctx)
		return err
	}), "set rotation")
}

// RotationStats counts the channels of every tenant by the status of their latest rotation (those that never
// rotated are left out), the pending ones that fired a reminder, and finds when the oldest pending one
// started. Channels being deleted are left out: their rotation ends with them.
func (s *Store) RotationStats(ctx context.Context) (aicc.RotationStats, error) {
	var rows []struct {
		RotationStatus string
		N              int
		Reminded       int
		Oldest         time.Time `bun:",nullzero"`
	}
	err := s.db.NewSelect().Model((*channelRow)(nil)).
		ColumnExpr("rotation_status, count(*) AS n, count(rotation_reminded_at) AS reminded").
		ColumnExpr("min(rotation_started_at) AS oldest").
		Where("rotation_status <> '' AND status <> ?", string(aicc.StatusDeleting)).Group("rotation_status").Scan(ctx, &rows)
	if err != nil {
		return aicc.RotationStats{}, wrap(err, "count rotations")
	}
	stats := aicc.RotationStats{Count: make(map[aicc.RotationStatus]int, len(rows))}
	for _, r := range rows {
		stats.Count[aicc.RotationStatus(r.RotationStatus)] = r.N
		if aicc.RotationStatus(r.RotationStatus) == aicc.RotationPending {
			stats.Reminded, stats.OldestPending = r.Reminded, utc(r.Oldest)
		}
	}
	return stats, nil
}
