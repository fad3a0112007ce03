// Package aicc is the domain of the AICC Facebook channel service: tenants, the directory a channel refers to
// (OUs, skill queues, service calendars), Facebook channels and their Pages, sealed secrets, and the store
// interfaces the adapters implement. It imports only the standard library.
package aicc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"
	"time"
)

// Tenant is a contact-centre customer. Every row but system certificates and API tokens of the sysadmin
// belongs to exactly one tenant.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Validate checks the tenant's own fields.
func (t *Tenant) Validate() error {
	fe := FieldErrors{}
	checkLen(fe, "name", t.Name, 1, 100)
	return fe.Err()
}

// Role is what an API token may do.
type Role string

// Roles, from most to least powerful.
const (
	RoleSysadmin     Role = "sysadmin"      // manages tenants and system certificates; no tenant
	RoleTenantAdmin  Role = "tenant-admin"  // reads and writes its tenant's resources
	RoleTenantViewer Role = "tenant-viewer" // reads its tenant's resources
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleSysadmin || r == RoleTenantAdmin || r == RoleTenantViewer
}

// Principal is the authenticated caller of a request.
type Principal struct {
	TokenID  string
	TenantID string // empty for a sysadmin
	Role     Role
}

// CanWrite reports whether the principal may change its tenant's resources.
func (p Principal) CanWrite() bool { return p.Role == RoleTenantAdmin }

// APIToken is a bearer token as stored: only the SHA-256 hash of the secret part is kept. A revoked token stays
// stored, with RevokedAt, for the token list and the audit log; it authenticates nothing, like an expired one.
type APIToken struct {
	ID        string
	TenantID  string // empty for a sysadmin
	Role      Role
	Name      string
	Hash      []byte
	CreatedAt time.Time
	// ExpiresAt is when the token stops authenticating; zero for a token that does not expire.
	ExpiresAt time.Time
	// RevokedAt is when the token was revoked; zero while it is not.
	RevokedAt time.Time
	// LastUsedAt is when the token last authenticated a request, to within TokenTouchInterval; zero if never.
	LastUsedAt time.Time
}

// TokenTouchInterval is how stale a token's LastUsedAt may get. A request records its token's use only when the
// recorded one is older than this, so the last-used time costs at most one write per token per interval, not one
// write per request (most requests only read); a minute is exact enough to tell a token in use from a forgotten one.
const TokenTouchInterval = time.Minute

// AnyTenant, as the tenant of a token list or revocation, reaches every token, the sysadmins' included: for the
// sysadmin and the operator's commands. An empty tenant ID reaches the sysadmins' tokens only.
const AnyTenant = "*"

// RevokeToken revokes the token of tenantID (or AnyTenant) with the given ID at at, in one transaction with the
// audit entry e, which it completes with the token's tenant, role and name. A token revoked before keeps its first
// revocation and gets no second entry: it is returned with revoked false.
func RevokeToken(ctx context.Context, store interface {
	TokenStore
	AuditStore
}, e *AuditEntry, tenantID, id string, at time.Time) (tok *APIToken, revoked bool, err error) {
	err = store.Audited(ctx, e, func(ctx context.Context) error {
		if tok, revoked, err = store.RevokeToken(ctx, tenantID, id, at); err != nil {
			return err
		}
		if !revoked {
			return errRevokedAlready
		}
		e.Details = map[string]string{DetailTenantID: tok.TenantID, DetailRole: string(tok.Role), DetailName: tok.Name}
		return nil
	})
	if errors.Is(err, errRevokedAlready) {
		return tok, false, nil
	}
	return tok, revoked, err
}

// errRevokedAlready ends RevokeToken's audited change when the token was revoked before, so that no entry is
// appended.
var errRevokedAlready = errors.New("revoked already")

// TokenStatus says whether a token authenticates requests at a given time.
type TokenStatus string

// Token statuses.
const (
	TokenActive  TokenStatus = "active"
	TokenExpired TokenStatus = "expired"
	TokenRevoked TokenStatus = "revoked"
)

// Status is the token's status at now: revoked wins over expired.
func (t *APIToken) Status(now time.Time) TokenStatus {
	switch {
	case !t.RevokedAt.IsZero():
		return TokenRevoked
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return TokenExpired
	}
	return TokenActive
}

// NeedsTouch reports whether a request at now should record the token's use: its last recorded use is older
// than TokenTouchInterval, or there is none.
func (t *APIToken) NeedsTouch(now time.Time) bool {
	return t.LastUsedAt.IsZero() || now.Sub(t.LastUsedAt) >= TokenTouchInterval
}

// Validate checks a new token: a name of 1 to 100 characters, a known role, a tenant for every role but
// sysadmin and none for it, and an expiry, if any, after its creation.
func (t *APIToken) Validate() error {
	fe := FieldErrors{}
	checkLen(fe, "name", t.Name, 1, 100)
	switch {
	case !t.Role.Valid():
		fe.Add("role", "must be %s, %s or %s", RoleTenantAdmin, RoleTenantViewer, RoleSysadmin)
	case t.Role == RoleSysadmin && t.TenantID != "":
		fe.Add("tenantId", "must be absent for a sysadmin token")
	case t.Role != RoleSysadmin && t.TenantID == "":
		fe.Add("tenantId", "is required for a %s token", t.Role)
	}
	if !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(t.CreatedAt) {
		fe.Add("expiresAt", "must be in the future")
	}
	return fe.Err()
}

// TokenPrefix starts every API token, so that a leaked one is easy to recognise and scan for.
const TokenPrefix = "aicc_"

// NewAPIToken makes a token for tenantID (empty for a sysadmin) with the given role. It returns the bearer
// value, to be shown once, and the record to store, which holds only its hash.
func NewAPIToken(tenantID string, role Role, name string, now time.Time) (string, *APIToken) {
	secret := TokenPrefix + strings.ToLower(idEncoding.EncodeToString(RandomBytes(32)))
	return secret, &APIToken{
		ID: NewID(PrefixToken), TenantID: tenantID, Role: role, Name: name, Hash: HashToken(secret), CreatedAt: now,
	}
}

// HashToken returns the SHA-256 of a bearer token, the form in which tokens are stored and looked up.
func HashToken(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// ID prefixes make an ID's kind visible in logs and URLs.
const (
	PrefixTenant   = "ten"
	PrefixToken    = "tok"
	PrefixOU       = "ou"
	PrefixQueue    = "sq"
	PrefixCalendar = "cal"
	PrefixChannel  = "ch"
	PrefixCert     = "cert"
	PrefixExport   = "exp"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// MaxIDLength bounds the IDs NewID makes (a short prefix, "_" and 26 characters), with room to spare: a longer
// ID names nothing, and a store may say so without looking it up.
const MaxIDLength = 64

// NewID returns prefix + "_" + 26 random base32 characters (130 bits): unguessable, so a channel ID can stand
// in Meta's callback URL.
func NewID(prefix string) string {
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(RandomBytes(16)))
}

// RandomBytes returns n bytes from crypto/rand, which never fails on supported platforms.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func checkLen(fe FieldErrors, field, value string, min, max int) {
	n := len([]rune(value))
	switch {
	case n < min && min == 1:
		fe.Add(field, "is required")
	case n < min:
		fe.Add(field, "must have at least %d characters", min)
	case n > max:
		fe.Add(field, "must have at most %d characters", max)
	}
}

func checkRange(fe FieldErrors, field string, value, min, max int) {
	if value < min || value > max {
		fe.Add(field, "must be between %d and %d", min, max)
	}
}
