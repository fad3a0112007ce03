package db_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/stretchr/testify/require"
)

func TestOpen(t *testing.T) {
	require.Equal(t, db.SQLite, dbtest.SQLite(t).Dialect())
	for _, url := range []string{"mysql://root:hunter2@localhost/app", "sqlite:", "app.db",
		// A password with a '/' makes the rest of the URL look like a host and a port, which Go's parser quotes.
		"postgres://aicc:hunter2/Qm3v9@postgres:5432/aicc", "postgres://aicc:hunter2%zz@postgres:5432/aicc",
	} {
		_, err := db.Open(context.Background(), url)
		require.Error(t, err, url)
		require.NotContains(t, err.Error(), "hunter2")
	}
}

// TestSchemasMatch checks that both dialects' migrations make the same tables with the same columns, bun's
// own migration tables included.
func TestSchemasMatch(t *testing.T) {
	sqlite := columns(t, dbtest.SQLite(t))
	require.Subset(t, slices.Collect(maps.Keys(sqlite)), []string{
		"tenants", "api_tokens", "ous", "skill_queues", "service_calendars", "channels", "channel_secrets",
		"pages", "system_certificates", "inbox", "conversations", "bun_migrations", "bun_migration_locks",
	})
	if os.Getenv(dbtest.PostgresURLEnv) == "" {
		t.Skip(dbtest.PostgresURLEnv + " is not set: nothing to compare with")
	}
	require.Equal(t, sqlite, columns(t, dbtest.Postgres(t)))
}

func TestMigrateConcurrentlyAndTwice(t *testing.T) {
	for dialect, newURL := range map[string]func(testing.TB) string{
		db.SQLite: dbtest.SQLiteURL, db.Postgres: dbtest.PostgresURL,
	} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			url := newURL(t)
			stores := make([]*db.Store, 3)
			for i := range stores {
				s, err := db.Open(ctx, url)
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				stores[i] = s
			}
			errs := make([]error, len(stores))
			var wg sync.WaitGroup
			for i, s := range stores {
				wg.Go(func() { errs[i] = s.Migrate(ctx) })
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			require.NoError(t, stores[0].Migrate(ctx), "again")

			var applied int
			require.NoError(t, stores[0].DB().NewSelect().TableExpr("bun_migrations").ColumnExpr("count(*)").Scan(ctx, &applied))
			files, err := filepath.Glob(filepath.Join("migrations", dialect, "*.up.sql"))
			require.NoError(t, err)
			require.Equal(t, len(files), applied, "each migration runs once")
			require.GreaterOrEqual(t, applied, 2)
		})
	}
}

// columns returns the column names of every table in the store's schema.
func columns(tb testing.TB, s *db.Store) map[string][]string {
	tb.Helper()
	query := `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()
		ORDER BY table_name, column_name`
	if s.Dialect() == db.SQLite {
		query = `SELECT m.name, p.name FROM sqlite_schema m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.name`
	}
	rows, err := s.DB().QueryContext(context.Background(), query)
	require.NoError(tb, err)
	defer rows.Close()
	cols := map[string][]string{}
	for rows.Next() {
		var table, column string
		require.NoError(tb, rows.Scan(&table, &column))
		cols[table] = append(cols[table], column)
	}
	require.NoError(tb, rows.Err())
	return cols
}
