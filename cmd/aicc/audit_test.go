package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

// TestCLIAudit checks that the operator's commands that create tenants and API tokens leave one system audit
// entry each, the command as the actor, and never the token's value.
func TestCLIAudit(t *testing.T) {
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

	runOK := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(ctx, args, &stdout, &stderr); code != exitOK {
			t.Fatalf("aicc %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		}
		return strings.TrimSpace(stdout.String())
	}
	tenantID := runOK("tenants", "create", "--name", "acme")
	secret := runOK("tokens", "create", "--tenant", tenantID, "--role", "tenant-admin", "--name", "ops")
	var stderr bytes.Buffer
	if code := run(ctx, []string{"tenants", "create", "--name", "acme"}, &bytes.Buffer{}, &stderr); code == exitOK {
		t.Fatal("a second tenant with the same name was created")
	}
	tok, err := store.FindToken(ctx, aicc.HashToken(secret), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ensureDevTokens(ctx, store, filepath.Join(t.TempDir(), devTokensFile))
	if err != nil {
		t.Fatal(err)
	}

	entries, _, err := store.ListAudit(ctx, aicc.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		command string
		action  aicc.AuditAction
		target  string
		role    string
	}
	var gots []got
	for _, e := range entries {
		if e.Actor.Type != aicc.ActorCLI || e.TenantID != "" {
			t.Errorf("entry %d: actor %+v, tenant %q; want the CLI, a system entry", e.ID, e.Actor, e.TenantID)
		}
		for k, v := range e.Details {
			for _, s := range []string{secret, dev.TenantAdmin, dev.Sysadmin} {
				if strings.Contains(v, s) {
					t.Errorf("entry %d detail %s holds a token", e.ID, k)
				}
			}
		}
		gots = append(gots, got{e.Actor.Command, e.Action, string(e.Target.Type), e.Details[aicc.DetailRole]})
	}
	want := []got{
		{"aicc dev", aicc.AuditTokenCreate, "api_token", "sysadmin"},
		{"aicc dev", aicc.AuditTokenCreate, "api_token", "tenant-admin"},
		{"aicc dev", aicc.AuditTenantCreate, "tenant", ""},
		{"aicc tokens create", aicc.AuditTokenCreate, "api_token", "tenant-admin"},
		{"aicc tenants create", aicc.AuditTenantCreate, "tenant", ""},
	}
	if len(gots) != len(want) {
		t.Fatalf("entries = %+v, want %+v", gots, want)
	}
	for i := range want {
		if gots[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, gots[i], want[i])
		}
	}
	if e := entries[3]; e.Target.ID != tok.ID || e.Details[aicc.DetailTenantID] != tenantID {
		t.Errorf("token entry = %+v, want target %s of tenant %s", e, tok.ID, tenantID)
	}
	if e := entries[4]; e.Target.ID != tenantID {
		t.Errorf("tenant entry = %+v, want target %s", e, tenantID)
	}
}
