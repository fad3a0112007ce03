// Package dbtest gives tests a fresh, migrated db.Store: on SQLite always, and on Postgres when
// AICC_TEST_POSTGRES_URL names a database (each test then gets a schema of its own, dropped afterwards).
package dbtest

import (
	"context"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
)

// PostgresURLEnv names the variable holding the URL of a Postgres database for tests. Unset, Postgres
// tests skip; set but unreachable, they fail.
const PostgresURLEnv = "AICC_TEST_POSTGRES_URL"

// Each runs fn as the subtests "sqlite" and "postgres", each on a fresh migrated store.
func Each(t *testing.T, fn func(t *testing.T, s *db.Store)) {
	t.Helper()
	t.Run(db.SQLite, func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run(db.Postgres, func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a migrated store on a new SQLite file, closed when the test ends.
func SQLite(tb testing.TB) *db.Store {
	tb.Helper()
	return open(tb, SQLiteURL(tb))
}

// Postgres returns a migrated store on a new schema of the test database, dropped when the test ends. It
// skips the test when AICC_TEST_POSTGRES_URL is unset.
func Postgres(tb testing.TB) *db.Store {
	tb.Helper()
	return open(tb, PostgresURL(tb))
}

// SQLiteURL returns the URL of a new, empty SQLite database in tb.TempDir().
func SQLiteURL(tb testing.TB) string {
	tb.Helper()
	return "sqlite:" + filepath.Join(tb.TempDir(), "app.db")
}

// PostgresURL creates an empty schema in the test database and returns a URL that works in it; the schema is
// dropped when the test ends. It skips the test when AICC_TEST_POSTGRES_URL is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		tb.Skip(PostgresURLEnv + " is not set")
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, base)
	if err != nil {
		tb.Fatalf("%s is set but the database does not answer: %v", PostgresURLEnv, err)
	}
	schema := "test_" + hex.EncodeToString(aicc.RandomBytes(8))
	if _, err := admin.DB().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.DB().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s does not parse", PostgresURLEnv)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(tb testing.TB, url string) *db.Store {
	tb.Helper()
	ctx := context.Background()
	s, err := db.Open(ctx, url)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return s
}
