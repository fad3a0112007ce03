package api_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/mocks"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

// tokenInfo is the token JSON.
type tokenInfo struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	TenantID   string     `json:"tenantId"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	Token      string     `json:"token"`
}

// createToken creates a token through the API and returns the answer.
func (h *harness) createToken(caller string, body map[string]any) tokenInfo {
	h.t.Helper()
	r := h.post("/v1/tokens", caller, body)
	requireStatus(h.t, r, http.StatusCreated)
	var tok tokenInfo
	r.decode(h.t, &tok)
	return tok
}

// tokens lists the tokens at path page by page (limit 2) and returns them by ID.
func (h *harness) tokens(path, caller string) map[string]tokenInfo {
	h.t.Helper()
	out := map[string]tokenInfo{}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	cursor := ""
	for range 100 {
		p := path + sep + "limit=2"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		r := h.get(p, caller)
		requireStatus(h.t, r, http.StatusOK)
		var page struct {
			Items      []tokenInfo `json:"items"`
			NextCursor string      `json:"nextCursor"`
		}
		r.decode(h.t, &page)
		require.LessOrEqual(h.t, len(page.Items), 2)
		for _, tok := range page.Items {
			require.Empty(h.t, tok.Token, "a list never shows a token's value")
			out[tok.ID] = tok
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
	h.t.Fatal("the token list does not end")
	return nil
}

func TestTokens(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	sys := h.token("", aicc.RoleSysadmin)
	const systemLog = "/v1/system/audit"

	// A tenant-admin creates its tenant's tokens, with or without an expiry; the value is answered once.
	expiry := h.now().Add(24 * time.Hour)
	var ci tokenInfo
	e := h.audited(systemLog, sys, func() {
		ci = h.createToken(a.Admin, map[string]any{"name": "ci", "role": "tenant-viewer", "expiresAt": expiry})
	})
	assert.True(t, strings.HasPrefix(ci.Token, aicc.TokenPrefix))
	assert.Equal(t, tokenInfo{ID: ci.ID, Name: "ci", Role: "tenant-viewer", TenantID: a.ID, Status: "active",
		CreatedAt: h.now(), ExpiresAt: &expiry, Token: ci.Token}, ci)
	requireActor(t, e, h.tokenID(a.Admin), "tenant-admin")
	assert.Equal(t, "token.create", e.Action)
	assert.Equal(t, tokenTarget(ci.ID), e.Target)
	assert.Equal(t, map[string]string{"tenantId": a.ID, "role": "tenant-viewer", "name": "ci",
		"expiresAt": expiry.Format(time.RFC3339Nano)}, e.Details)
	requireStatus(t, h.get("/v1/ous", ci.Token), http.StatusOK)
	second := h.createToken(a.Admin, map[string]any{"name": "second admin", "role": "tenant-admin", "tenantId": a.ID})
	assert.Nil(t, second.ExpiresAt)
	requireStatus(t, h.post("/v1/ous", second.Token, map[string]any{"name": "by second"}), http.StatusCreated)
	// The sysadmin creates a token of any tenant, never a sysadmin token.
	bTok := h.createToken(sys, map[string]any{"name": "b ops", "role": "tenant-admin", "tenantId": b.ID})
	assert.Equal(t, b.ID, bTok.TenantID)

	h.notAudited(systemLog, sys, func() {
		for _, c := range []struct {
			caller string
			body   map[string]any
			field  string
		}{
			{a.Admin, map[string]any{"name": "root", "role": "sysadmin"}, "role"},
			{sys, map[string]any{"name": "root", "role": "sysadmin"}, "role"},
			{a.Admin, map[string]any{"name": "", "role": "tenant-viewer"}, "name"},
			{a.Admin, map[string]any{"name": strings.Repeat("n", 101), "role": "tenant-viewer"}, "name"},
			{a.Admin, map[string]any{"name": "x", "role": "tenant-viewer", "expiresAt": h.now()}, "expiresAt"},
			{a.Admin, map[string]any{"name": "x", "role": "tenant-viewer", "expiresAt": h.now().Add(-time.Hour)}, "expiresAt"},
			{a.Admin, map[string]any{"name": "x", "role": "tenant-viewer", "tenantId": b.ID}, "tenantId"},
			{a.Admin, map[string]any{"name": "x", "role": "tenant-viewer", "tenantId": "ten_missing"}, "tenantId"},
			{sys, map[string]any{"name": "x", "role": "tenant-viewer"}, "tenantId"},
			{sys, map[string]any{"name": "x", "role": "tenant-viewer", "tenantId": "ten_missing"}, "tenantId"},
		} {
			e := requireError(t, h.post("/v1/tokens", c.caller, c.body), http.StatusBadRequest, aicc.EINVALID)
			assert.Contains(t, e.Fields, c.field, "%v", c.body)
		}
		// Another tenant and a missing one look alike to a tenant-admin.
		other := requireError(t, h.post("/v1/tokens", a.Admin, map[string]any{"name": "x", "role": "tenant-viewer", "tenantId": b.ID}),
			http.StatusBadRequest, aicc.EINVALID)
		missing := requireError(t, h.post("/v1/tokens", a.Admin, map[string]any{"name": "x", "role": "tenant-viewer", "tenantId": "ten_missing"}),
			http.StatusBadRequest, aicc.EINVALID)
		assert.Equal(t, missing, other)
		// Every broken field at once.
		e := requireError(t, h.post("/v1/tokens", a.Admin, map[string]any{"name": "x", "role": "tenant-viewer", "tenantId": b.ID,
			"expiresAt": h.now().Add(-time.Hour)}), http.StatusBadRequest, aicc.EINVALID)
		assert.Equal(t, []string{"expiresAt", "tenantId"}, slices.Sorted(maps.Keys(e.Fields)))
		requireError(t, h.post("/v1/tokens", a.Viewer, map[string]any{"name": "x", "role": "tenant-viewer"}),
			http.StatusForbidden, aicc.EFORBIDDEN)
	})

	// Lists: a tenant-admin sees its tenant's tokens only; the sysadmin every token, or one tenant's.
	aTokens := h.tokens("/v1/tokens", a.Admin)
	require.Len(t, aTokens, 4) // the harness's admin and viewer, ci, second
	for _, tok := range aTokens {
		assert.Equal(t, a.ID, tok.TenantID)
	}
	assert.Contains(t, aTokens, ci.ID)
	assert.Equal(t, aTokens, h.tokens("/v1/tokens?tenantId="+a.ID, a.Admin))
	e2 := requireError(t, h.get("/v1/tokens?tenantId="+b.ID, a.Admin), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e2.Fields, "tenantId")
	all := h.tokens("/v1/tokens", sys)
	require.Len(t, all, 4+3+1) // A's, B's (admin, viewer, b ops) and the sysadmin's
	assert.Equal(t, "sysadmin", all[h.tokenID(sys)].Role)
	assert.Empty(t, all[h.tokenID(sys)].TenantID)
	bTokens := h.tokens("/v1/tokens?tenantId="+b.ID, sys)
	require.Len(t, bTokens, 3)
	assert.Contains(t, bTokens, bTok.ID)
	assert.Empty(t, h.tokens("/v1/tokens?tenantId=ten_missing", sys))
	requireError(t, h.get("/v1/tokens", a.Viewer), http.StatusForbidden, aicc.EFORBIDDEN)
	requireError(t, h.get("/v1/tokens?cursor=nope", a.Admin), http.StatusBadRequest, aicc.EINVALID)

	// Revocation: another tenant's token and a sysadmin's are not a tenant-admin's to see; a viewer may not.
	for _, id := range []string{bTok.ID, h.tokenID(sys), "tok_missing"} {
		e := requireError(t, h.delete("/v1/tokens/"+id, a.Admin), http.StatusNotFound, aicc.ENOTFOUND)
		assert.Equal(t, "The token does not exist.", e.Message)
	}
	requireError(t, h.delete("/v1/tokens/"+ci.ID, a.Viewer), http.StatusForbidden, aicc.EFORBIDDEN)
	requireError(t, h.delete("/v1/tokens/"+ci.ID, bTok.Token), http.StatusNotFound, aicc.ENOTFOUND)
	requireStatus(t, h.get("/v1/tokens", bTok.Token), http.StatusOK)

	unknown := requireError(t, h.get("/v1/ous", "aicc_notatoken"), http.StatusUnauthorized, aicc.EUNAUTH)
	e = h.audited(systemLog, sys, func() { requireStatus(t, h.delete("/v1/tokens/"+ci.ID, a.Admin), http.StatusNoContent) })
	assert.Equal(t, "token.revoke", e.Action)
	assert.Equal(t, tokenTarget(ci.ID), e.Target)
	assert.Equal(t, map[string]string{"tenantId": a.ID, "role": "tenant-viewer", "name": "ci"}, e.Details)
	requireActor(t, e, h.tokenID(a.Admin), "tenant-admin")
	// Refused at once, in the words of an unknown token.
	assert.Equal(t, unknown, requireError(t, h.get("/v1/ous", ci.Token), http.StatusUnauthorized, aicc.EUNAUTH))
	revoked := h.tokens("/v1/tokens", a.Admin)[ci.ID]
	assert.Equal(t, "revoked", revoked.Status)
	require.NotNil(t, revoked.RevokedAt)
	assert.Equal(t, h.now(), *revoked.RevokedAt)
	// Again: 204, the first revocation kept, no second entry.
	*h.clock = h.now().Add(time.Minute)
	h.notAudited(systemLog, sys, func() {
		requireStatus(t, h.delete("/v1/tokens/"+ci.ID, sys), http.StatusNoContent)
	})
	assert.Equal(t, revoked, h.tokens("/v1/tokens", a.Admin)[ci.ID])

	// The sysadmin revokes any tenant's token.
	requireStatus(t, h.delete("/v1/tokens/"+bTok.ID, sys), http.StatusNoContent)
	requireError(t, h.get("/v1/tokens", bTok.Token), http.StatusUnauthorized, aicc.EUNAUTH)

	// A caller may revoke the token it uses: the request succeeds, the next one does not.
	requireStatus(t, h.delete("/v1/tokens/"+second.ID, second.Token), http.StatusNoContent)
	assert.Equal(t, unknown, requireError(t, h.get("/v1/ous", second.Token), http.StatusUnauthorized, aicc.EUNAUTH))
	requireStatus(t, h.get("/v1/ous", a.Admin), http.StatusOK)
}

func tokenTarget(id string) struct {
	Type string `json:"type"`
	ID   string `json:"id"`
} {
	return struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}{"api_token", id}
}

// TestTokenExpiry checks that an expired token is refused from its expiry on, like an unknown one, and listed
// as expired.
func TestTokenExpiry(t *testing.T) {
	h := newHarness(t)
	a := h.newTenant("A")
	expiry := h.now().Add(time.Hour)
	tok := h.createToken(a.Admin, map[string]any{"name": "temp", "role": "tenant-admin", "expiresAt": expiry.Format(time.RFC3339)})
	unknown := requireError(t, h.get("/v1/ous", "aicc_notatoken"), http.StatusUnauthorized, aicc.EUNAUTH)

	*h.clock = expiry.Add(-time.Microsecond)
	requireStatus(t, h.get("/v1/ous", tok.Token), http.StatusOK)
	*h.clock = expiry
	assert.Equal(t, unknown, requireError(t, h.get("/v1/ous", tok.Token), http.StatusUnauthorized, aicc.EUNAUTH))
	*h.clock = expiry.Add(365 * 24 * time.Hour)
	assert.Equal(t, unknown, requireError(t, h.get("/v1/ous", tok.Token), http.StatusUnauthorized, aicc.EUNAUTH))
	listed := h.tokens("/v1/tokens", a.Admin)[tok.ID]
	assert.Equal(t, "expired", listed.Status)
	assert.Equal(t, expiry, *listed.ExpiresAt)
	assert.Nil(t, listed.RevokedAt)
}

// TestTokenLastUsed checks that a request records its token's use, at most once a minute.
func TestTokenLastUsed(t *testing.T) {
	h := newHarness(t)
	a := h.newTenant("A")
	start := h.now()
	tok := h.createToken(a.Admin, map[string]any{"name": "watched", "role": "tenant-viewer"})
	lastUsed := func() *time.Time {
		t.Helper()
		return h.tokens("/v1/tokens", a.Admin)[tok.ID].LastUsedAt
	}
	assert.Nil(t, lastUsed(), "never used")
	requireStatus(t, h.get("/v1/ous", tok.Token), http.StatusOK)
	assert.Equal(t, &start, lastUsed())
	for _, d := range []time.Duration{time.Second, 59 * time.Second} {
		*h.clock = start.Add(d)
		requireStatus(t, h.get("/v1/ous", tok.Token), http.StatusOK)
		assert.Equal(t, &start, lastUsed(), "not written again %v later", d)
	}
	later := start.Add(aicc.TokenTouchInterval)
	*h.clock = later
	requireStatus(t, h.get("/v1/ous", tok.Token), http.StatusOK)
	assert.Equal(t, &later, lastUsed())
	// A refused request (a viewer's write) still used the token.
	*h.clock = later.Add(2 * time.Minute)
	requireError(t, h.post("/v1/ous", tok.Token, map[string]any{"name": "x"}), http.StatusForbidden, aicc.EFORBIDDEN)
	assert.Equal(t, later.Add(2*time.Minute), *lastUsed())
}

// TestTokenValueNeverLeaks checks that a token's value appears only in the answer that created it: in no list,
// no other answer, no audit entry and no log line.
func TestTokenValueNeverLeaks(t *testing.T) {
	h := newHarness(t)
	a := h.newTenant("A")
	sys := h.token("", aicc.RoleSysadmin)
	tok := h.createToken(a.Admin, map[string]any{"name": "canary", "role": "tenant-viewer"})
	created := len(h.rec.bodies) - 1
	requireStatus(t, h.get("/v1/ous", tok.Token), http.StatusOK)
	requireError(t, h.post("/v1/ous", tok.Token, map[string]any{"name": "x"}), http.StatusForbidden, aicc.EFORBIDDEN)
	h.tokens("/v1/tokens", a.Admin)
	h.tokens("/v1/tokens", sys)
	requireStatus(t, h.delete("/v1/tokens/"+tok.ID, a.Admin), http.StatusNoContent)
	requireError(t, h.get("/v1/ous", tok.Token), http.StatusUnauthorized, aicc.EUNAUTH)
	h.tokens("/v1/tokens", sys)
	h.auditLog("/v1/system/audit", sys)

	hash := aicc.HashToken(tok.Token)
	for i, b := range h.rec.bodies {
		if i != created {
			assert.NotContains(t, b, strings.TrimPrefix(tok.Token, aicc.TokenPrefix), "response %d", i)
		}
		assert.NotContains(t, b, hex.EncodeToString(hash), "response %d", i)
		assert.NotContains(t, b, base64.StdEncoding.EncodeToString(hash), "response %d", i)
	}
	assert.Contains(t, h.rec.bodies[created], tok.Token)
	logs := h.logs.String()
	require.Contains(t, logs, tok.ID, "the logs name the token by its ID")
	assert.NotContains(t, logs, strings.TrimPrefix(tok.Token, aicc.TokenPrefix))
}

// TestRevocationAcrossProcesses runs two API servers, each with its own connection pool on the same database,
// as two processes would: a token revoked through one is refused by the other on its very next request.
func TestRevocationAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	url := dbtest.SQLiteURL(t)
	if os.Getenv(dbtest.PostgresURLEnv) != "" {
		url = dbtest.PostgresURL(t)
	}
	open := func() *db.Store {
		t.Helper()
		s, err := db.Open(ctx, url)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	first, second := open(), open()
	require.NoError(t, first.Migrate(ctx))
	keyring, err := aicc.NewKeyring(aicc.RandomBytes(aicc.MasterKeySize))
	require.NoError(t, err)
	process := func(store *db.Store) http.Handler {
		s := &api.Server{Store: store, Keyring: keyring, Temporal: mocks.NewClient(t), Metrics: prometheus.NewRegistry(),
			Logger: slog.New(slog.DiscardHandler)}
		return s.Handler()
	}
	one, two := process(first), process(second)
	send := func(h http.Handler, method, path, token string) int {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	tn := &aicc.Tenant{Name: "A"}
	require.NoError(t, first.CreateTenant(ctx, tn))
	admin, adminRec := aicc.NewAPIToken(tn.ID, aicc.RoleTenantAdmin, "admin", time.Now())
	victim, victimRec := aicc.NewAPIToken(tn.ID, aicc.RoleTenantViewer, "victim", time.Now())
	require.NoError(t, first.CreateToken(ctx, adminRec))
	require.NoError(t, first.CreateToken(ctx, victimRec))
	require.Equal(t, http.StatusOK, send(two, http.MethodGet, "/v1/ous", victim), "the second process knows the token")

	require.Equal(t, http.StatusNoContent, send(one, http.MethodDelete, "/v1/tokens/"+victimRec.ID, admin))
	revokedAt := time.Now()
	assert.Equal(t, http.StatusUnauthorized, send(two, http.MethodGet, "/v1/ous", victim),
		"the second process refuses the revoked token on its next request")
	assert.Less(t, time.Since(revokedAt), time.Second)
	assert.Equal(t, http.StatusUnauthorized, send(one, http.MethodGet, "/v1/ous", victim))
	assert.Equal(t, http.StatusOK, send(two, http.MethodGet, "/v1/ous", admin))
}
