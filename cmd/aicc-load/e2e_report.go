package main

import (
	"fmt"
	"io"
	"time"
)

// Targets of issue 12 for delivery.
const (
	targetBacklog1  = 0.9             // backlog-1 drain, events/s, at least this times the floor's signals/s
	targetBacklog10 = 5.0             // backlog-10 drain, events/s, at least this times the floor's signals/s
	targetBurst     = 2.0             // the burst delivered within this times the time it took to ingest it
	targetP99       = 1 * time.Second // sustained: POST → delivered, p99 below this
)

// reportFloor prints the floor.
func reportFloor(w io.Writer, f *floorResult) {
	into, completed := "a no-op workflow", "completed"
	if f.workflow == floorConversation {
		into, completed = "new Conversation workflows", "saved their read model"
	}
	fmt.Fprintf(w, "\n%s: %d signal-with-start calls into %s at concurrency %d in %.1f s: %.0f signals/s (%d errors); "+
		"%d of the workflows %s, the last %.1f s after the first call (%.0f/s)\n"+
		"  signal-with-start calls: %s\n  history of one: %s\n  while the calls ran: %s\n  until completed: %s\n",
		phaseFloor, f.signals, into, f.concurrency, f.elapsed.Seconds(), f.rate(), f.errors, f.completed, completed,
		f.settled.Seconds(), rate(f.completed, f.settled), f.calls, f.history, f.callsCPU, f.cpu)
	if c := f.commits.per(f.signals); c != "" {
		fmt.Fprintf(w, "  Postgres commits while the calls ran: %s\n", c)
	}
}

// reportPhase prints a delivering phase: ingest, delivery, latency, backlog and the checks.
func reportPhase(w io.Writer, p *phaseResult) {
	in := p.ingest
	if p.rate > 0 {
		fmt.Fprintf(w, "\n%s: paced at %.0f events/s (one per POST)", p.name, p.rate)
	} else {
		fmt.Fprintf(w, "\n%s: %d senders", p.name, p.senders)
	}
	fmt.Fprintf(w, ", %.1f s: %d POSTs answered (%d resent, %d not 200, %d errors), %d events acknowledged, %d stored "+
		"in %d conversations: ingest %.0f events/s stored (%.0f acknowledged), POST p50/p99 %s/%s\n",
		in.elapsed.Seconds(), in.sent, in.resent, in.sent-in.ok, in.errors, in.events, p.sum.events, len(p.sum.perConv),
		rate(p.sum.events, in.elapsed), rate(in.events, in.elapsed), ms(percentile(in.latencies, 50)), ms(percentile(in.latencies, 99)))
	from := "the POSTs began"
	if p.backlogged {
		from = "the dispatcher started"
	}
	fmt.Fprintf(w, "  delivered: the last event %.2f s after %s (%.2f s after the last POST): drain %.0f events/s; "+
		"POST → delivered p50 %s, p99 %s, max %s\n", p.drained().Seconds(), from,
		p.sum.lastDelivered.Sub(p.ingestEnd).Seconds(), p.drainRate(), ms(percentile(p.sum.lags, 50)),
		ms(percentile(p.sum.lags, 99)), ms(percentile(p.sum.lags, 100)))
	b := p.backlog
	fmt.Fprintf(w, "  backlog (undelivered, each second, %d samples): min %d, mean %.0f, max %d, last %d, trend %+.1f/s\n",
		b.n, b.min, b.mean, b.max, b.last, b.slope)
	applied := "never within the timeout"
	if !p.appliedAt.IsZero() {
		applied = fmt.Sprintf("%.2f s after %s", p.appliedAt.Sub(p.drainFrom).Seconds(), from)
	}
	fmt.Fprintf(w, "  read model complete (every conversation counts its events): %s\n", applied)
	fmt.Fprintf(w, "  exactly once: inbox %s\n", p.inbox)
	fmt.Fprintf(w, "  exactly once: delivery %s: %d delivered, %d pending, %d dead letters\n",
		verdict(p.sum.pending == 0 && p.sum.dead == 0), len(p.sum.lags), p.sum.pending, p.sum.dead)
	fmt.Fprintf(w, "  exactly once: read model %s\n", p.model)
	fmt.Fprintf(w, "  exactly once: workflow state %s\n", p.states)
	fmt.Fprintf(w, "  dispatcher claims: %s\n  dispatcher signal-with-start calls: %s\n  dispatcher marks: %s\n",
		p.claims, p.signals, p.marks)
	fmt.Fprintf(w, "  history of a conversation with %s\n", p.history)
	if c := p.commits.per(p.sum.events); c != "" {
		fmt.Fprintf(w, "  Postgres commits until delivered: %s\n", c)
	}
	fmt.Fprintf(w, "  %s\n", p.cpu)
}

// reportTargets prints each target of the issue the run measured, met or not.
func reportTargets(w io.Writer, floor *floorResult, results map[string]*phaseResult) {
	if floor == nil && len(results) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntargets:")
	if floor != nil && floor.rate() > 0 {
		for _, t := range []struct {
			phase string
			want  float64
		}{{phaseBacklog1, targetBacklog1}, {phaseBacklog10, targetBacklog10}} {
			if p := results[t.phase]; p != nil {
				r := p.drainRate() / floor.rate()
				fmt.Fprintf(w, "  %s drain ≥ %.1f × floor: %.0f events/s against %.0f signals/s = %.2f × floor: %s\n",
					t.phase, t.want, p.drainRate(), floor.rate(), r, met(r >= t.want))
			}
		}
	}
	if p := results[phaseBurst]; p != nil {
		fmt.Fprintf(w, "  burst delivered within %.0f × its ingest time: %.2f s against %.0f × %.2f s = %.2f s (%.2f ×): %s\n",
			targetBurst, p.drained().Seconds(), targetBurst, p.ingestTime().Seconds(),
			targetBurst*p.ingestTime().Seconds(), p.drained().Seconds()/p.ingestTime().Seconds(),
			met(p.drained() <= time.Duration(targetBurst*float64(p.ingestTime()))))
	}
	if p := results[phaseSustained]; p != nil {
		p99 := percentile(p.sum.lags, 99)
		fmt.Fprintf(w, "  sustained at %.0f events/s: POST → delivered p99 %s < %s: %s; backlog flat (never above one "+
			"second of arrivals, %.0f; max %d): %s\n", p.rate, ms(p99), targetP99, met(p99 < targetP99),
			p.rate, p.backlog.max, met(flat(p.backlog, p.rate)))
	}
}

// flat reports whether the backlog stayed flat at eventsPerSecond: no sample held more than what arrives in a
// second, so nothing accumulated.
func flat(s seriesSummary, eventsPerSecond float64) bool {
	return s.n > 0 && float64(s.max) <= eventsPerSecond
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func verdict(ok bool) string {
	if ok {
		return "OK"
	}
	return "FAILED"
}
