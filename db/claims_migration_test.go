package db

import (
	"context"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/migrate"

	"github.com/aiccfb/aicc"
)

// TestClaimsMigration migrates a database with channels and Pages written before the claims migration
// (20261210000000_claims): the channels that show they own their app keep it claimed, the subscribed Pages
// keep theirs, nothing else is claimed, and every row and foreign key survives. On SQLite the migration
// rebuilds both tables, so this checks that deleting a channel still cascades to its Pages and secrets, and to
// nothing else.
func TestClaimsMigration(t *testing.T) {
	migratedBefore(t, "20261210000000", func(t *testing.T, s *Store) { // every migration before the claims
		ctx := context.Background()

		at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		exec := func(query string, args ...any) {
			t.Helper()
			_, err := s.db.ExecContext(ctx, query, args...)
			require.NoError(t, err, query)
		}
		exec(`INSERT INTO tenants (id, name, created_at) VALUES ('ten_a', 'a', ?)`, at)
		for _, ch := range [][3]string{
			{"ch_active", "1001", "active"},
			{"ch_withpage", "1002", "verified"}, // a Page of it is subscribed
			{"ch_waiting", "1003", "awaiting_verification"},
			{"ch_failed", "1004", "failed"},
		} {
			exec(`INSERT INTO channels (id, tenant_id, name, app_id, algorithm, basic, robot, status, created_at, updated_at)
				VALUES (?, 'ten_a', ?, ?, 'sha256', '{}', '{}', ?, ?, ?)`, ch[0], ch[0], ch[1], ch[2], at, at)
			exec(`INSERT INTO channel_secrets (channel_id, kind, key_id, ciphertext, fingerprint, updated_at)
				VALUES (?, 'app_secret', 'k', ?, 'f', ?)`, ch[0], []byte("x"), at)
		}
		for _, p := range [][3]string{
			{"100", "ch_active", "subscribed"},
			{"200", "ch_withpage", "subscribed"},
			{"201", "ch_withpage", "subscription_failed"},
			{"300", "ch_waiting", "connecting"},
		} {
			exec(`INSERT INTO pages (page_id, channel_id, tenant_id, name, token_key_id, token_ciphertext,
					token_fingerprint, token_updated_at, created_at, status, state_updated_at)
				VALUES (?, ?, 'ten_a', '', 'k', ?, 'f', ?, ?, ?, ?)`, p[0], p[1], []byte("x"), at, at, p[2], at.Add(time.Hour))
		}
		exec(`INSERT INTO secret_versions (id, tenant_id, channel_id, kind, page_id, key_id, ciphertext, fingerprint, created_at)
			VALUES ('sv_1', 'ten_a', 'ch_waiting', 'page_token', '300', 'k', ?, 'f', ?)`, []byte("x"), at)

		require.NoError(t, s.Migrate(ctx))

		claimed := map[string]bool{}
		for _, id := range []string{"ch_active", "ch_withpage", "ch_waiting", "ch_failed"} {
			ch, err := s.FindChannel(ctx, id)
			require.NoError(t, err)
			claimed[id] = !ch.AppClaimedAt.IsZero()
		}
		require.Equal(t, map[string]bool{"ch_active": true, "ch_withpage": true, "ch_waiting": false, "ch_failed": false}, claimed)
		for _, p := range []struct {
			channel, page string
			claimed       bool
		}{{"ch_active", "100", true}, {"ch_withpage", "200", true}, {"ch_withpage", "201", false}, {"ch_waiting", "300", false}} {
			got, err := s.GetPage(ctx, "ten_a", p.channel, p.page)
			require.NoError(t, err)
			require.Equal(t, p.claimed, !got.ClaimedAt.IsZero(), p.page)
			if p.claimed {
				require.Equal(t, at.Add(time.Hour), got.ClaimedAt, "claimed when it was subscribed")
			}
		}
		requireCount(t, s, "channel_secrets", 4)

		// The claims hold: the claimed app and Page are refused to another channel, the others not.
		exec(`INSERT INTO channels (id, tenant_id, name, app_id, algorithm, basic, robot, status, created_at, updated_at)
			VALUES ('ch_new', 'ten_a', 'new', '1003', 'sha256', '{}', '{}', 'pending', ?, ?)`, at, at)
		require.NoError(t, s.ClaimApp(ctx, "ten_a", "ch_new", at))
		require.Equal(t, aicc.EAPPCONNECTED, aicc.ErrorCode(s.ClaimApp(ctx, "ten_a", "ch_waiting", at)))
		exec(`UPDATE channels SET app_id = '1001' WHERE id = 'ch_failed'`)
		require.Equal(t, aicc.EAPPCONNECTED, aicc.ErrorCode(s.ClaimApp(ctx, "ten_a", "ch_failed", at)))

		// Foreign keys still name the rebuilt channels: a deletion cascades to its own rows only.
		exec(`DELETE FROM channels WHERE id = 'ch_waiting'`)
		requireCount(t, s, "pages", 3)
		requireCount(t, s, "channel_secrets", 3)
		requireCount(t, s, "secret_versions", 0)
		if s.dialect == SQLite {
			var problems []struct {
				Table, Parent string
			}
			require.NoError(t, s.db.NewRaw("SELECT \"table\", parent FROM pragma_foreign_key_check").Scan(ctx, &problems))
			require.Empty(t, problems)
			var fk int
			require.NoError(t, s.db.NewRaw("PRAGMA foreign_keys").Scan(ctx, &fk))
			require.Equal(t, 1, fk, "foreign keys are on again")
			var schema string
			require.NoError(t, s.db.NewRaw("SELECT group_concat(sql, ';') FROM sqlite_schema").Scan(ctx, &schema))
			require.NotContains(t, schema, "_new", "no reference to a table of the rebuild is left")
		}
		_, err := s.db.ExecContext(ctx, `INSERT INTO pages (page_id, channel_id, tenant_id, name, token_key_id,
				token_ciphertext, token_fingerprint, token_updated_at, created_at)
			VALUES ('999', 'ch_gone', 'ten_a', '', 'k', ?, 'f', ?, ?)`, []byte("x"), at, at)
		require.Error(t, err, "a Page of no channel is refused")
	})
}

func requireCount(tb testing.TB, s *Store, table string, want int) {
	tb.Helper()
	n, err := s.db.NewSelect().TableExpr(table).Count(context.Background())
	require.NoError(tb, err)
	require.Equal(tb, want, int(n), table)
}

// sqliteURL and postgresURL are dbtest's, which this package's own tests cannot import.
// migratedBefore runs test on each dialect, on a new database with every migration whose version sorts before
// version, as a database written by an older aicc would have them.
func migratedBefore(t *testing.T, version string, test func(t *testing.T, s *Store)) {
	for dialect, newURL := range map[string]func(testing.TB) string{SQLite: sqliteURL, Postgres: postgresURL} {
		t.Run(dialect, func(t *testing.T) {
			s, err := Open(context.Background(), newURL(t))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			migrateBefore(t, s, version)
			test(t, s)
		})
	}
}

// migrateBefore applies to s every migration whose version sorts before version.
func migrateBefore(t *testing.T, s *Store, version string) {
	t.Helper()
	ctx := context.Background()
	dir, err := fs.Sub(migrationFiles, "migrations/"+s.dialect)
	require.NoError(t, err)
	before := fstest.MapFS{}
	entries, err := fs.ReadDir(dir, ".")
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() < version {
			b, err := fs.ReadFile(dir, e.Name())
			require.NoError(t, err)
			before[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	ms := migrate.NewMigrations()
	require.NoError(t, ms.Discover(before))
	m := migrate.NewMigrator(s.db, ms)
	require.NoError(t, m.Init(ctx))
	_, err = m.Migrate(ctx)
	require.NoError(t, err)
}

func sqliteURL(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "app.db") }

func postgresURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("AICC_TEST_POSTGRES_URL")
	if base == "" {
		tb.Skip("AICC_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	admin, err := Open(ctx, base)
	require.NoError(tb, err)
	schema := "test_" + hex.EncodeToString(aicc.RandomBytes(8))
	_, err = admin.db.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		defer admin.Close()
		_, err := admin.db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		require.NoError(tb, err)
	})
	u, err := url.Parse(base)
	require.NoError(tb, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
