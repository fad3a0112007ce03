package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

// TestTokensCommands runs "aicc tokens create|list|revoke" against a SQLite database, as an operator would on
// the server.
func TestTokensCommands(t *testing.T) {
	ctx := context.Background()
	url := dbtest.SQLiteURL(t)
	store, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AICC_DATABASE_URL", url)
	cli := func(want int, args ...string) (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(ctx, args, &stdout, &stderr); code != want {
			t.Fatalf("aicc %s: exit %d, want %d: %s", strings.Join(args, " "), code, want, stderr.String())
		}
		return stdout.String(), stderr.String()
	}

	out, _ := cli(exitOK, "tenants", "create", "--name", "acme")
	tenantID := strings.TrimSpace(out)
	out, _ = cli(exitOK, "tokens", "create", "--tenant", tenantID, "--role", "tenant-viewer", "--name", "ci", "--expires-in", "720h")
	ci := strings.TrimSpace(out)
	out, _ = cli(exitOK, "tokens", "create", "--role", "sysadmin", "--name", "ops")
	ops := strings.TrimSpace(out)
	ciTok := findToken(t, store, ci)
	if d := time.Until(ciTok.ExpiresAt); d < 719*time.Hour || d > 720*time.Hour {
		t.Errorf("expires in %v, want 720h", d)
	}
	opsTok := findToken(t, store, ops)
	if !opsTok.ExpiresAt.IsZero() {
		t.Errorf("sysadmin token expires at %v, want never", opsTok.ExpiresAt)
	}

	out, _ = cli(exitOK, "tokens", "list")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "ID ") {
		t.Fatalf("list = %q, want a header and two tokens", out)
	}
	for _, want := range []string{ciTok.ID, opsTok.ID, tenantID, "tenant-viewer", "sysadmin", "active",
		ciTok.ExpiresAt.Format(time.RFC3339)} {
		if !strings.Contains(out, want) {
			t.Errorf("list = %q, want %q in it", out, want)
		}
	}
	out, _ = cli(exitOK, "tokens", "list", "--tenant", tenantID)
	if strings.Contains(out, opsTok.ID) || !strings.Contains(out, ciTok.ID) {
		t.Errorf("list --tenant = %q, want the tenant's token only", out)
	}

	out, _ = cli(exitOK, "tokens", "revoke", ciTok.ID)
	if !strings.Contains(out, ciTok.ID+" revoked") {
		t.Errorf("revoke = %q", out)
	}
	if _, err := store.FindToken(ctx, aicc.HashToken(ci), time.Now()); aicc.ErrorCode(err) != aicc.ENOTFOUND {
		t.Errorf("FindToken after revoke: %v, want NOT_FOUND", err)
	}
	out, _ = cli(exitOK, "tokens", "revoke", ciTok.ID)
	if !strings.Contains(out, "revoked already") {
		t.Errorf("second revoke = %q", out)
	}
	out, _ = cli(exitOK, "tokens", "list", "--tenant", tenantID)
	if !strings.Contains(out, "revoked") {
		t.Errorf("list = %q, want the token revoked", out)
	}
	_, errOut := cli(exitError, "tokens", "revoke", "tok_missing")
	if !strings.Contains(errOut, "no token has the ID") {
		t.Errorf("revoke of a missing token: %q", errOut)
	}
	_, errOut = cli(exitUsage, "tokens", "revoke", ops)
	if strings.Contains(errOut, ops) || !strings.Contains(errOut, "not its value") {
		t.Errorf("revoke by value: %q", errOut)
	}
	_, errOut = cli(exitUsage, "tokens", "revoke")
	if !strings.Contains(errOut, "aicc tokens revoke ID") {
		t.Errorf("revoke without an ID: %q", errOut)
	}
	cli(exitUsage, "tokens", "revoke", "a", "b")
	cli(exitUsage, "tokens", "list", "extra")
	cli(exitUsage, "tokens", "create", "--role", "sysadmin", "--expires-in", "-1h")
	_, errOut = cli(exitUsage, "tokens", "frobnicate")
	if !strings.Contains(errOut, "tokens list") || !strings.Contains(errOut, "tokens revoke") {
		t.Errorf("usage = %q", errOut)
	}

	// One audit entry per change, the command as the actor, the expiry in the details; no token's value.
	entries, _, err := store.ListAudit(ctx, aicc.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Actor.Command+" "+string(e.Action)+" "+e.Target.ID)
		for k, v := range e.Details {
			if strings.Contains(v, ci) || strings.Contains(v, ops) {
				t.Errorf("entry %d detail %s holds a token", e.ID, k)
			}
		}
	}
	want := []string{
		"aicc tokens revoke token.revoke " + ciTok.ID,
		"aicc tokens create token.create " + opsTok.ID,
		"aicc tokens create token.create " + ciTok.ID,
		"aicc tenants create tenant.create " + tenantID,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := entries[2].Details; d[aicc.DetailExpiresAt] != ciTok.ExpiresAt.Format(time.RFC3339Nano) || d[aicc.DetailTenantID] != tenantID {
		t.Errorf("create entry details = %v", d)
	}
	if d := entries[0].Details; d[aicc.DetailName] != "ci" || d[aicc.DetailRole] != "tenant-viewer" {
		t.Errorf("revoke entry details = %v", d)
	}
}

// findToken returns the stored record of the token with the given value.
func findToken(tb testing.TB, store *db.Store, secret string) *aicc.APIToken {
	tb.Helper()
	if !strings.HasPrefix(secret, aicc.TokenPrefix) {
		tb.Fatalf("%q is not a token", secret)
	}
	tok, err := store.FindToken(context.Background(), aicc.HashToken(secret), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// TestPrintTokensOneLine checks that a name cannot break the table's rows.
func TestPrintTokensOneLine(t *testing.T) {
	if got := oneLine("a\tb\nc\x7fd"); got != "a b c d" {
		t.Errorf("oneLine = %q", got)
	}
}

// TestCodecServerRefusesRevokedTokens checks that the codec server, a process of its own, refuses a sysadmin
// token once it is revoked or expired, like the API.
func TestCodecServerRefusesRevokedTokens(t *testing.T) {
	ctx := context.Background()
	store := dbtest.SQLite(t)
	authorize := authorizeSysadmin(store)
	request := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/decode", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
	revoked, revokedRec := aicc.NewAPIToken("", aicc.RoleSysadmin, "ops", time.Now())
	expired, expiredRec := aicc.NewAPIToken("", aicc.RoleSysadmin, "temp", time.Now().Add(-time.Hour))
	expiredRec.ExpiresAt = time.Now().Add(-time.Minute)
	for _, tok := range []*aicc.APIToken{revokedRec, expiredRec} {
		if err := store.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := authorize(request(revoked)); err != nil {
		t.Fatalf("a valid sysadmin token is refused: %v", err)
	}
	if _, _, err := store.RevokeToken(ctx, aicc.AnyTenant, revokedRec.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"revoked": revoked, "expired": expired} {
		if err := authorize(request(token)); err == nil {
			t.Errorf("the %s token is accepted", name)
		}
	}
}
