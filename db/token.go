package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/aiccfb/aicc"
)

// CreateToken stores a new API token (its hash). An empty ID and a zero CreatedAt are filled in. It joins
// Audited's transaction.
func (s *Store) CreateToken(ctx context.Context, t *aicc.APIToken) error {
	stamp(&t.ID, aicc.PrefixToken, &t.CreatedAt)
	t.ExpiresAt = norm(t.ExpiresAt)
	_, err := s.conn(ctx).NewInsert().Model(newTokenRow(t)).Exec(ctx)
	return wrap(err, "create token")
}

// FindToken returns the API token with the given SHA-256 hash if it authenticates at now: neither revoked nor
// expired. An unknown, revoked or expired token is the same ENOTFOUND, so that nothing tells them apart. It
// reads the row on every call, which the unique index on hash makes one index lookup; there is no cache, so a
// revocation committed by any process holds for the next request of every process.
func (s *Store) FindToken(ctx context.Context, hash []byte, now time.Time) (*aicc.APIToken, error) {
	var r tokenRow
	err := s.db.NewSelect().Model(&r).
		Where("hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", hash, norm(now)).
		Scan(ctx)
	if err != nil {
		return nil, wrap(found(err, "token"), "find token")
	}
	return r.domain(), nil
}

// TouchToken sets the token's last use to at, unless the recorded one is less than aicc.TokenTouchInterval
// older. The condition is in the UPDATE, so that processes racing to record the same minute write it once; the
// caller asks only when the row it read looked stale (aicc.APIToken.NeedsTouch), so a request costs no write
// at all but once a minute per token.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	at = norm(at)
	_, err := s.db.NewUpdate().Model((*tokenRow)(nil)).Set("last_used_at = ?", at).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at <= ?)", id, at.Add(-aicc.TokenTouchInterval)).
		Exec(ctx)
	return wrap(err, "touch token")
}

// ListTokens lists the tokens of tenantID ("" for the sysadmins', aicc.AnyTenant for all), revoked and
// expired ones included, in creation order.
func (s *Store) ListTokens(ctx context.Context, tenantID string, opt aicc.ListOptions) ([]*aicc.APIToken, string, error) {
	l, err := newListing(byCreated, opt)
	if err != nil {
		return nil, "", err
	}
	cond, args := tokenScope(tenantID)
	var rows []*tokenRow
	if err := l.apply(s.db.NewSelect().Model(&rows).Where(cond, args...)).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list tokens")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*tokenRow).domain), next, nil
}

// RevokeToken sets the revocation time of the token of tenantID ("" for the sysadmins', aicc.AnyTenant for
// any) and returns the token with revoked true. A token revoked already keeps its first revocation time and is
// returned with revoked false; a missing token, or one outside tenantID, is ENOTFOUND. It joins Audited's
// transaction.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) (*aicc.APIToken, bool, error) {
	cond, args := tokenScope(tenantID)
	conn := s.conn(ctx)
	var r tokenRow
	err := conn.NewUpdate().Model(&r).Set("revoked_at = ?", stateTime(at)).
		Where("id = ? AND revoked_at IS NULL", id).Where(cond, args...).
		Returning("*").Scan(ctx)
	if err == nil {
		return r.domain(), true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, wrap(err, "revoke token")
	}
	err = conn.NewSelect().Model(&r).Where("id = ?", id).Where(cond, args...).Scan(ctx)
	if err != nil {
		return nil, false, wrap(found(err, "token"), "revoke token")
	}
	return r.domain(), false, nil
}

// tokenScope is the condition that selects the tokens of tenantID: one tenant's, the sysadmins' (""), or all
// (aicc.AnyTenant).
func tokenScope(tenantID string) (string, []any) {
	switch tenantID {
	case aicc.AnyTenant:
		return "TRUE", nil
	case "":
		return "tenant_id IS NULL", nil
	}
	return "tenant_id = ?", []any{tenantID}
}
