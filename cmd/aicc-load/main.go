// Command aicc-load is the load harness of aicc's webhook ingest: it sends correctly signed Meta webhook POSTs
// at a chosen concurrency for a chosen time, reports requests/s, events/s and latency, and then checks against
// the database that every acknowledged event is in the inbox exactly once.
//
//	aicc-load                                   self-contained: SQLite in a temporary directory, aicc's real
//	                                            API handler in-process on 127.0.0.1
//	aicc-load -db postgres://…/aicc_load        the same on Postgres (the database is migrated and gets a
//	                                            tenant, a channel and its Pages; use a throwaway one)
//	aicc-load -baseline                         also runs, in the same process and database, the baselines
//	                                            (minimal Gin handlers): "body" stores each body with one
//	                                            INSERT into a table of its own, "rows" stores the same inbox
//	                                            rows aicc stores with one store.StoreEvents statement; the
//	                                            floor cost of durable ingest, and aicc's ratio to each
//	aicc-load -baseline -baselines rows         only the rows baseline
//	aicc-load -url http://HOST:8080 -channel ID -secret S -page P1,P2 [-db URL]
//	                                            a running aicc; with -db the result is checked there too
//	aicc-load -e2e [-db URL] [-temporal postgres]
//	                                            end to end, POST → delivered to the conversation workflows: an
//	                                            embedded Temporal (SQLite, or Postgres databases made on
//	                                            -db's server), the worker with the real Conversation workflow
//	                                            and activities, and the inbox dispatcher, all in this process
//	                                            beside aicc's handler. Phases (-phases): floor (a bare loop of
//	                                            signal-with-start into a no-op workflow at the dispatcher's
//	                                            concurrency), burst (8 senders for 10 s to 1,000 customers of
//	                                            one Page, dispatcher running), backlog-1 and backlog-10 (stored
//	                                            with the dispatcher stopped, 1 and 10 events per conversation,
//	                                            then drained), sustained (paced at half of backlog-1's drain);
//	                                            then the targets
//	aicc-load -flood 8 [-db URL] [-flood-rate R] [-limits=false]
//	                                            the public endpoint under abuse: aicc's handler in-process, its
//	                                            real signed traffic (as the first line) in each round once alone
//	                                            and once while 8 flooders, each from an address of its own
//	                                            (127.0.0.2 …), POST random channel IDs and bad signatures; the
//	                                            real traffic's events/s and p99 in both, their ratio, and what
//	                                            the flood was answered
//
// Every run stops by itself after -duration (and Ctrl+C stops it early); an -e2e phase when its events are
// delivered. The exit code is 1 when an acknowledged event is missing from the inbox or stored twice (with -e2e
// also: not delivered, not applied exactly once to its conversation, or applied late), 2 on a usage error.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // a failure, or events lost or duplicated
	exitUsage = 2
)

// options are the parsed flags.
type options struct {
	db          string
	self        bool
	url         string
	channel     string
	secret      string
	pages       []string
	baseline    bool
	baselines   []string // with baseline: "body", "rows" or both, in that order
	concurrency int
	duration    time.Duration
	rounds      int
	items       int
	dup         float64
	nPages      int
	customers   int
	timeout     time.Duration
	cpuProfile  string
	idleConns   int

	// -e2e: POST → delivered to the conversation workflows.
	e2e                 bool
	temporal            string // temporalSQLite or temporalPostgres
	temporalDB          string // -temporal postgres: a URL of the server for Temporal's databases; default -db
	shards              int
	dispatchConcurrency int
	workflowPollers     int // 0: the SDK's default
	floorConcurrency    int // 0: the dispatcher's
	floorDuration       time.Duration
	floorSignals        int
	floorWorkflow       string   // floorNoop or floorConversation
	burstPages          int      // the burst's customers are on the first burstPages Pages
	phases              []string // of allPhases, in their order
	backlog1            int      // backlog-1's conversations, one event each
	backlog10           int      // backlog-10's conversations
	backlog10Events     int      // events of each of them
	sustainedRate       float64  // events/s; 0: half of backlog-1's drain
	sustainedDuration   time.Duration
	drainTimeout        time.Duration
	sampleStates        int

	// -flood: real traffic beside flooders.
	flood        int     // flooders, each from an address of its own; 0: no flood
	floodConns   int     // connections per flooder
	floodRate    float64 // POSTs/s of all flooders together; 0: as fast as they are answered
	floodUnknown float64 // share of the flood's POSTs to random channel IDs, the rest to the real channel
	floodBytes   int     // the flood's bodies are padded to this size; 0: as the real ones
	limits       bool    // false: the handler without WebhookLimits
}

// run runs the harness with args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	gin.SetMode(gin.ReleaseMode)
	if len(args) > 0 && args[0] == floodChildArg {
		return floodChild(ctx, args[1:], stdout, stderr)
	}
	o, code, ok := parseArgs(args, stderr)
	if !ok {
		return code
	}
	work := load
	switch {
	case o.e2e:
		work = e2e
	case o.flood > 0:
		work = floodLoad
	}
	if err := work(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "aicc-load: %v\n", err)
		return exitError
	}
	return exitOK
}

func parseArgs(args []string, stderr io.Writer) (options, int, bool) {
	var o options
	fs := flag.NewFlagSet("aicc-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.db, "db", "", "database: sqlite:PATH or postgres://… (default: SQLite in a temporary directory, -self only)")
	fs.BoolVar(&o.self, "self", true, "serve aicc's API handler in-process on 127.0.0.1 over -db, with a channel and Pages provisioned there")
	fs.StringVar(&o.url, "url", "", "base URL of a running aicc instead (http://HOST:PORT); needs -channel, -secret and -page")
	fs.StringVar(&o.channel, "channel", "", "with -url: the channel ID")
	fs.StringVar(&o.secret, "secret", "", "with -url: the channel's app secret (POSTs are signed with sha256)")
	page := fs.String("page", "", "with -url: comma-separated IDs of Pages connected to the channel")
	fs.BoolVar(&o.baseline, "baseline", false, "also run the baselines (minimal Gin handlers storing with one statement per POST) in the same database")
	baselines := fs.String("baselines", "body,rows", "which baselines -baseline runs (setting it implies -baseline): "+
		"body (the body as one row of load_baseline), rows (the inbox rows aicc stores, through store.StoreEvents; "+
		"-self only, so with -url the default is body)")
	fs.IntVar(&o.concurrency, "concurrency", 16, "concurrent senders")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long each target is loaded in each round")
	fs.IntVar(&o.rounds, "rounds", 1, "rounds; with -baseline they alternate which target goes first")
	fs.IntVar(&o.items, "items", 3, "messaging items per POST")
	fs.Float64Var(&o.dup, "dup", 0.1, "share of POSTs that resend an earlier body byte for byte, as Meta's retries do (0-1)")
	fs.IntVar(&o.nPages, "pages", 4, "-self: Pages to provision and spread events over")
	fs.IntVar(&o.customers, "customers", 1000, "distinct customers (PSIDs) per Page")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of one POST")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this process during the first aicc run to this file")
	fs.IntVar(&o.idleConns, "idle-conns", 0, "idle connections the shared database pool keeps (0: the store's own setting; "+
		"database/sql's default is 2)")
	fs.BoolVar(&o.e2e, "e2e", false, "end to end: POST → delivered to the conversation workflows, with an embedded Temporal, "+
		"the worker and the dispatcher in this process; phases floor, burst, backlog-1, backlog-10, sustained "+
		"(-concurrency defaults to 8 and -duration, the burst's, to 10s)")
	fs.StringVar(&o.temporal, "temporal", temporalSQLite, "-e2e: the embedded Temporal's persistence: sqlite (a temporary file, "+
		"as aicc dev) or postgres (new databases on -db's server, dropped after the run)")
	fs.StringVar(&o.temporalDB, "temporal-db", "", "-e2e -temporal postgres: postgres://… on whose server Temporal's "+
		"databases are made (default: -db's)")
	fs.IntVar(&o.shards, "shards", 4, "-e2e -temporal postgres: history shards")
	fs.IntVar(&o.dispatchConcurrency, "dispatch-concurrency", 0, "-e2e: the dispatcher's concurrency (0: its default)")
	fs.IntVar(&o.workflowPollers, "workflow-pollers", 0, "-e2e: the worker's workflow task pollers (0: the SDK's default, as aicc's worker has it)")
	fs.IntVar(&o.floorConcurrency, "floor-concurrency", 0, "-e2e: the floor's concurrent signal-with-start calls (0: the dispatcher's concurrency)")
	fs.DurationVar(&o.floorDuration, "floor-duration", 10*time.Second, "-e2e: how long the floor signals")
	fs.IntVar(&o.floorSignals, "floor-signals", 0, "-e2e: stop the floor after this many signals (0: after -floor-duration)")
	fs.IntVar(&o.burstPages, "burst-pages", 1, "-e2e: Pages the burst's customers (-customers per Page) write to, of -pages "+
		"(1: the issue's burst, one Page and 1,000 customers)")
	fs.StringVar(&o.floorWorkflow, "floor-workflow", floorNoop, "-e2e: the workflow the floor signals: noop (receives its "+
		"signal and returns), or conversation (the real Conversation workflow, new conversations: the dispatcher's "+
		"signals without the inbox)")
	fs.IntVar(&o.flood, "flood", 0, "flooders: run the real traffic alone and beside this many flooders, each POSTing "+
		"from an address of its own (127.0.0.2 …) random channel IDs and bad signatures (-self only)")
	fs.IntVar(&o.floodConns, "flood-conns", 4, "-flood: connections of each flooder")
	fs.Float64Var(&o.floodRate, "flood-rate", 0, "-flood: POSTs/s of all flooders together (0: each connection POSTs "+
		"again as soon as it is answered)")
	fs.Float64Var(&o.floodUnknown, "flood-unknown", 0.5, "-flood: share of the flood's POSTs to random channel IDs "+
		"(the others go to the real channel), 0-1")
	fs.IntVar(&o.floodBytes, "flood-bytes", 0, "-flood: pad the flood's bodies to this many bytes (0: as the real ones)")
	fs.BoolVar(&o.limits, "limits", true, "-flood: the handler with its default WebhookLimits (false: none, to see what they save)")
	phases := fs.String("phases", strings.Join(allPhases, ","), "-e2e: the phases to run (they run in this order)")
	fs.IntVar(&o.backlog1, "backlog1", 5000, "-e2e: backlog-1's conversations, one event each")
	fs.IntVar(&o.backlog10, "backlog10", 1000, "-e2e: backlog-10's conversations")
	fs.IntVar(&o.backlog10Events, "backlog10-events", 10, "-e2e: backlog-10's events per conversation")
	fs.Float64Var(&o.sustainedRate, "sustained-rate", 0, "-e2e: the sustained phase's events/s (0: half of backlog-1's drain)")
	fs.DurationVar(&o.sustainedDuration, "sustained-duration", 20*time.Second, "-e2e: how long the sustained phase sends")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 10*time.Minute, "-e2e: how long a phase may take to deliver its events")
	fs.IntVar(&o.sampleStates, "sample-states", 20, "-e2e: conversations per phase whose workflow state is queried")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK, false
		}
		return o, exitUsage, false
	}
	selfSet, baselinesSet, concurrencySet, durationSet := false, false, false, false
	fs.Visit(func(f *flag.Flag) {
		selfSet = selfSet || f.Name == "self"
		baselinesSet = baselinesSet || f.Name == "baselines"
		concurrencySet = concurrencySet || f.Name == "concurrency"
		durationSet = durationSet || f.Name == "duration"
	})
	if o.e2e && !concurrencySet {
		o.concurrency = e2eSenders
	}
	if o.e2e && !durationSet {
		o.duration = e2eBurst
	}
	var badPhase string
	var phasesOK bool
	o.phases, badPhase, phasesOK = parsePhases(*phases)
	o.baseline = o.baseline || baselinesSet
	var badBaseline string
	var baselinesOK bool
	o.baselines, badBaseline, baselinesOK = parseBaselines(*baselines)
	if *page != "" {
		for _, p := range strings.Split(*page, ",") {
			o.pages = append(o.pages, strings.TrimSpace(p))
		}
	}
	var problem string
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case o.e2e && (o.url != "" || o.baseline):
		problem = "-e2e runs aicc in this process: not with -url or -baseline"
	case o.e2e && !phasesOK:
		problem = fmt.Sprintf("-phases: unknown phase %q (%s)", badPhase, strings.Join(allPhases, ", "))
	case o.e2e && slices.Contains(o.phases, phaseSustained) && !slices.Contains(o.phases, phaseBacklog1) && o.sustainedRate == 0:
		problem = "-phases: sustained runs at half of backlog-1's drain: run backlog-1 too, or set -sustained-rate"
	case o.e2e && o.floorWorkflow != floorNoop && o.floorWorkflow != floorConversation:
		problem = "-floor-workflow must be noop or conversation"
	case o.e2e && o.temporal != temporalSQLite && o.temporal != temporalPostgres:
		problem = "-temporal must be sqlite or postgres"
	case o.e2e && o.temporal == temporalPostgres && !strings.HasPrefix(cmp.Or(o.temporalDB, o.db), "postgres"):
		problem = "-temporal postgres needs -temporal-db or -db postgres://…: Temporal's databases are made on its server"
	case o.e2e && (o.shards < 1 || o.dispatchConcurrency < 0 || o.workflowPollers < 0 || o.workflowPollers == 1 || o.floorConcurrency < 0 || o.floorSignals < 0 ||
		o.backlog1 < 1 || o.backlog10 < 1 || o.backlog10Events < 1 || o.sustainedRate < 0 || o.sampleStates < 0):
		problem = "-e2e: -shards, -backlog1, -backlog10 and -backlog10-events must be positive, the other counts not " +
			"negative, -workflow-pollers not 1 (the SDK refuses it)"
	case o.e2e && (o.floorDuration <= 0 || o.sustainedDuration <= 0 || o.drainTimeout <= 0):
		problem = "-e2e: -floor-duration, -sustained-duration and -drain-timeout must be positive"
	case o.e2e && (o.burstPages < 1 || o.burstPages > o.nPages):
		problem = "-e2e: -burst-pages must be between 1 and -pages"
	case o.flood > 0 && (o.e2e || o.baseline || o.url != ""):
		problem = "-flood runs aicc in this process, alone: not with -e2e, -baseline or -url"
	case o.flood < 0 || o.flood > 250:
		problem = "-flood must be between 0 and 250 (flooders send from 127.0.0.2 to 127.0.0.251)"
	case o.flood > 0 && (o.floodConns < 1 || o.floodRate < 0 || o.floodUnknown < 0 || o.floodUnknown > 1 ||
		o.floodBytes < 0 || o.floodBytes > api.DefaultMaxBodyBytes):
		problem = "-flood-conns must be positive, -flood-rate not negative, -flood-unknown between 0 and 1, " +
			"-flood-bytes between 0 and the body limit (1048576)"
	case !baselinesOK:
		problem = fmt.Sprintf("-baselines: unknown baseline %q (body, rows)", badBaseline)
	case o.url != "" && selfSet && o.self:
		problem = "-self and -url exclude each other"
	case o.url == "" && !o.self:
		problem = "-self=false needs -url"
	case o.url != "" && (o.channel == "" || o.secret == "" || len(o.pages) == 0):
		problem = "-url needs -channel, -secret and -page"
	case o.url == "" && (o.channel != "" || o.secret != "" || len(o.pages) > 0):
		problem = "-channel, -secret and -page go with -url"
	case o.url != "" && baselinesSet && slices.Contains(o.baselines, "rows"):
		problem = "-baselines rows does not go with -url: its rows would go into a live inbox, to aicc's dispatcher"
	case o.url != "" && o.baseline && o.db == "":
		problem = "-baseline with -url needs -db, the database the baseline writes to"
	case o.db != "" && !strings.HasPrefix(o.db, "sqlite:") && !strings.HasPrefix(o.db, "postgres://") &&
		!strings.HasPrefix(o.db, "postgresql://"):
		problem = "-db must be sqlite:PATH or postgres://…"
	case o.concurrency < 1 || o.concurrency > 10000:
		problem = "-concurrency must be between 1 and 10000"
	case o.duration < 100*time.Millisecond || o.duration > time.Hour:
		problem = "-duration must be between 100ms and 1h"
	case o.rounds < 1 || o.rounds > 100:
		problem = "-rounds must be between 1 and 100"
	case o.idleConns < 0:
		problem = "-idle-conns must not be negative"
	case o.items < 1 || o.items > 1000:
		problem = "-items must be between 1 and 1000 (Meta batches at most 1,000 events)"
	case o.dup < 0 || o.dup > 1:
		problem = "-dup must be between 0 and 1"
	case o.nPages < 1 || o.nPages > 100:
		problem = "-pages must be between 1 and 100"
	case o.customers < 1:
		problem = "-customers must be at least 1"
	case o.timeout <= 0:
		problem = "-timeout must be positive"
	}
	if problem != "" {
		fmt.Fprintf(stderr, "aicc-load: %s\n", problem)
		fs.Usage()
		return o, exitUsage, false
	}
	o.self = o.url == ""
	if !o.self && !baselinesSet {
		o.baselines = []string{"body"} // never the rows baseline against a running aicc's inbox
	}
	return o, 0, true
}

// Defaults of -concurrency and -duration with -e2e: the burst of issue 12, 8 senders for 10 s.
const (
	e2eSenders = 8
	e2eBurst   = 10 * time.Second
)

// parsePhases parses -phases: a comma-separated subset of allPhases, returned in their order. ok is false,
// with the offending name, when a name is none of them.
func parsePhases(list string) (names []string, bad string, ok bool) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(allPhases, name) {
			return nil, name, false
		}
		want[name] = true
	}
	for _, name := range allPhases {
		if want[name] {
			names = append(names, name)
		}
	}
	return names, "", true
}

// parseBaselines parses -baselines: a comma-separated subset of body and rows, returned in that order. ok is
// false, with the offending name, when a name is neither.
func parseBaselines(list string) (names []string, bad string, ok bool) {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name != "body" && name != "rows" {
			return nil, name, false
		}
		want[name] = true
	}
	for _, name := range []string{"body", "rows"} {
		if want[name] {
			names = append(names, name)
		}
	}
	return names, "", true
}

// load runs the whole harness: provision, load aicc, load the baseline, verify, report.
func load(ctx context.Context, o options, stdout io.Writer) error {
	store, closeStore, err := openStore(ctx, &o)
	if err != nil {
		return err
	}
	defer closeStore()

	runID := newRunID()
	t := target{name: "aicc", url: o.url, channel: o.channel, secret: o.secret, pages: o.pages}
	if o.self {
		self, err := startSelf(ctx, store, runID, o.nPages)
		if err != nil {
			return err
		}
		defer self.Close()
		t = self.target
	} else {
		t.url = strings.TrimRight(t.url, "/") + "/webhooks/facebook/" + t.channel
	}
	// arm is one target of the run with its generator (message IDs of its own) and its result.
	type arm struct {
		t       target
		gen     *generator
		res     *result
		profile bool
	}
	// Every target gets bodies alike: the same Pages (aicc's), its own message IDs.
	newArm := func(bt target, run string) *arm {
		return &arm{t: bt, gen: &generator{run: run, pages: t.pages, customers: o.customers, items: o.items, dup: o.dup},
			res: &result{name: bt.name}}
	}
	aiccArm := newArm(t, runID)
	aiccArm.profile = true
	arms := []*arm{aiccArm}
	var body *baseline
	var bodyArm, rowsArm *arm
	var rows *rowsBaseline
	if o.baseline && slices.Contains(o.baselines, "body") {
		var err error
		if body, err = startBaseline(ctx, store); err != nil {
			return err
		}
		defer func() {
			if err := body.Close(ctx); err != nil {
				fmt.Fprintf(stdout, "aicc-load: %v\n", err)
			}
		}()
		bodyArm = newArm(body.target, runID+"b")
		arms = append(arms, bodyArm)
	}
	if o.baseline && slices.Contains(o.baselines, "rows") {
		var err error
		if rows, err = startRowsBaseline(store, runID); err != nil {
			return err
		}
		defer func() {
			if err := rows.Close(ctx); err != nil {
				fmt.Fprintf(stdout, "aicc-load: %v\n", err)
			}
		}()
		rowsArm = newArm(rows.target, runID+"r")
		arms = append(arms, rowsArm)
	}
	fmt.Fprintf(stdout, "aicc-load: %s, concurrency %d, duration %s × %d round(s), items %d, dup %.2f, pages %d, "+
		"customers %d/page\n", describeDB(store), o.concurrency, o.duration, o.rounds, o.items, o.dup, len(t.pages), o.customers)

	// Rounds rotate the order of the targets (aicc, body, rows; then body, rows, aicc; …), so that none always
	// runs on the database another has just warmed or filled.
	for round := range o.rounds {
		for i := range arms {
			a := arms[(i+round)%len(arms)]
			a.gen.round = round
			stopProfile := func() {}
			if a.profile {
				var err error
				if stopProfile, err = startProfile(o.cpuProfile, round); err != nil {
					return err
				}
			}
			r, err := loadTarget(ctx, a.t, a.gen, o)
			stopProfile()
			if err != nil {
				return err
			}
			a.res.add(r)
			fmt.Fprintf(stdout, "  round %d %-13s %6.0f req/s %7.0f events/s\n", round+1, r.name, rate(r.ok, r.elapsed),
				rate(r.events, r.elapsed))
		}
	}
	if body != nil {
		var err error
		if bodyArm.res.check, err = body.verify(ctx, bodyArm.res); err != nil {
			return err
		}
	}
	if rows != nil {
		var err error
		if rowsArm.res.check, err = verifyInbox(ctx, store, rows.channel, rowsArm.gen.midPrefix(), rowsArm.res); err != nil {
			return fmt.Errorf("verify baseline-rows: %w", err)
		}
	}
	if store != nil {
		var err error
		if aiccArm.res.check, err = verifyInbox(ctx, store, t.channel, aiccArm.gen.midPrefix(), aiccArm.res); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	results := make([]*result, len(arms))
	failed := false
	for i, a := range arms {
		results[i] = a.res
		failed = failed || a.res.check.failed()
	}
	report(stdout, results)
	if aiccArm.res.check == nil {
		fmt.Fprintln(stdout, "exactly-once: not checked (no -db)")
		return nil
	}
	if failed {
		return errors.New("events were lost or duplicated")
	}
	return nil
}

// openStore opens o.db, migrated when aicc runs in this process (-self), and returns what closes it. With
// -self and no -db it is a new SQLite file in a temporary directory, removed on close, and o.db names it. The
// store is nil when there is no database (-url without -db).
func openStore(ctx context.Context, o *options) (*db.Store, func(), error) {
	var cleanup []func()
	closeAll := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	if o.db == "" && o.self {
		dir, err := os.MkdirTemp("", "aicc-load-")
		if err != nil {
			return nil, nil, err
		}
		cleanup = append(cleanup, func() { os.RemoveAll(dir) })
		o.db = "sqlite:" + filepath.Join(dir, "load.db")
	}
	if o.db == "" {
		return nil, closeAll, nil
	}
	store, err := db.Open(ctx, o.db)
	if err != nil {
		closeAll()
		return nil, nil, fmt.Errorf("open database: %w", err)
	}
	cleanup = append(cleanup, func() { store.Close() })
	if o.idleConns > 0 {
		store.DB().SetMaxIdleConns(o.idleConns)
	}
	if o.self {
		if err := store.Migrate(ctx); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("migrate: %w", err)
		}
	}
	return store, closeAll, nil
}

// describeDB names the database without its URL, which may hold a password.
func describeDB(store *db.Store) string {
	if store == nil {
		return "database not checked"
	}
	return "database " + store.Dialect()
}

// startProfile starts a CPU profile to path, when path is not empty and this is the first round, and returns
// what stops it.
func startProfile(path string, round int) (func(), error) {
	if path == "" || round > 0 {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// newRunID names this run; every message ID it sends starts with it, so runs never collide in one database.
func newRunID() string {
	b := aicc.RandomBytes(5)
	const digits = "0123456789abcdefghijklmnopqrstuv"
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = digits[c%32]
	}
	return string(out)
}
