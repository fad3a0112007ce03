// Package sqlitewal copies a SQLite database's write-ahead log back into the database file in the background,
// rather than in whichever commit finds the log past its limit (SQLite's automatic checkpoint), which holds that
// commit, and on a database with one connection every other query, for the copy and its fsync.
package sqlitewal

import (
	"context"
	"database/sql"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"
)

// Every is how often a Checkpointer checkpoints.
const Every = 500 * time.Millisecond

// MaxLogPages is the automatic checkpoint limit (PRAGMA wal_autocheckpoint) for the connections of a database
// with a Checkpointer: 64 MiB of 4 KiB pages, far beyond what accrues between two background checkpoints, so that
// a commit checkpoints only when they fall behind.
const MaxLogPages = 16384

// Checkpointer runs PASSIVE checkpoints of a SQLite database in WAL mode on a connection of its own until closed.
// PASSIVE waits for no one: readers and the writer go on while the log is copied.
type Checkpointer struct {
	conn *sql.DB
	stop context.CancelFunc
	done chan struct{}
}

// Start opens a connection to the SQLite file at path and checkpoints through it every Every.
func Start(path string) (*Checkpointer, error) {
	conn, err := sql.Open(sqliteshim.ShimName, path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	ctx, stop := context.WithCancel(context.Background())
	c := &Checkpointer{conn: conn, stop: stop, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *Checkpointer) run(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// A failed checkpoint is tried again at the next tick; the writers' own limit is the backstop.
			_, _ = c.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// Close stops the checkpoints and closes their connection.
func (c *Checkpointer) Close() error {
	c.stop()
	<-c.done
	return c.conn.Close()
}
