package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 51, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{ms(1, 2, 3, 4), 0, 1 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 99.5, 100 * time.Millisecond},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("percentile(%d values, %v) = %s, want %s", len(tc.sorted), tc.p, got, tc.want)
		}
	}
}

// TestGenerator: every new body is valid JSON that meta parses into exactly its items, every message ID is
// unique across senders, and resends are earlier bodies byte for byte.
func TestGenerator(t *testing.T) {
	g := &generator{run: "abc", pages: []string{"800000000000001001", "800000000000001002"}, customers: 5, items: 3, dup: 0.25}
	mids := map[string]bool{}
	resends := 0
	for w := range 3 {
		rnd := rand.New(rand.NewPCG(uint64(w), 42))
		var sent []*post
		for range 200 {
			p, resend := g.next(w, sent, rnd, 1_700_000_000_000)
			if resend {
				resends++
				found := false
				for _, q := range sent {
					found = found || (q == p && bytes.Equal(q.body, p.body))
				}
				if !found {
					t.Fatalf("resend of a body never sent")
				}
				continue
			}
			sent = append(sent, p)
			if len(p.mids) != g.items {
				t.Fatalf("post has %d message IDs, want %d", len(p.mids), g.items)
			}
			events, err := meta.Codec{}.ParseEvents(p.body)
			if err != nil {
				t.Fatalf("ParseEvents: %v\n%s", err, p.body)
			}
			if len(events) != g.items {
				t.Fatalf("body parses into %d events, want %d:\n%s", len(events), g.items, p.body)
			}
			for _, e := range events {
				if !slices.Contains(p.mids, e.MID) || e.Kind != aicc.EventMessage || e.DedupKey == "" {
					t.Fatalf("event %+v, want a message of %v", e, p.mids)
				}
			}
			for _, mid := range p.mids {
				if !strings.HasPrefix(mid, g.midPrefix()) || mids[mid] {
					t.Fatalf("message ID %q repeated or without the run's prefix", mid)
				}
				mids[mid] = true
				if !bytes.Contains(p.body, []byte(`"`+mid+`"`)) {
					t.Fatalf("body lacks its message ID %s", mid)
				}
			}
			if !json.Valid(p.body) {
				t.Fatalf("invalid JSON: %s", p.body)
			}
		}
	}
	if resends < 100 || resends > 200 {
		t.Errorf("%d resends of 600 POSTs, want about a quarter", resends)
	}
}

func TestCompare(t *testing.T) {
	sent := []identity{
		{"a", true}, {"b", true}, {"c", true}, {"d", false}, {"e", false}, {"a", false}, // a acked once, resent
	}
	c := compare("events", sent, map[string]int{"a": 1, "b": 2, "e": 1, "zz": 1})
	want := check{kind: "events", acked: 3, storedOnce: 1, lost: 1, duplicated: 1, unacked: 2, unackedStored: 1, unexpected: 1}
	if *c != want {
		t.Errorf("compare = %+v, want %+v", *c, want)
	}
	if !c.failed() {
		t.Error("a lost event must fail the run")
	}
	if ok := compare("events", sent[:2], map[string]int{"a": 1, "b": 1}); ok.failed() {
		t.Errorf("compare = %s, want OK", ok)
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, true},
		{[]string{"-baseline", "-db", "postgres://u@127.0.0.1/aicc_load", "-concurrency", "64"}, true},
		{[]string{"-url", "http://127.0.0.1:8080", "-channel", "ch_1", "-secret", "s", "-page", "1,2"}, true},
		{[]string{"-url", "http://127.0.0.1:8080"}, false},
		{[]string{"-url", "http://127.0.0.1:8080", "-channel", "c", "-secret", "s", "-page", "1", "-baseline"}, false},
		{[]string{"-self", "-url", "http://127.0.0.1:8080", "-channel", "c", "-secret", "s", "-page", "1"}, false},
		{[]string{"-dup", "1.5"}, false},
		{[]string{"-items", "0"}, false},
		{[]string{"-db", "mysql://x"}, false},
		{[]string{"extra"}, false},
	} {
		_, _, ok := parseArgs(tc.args, io.Discard)
		if ok != tc.ok {
			t.Errorf("parseArgs(%q) ok = %v, want %v", tc.args, ok, tc.ok)
		}
	}
}
