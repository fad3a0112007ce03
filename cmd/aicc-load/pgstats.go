package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/uptrace/bun"

	"github.com/aiccfb/aicc/db"
)

// pgCounter reads how many transactions the run's Postgres databases (the store's, Temporal's) committed, from
// pg_stat_database, so that a phase can say which database the time went to.
type pgCounter struct {
	admin *db.Store         // on the server's postgres database
	names map[string]string // database name → what it is
}

// newPGCounter connects to the server of serverURL (a database URL on it) to count commits of the databases
// names, whose roles (app, temporal, visibility) are their values.
func newPGCounter(ctx context.Context, serverURL string, names map[string]string) (*pgCounter, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/postgres"
	admin, err := db.Open(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("pg_stat_database: %w", err)
	}
	return &pgCounter{admin: admin, names: names}, nil
}

// commits returns the transactions committed so far by each counted database, by role.
func (c *pgCounter) commits(ctx context.Context) map[string]int64 {
	if c == nil {
		return nil
	}
	var rows []struct {
		Datname    string `bun:"datname"`
		XactCommit int64  `bun:"xact_commit"`
	}
	names := make([]string, 0, len(c.names))
	for n := range c.names {
		names = append(names, n)
	}
	err := c.admin.DB().NewRaw("SELECT datname, xact_commit FROM pg_stat_database WHERE datname IN (?)",
		bun.List(names)).Scan(ctx, &rows)
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[c.names[r.Datname]] = r.XactCommit
	}
	return out
}

// Close closes the connection.
func (c *pgCounter) Close() error {
	if c == nil {
		return nil
	}
	return c.admin.Close()
}

// commitDelta is what a phase committed, by role.
type commitDelta map[string]int64

// since returns after − before per role.
func since(before, after map[string]int64) commitDelta {
	if before == nil || after == nil {
		return nil
	}
	d := commitDelta{}
	for k, v := range after {
		d[k] = v - before[k]
	}
	return d
}

// per formats the delta, with each role's commits per event of the phase.
func (d commitDelta) per(events int) string {
	if len(d) == 0 {
		return ""
	}
	roles := make([]string, 0, len(d))
	for r := range d {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	parts := make([]string, len(roles))
	for i, r := range roles {
		parts[i] = fmt.Sprintf("%s %d (%.2f per event)", r, d[r], float64(d[r])/float64(max(events, 1)))
	}
	return strings.Join(parts, ", ")
}

// autovacuum returns the server's autovacuum setting. With it off, as on some CI machines and unlike any
// production server, no table is ever analyzed or vacuumed: Temporal's queue tables keep their dead rows and
// have no statistics to be planned by.
func (c *pgCounter) autovacuum(ctx context.Context) string {
	var setting string
	if err := c.admin.DB().NewRaw("SHOW autovacuum").Scan(ctx, &setting); err != nil {
		return "unknown"
	}
	return setting
}
