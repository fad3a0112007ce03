package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aiccfb/aicc/db"
)

// identity is one thing sent (an event by its message ID, a baseline body by its hash) and whether a POST
// carrying it was acknowledged.
type identity struct {
	key   string
	acked bool
}

// check is the database's verdict on one target's run.
type check struct {
	kind          string // "events" or "bodies"
	acked         int    // distinct identities acknowledged at least once
	storedOnce    int    // of those, stored exactly once
	lost          int    // acknowledged but absent: Meta would never send them again
	duplicated    int    // stored more than once
	unacked       int    // sent only in POSTs that were not answered 200
	unackedStored int    // of those, stored all the same (the answer was lost, or came after a timeout)
	unexpected    int    // stored under the run's prefix but never sent
}

func (c *check) failed() bool {
	return c != nil && (c.lost > 0 || c.duplicated > 0 || c.unexpected > 0)
}

func (c *check) String() string {
	verdict := "OK"
	if c.failed() {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s: acknowledged %s %d, stored once %d, lost %d, duplicated %d; unacknowledged-only %d "+
		"(stored anyway %d); unexpected rows %d", verdict, c.kind, c.acked, c.storedOnce, c.lost, c.duplicated,
		c.unacked, c.unackedStored, c.unexpected)
}

// compare checks the identities sent against stored, the number of rows of each key.
func compare(kind string, sent []identity, stored map[string]int) *check {
	c := &check{kind: kind}
	acked := map[string]bool{}
	for _, id := range sent {
		acked[id.key] = acked[id.key] || id.acked
	}
	for key, ok := range acked {
		n := stored[key]
		if n > 1 {
			c.duplicated++
		}
		if !ok {
			c.unacked++
			if n > 0 {
				c.unackedStored++
			}
			continue
		}
		c.acked++
		switch n {
		case 0:
			c.lost++
		case 1:
			c.storedOnce++
		}
	}
	for key := range stored {
		if _, ok := acked[key]; !ok {
			c.unexpected++
		}
	}
	return c
}

// verifyInbox checks the run's events against the inbox rows of the channel: every acknowledged message ID
// once, none twice.
func verifyInbox(ctx context.Context, store *db.Store, channelID, midPrefix string, res *result) (*check, error) {
	var rows []struct {
		MID string `bun:"mid"`
		N   int    `bun:"n"`
	}
	err := store.DB().NewSelect().Table("inbox").ColumnExpr("mid").ColumnExpr("count(*) AS n").
		Where("channel_id = ?", channelID).Where("mid LIKE ?", midPrefix+"%").Group("mid").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	stored := map[string]int{}
	for _, r := range rows {
		if strings.HasPrefix(r.MID, midPrefix) { // LIKE's _ matches any character
			stored[r.MID] = r.N
		}
	}
	var sent []identity
	for _, p := range res.posts {
		for _, mid := range p.mids {
			sent = append(sent, identity{key: mid, acked: p.acked})
		}
	}
	return compare("events", sent, stored), nil
}
