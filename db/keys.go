package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
)

var _ aicc.KeyStore = (*Store)(nil)

// systemKeyRow is a system key, sealed under the master key like every secret. It has no fingerprint: its
// value is never shown.
type systemKeyRow struct {
	bun.BaseModel `bun:"table:system_keys"`
	Name          string `bun:",pk"`
	KeyID         string
	Ciphertext    []byte
	UpdatedAt     time.Time
}

func (r *systemKeyRow) sealed() aicc.SealedSecret {
	return aicc.SealedSecret{KeyID: r.KeyID, Ciphertext: r.Ciphertext, UpdatedAt: utc(r.UpdatedAt)}
}

// SystemKey returns the stored system key of the given kind; ENOTFOUND before it is added.
func (s *Store) SystemKey(ctx context.Context, kind aicc.SecretKind) (aicc.SealedSecret, error) {
	var r systemKeyRow
	if err := s.db.NewSelect().Model(&r).Where("name = ?", string(kind)).Scan(ctx); err != nil {
		return aicc.SealedSecret{}, wrap(found(err, "system key"), "get system key")
	}
	return r.sealed(), nil
}

// AddSystemKey stores sealed as the system key of the given kind unless one is stored already, and returns
// the stored one: of processes starting together, the first to commit wins and the others read its key.
func (s *Store) AddSystemKey(ctx context.Context, kind aicc.SecretKind, sealed aicc.SealedSecret) (aicc.SealedSecret, error) {
	if len(sealed.Ciphertext) == 0 {
		return aicc.SealedSecret{}, fmt.Errorf("db: add system key: the %s key has no ciphertext", kind)
	}
	r := &systemKeyRow{Name: string(kind), KeyID: sealed.KeyID, Ciphertext: sealed.Ciphertext, UpdatedAt: norm(sealed.UpdatedAt)}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = norm(time.Now())
	}
	if _, err := s.db.NewInsert().Model(r).On("CONFLICT (name) DO NOTHING").Exec(ctx); err != nil {
		return aicc.SealedSecret{}, wrap(err, "add system key")
	}
	return s.SystemKey(ctx, kind)
}

// CountSealed counts the stored secrets by master key and kind, ordered by key ID and kind.
func (s *Store) CountSealed(ctx context.Context) ([]aicc.SealedCount, error) {
	var rows []struct {
		KeyID string
		Kind  string
		Count int
	}
	err := s.db.NewRaw(`SELECT key_id, kind, count(*) AS count FROM channel_secrets GROUP BY key_id, kind
		UNION ALL SELECT token_key_id, ?, count(*) FROM pages GROUP BY token_key_id
		UNION ALL SELECT key_id, ?, count(*) FROM secret_versions GROUP BY key_id
		UNION ALL SELECT key_id, name, count(*) FROM system_keys GROUP BY key_id, name
		ORDER BY 1, 2`, string(aicc.SecretPageToken), string(aicc.SecretVersionValue)).Scan(ctx, &rows)
	if err != nil {
		return nil, wrap(err, "count sealed secrets")
	}
	counts := make([]aicc.SealedCount, len(rows))
	for i, r := range rows {
		counts[i] = aicc.SealedCount{KeyID: r.KeyID, Kind: aicc.SecretKind(r.Kind), Count: r.Count}
	}
	return counts, nil
}

// sealedColumns says where the secrets of one kind are stored.
type sealedColumns struct {
	table, id, keyID, ciphertext string
	kind                         string // the column that holds the kind, when the table holds several
	// tie is a second key column when id alone names no row: a Page ID may be on several channels' Pages.
	tie   string
	owner func(id string) string
}

func sealedColumnsOf(kind aicc.SecretKind) (sealedColumns, error) {
	switch kind {
	case aicc.SecretAppSecret, aicc.SecretPreviousAppSecret, aicc.SecretVerifyToken:
		return sealedColumns{"channel_secrets", "channel_id", "key_id", "ciphertext", "kind", "",
			func(id string) string { return aicc.ChannelSecretOwner(id, kind) }}, nil
	case aicc.SecretPageToken:
		return sealedColumns{"pages", "page_id", "token_key_id", "token_ciphertext", "", "channel_id", aicc.PageTokenOwner}, nil
	case aicc.SecretVersionValue:
		return sealedColumns{"secret_versions", "id", "key_id", "ciphertext", "", "", aicc.SecretVersionOwner}, nil
	case aicc.SecretFingerprintKey:
		return sealedColumns{"system_keys", "name", "key_id", "ciphertext", "name", "",
			func(string) string { return aicc.FingerprintKeyOwner }}, nil
	}
	return sealedColumns{}, fmt.Errorf("db: unknown secret kind %q", kind)
}

// where adds the conditions that select the secrets of kind in c's table.
func (c sealedColumns) where(q bun.QueryBuilder, kind aicc.SecretKind) bun.QueryBuilder {
	if c.kind != "" {
		q = q.Where("? = ?", bun.Ident(c.kind), string(kind))
	}
	return q
}

// ResealSecrets re-seals up to b.Limit secrets of kind that are not sealed under b.KeyID, after row b.After in
// row key order (a Page token's key is its Page ID and channel ID, "page/channel"), in one transaction. Each
// row is updated only if its key ID and ciphertext are still the ones read, so a secret replaced meanwhile (by a
// process still sealing under an old key) is not overwritten with its former value; it is left for a later
// run. Only the key ID and ciphertext change.
func (s *Store) ResealSecrets(ctx context.Context, kind aicc.SecretKind, b aicc.ResealBatch) (string, int, error) {
	c, err := sealedColumnsOf(kind)
	if err != nil {
		return "", 0, err
	}
	if b.Limit < 1 || b.KeyID == "" || b.Reseal == nil {
		return "", 0, fmt.Errorf("db: reseal secrets: want a key ID, a reseal function and a limit of at least 1")
	}
	var next string
	var n int
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var rows []struct {
			ID         string
			Tie        string
			KeyID      string
			Ciphertext []byte
		}
		q := tx.NewSelect().TableExpr("?", bun.Ident(c.table)).
			ColumnExpr("? AS id", bun.Ident(c.id)).ColumnExpr("? AS key_id", bun.Ident(c.keyID)).
			ColumnExpr("? AS ciphertext", bun.Ident(c.ciphertext)).Where("? <> ?", bun.Ident(c.keyID), b.KeyID)
		if c.tie == "" {
			q = q.ColumnExpr("'' AS tie").Where("? > ?", bun.Ident(c.id), b.After).OrderExpr("? ASC", bun.Ident(c.id))
		} else {
			afterID, afterTie, _ := strings.Cut(b.After, "/")
			q = q.ColumnExpr("? AS tie", bun.Ident(c.tie)).
				Where("(?, ?) > (?, ?)", bun.Ident(c.id), bun.Ident(c.tie), afterID, afterTie).
				OrderExpr("? ASC, ? ASC", bun.Ident(c.id), bun.Ident(c.tie))
		}
		q = c.where(q.QueryBuilder(), kind).Unwrap().(*bun.SelectQuery)
		if err := q.Limit(int64(b.Limit)).Scan(ctx, &rows); err != nil {
			return err
		}
		next, n = "", 0
		if len(rows) == b.Limit {
			last := rows[len(rows)-1]
			next = last.ID
			if c.tie != "" {
				next += "/" + last.Tie
			}
		}
		for _, r := range rows {
			resealed, err := b.Reseal(aicc.SealedSecret{KeyID: r.KeyID, Ciphertext: r.Ciphertext}, c.owner(r.ID))
			if err != nil {
				return err
			}
			u := tx.NewUpdate().TableExpr("?", bun.Ident(c.table)).
				Set("? = ?", bun.Ident(c.keyID), resealed.KeyID).Set("? = ?", bun.Ident(c.ciphertext), resealed.Ciphertext).
				Where("? = ?", bun.Ident(c.id), r.ID).Where("? = ?", bun.Ident(c.keyID), r.KeyID).
				Where("? = ?", bun.Ident(c.ciphertext), r.Ciphertext)
			if c.tie != "" {
				u = u.Where("? = ?", bun.Ident(c.tie), r.Tie)
			}
			u = c.where(u.QueryBuilder(), kind).Unwrap().(*bun.UpdateQuery)
			res, err := u.Exec(ctx)
			if err != nil {
				return err
			}
			if m, err := res.RowsAffected(); err != nil {
				return err
			} else {
				n += int(m)
			}
		}
		return nil
	})
	if err != nil {
		return "", 0, wrap(err, "reseal "+string(kind)+" secrets")
	}
	return next, n, nil
}
