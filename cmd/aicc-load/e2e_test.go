package main

import (
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/aiccfb/aicc/meta"
)

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	a, b, c := convKey{"p1", "9001"}, convKey{"p1", "9002"}, convKey{"p2", "9001"}
	got := summarize([]delivery{
		{conv: a, receivedAt: at(0), deliveredAt: at(300)},
		{conv: a, receivedAt: at(10), deliveredAt: at(110)},
		{conv: b, receivedAt: at(20), deliveredAt: at(1020)},
		{conv: b, receivedAt: at(30)},             // pending
		{conv: c, receivedAt: at(40), dead: true}, // a dead letter, whatever its delivery
	})
	if got.events != 5 || got.pending != 1 || got.dead != 1 {
		t.Errorf("events, pending, dead = %d, %d, %d; want 5, 1, 1", got.events, got.pending, got.dead)
	}
	if want := map[convKey]int{a: 2, b: 2, c: 1}; !mapsEqual(got.perConv, want) {
		t.Errorf("perConv = %v, want %v", got.perConv, want)
	}
	if !got.lastDelivered.Equal(at(1020)) {
		t.Errorf("lastDelivered = %s, want %s", got.lastDelivered, at(1020))
	}
	if want := []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, time.Second}; !slices.Equal(got.lags, want) {
		t.Errorf("lags = %v, want %v (sorted)", got.lags, want)
	}
	if empty := summarize(nil); empty.events != 0 || !empty.lastDelivered.IsZero() || len(empty.lags) != 0 {
		t.Errorf("summarize(nil) = %+v", empty)
	}
}

func mapsEqual(a, b map[convKey]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestCompareModel(t *testing.T) {
	a, b, c, other := convKey{"p", "1"}, convKey{"p", "2"}, convKey{"p", "3"}, convKey{"q", "1"}
	got := compareModel(map[convKey]int{a: 2, b: 1, c: 3}, map[convKey]int{a: 2, b: 2, other: 7})
	if want := (modelCheck{conversations: 3, matched: 1, missing: 1, wrong: 1}); got != want {
		t.Errorf("compareModel = %+v, want %+v", got, want)
	}
	if got.ok() {
		t.Error("a missing conversation must fail")
	}
	if ok := compareModel(map[convKey]int{a: 2}, map[convKey]int{a: 2, other: 1}); !ok.ok() {
		t.Errorf("compareModel = %s, want OK (other conversations ignored)", ok)
	}
}

func TestSample(t *testing.T) {
	s := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{0, nil},
		{1, []int{0}},
		{3, []int{0, 3, 6}},
		{5, []int{0, 2, 4, 6, 8}},
		{10, s},
		{20, s},
	} {
		if got := sample(s, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("sample(10, %d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	keys := sortedKeys(map[convKey]int{{"b", "1"}: 1, {"a", "2"}: 1, {"a", "1"}: 1})
	if want := []convKey{{"a", "1"}, {"a", "2"}, {"b", "1"}}; !slices.Equal(keys, want) {
		t.Errorf("sortedKeys = %v, want %v", keys, want)
	}
}

func TestSummarizeSeries(t *testing.T) {
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	s := summarizeSeries([]int{10, 12, 14, 16, 18})
	if s.n != 5 || s.min != 10 || s.max != 18 || s.last != 18 || !near(s.mean, 14) || !near(s.slope, 2) {
		t.Errorf("rising: %+v, want n 5, min 10, max 18, last 18, mean 14, slope 2", s)
	}
	s = summarizeSeries([]int{5, 0, 5, 0, 5, 0})
	if s.min != 0 || s.max != 5 || s.last != 0 || !near(s.mean, 2.5) || s.slope > 0 || s.slope < -1 {
		t.Errorf("oscillating: %+v, want a slope near zero", s)
	}
	if s := summarizeSeries([]int{7}); s.n != 1 || s.max != 7 || s.slope != 0 {
		t.Errorf("one sample: %+v", s)
	}
	if s := summarizeSeries(nil); s != (seriesSummary{}) {
		t.Errorf("no samples: %+v", s)
	}
}

func TestFlat(t *testing.T) {
	for _, tc := range []struct {
		samples []int
		rate    float64
		want    bool
	}{
		{[]int{0, 3, 1, 0}, 100, true},
		{[]int{50, 100, 20}, 100, true},
		{[]int{50, 101, 20}, 100, false},
		{[]int{100, 200, 300}, 150, false},
		{nil, 100, false}, // not measured
	} {
		if got := flat(summarizeSeries(tc.samples), tc.rate); got != tc.want {
			t.Errorf("flat(%v, %v) = %v, want %v", tc.samples, tc.rate, got, tc.want)
		}
	}
}

// TestGeneratorSpread: with spread, items go to the conversations in turn across senders, each exactly as often,
// up to the limit, and the bodies stop there; customers are numbered from customerBase.
func TestGeneratorSpread(t *testing.T) {
	pages := []string{"800000000000001001", "800000000000001002"}
	g := &generator{run: "abc", pages: pages, items: 3, customerBase: 500, spread: 4, limit: 10}
	rnd := rand.New(rand.NewPCG(1, 2))
	counts := map[convKey]int{}
	var posts int
	for w := range 2 {
		for seq := 0; ; seq++ {
			p := g.newPost(w, seq, rnd, 1_700_000_000_000)
			if p == nil {
				break
			}
			posts++
			events, err := meta.Codec{}.ParseEvents(p.body)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != len(p.mids) {
				t.Fatalf("%d events for %d message IDs", len(events), len(p.mids))
			}
			for _, e := range events {
				counts[convKey{e.PageID, e.PSID}]++
			}
		}
	}
	want := map[convKey]int{
		{pages[0], psid(500)}: 3, {pages[1], psid(500)}: 3, {pages[0], psid(501)}: 2, {pages[1], psid(501)}: 2,
	}
	if !mapsEqual(counts, want) {
		t.Errorf("events per conversation = %v, want %v", counts, want)
	}
	if posts != 4 { // 3 + 3 + 3 + 1 items: the last body is short, then the generator is done
		t.Errorf("%d bodies, want 4", posts)
	}
	if p, _ := g.next(0, nil, rnd, 0); p != nil {
		t.Error("a body after the limit")
	}
}

func TestParsePhases(t *testing.T) {
	for _, tc := range []struct {
		list string
		want []string
		ok   bool
	}{
		{"floor,burst,backlog-1,backlog-10,sustained", allPhases, true},
		{"sustained, backlog-1", []string{"backlog-1", "sustained"}, true},
		{"burst,burst", []string{"burst"}, true},
		{"drain", nil, false},
		{"", nil, false},
	} {
		got, _, ok := parsePhases(tc.list)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("parsePhases(%q) = %q, %v; want %q, %v", tc.list, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseArgsE2E(t *testing.T) {
	o, _, ok := parseArgs([]string{"-e2e"}, io.Discard)
	if !ok || !o.e2e || o.concurrency != e2eSenders || o.duration != e2eBurst || o.temporal != temporalSQLite ||
		!slices.Equal(o.phases, allPhases) || o.burstPages != 1 || o.customers != 1000 {
		t.Errorf("-e2e: %+v, want 8 senders, 10s, sqlite, every phase, a burst to 1,000 customers of one Page", o)
	}
	o, _, ok = parseArgs([]string{"-e2e", "-concurrency", "4", "-duration", "5s"}, io.Discard)
	if !ok || o.concurrency != 4 || o.duration != 5*time.Second {
		t.Errorf("-e2e with -concurrency and -duration: %d, %s", o.concurrency, o.duration)
	}
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-e2e", "-temporal", "postgres", "-db", "postgres://u@127.0.0.1/x"}, true},
		{[]string{"-e2e", "-temporal", "postgres"}, false},
		{[]string{"-e2e", "-temporal", "postgres", "-db", "sqlite:/tmp/x.db"}, false},
		{[]string{"-e2e", "-temporal", "postgres", "-temporal-db", "postgres://u@127.0.0.1/x"}, true},
		{[]string{"-e2e", "-floor-workflow", "conversation"}, true},
		{[]string{"-e2e", "-floor-workflow", "busy"}, false},
		{[]string{"-e2e", "-phases", "floor,sustained"}, false},
		{[]string{"-e2e", "-phases", "sustained", "-sustained-rate", "50"}, true},
		{[]string{"-e2e", "-temporal", "mysql"}, false},
		{[]string{"-e2e", "-baseline"}, false},
		{[]string{"-e2e", "-url", "http://127.0.0.1:8080", "-channel", "c", "-secret", "s", "-page", "1"}, false},
		{[]string{"-e2e", "-phases", "floor,nap"}, false},
		{[]string{"-e2e", "-backlog1", "0"}, false},
		{[]string{"-e2e", "-floor-duration", "0s"}, false},
		{[]string{"-e2e", "-phases", "burst", "-dispatch-concurrency", "8", "-floor-signals", "100"}, true},
		{[]string{"-e2e", "-burst-pages", "4"}, true},
		{[]string{"-e2e", "-burst-pages", "5"}, false},
		{[]string{"-e2e", "-burst-pages", "0"}, false},
	} {
		if _, _, ok := parseArgs(tc.args, io.Discard); ok != tc.ok {
			t.Errorf("parseArgs(%q) ok = %v, want %v", tc.args, ok, tc.ok)
		}
	}
}

func TestTemporalDatabase(t *testing.T) {
	name, u, err := temporalDatabase("postgres://postgres:pw@127.0.0.1:5432/aicc_load?sslmode=disable", "abc12")
	if err != nil {
		t.Fatal(err)
	}
	if name != "aicc_load_temporal_abc12" ||
		u != "postgres://postgres:pw@127.0.0.1:5432/aicc_load_temporal_abc12?sslmode=disable" {
		t.Errorf("temporalDatabase = %q, %q", name, u)
	}
	if _, _, err := temporalDatabase("sqlite:/tmp/x.db", "abc12"); err == nil {
		t.Error("a SQLite URL: no error")
	}
}

func TestProcCPU(t *testing.T) {
	stat := "2218 (postgres) S 1 2218 2218 0 -1 4194624 1153 0 0 0 250 37 0 0 20 0 1 0 1234 225017856 3513 18446744073709551615"
	if got, ok := procCPU(stat, "postgres"); !ok || got != 2870*time.Millisecond {
		t.Errorf("procCPU = %s, %v; want 2.87s, true", got, ok)
	}
	if _, ok := procCPU(stat, "aicc"); ok {
		t.Error("another process's name matched")
	}
	odd := "77 (kdamond (0)) S 2 0 0 0 -1 2129984 0 0 0 0 5 6 0 0 20 0 1 0 10 0 0 18446744073709551615"
	if got, ok := procCPU(odd, "kdamond (0)"); !ok || got != 110*time.Millisecond {
		t.Errorf("a name with parentheses: %s, %v", got, ok)
	}
	if _, ok := procCPU("garbage", "postgres"); ok {
		t.Error("garbage parsed")
	}
}

func TestFoldRuns(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"A"}, "A"},
		{[]string{"A", "B", "B", "B", "A", "C", "C"}, "A, B×3, A, C×2"},
	} {
		if got := foldRuns(tc.in); got != tc.want {
			t.Errorf("foldRuns(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTimings(t *testing.T) {
	var tm timings
	for _, n := range []int{30, 10, 20, 40} {
		tm.add(time.Duration(n)*time.Millisecond, n/10)
	}
	got := tm.take()
	want := timingSummary{n: 4, items: 10, total: 100 * time.Millisecond, p50: 20 * time.Millisecond,
		p99: 40 * time.Millisecond, longest: 40 * time.Millisecond}
	if got != want {
		t.Errorf("take = %+v, want %+v", got, want)
	}
	if again := tm.take(); again.n != 0 || again.String() != "none" {
		t.Errorf("take after take = %+v, %q; want nothing", again, again)
	}
	if s := want.String(); s != "4, 2.5 items each, mean 25.00ms, p50 20.00ms, p99 40.00ms, max 40.00ms, 0.1 s in all" {
		t.Errorf("String = %q", s)
	}
}

func TestCommitDelta(t *testing.T) {
	d := since(map[string]int64{"app": 100, "temporal": 1000}, map[string]int64{"app": 350, "temporal": 1500})
	if got, want := d.per(100), "app 250 (2.50 per event), temporal 500 (5.00 per event)"; got != want {
		t.Errorf("per = %q, want %q", got, want)
	}
	if since(nil, map[string]int64{"app": 1}) != nil || commitDelta(nil).per(1) != "" {
		t.Error("no counts: want nothing")
	}
}
