package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	timerate "golang.org/x/time/rate"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/meta"
)

// floodFirstHost is the last byte of the first flooder's address, 127.0.0.2: Linux routes all of 127.0.0.0/8 to
// the loopback interface, so each flooder is a client of its own to the handler on 127.0.0.1, and the real
// traffic, from 127.0.0.1, another.
const floodFirstHost = 2

// floodWarmup is how long the flooders run before the real traffic starts, so that it meets a flood at its
// steady state: the flooders' failure budgets spent, their POSTs answered 429.
const floodWarmup = time.Second

// floodArm is one of the two runs of a round: the real traffic alone ("clean"), or beside the flooders.
type floodArm struct {
	name    string
	flooded bool
	gen     *generator
	res     *result
	flood   *floodResult
	loads   []string      // the 1-minute load average at the start and the end of each run, "start → end"
	cpu     time.Duration // of this process (the handler and the real traffic's senders), over the runs
}

// floodResult is what the flooders saw. It travels from their process as JSON.
type floodResult struct {
	Elapsed  time.Duration
	Sent     int // answered, whatever the status
	Unknown  int // of Sent, for a random channel ID
	ByStatus map[int]int
	Errors   int
	CPU      time.Duration // of the flooders' process
}

func (f *floodResult) add(o *floodResult) {
	f.Elapsed += o.Elapsed
	f.Sent += o.Sent
	f.Unknown += o.Unknown
	f.Errors += o.Errors
	f.CPU += o.CPU
	for k, v := range o.ByStatus {
		f.ByStatus[k] += v
	}
}

// floodLoad is -flood: aicc's handler in this process, loaded with real signed traffic as the ingest benchmark
// loads it, in each round once alone and once while o.flood flooders POST random channel IDs and bad
// signatures from addresses of their own; then the report and the exactly-once check of the real traffic.
func floodLoad(ctx context.Context, o options, stdout io.Writer) error {
	store, closeStore, err := openStore(ctx, &o)
	if err != nil {
		return err
	}
	defer closeStore()
	runID := newRunID()
	var limits *api.WebhookLimits
	if !o.limits {
		limits = &api.WebhookLimits{} // both off
	}
	reg := prometheus.NewRegistry()
	self, err := startSelf(ctx, store, runID, o.nPages, func(s *api.Server) { s.WebhookLimits, s.Metrics = limits, reg })
	if err != nil {
		return err
	}
	defer self.Close()
	t := self.target

	newArm := func(name, run string, flooded bool) *floodArm {
		return &floodArm{name: name, flooded: flooded, res: &result{name: name},
			gen:   &generator{run: run, pages: t.pages, customers: o.customers, items: o.items, dup: o.dup},
			flood: &floodResult{ByStatus: map[int]int{}}}
	}
	arms := []*floodArm{newArm("clean", runID+"c", false), newArm("flooded", runID+"f", true)}
	fmt.Fprintf(stdout, "aicc-load: %s, real traffic: concurrency %d, duration %s × %d round(s), items %d, dup %.2f, "+
		"pages %d, customers %d/page\n", describeDB(store), o.concurrency, o.duration, o.rounds, o.items, o.dup,
		len(t.pages), o.customers)
	fmt.Fprintf(stdout, "flood: %s; server limits: %s\n", describeFlood(o), describeLimits(o.limits))

	for round := range o.rounds {
		for i := range arms {
			a := arms[(i+round)%len(arms)]
			a.gen.round = round
			meter := startCPU()
			startLoad := loadAverage()
			var f *floodResult
			var r *result
			if a.flooded {
				stopProfile, perr := startProfile(o.cpuProfile, round)
				if perr != nil {
					return perr
				}
				r, f, err = loadFlooded(ctx, t, a.gen, o)
				stopProfile()
			} else {
				r, err = loadTarget(ctx, t, a.gen, o)
			}
			if err != nil {
				return err
			}
			cpu := meter.stop()
			a.loads = append(a.loads, firstField(startLoad)+" → "+firstField(cpu.load))
			a.cpu += cpu.self
			a.res.add(r)
			line := fmt.Sprintf("  round %d %-8s %6.0f req/s %7.0f events/s  p99 %s", round+1, a.name, rate(r.ok, r.elapsed),
				rate(r.events, r.elapsed), ms(percentile(r.latencies, 99)))
			if f != nil {
				a.flood.add(f)
				line += fmt.Sprintf("; flood %.0f POSTs/s answered %s, its process %.1f s CPU", rate(f.Sent, f.Elapsed),
					statusCounts(f.ByStatus), f.CPU.Seconds())
			}
			fmt.Fprintf(stdout, "%s; load %s; %s\n", line, a.loads[len(a.loads)-1], cpu)
		}
	}
	for _, a := range arms {
		if a.res.check, err = verifyInbox(ctx, store, t.channel, a.gen.midPrefix(), a.res); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	reportFlood(stdout, arms, reg)
	for _, a := range arms {
		if a.res.check.failed() {
			return fmt.Errorf("events were lost or duplicated")
		}
	}
	return nil
}

// floodChildArg, as the first argument, makes aicc-load the flooders' process: loadFlooded runs the flooders
// in a process of their own, so that their CPU time is told apart from the handler's and the real traffic's.
const floodChildArg = "-flood-child"

// loadFlooded starts the flooders' process, and after floodWarmup runs the real traffic for o.duration beside
// it; then it stops the flooders (SIGTERM) and reads what they saw.
func loadFlooded(ctx context.Context, t target, gen *generator, o options) (*result, *floodResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	// The flooders stop by themselves well after the real traffic, should this process die first.
	limit := floodWarmup + o.duration + 30*time.Second
	cmd := exec.CommandContext(ctx, exe, floodChildArg, "-url", t.url, "-page", strings.Join(t.pages, ","),
		"-flood", strconv.Itoa(o.flood), "-flood-conns", strconv.Itoa(o.floodConns),
		"-flood-rate", strconv.FormatFloat(o.floodRate, 'f', -1, 64),
		"-flood-unknown", strconv.FormatFloat(o.floodUnknown, 'f', -1, 64), "-items", strconv.Itoa(o.items),
		"-flood-bytes", strconv.Itoa(o.floodBytes),
		"-timeout", o.timeout.String(), "-duration", limit.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start the flooders: %w", err)
	}
	select {
	case <-time.After(floodWarmup):
	case <-ctx.Done():
		_ = cmd.Wait()
		return nil, nil, ctx.Err()
	}
	r, err := loadTarget(ctx, t, gen, o)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if werr := cmd.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("the flooders: %w", werr)
	}
	if err != nil {
		return nil, nil, err
	}
	f := &floodResult{}
	if err := json.Unmarshal(out.Bytes(), f); err != nil {
		return nil, nil, fmt.Errorf("the flooders' result: %w", err)
	}
	f.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return r, f, nil
}

// floodChild is the flooders' process (floodChildArg): it floods the channel URL of -url until it is
// signalled or -duration has passed, then writes its floodResult as JSON to stdout.
func floodChild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("aicc-load "+floodChildArg, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "the real channel's webhook URL")
	pages := fs.String("page", "", "comma-separated Pages of the channel")
	limit := fs.Duration("duration", time.Minute, "stop after this long")
	fs.IntVar(&o.flood, "flood", 1, "flooders")
	fs.IntVar(&o.floodConns, "flood-conns", 1, "connections per flooder")
	fs.Float64Var(&o.floodRate, "flood-rate", 0, "POSTs/s in all (0: unpaced)")
	fs.Float64Var(&o.floodUnknown, "flood-unknown", 0.5, "share of POSTs to random channel IDs")
	fs.IntVar(&o.items, "items", 3, "messaging items per body")
	fs.IntVar(&o.floodBytes, "flood-bytes", 0, "pad each body to this many bytes")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of one POST")
	if err := fs.Parse(args); err != nil || *url == "" || *pages == "" {
		return exitUsage
	}
	o.customers = 1000
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	res := flood(ctx, target{url: *url, pages: strings.Split(*pages, ",")}, o)
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(stderr, "aicc-load: %v\n", err)
		return exitError
	}
	return exitOK
}

// flood runs o.flood flooders of o.floodConns connections each until ctx is done, paced at o.floodRate POSTs
// a second in all (0: each connection POSTs again as soon as it is answered). Flooder i sends from
// 127.0.0.(floodFirstHost+i); a share o.floodUnknown of its POSTs go to a random channel ID, the others to the
// real channel; all are signed with a random key, in the right format, and carry a body like the real ones,
// padded to o.floodBytes.
func flood(ctx context.Context, t target, o options) *floodResult {
	var pacer *timerate.Limiter
	if o.floodRate > 0 {
		pacer = timerate.NewLimiter(timerate.Limit(o.floodRate), 1)
	}
	base := t.url[:strings.LastIndex(t.url, "/")+1]
	body := (&generator{run: "flood", pages: t.pages, customers: o.customers, items: o.items}).
		newPost(0, 0, rand.New(rand.NewPCG(1, 2)), time.Now().UnixMilli()).body
	if n := o.floodBytes - len(body); n > 0 {
		body = append(body, bytes.Repeat([]byte(" "), n)...) // JSON allows trailing whitespace
	}
	start := time.Now()
	var mu sync.Mutex
	total := &floodResult{ByStatus: map[int]int{}}
	var wg sync.WaitGroup
	for i := range o.flood {
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(floodFirstHost+i))}
		transport := &http.Transport{
			DialContext:  (&net.Dialer{LocalAddr: local, Timeout: o.timeout}).DialContext,
			MaxIdleConns: o.floodConns, MaxIdleConnsPerHost: o.floodConns, IdleConnTimeout: 30 * time.Second,
			DisableCompression: true,
		}
		defer transport.CloseIdleConnections()
		hc := &http.Client{Transport: transport, Timeout: o.timeout}
		for c := range o.floodConns {
			wg.Go(func() {
				r := &floodResult{ByStatus: map[int]int{}}
				rnd := rand.New(rand.NewPCG(uint64(i), uint64(c)))
				for ctx.Err() == nil {
					if pacer != nil && pacer.Wait(ctx) != nil {
						break
					}
					url := t.url
					if rnd.Float64() < o.floodUnknown {
						url = base + aicc.NewID(aicc.PrefixChannel)
						r.Unknown++
					}
					floodOne(ctx, hc, url, body, rnd, r)
				}
				mu.Lock()
				total.add(r)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	total.Elapsed = time.Since(start)
	return total
}

// floodOne POSTs body to url with a signature under a random key and counts the answer in r.
func floodOne(ctx context.Context, hc *http.Client, url string, body []byte, rnd *rand.Rand, r *floodResult) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		r.Errors++
		return
	}
	key := make([]byte, 16)
	for i := range key {
		key[i] = byte(rnd.UintN(256))
	}
	name, value := meta.Sign(aicc.AlgorithmSHA256, []byte(hex.EncodeToString(key)), body)
	req.Header.Set(name, value)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			r.Errors++
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.Sent++
	r.ByStatus[resp.StatusCode]++
}

// describeFlood says what -flood sends.
func describeFlood(o options) string {
	pace := "each connection as fast as it is answered"
	if o.floodRate > 0 {
		pace = fmt.Sprintf("paced at %.0f POSTs/s in all", o.floodRate)
	}
	size := "bodies like the real ones"
	if o.floodBytes > 0 {
		size = fmt.Sprintf("bodies of %d bytes", o.floodBytes)
	}
	return fmt.Sprintf("%d flooders (127.0.0.%d–127.0.0.%d) × %d connections, %s, %.0f%% to random channel IDs, "+
		"the rest to the real channel, all with a wrong signature, %s; starts %s before the real traffic", o.flood,
		floodFirstHost, floodFirstHost+o.flood-1, o.floodConns, pace, 100*o.floodUnknown, size, floodWarmup)
}

// describeLimits says which WebhookLimits the handler has.
func describeLimits(on bool) string {
	if !on {
		return "off (-limits=false)"
	}
	l := api.DefaultWebhookLimits()
	return fmt.Sprintf("the defaults: a client %d failures, then %g/s; a channel's log lines %d, then %g/s",
		l.ClientBurst, l.ClientRate, l.ChannelBurst, l.ChannelRate)
}

// reportFlood prints the real traffic of both arms, their ratio, the flood, and what the server counted.
func reportFlood(w io.Writer, arms []*floodArm, reg *prometheus.Registry) {
	clean, flooded := arms[0], arms[1]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "real traffic\tPOSTs\treq/s\tevents/s\tp50\tp99\tnon-200\terrors\tload (1 min) at start → end\t")
	for _, a := range arms {
		r := a.res
		non200 := 0
		for _, n := range r.non200 {
			non200 += n
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%s\t%s\t%d\t%d\t%s\t\n", a.name, r.sent, rate(r.ok, r.elapsed),
			rate(r.events, r.elapsed), ms(percentile(r.latencies, 50)), ms(percentile(r.latencies, 99)), non200,
			r.errors, strings.Join(a.loads, ", "))
	}
	tw.Flush()
	c, f := clean.res, flooded.res
	if rate(c.events, c.elapsed) > 0 && percentile(c.latencies, 99) > 0 {
		fmt.Fprintf(w, "ratio flooded/clean: events/s %.2f, p50 %.2f, p99 %.2f\n",
			rate(f.events, f.elapsed)/rate(c.events, c.elapsed),
			float64(percentile(f.latencies, 50))/float64(percentile(c.latencies, 50)),
			float64(percentile(f.latencies, 99))/float64(percentile(c.latencies, 99)))
	}
	fl := flooded.flood
	if c.sent > 0 && fl.Sent > 0 {
		perReal := clean.cpu / time.Duration(c.sent)
		perFlood := (flooded.cpu - perReal*time.Duration(f.sent)) / time.Duration(fl.Sent)
		fmt.Fprintf(w, "CPU of this process (the handler and the real traffic's senders): %s per real POST clean; "+
			"flooded, if a real POST cost as much, %s per flood POST answered (the flooders' process: %s)\n",
			micros(perReal), micros(perFlood), micros(fl.CPU/time.Duration(fl.Sent)))
	}
	fmt.Fprintf(w, "flood: %d POSTs answered in %.1f s, %.0f/s (%d to random channel IDs): %s; %d errors; the "+
		"flooders' process used %.1f s CPU\n", fl.Sent, fl.Elapsed.Seconds(), rate(fl.Sent, fl.Elapsed), fl.Unknown,
		statusCounts(fl.ByStatus), fl.Errors, fl.CPU.Seconds())
	fmt.Fprintf(w, "server: aicc_webhook_throttled_total client %.0f, channel %.0f; aicc_webhook_events_total "+
		"rejected_signature %.0f, stored %.0f\n", counter(reg, "aicc_webhook_throttled_total", "scope", "client"),
		counter(reg, "aicc_webhook_throttled_total", "scope", "channel"),
		counter(reg, "aicc_webhook_events_total", "result", "rejected_signature"),
		counter(reg, "aicc_webhook_events_total", "result", "stored"))
	for _, a := range arms {
		fmt.Fprintf(w, "%s exactly-once: %s\n", a.name, a.res.check)
	}
}

// micros formats d in microseconds.
func micros(d time.Duration) string {
	return strconv.FormatInt(d.Microseconds(), 10) + " µs"
}

// statusCounts formats answers by status, in status order.
func statusCounts(by map[int]int) string {
	codes := make([]int, 0, len(by))
	for code := range by {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, code := range codes {
		parts[i] = fmt.Sprintf("%d×%d", code, by[code])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// firstField is the first space-separated field of s: the 1-minute load average of /proc/loadavg's line.
func firstField(s string) string {
	f, _, _ := strings.Cut(s, " ")
	return f
}

// counter is the value of the counter series name{label="value"} in reg, 0 when there is none.
func counter(reg *prometheus.Registry, name, label, value string) float64 {
	families, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
