// Package db keeps the service's state in Postgres (production) or SQLite (aicc dev and fast tests) through
// Bun. Store implements aicc.Store; driver errors that have a domain meaning (unique violations) become
// *aicc.Error values here, and nothing outside this package sees Bun.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/sqlitewal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"
)

// Dialect names, as Store.Dialect returns them.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// pgMaxIdleConns is how many Postgres connections the pool keeps open while idle. database/sql keeps 2, so
// under concurrent webhooks most requests would open a connection of their own first (measured with
// cmd/aicc-load at 64 senders: 3 to 4 times the throughput and a p99 of 66 ms instead of 479 ms with the
// connections kept).
const pgMaxIdleConns = 64

// DefaultMaxOpenConns bounds the Postgres connections of one process unless SetMaxOpenConns says otherwise, so
// a burst queues for a connection instead of opening more than the server allows: an api and a worker stay
// within Postgres' default max_connections of 100, with room for Temporal's own.
const DefaultMaxOpenConns = 32

// Store is the application database. It implements aicc.Store.
type Store struct {
	db          *bun.DB
	dialect     string
	checkpoints *sqlitewal.Checkpointer // SQLite only
}

var _ aicc.Store = (*Store)(nil)

// Open connects to the database named by rawURL and checks that it answers:
//   - postgres://… or postgresql://… (libpq URL; a search_path query parameter selects the schema),
//   - sqlite:PATH, for example sqlite:.aicc/app.db; the file and its directory are created if missing.
//
// Open does not migrate; call Migrate.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	var s *Store
	switch scheme, rest, _ := strings.Cut(rawURL, ":"); scheme {
	case "postgres", "postgresql":
		cfg, err := pgx.ParseConfig(rawURL)
		if err != nil {
			// pgx's message can quote part of the URL, the password among it (Go's URL parser reads a password
			// with a '/' as the host and port, and says so); only this fixed text is returned.
			return nil, errors.New("db: the postgres URL is not valid: percent-encode the characters :/?#[]@% " +
				"in its user name and password")
		}
		// Bun formats every value into the SQL text itself, so statements never repeat: preparing and caching
		// them (pgx's default) would cost a round trip each and fill the cache for nothing.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		sqldb := stdlib.OpenDB(*cfg)
		sqldb.SetMaxIdleConns(pgMaxIdleConns)
		sqldb.SetMaxOpenConns(DefaultMaxOpenConns)
		s = &Store{db: bun.NewDB(sqldb, pgdialect.New()), dialect: Postgres}
	case "sqlite":
		if rest == "" || strings.ContainsAny(rest, "?#") {
			return nil, errors.New("db: sqlite URL: want sqlite:PATH, with no ? or # in the path")
		}
		if err := os.MkdirAll(filepath.Dir(rest), 0o700); err != nil {
			return nil, fmt.Errorf("db: sqlite: %w", err)
		}
		// WAL lets readers run beside the writer; immediate transactions take the write lock at BEGIN, so two
		// processes on one file wait on busy_timeout instead of failing on a lock upgrade.
		sqldb, err := sql.Open(sqliteshim.ShimName, rest+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"+
			// A webhook POST's transaction fits in the page cache (the default, 2 MiB, spilled pages to the log
			// before the commit and wrote some twice). The log is checkpointed in the background: a POST of 1000
			// events writes about 600 pages of it, so with SQLite's automatic checkpoint every other one would copy
			// a thousand pages before it is answered (a third of its time; docs/benchmarks.md, "Validation").
			fmt.Sprintf("&_pragma=cache_size(-32768)&_pragma=wal_autocheckpoint(%d)", sqlitewal.MaxLogPages))
		if err != nil {
			return nil, fmt.Errorf("db: sqlite: %w", err)
		}
		// One connection: SQLite has a single writer, and a pool of one never sees SQLITE_BUSY from itself.
		sqldb.SetMaxOpenConns(1)
		s = &Store{db: bun.NewDB(sqldb, sqlitedialect.New()), dialect: SQLite}
		if s.checkpoints, err = sqlitewal.Start(rest); err != nil {
			s.Close()
			return nil, fmt.Errorf("db: sqlite: %w", err)
		}
	default:
		// The URL itself is not echoed: it may hold a password.
		return nil, fmt.Errorf("db: unsupported database URL scheme %q: want postgres://… or sqlite:PATH", scheme)
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.checkpoints != nil {
		s.checkpoints.Close()
	}
	return s.db.Close()
}

// Dialect returns "postgres" or "sqlite".
func (s *Store) Dialect() string { return s.dialect }

// DB returns the Bun database, for tests and tools that need plain SQL.
func (s *Store) DB() *bun.DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("db: %s: ping: %w", s.dialect, err)
	}
	return nil
}

//go:embed migrations
var migrationFiles embed.FS

// migrateLockTimeout bounds the wait for another process's migration. A lock left by a process that died
// mid-migration stays until an operator deletes its row from bun_migration_locks.
const migrateLockTimeout = time.Minute

// Migrate applies the embedded migrations of the store's dialect that have not run yet. Concurrent callers,
// in this process or others, take turns under bun's migration lock; the ones that come later find nothing
// to do.
func (s *Store) Migrate(ctx context.Context) error {
	dir, err := fs.Sub(migrationFiles, "migrations/"+s.dialect)
	if err != nil {
		return err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(dir); err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	m := migrate.NewMigrator(s.db, ms)
	if err := s.lockMigrations(ctx, m); err != nil {
		return err
	}
	_, err = m.Migrate(ctx)
	// Unlock even when ctx is done, or every later run waits for a lock that nobody holds.
	if uerr := m.Unlock(context.WithoutCancel(ctx)); err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	return nil
}

// lockMigrations creates bun's migration tables and takes its lock, waiting and trying again while another
// process migrates.
func (s *Store) lockMigrations(ctx context.Context, m *migrate.Migrator) error {
	ctx, cancel := context.WithTimeout(ctx, migrateLockTimeout)
	defer cancel()
	for {
		err := m.Init(ctx)
		if err == nil {
			err = m.Lock(ctx)
		}
		if err == nil {
			return nil
		}
		if !migrationRace(err) {
			return fmt.Errorf("db: migrate: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("db: migrate: the migration lock is taken (%w)", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// migrationRace reports whether err comes from another process migrating at the same time: it holds bun's
// lock (a unique violation), or Postgres saw it create a migration table first (a unique violation in the
// catalog, or "already exists" although the statement says IF NOT EXISTS).
func migrationRace(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P07" || pgErr.Code == "42710") {
		return true
	}
	_, ok := violatedUnique(err)
	return ok
}

// SetMaxOpenConns bounds the Postgres connections the store opens at once (at least 1); the idle ones are kept
// up to the same number. SQLite keeps its own single writer and is left as it is.
func (s *Store) SetMaxOpenConns(n int) {
	if s.dialect != Postgres || n < 1 {
		return
	}
	s.db.SetMaxOpenConns(n)
	s.db.SetMaxIdleConns(min(n, pgMaxIdleConns))
}
