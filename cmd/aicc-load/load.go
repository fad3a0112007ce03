package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

// target is where POSTs go: a webhook URL and what signs and fills its bodies.
type target struct {
	name    string
	url     string // the whole POST URL
	channel string
	tenant  string // the channel's tenant, when this process provisioned it
	secret  string
	pages   []string
}

// generator makes webhook bodies: -items text messages per POST, to random customers of random Pages (or, with
// spread, to a fixed set of conversations in turn), each with a message ID unique in the run, grouped into one
// entry per Page as Meta batches them.
type generator struct {
	run       string
	round     int
	pages     []string
	customers int
	items     int
	dup       float64
	// customerBase numbers the customers from it, so that the phases of an -e2e run write to conversations of
	// their own.
	customerBase int
	// spread, when positive, sends the items to conversations 0 … spread-1 in turn, counted across senders
	// (conversation c is Page c mod len(pages) and customer customerBase + c / len(pages)), instead of at random.
	spread int
	// limit, with spread, is how many items are sent in all; the senders stop when it is reached. Zero is none.
	limit    int64
	assigned atomic.Int64 // with spread: items handed out so far
}

// post is one body, sent once or more.
type post struct {
	body  []byte
	mids  []string
	acked bool // some send of it was answered 200
}

// midPrefix starts every message ID of the run.
func (g *generator) midPrefix() string { return "m_load_" + g.run + "_" }

// psid is the ID of customer i.
func psid(i int) string { return "9" + fmt.Sprintf("%015d", i) }

// newPost makes the seq-th body of sender w at Meta time now (ms).
func (g *generator) newPost(w, seq int, rnd *rand.Rand, now int64) *post {
	p := &post{mids: make([]string, 0, g.items)}
	var entries []metatest.Entry
	index := map[string]int{}
	for i := range g.items {
		page, customer, ok := g.recipient(rnd)
		if !ok {
			break
		}
		mid := g.midPrefix() + strconv.Itoa(g.round) + "_" + strconv.Itoa(w) + "_" + strconv.Itoa(seq) + "_" + strconv.Itoa(i)
		item := metatest.Text(page, customer, mid, "load message "+strconv.Itoa(seq), now+int64(i))
		p.mids = append(p.mids, mid)
		k, ok := index[page]
		if !ok {
			k = len(entries)
			index[page] = k
			entries = append(entries, metatest.Entry{ID: page})
		}
		entries[k].Messaging = append(entries[k].Messaging, item)
		entries[k].Time = max(entries[k].Time, item.Timestamp)
	}
	if len(p.mids) == 0 {
		return nil
	}
	p.body = metatest.NewPayload(entries...).Encode()
	return p
}

// recipient picks the Page and the customer of the next item; false when the limit is reached.
func (g *generator) recipient(rnd *rand.Rand) (page, customer string, ok bool) {
	if g.spread <= 0 {
		page = g.pages[rnd.IntN(len(g.pages))]
		return page, psid(g.customerBase + rnd.IntN(g.customers)), true
	}
	n := g.assigned.Add(1) - 1
	if g.limit > 0 && n >= g.limit {
		return "", "", false
	}
	c := int(n % int64(g.spread))
	return g.pages[c%len(g.pages)], psid(g.customerBase + c/len(g.pages)), true
}

// next returns what sender w sends next: with probability dup an earlier body of its own again (a retry
// comes after the first attempt, as Meta's do), otherwise a new one; nil when the generator's limit is reached.
func (g *generator) next(w int, sent []*post, rnd *rand.Rand, now int64) (p *post, resend bool) {
	if len(sent) > 0 && g.dup > 0 && rnd.Float64() < g.dup {
		return sent[rnd.IntN(len(sent))], true
	}
	return g.newPost(w, len(sent), rnd, now), false
}

// result is what one target's run measured.
type result struct {
	name      string
	elapsed   time.Duration
	sent      int // POSTs answered, whatever the status
	ok        int // answered 200
	resent    int // of sent, how many resent an earlier body
	events    int // messaging items in POSTs answered 200
	non200    map[int]int
	errors    int // no answer: connection errors, timeouts
	latencies []time.Duration
	posts     []*post // every distinct body
	check     *check  // the database's verdict, when checked
}

// add merges another round's result into r.
func (r *result) add(o *result) {
	r.elapsed += o.elapsed
	r.sent += o.sent
	r.ok += o.ok
	r.resent += o.resent
	r.events += o.events
	r.errors += o.errors
	if r.non200 == nil {
		r.non200 = map[int]int{}
	}
	for k, v := range o.non200 {
		r.non200[k] += v
	}
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
	r.posts = append(r.posts, o.posts...)
}

// loadTarget sends POSTs to t from o.concurrency senders for o.duration and returns what it measured.
func loadTarget(ctx context.Context, t target, gen *generator, o options) (*result, error) {
	transport := &http.Transport{
		MaxIdleConns: o.concurrency, MaxIdleConnsPerHost: o.concurrency, IdleConnTimeout: 30 * time.Second,
		DisableCompression: true,
	}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: o.timeout}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(o.duration)
	senders := make([]*result, o.concurrency)
	var wg sync.WaitGroup
	for w := range o.concurrency {
		r := &result{non200: map[int]int{}}
		senders[w] = r
		wg.Go(func() { send(ctx, hc, t, gen, w, deadline, r) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &result{name: t.name, elapsed: time.Since(start), non200: map[int]int{}}
	for _, r := range senders {
		res.sent += r.sent
		res.ok += r.ok
		res.resent += r.resent
		res.events += r.events
		res.errors += r.errors
		for k, v := range r.non200 {
			res.non200[k] += v
		}
		res.latencies = append(res.latencies, r.latencies...)
		res.posts = append(res.posts, r.posts...)
	}
	slices.Sort(res.latencies)
	return res, nil
}

// send is one sender: POST after POST until the deadline, or until the generator has nothing more to send.
func send(ctx context.Context, hc *http.Client, t target, gen *generator, w int, deadline time.Time, r *result) {
	rnd := rand.New(rand.NewPCG(uint64(w)+1, uint64(time.Now().UnixNano())))
	for time.Now().Before(deadline) && ctx.Err() == nil {
		p, resend := gen.next(w, r.posts, rnd, time.Now().UnixMilli())
		if p == nil {
			return
		}
		if !resend {
			r.posts = append(r.posts, p)
		}
		sendOne(ctx, hc, t, p, resend, r)
	}
}

// sendOne POSTs p once and counts the answer in r.
func sendOne(ctx context.Context, hc *http.Client, t target, p *post, resend bool, r *result) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(p.body))
	if err != nil {
		r.errors++
		return
	}
	name, value := meta.Sign(aicc.AlgorithmSHA256, []byte(t.secret), p.body)
	req.Header.Set(name, value)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "facebookexternalua")
	begin := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			r.errors++
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.latencies = append(r.latencies, time.Since(begin))
	r.sent++
	if resend {
		r.resent++
	}
	if resp.StatusCode != http.StatusOK {
		r.non200[resp.StatusCode]++
		return
	}
	r.ok++
	r.events += len(p.mids)
	p.acked = true
}

// percentile returns the p-th percentile (0-100) of sorted by the nearest-rank method; zero when empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100 + 0.999999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// rate is n per second over d.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// report prints one line per target, the ratio of the first (aicc) to each of the others (the baselines), and
// the checks.
func report(w io.Writer, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tPOSTs\tresent\treq/s\tevents/s\tp50\tp99\tnon-200\terrors\t")
	for _, r := range results {
		non200 := 0
		for _, n := range r.non200 {
			non200 += n
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.0f\t%s\t%s\t%d\t%d\t\n", r.name, r.sent, r.resent,
			rate(r.ok, r.elapsed), rate(r.events, r.elapsed), ms(percentile(r.latencies, 50)),
			ms(percentile(r.latencies, 99)), non200, r.errors)
	}
	tw.Flush()
	for _, r := range results {
		if len(r.non200) > 0 {
			fmt.Fprintf(w, "%s non-200 answers by status: %v\n", r.name, r.non200)
		}
	}
	for _, b := range results[min(1, len(results)):] {
		if a := results[0]; rate(b.ok, b.elapsed) > 0 && rate(b.events, b.elapsed) > 0 {
			fmt.Fprintf(w, "ratio %s/%s: requests/s %.2f, events/s %.2f\n", a.name, b.name,
				rate(a.ok, a.elapsed)/rate(b.ok, b.elapsed), rate(a.events, a.elapsed)/rate(b.events, b.elapsed))
		}
	}
	for _, r := range results {
		if r.check != nil {
			fmt.Fprintf(w, "%s exactly-once: %s\n", r.name, r.check)
		}
	}
}

// ms formats d in milliseconds with two decimals.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}
