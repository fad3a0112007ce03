package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
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
		{[]string{"-baseline", "-baselines", "rows"}, true},
		{[]string{"-baselines", "body"}, true},
		{[]string{"-baseline", "-baselines", "inbox"}, false},
		{[]string{"-baseline", "-baselines", ""}, false},
		{[]string{"-url", "http://127.0.0.1:8080", "-channel", "c", "-secret", "s", "-page", "1", "-baselines", "rows"}, false},
		{[]string{"-url", "http://127.0.0.1:8080", "-channel", "c", "-secret", "s", "-page", "1", "-baselines", "body", "-db", "sqlite:x"}, true},
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

// TestInboxRows: the rows baseline's minimal decoder yields, for the generator's bodies and for echoes, the
// very rows aicc's codec yields (the same keys, PSIDs, kinds, texts, timestamps and raw payloads), under the
// baseline's own tenant and channel.
func TestInboxRows(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	g := &generator{run: "abc", pages: []string{"800000000000001001", "800000000000001002"}, customers: 5, items: 4}
	rnd := rand.New(rand.NewPCG(1, 2))
	bodies := [][]byte{
		metatest.NewPayload(metatest.NewEntry("800000000000001001",
			metatest.Echo("800000000000001001", "9000000000000007", "m_echo_1", "from the Page", 1_700_000_000_001),
			metatest.Text("800000000000001001", "9000000000000007", "m_text_1", "Grüße 😀 </script>", 1_700_000_000_002),
		)).Encode(),
	}
	for seq := range 20 {
		bodies = append(bodies, g.newPost(0, seq, rnd, 1_700_000_000_000).body)
	}
	for _, body := range bodies {
		got, err := inboxRows(body, "tn_base", "ch_base", now)
		if err != nil {
			t.Fatalf("inboxRows: %v\n%s", err, body)
		}
		want, err := meta.Codec{}.ParseEvents(body)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i].TenantID, want[i].ChannelID, want[i].ReceivedAt = "tn_base", "ch_base", now
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("inboxRows =\n%+v\nwant (meta.Codec)\n%+v", got, want)
		}
	}
	for _, bad := range []string{
		`{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"}`,
		`{"object":"page","entry":[{"messaging":[{"message":{"mid":"m_1"}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"postback":{"mid":"m_1","title":"t"}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[7]}]}`,
	} {
		if _, err := inboxRows([]byte(bad), "t", "c", now); err == nil {
			t.Errorf("inboxRows(%s): no error", bad)
		}
	}
}

func TestParseBaselines(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []string
		ok   bool
	}{
		{"body,rows", []string{"body", "rows"}, true},
		{"rows, body", []string{"body", "rows"}, true},
		{"rows", []string{"rows"}, true},
		{"body,body", []string{"body"}, true},
		{"", nil, false},
		{"rows,", nil, false},
		{"inbox", nil, false},
	} {
		got, _, ok := parseBaselines(tc.list)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("parseBaselines(%q) = %q, %v; want %q, %v", tc.list, got, ok, tc.want, tc.ok)
		}
	}
	o, _, ok := parseArgs([]string{"-baselines", "rows"}, io.Discard)
	if !ok || !o.baseline || !slices.Equal(o.baselines, []string{"rows"}) {
		t.Errorf("-baselines rows: baseline %v, baselines %q, want true, [rows]", o.baseline, o.baselines)
	}
	o, _, ok = parseArgs([]string{"-baseline"}, io.Discard)
	if !ok || !slices.Equal(o.baselines, []string{"body", "rows"}) {
		t.Errorf("-baseline: baselines %q, want both", o.baselines)
	}
	if o, _, _ := parseArgs(nil, io.Discard); o.baseline {
		t.Error("no flags: the baselines run")
	}
	o, _, ok = parseArgs([]string{"-url", "http://127.0.0.1:8080", "-channel", "c", "-secret", "s", "-page", "1",
		"-baseline", "-db", "sqlite:x"}, io.Discard)
	if !ok || !slices.Equal(o.baselines, []string{"body"}) {
		t.Errorf("-url -baseline: baselines %q, want [body]", o.baselines)
	}
}

// TestReportRatios: one ratio line of aicc to each baseline.
func TestReportRatios(t *testing.T) {
	res := func(name string, ok int) *result {
		return &result{name: name, elapsed: time.Second, sent: ok, ok: ok, events: 3 * ok}
	}
	var out strings.Builder
	report(&out, []*result{res("aicc", 700), res("baseline-body", 1400), res("baseline-rows", 875)})
	for _, line := range []string{
		"ratio aicc/baseline-body: requests/s 0.50, events/s 0.50\n",
		"ratio aicc/baseline-rows: requests/s 0.80, events/s 0.80\n",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("report lacks %q:\n%s", line, out.String())
		}
	}
	out.Reset()
	report(&out, []*result{res("aicc", 700)})
	if strings.Contains(out.String(), "ratio") {
		t.Errorf("report without baselines has a ratio:\n%s", out.String())
	}
}
