package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aiccfb/aicc/workflows"
)

// Phases of an -e2e run, in the order they run.
const (
	phaseFloor     = "floor"
	phaseBurst     = "burst"
	phaseBacklog1  = "backlog-1"
	phaseBacklog10 = "backlog-10"
	phaseSustained = "sustained"
)

// allPhases are the phases -phases may name, in the order they run.
var allPhases = []string{phaseFloor, phaseBurst, phaseBacklog1, phaseBacklog10, phaseSustained}

// phaseCustomers numbers each phase's customers from a base of its own: every phase writes to conversations no
// other phase touched, so that its checks count its events only, and backlog-1's conversations are all new, as
// the floor's workflows are.
var phaseCustomers = map[string]int{
	phaseBurst: 100_000_000, phaseBacklog1: 200_000_000, phaseBacklog10: 300_000_000, phaseSustained: 400_000_000,
}

// Temporal persistences of -temporal.
const (
	temporalSQLite   = "sqlite"
	temporalPostgres = "postgres"
)

// phaseResult is what one delivering phase measured.
type phaseResult struct {
	name       string
	senders    int
	backlogged bool // the events were all stored before the dispatcher started
	ingest     *result
	drainFrom  time.Time // the dispatcher's start (backlog phases) or the ingest's (burst, sustained)
	ingestEnd  time.Time
	rate       float64 // sustained: the events/s asked for
	sum        deliverySummary
	inbox      *check // every acknowledged event in the inbox once
	model      modelCheck
	appliedAt  time.Time // the read model counted every event (zero: never, within the timeout)
	states     stateCheck
	history    string        // the history of the first conversation sampled
	backlog    seriesSummary // undelivered events sampled each second
	// The dispatcher's calls while the phase delivered: claims, signal-with-start calls and marks.
	claims, signals, marks timingSummary
	commits                commitDelta // Postgres transactions while the phase delivered, by database
	cpu                    cpuTimes
}

// drained is the time from drainFrom until the last event was delivered.
func (p *phaseResult) drained() time.Duration { return p.sum.lastDelivered.Sub(p.drainFrom) }

// drainRate is the phase's events over drained.
func (p *phaseResult) drainRate() float64 { return rate(p.sum.events, p.drained()) }

// ingestTime is how long the POSTs took.
func (p *phaseResult) ingestTime() time.Duration { return p.ingest.elapsed }

// failed reports whether an exactly-once check failed.
func (p *phaseResult) failed() bool {
	return p.inbox.failed() || p.sum.pending > 0 || p.sum.dead > 0 || !p.model.ok() || !p.states.ok()
}

// e2e runs the -e2e harness: the stack, then each phase of o.phases, then the targets.
func e2e(ctx context.Context, o options, stdout io.Writer) (err error) {
	dir, err := os.MkdirTemp("", "aicc-load-e2e-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := startStack(ctx, o, dir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	pollers := "the SDK's default"
	if o.workflowPollers > 0 {
		pollers = fmt.Sprint(o.workflowPollers)
	}
	fmt.Fprintf(stdout, "aicc-load -e2e: %s; dispatcher concurrency %d; workflow task pollers %s; pages %d (the burst's %d); "+
		"load average %s\n", s.describe, s.dispatchConcurrency(), pollers, len(s.self.pages), o.burstPages, loadAverage())

	var (
		floor   *floorResult
		results = map[string]*phaseResult{}
	)
	for _, name := range o.phases {
		var p *phaseResult
		switch name {
		case phaseFloor:
			if floor, err = s.floorPhase(ctx, o); err != nil {
				return err
			}
			reportFloor(stdout, floor)
			continue
		case phaseBurst:
			gen := s.generator(name, o.customers, o.items, o.dup, 0, 0)
			gen.pages = gen.pages[:o.burstPages]
			p, err = s.drainPhase(ctx, o, name, gen, o.concurrency, o.duration, false)
		case phaseBacklog1:
			gen := s.generator(name, 0, 1, o.dup, o.backlog1, o.backlog1)
			p, err = s.drainPhase(ctx, o, name, gen, o.concurrency, time.Hour, true)
		case phaseBacklog10:
			gen := s.generator(name, 0, o.items, o.dup, o.backlog10, o.backlog10*o.backlog10Events)
			p, err = s.drainPhase(ctx, o, name, gen, o.concurrency, time.Hour, true)
		case phaseSustained:
			r := o.sustainedRate
			if r == 0 {
				b1 := results[phaseBacklog1]
				if b1 == nil {
					return errors.New("-phases: sustained needs backlog-1 before it, or -sustained-rate")
				}
				r = b1.drainRate() / 2
			}
			p, err = s.sustainedPhase(ctx, o, r)
		}
		if err != nil {
			return err
		}
		results[name] = p
		reportPhase(stdout, p)
	}
	reportTargets(stdout, floor, results)
	for _, p := range results {
		if p.failed() {
			return errors.New("exactly-once checks failed")
		}
	}
	return nil
}

// generator returns the phase's load generator: its own message IDs and customers; with spread, limit items
// to spread conversations in turn, else to random customers of customers per Page.
func (s *stack) generator(phase string, customers, items int, dup float64, spread, limit int) *generator {
	return &generator{
		run: s.runID + "_" + phase, pages: s.self.pages, customers: customers, items: items, dup: dup,
		customerBase: phaseCustomers[phase], spread: spread, limit: int64(limit),
	}
}

// floorPhase runs the floor with the dispatcher stopped.
func (s *stack) floorPhase(ctx context.Context, o options) (*floorResult, error) {
	s.stopDispatcher()
	stop, err := startProfile(profilePath(o.cpuProfile, phaseFloor), 0)
	if err != nil {
		return nil, err
	}
	defer stop()
	c := o.floorConcurrency
	if c == 0 {
		c = s.dispatchConcurrency()
	}
	return s.runFloor(ctx, o.floorWorkflow, c, o.floorDuration, o.floorSignals)
}

// drainPhase sends gen's POSTs from senders for d (or until gen's limit), with the dispatcher running, or, for
// a backlog, stopped until the POSTs are done; then it waits until the inbox is delivered and checks.
func (s *stack) drainPhase(ctx context.Context, o options, name string, gen *generator, senders int, d time.Duration,
	backlog bool) (*phaseResult, error) {
	p := &phaseResult{name: name, senders: senders, backlogged: backlog}
	stop, err := startProfile(profilePath(o.cpuProfile, name), 0)
	if err != nil {
		return nil, err
	}
	defer stop()
	cpu := startCPU()
	s.resetTimings()
	lo := o
	lo.concurrency, lo.duration = senders, d
	var before map[string]int64
	if backlog {
		s.stopDispatcher()
	} else {
		before = s.pg.commits(ctx)
		p.drainFrom = s.startDispatcher()
	}
	samples := s.sampleBacklog(ctx, time.Second)
	if p.ingest, err = loadTarget(ctx, s.self.target, gen, lo); err != nil {
		samples()
		return nil, err
	}
	p.ingestEnd = time.Now()
	if backlog {
		before = s.pg.commits(ctx)
		p.drainFrom = s.startDispatcher()
	}
	err = s.waitDelivered(ctx, o.drainTimeout)
	p.commits = since(before, s.pg.commits(ctx))
	p.backlog = summarizeSeries(samples())
	s.stopDispatcher()
	p.claims, p.signals, p.marks = s.inbox.claims.take(), s.signals.take(), s.inbox.marks.take()
	p.cpu = cpu.stop()
	stop()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, s.check(ctx, o, p, gen)
}

// sustainedPhase sends one event per POST at eventsPerSecond for o.sustainedDuration with the dispatcher running,
// then waits until the inbox is delivered and checks.
func (s *stack) sustainedPhase(ctx context.Context, o options, eventsPerSecond float64) (*phaseResult, error) {
	p := &phaseResult{name: phaseSustained, rate: eventsPerSecond}
	stop, err := startProfile(profilePath(o.cpuProfile, phaseSustained), 0)
	if err != nil {
		return nil, err
	}
	defer stop()
	gen := s.generator(phaseSustained, o.customers, 1, 0, 0, 0)
	cpu := startCPU()
	s.resetTimings()
	before := s.pg.commits(ctx)
	p.drainFrom = s.startDispatcher()
	samples := s.sampleBacklog(ctx, time.Second)
	p.ingest = pace(ctx, s.self.target, gen, eventsPerSecond, o.sustainedDuration, sustainedWorkers, o.timeout)
	p.ingestEnd = time.Now()
	p.backlog = summarizeSeries(samples()) // while the load ran, not the drain after it
	err = s.waitDelivered(ctx, o.drainTimeout)
	p.commits = since(before, s.pg.commits(ctx))
	s.stopDispatcher()
	p.claims, p.signals, p.marks = s.inbox.claims.take(), s.signals.take(), s.inbox.marks.take()
	p.cpu = cpu.stop()
	stop()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", phaseSustained, err)
	}
	return p, s.check(ctx, o, p, gen)
}

// resetTimings forgets the calls timed so far.
func (s *stack) resetTimings() {
	s.inbox.claims.take()
	s.inbox.marks.take()
	s.signals.take()
}

// sustainedWorkers bounds the paced sender's POSTs in flight: far more than a steady rate of a few hundred a
// second needs at a few milliseconds each.
const sustainedWorkers = 32

// check reads the phase's events from the inbox and runs the exactly-once checks: every acknowledged event in
// the inbox once and delivered, the read model counting each conversation's events exactly (waiting for the
// workflows to have saved them), and a sample of the workflows' own state.
func (s *stack) check(ctx context.Context, o options, p *phaseResult, gen *generator) error {
	ds, err := readDeliveries(ctx, s.store, s.self.channel, gen.midPrefix())
	if err != nil {
		return err
	}
	p.sum = summarize(ds)
	if p.inbox, err = verifyInbox(ctx, s.store, s.self.channel, gen.midPrefix(), p.ingest); err != nil {
		return err
	}
	if p.model, p.appliedAt, err = waitApplied(ctx, s.store, s.self.channel, p.sum.perConv, o.drainTimeout); err != nil {
		return err
	}
	p.states = s.queryStates(ctx, p.sum.perConv, o.sampleStates)
	if first := sample(sortedKeys(p.sum.perConv), 1); len(first) == 1 {
		id := workflows.ConversationWorkflowID(s.self.channel, first[0].page, first[0].psid)
		p.history = fmt.Sprintf("%d events of the phase: %s", p.sum.perConv[first[0]], s.historyOf(ctx, id))
	}
	return nil
}

// waitDelivered waits until the inbox has no pending event, for at most timeout. It looks ten times a second
// for one pending event, not for their number, so that it costs the drain it waits for next to nothing.
func (s *stack) waitDelivered(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pending, err := s.store.DB().NewSelect().Table("inbox").
			Where("delivered_at IS NULL AND dead_at IS NULL").Exists(ctx)
		if err != nil {
			return fmt.Errorf("pending events: %w", err)
		}
		if !pending {
			return nil
		}
		if time.Now().After(deadline) {
			st, err := s.store.InboxStats(ctx)
			if err != nil {
				return err
			}
			return fmt.Errorf("%d events still undelivered after %s", st.Undelivered, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sampleBacklog samples the inbox's pending events every interval until the returned function is called, which
// returns the samples.
func (s *stack) sampleBacklog(ctx context.Context, every time.Duration) func() []int {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan []int)
	go func() {
		var samples []int
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- samples
				return
			case <-t.C:
				if st, err := s.store.InboxStats(ctx); err == nil {
					samples = append(samples, st.Undelivered)
				}
			}
		}
	}()
	return func() []int { cancel(); return <-done }
}

// profilePath is the CPU profile file of a phase: none without -cpuprofile.
func profilePath(base, phase string) string {
	if base == "" {
		return ""
	}
	return base + "." + phase
}
