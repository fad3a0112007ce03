package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"
)

// SQLite's write-ahead log is copied back into the database file (a checkpoint) by a connection of its own, in
// the background, rather than by whichever commit finds the log past its limit: a webhook POST of 1000 events
// writes about 600 pages of log, so with SQLite's default every other one would copy a thousand pages before it
// is answered (measured: a third of that POST's time; docs/benchmarks.md, "Validation"). The store's connection
// still checkpoints past sqliteMaxLogPages, should the background one fall behind.
const (
	sqliteCheckpointEvery = 500 * time.Millisecond
	sqliteMaxLogPages     = 16384 // 64 MiB of 4 KiB pages
)

// checkpointer runs PASSIVE checkpoints of a SQLite database on a connection of its own until stopped.
// PASSIVE waits for no one: readers and the writer go on while the log is copied.
type checkpointer struct {
	conn *sql.DB
	stop context.CancelFunc
	done chan struct{}
}

// startCheckpointer opens a second connection to the SQLite file at path and checkpoints through it.
func startCheckpointer(path string) (*checkpointer, error) {
	conn, err := sql.Open(sqliteshim.ShimName, path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{conn: conn, stop: stop, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(sqliteCheckpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// A failed checkpoint is tried again at the next tick; the writer's own limit is the backstop.
			_, _ = c.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// close stops the checkpoints and closes their connection.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.conn.Close()
}
