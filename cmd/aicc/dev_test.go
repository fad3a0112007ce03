package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/worker"
)

// TestDevTemporalKeepsState starts the embedded Temporal server on a file, registers the search attributes,
// stops it, and starts it again on the same file: the namespace and the attributes are still there.
func TestDevTemporalKeepsState(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	port, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}

	for run := 1; run <= 2; run++ {
		start := time.Now()
		tmp, err := startDevTemporal(ctx, logger, dbFile, port, "default")
		if err != nil {
			t.Fatalf("start %d: %v", run, err)
		}
		t.Logf("start %d took %s", run, time.Since(start).Round(time.Millisecond))
		c, err := client.Dial(client.Options{HostPort: tmp.HostPort, Logger: sdklog.NewStructuredLogger(logger)})
		if err != nil {
			_ = tmp.Stop()
			t.Fatal(err)
		}
		if run == 1 {
			if err := worker.RegisterSearchAttributes(ctx, c, "default"); err != nil {
				t.Errorf("RegisterSearchAttributes: %v", err)
			}
		} else {
			resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
			if err != nil {
				t.Errorf("ListSearchAttributes: %v", err)
			}
			for _, name := range []string{"TenantId", "ChannelId"} {
				if _, ok := resp.GetCustomAttributes()[name]; !ok {
					t.Errorf("after a restart the search attribute %s is gone", name)
				}
			}
		}
		c.Close()
		if err := tmp.Stop(); err != nil {
			t.Errorf("stop %d: %v", run, err)
		}
	}
}

func TestEnsureDevTokensSurvivesRestarts(t *testing.T) {
	ctx := context.Background()
	store := dbtest.SQLite(t)
	path := filepath.Join(t.TempDir(), "dev-tokens.json")

	first, err := ensureDevTokens(ctx, store, path)
	if err != nil {
		t.Fatal(err)
	}
	if first.TenantID == "" || !strings.HasPrefix(first.TenantAdmin, aicc.TokenPrefix) || !strings.HasPrefix(first.Sysadmin, aicc.TokenPrefix) {
		t.Fatalf("tokens = %+v", first)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	for name, tok := range map[string]struct {
		value  string
		tenant string
		role   aicc.Role
	}{
		"tenant admin": {first.TenantAdmin, first.TenantID, aicc.RoleTenantAdmin},
		"sysadmin":     {first.Sysadmin, "", aicc.RoleSysadmin},
	} {
		rec, err := store.FindToken(ctx, aicc.HashToken(tok.value))
		if err != nil {
			t.Fatalf("%s token not in the store: %v", name, err)
		}
		if rec.TenantID != tok.tenant || rec.Role != tok.role {
			t.Errorf("%s token = tenant %q role %q, want %q %q", name, rec.TenantID, rec.Role, tok.tenant, tok.role)
		}
	}

	second, err := ensureDevTokens(ctx, store, path)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("restart changed the tokens: %+v, want %+v", second, first)
	}

	// A new database (app.db deleted) gets a new tenant and tokens, and the file follows.
	fresh := dbtest.SQLite(t)
	third, err := ensureDevTokens(ctx, fresh, path)
	if err != nil {
		t.Fatal(err)
	}
	if third.TenantID == first.TenantID || third.TenantAdmin == first.TenantAdmin {
		t.Errorf("tokens of a lost database were kept")
	}
	var onDisk devTokens
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk != third {
		t.Errorf("file = %s (%v), want %+v", b, err, third)
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args       []string
		want       int
		wantStderr string
		wantStdout string
	}{
		{nil, exitUsage, "Usage: aicc", ""},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`, ""},
		{[]string{"help"}, exitOK, "", "Usage: aicc"},
		{[]string{"version"}, exitOK, "", "aicc "},
		{[]string{"version", "x"}, exitUsage, "takes no arguments", ""},
		{[]string{"api", "--nope"}, exitUsage, "flag provided but not defined", ""},
		{[]string{"migrate", "extra"}, exitUsage, `unexpected argument "extra"`, ""},
		{[]string{"dev", "--ui-port", "x"}, exitUsage, "invalid value", ""},
		{[]string{"tokens"}, exitUsage, "tokens create", ""},
		{[]string{"tokens", "create", "--role", "root"}, exitUsage, "--role must be", ""},
		{[]string{"tokens", "create", "--role", "sysadmin", "--tenant", "ten_x"}, exitUsage, "takes no --tenant", ""},
		{[]string{"tokens", "create", "--role", "tenant-admin"}, exitUsage, "--tenant is required", ""},
		{[]string{"tenants", "create"}, exitUsage, "is required", ""},
		{[]string{"healthcheck"}, exitUsage, "usage: aicc healthcheck", ""},
		{[]string{"healthcheck", "http://127.0.0.1:1/healthz"}, exitError, "aicc healthcheck", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), tt.args, &stdout, &stderr)
			if got != tt.want {
				t.Errorf("exit = %d, want %d (stderr %q)", got, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) || !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q, stderr %q; want them to contain %q, %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
}
