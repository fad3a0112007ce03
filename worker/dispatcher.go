package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/ops"
	"github.com/aiccfb/aicc/workflows"
)

// Dispatcher delivers the inbox to the conversation workflows. It claims undelivered events in batches (by
// Meta timestamp, then inbox ID), signals each to its conversation's workflow with signal-with-start
// (workflows.SignalInboxEvent; a conversation without a running workflow gets a new one), and marks the signalled
// events delivered, once per batch.
//
// Order: the events of one conversation are signalled one after the other in the claimed order; different
// conversations are signalled concurrently, a few at a time. When a signal fails, the conversation's later
// events are not signalled either: they stay undelivered, and so does every event of that conversation claimed
// until the failed event's lease is over, when they are all claimed again, in order. Dispatchers in several
// processes may still interleave one conversation's events; the workflow applies them so that the outcome is
// that of Meta timestamp order all the same.
//
// Crash safety: an event is marked delivered only after its signal succeeded. A crash (or a failed mark)
// between the two leaves it undelivered: once its lease is over it is claimed and signalled again, and the
// workflow, which remembers the inbox IDs it applied, ignores it. An event is therefore delivered at least once
// and applied exactly once.
//
// The zero value of every field but Inbox and Temporal has a default, given with the field.
type Dispatcher struct {
	Inbox    aicc.InboxStore
	Temporal client.Client
	// Owner names this dispatcher on its leases; default "<hostname>/<pid>".
	Owner string
	// Batch is how many events are claimed at once; default DefaultDispatchBatch.
	Batch int
	// Lease is how long claimed events are this dispatcher's before another may claim them; default
	// DefaultDispatchLease. It must exceed the time a batch takes to signal.
	Lease time.Duration
	// Idle is how long to wait after a claim found nothing; default DefaultDispatchIdle.
	Idle time.Duration
	// Now gives the time of leases and deliveries; default time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics is where the dispatcher registers its metrics; nil registers none.
	Metrics prometheus.Registerer
}

// Dispatcher defaults.
const (
	DefaultDispatchBatch = 100
	// DefaultDispatchLease is far longer than a batch takes (a signal is a few milliseconds), and short enough
	// that an event a crashed dispatcher claimed is delivered again within a minute.
	DefaultDispatchLease = 30 * time.Second
	// DefaultDispatchIdle bounds the delivery latency of a quiet inbox at a few claims a second.
	DefaultDispatchIdle = 200 * time.Millisecond
)

const (
	// dispatchConcurrency is how many conversations are signalled at once: enough to hide the round trip to
	// Temporal, few enough not to flood its frontend.
	dispatchConcurrency = 8
	// maxClaimBackoff caps the wait between claims while the database does not answer.
	maxClaimBackoff = 5 * time.Second
	// markTimeout bounds the mark of a batch, which runs even after ctx is done: events signalled during a
	// shutdown are marked rather than signalled again.
	markTimeout = 5 * time.Second
)

// Results of aicc_dispatched_events_total.
const (
	dispatchDelivered = "delivered" // signalled and marked delivered
	dispatchFailed    = "failed"    // the signal, or the mark, failed; delivered again after the lease
	dispatchDeferred  = "deferred"  // not signalled, behind a failed event of the same conversation
	dispatchSkipped   = "skipped"   // no conversation (no Page or customer): marked delivered without a signal
)

// dispatchMetrics are the dispatcher's metrics.
type dispatchMetrics struct {
	seconds prometheus.Histogram
	events  *prometheus.CounterVec
}

func newDispatchMetrics(reg prometheus.Registerer) (*dispatchMetrics, error) {
	m := &dispatchMetrics{
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aicc_dispatch_duration_seconds",
			Help:    "Time to deliver one claimed batch of inbox events: the signals-with-start and the mark.",
			Buckets: prometheus.DefBuckets,
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_dispatched_events_total",
			Help: "Inbox events the dispatcher handled, by result (delivered, failed, deferred, skipped).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	// A dispatcher restarted on the same registry takes over the collectors of the previous one.
	var err error
	if m.seconds, err = ops.Register(reg, m.seconds); err != nil {
		return nil, err
	}
	if m.events, err = ops.Register(reg, m.events); err != nil {
		return nil, err
	}
	return m, nil
}

// conversationKey names a conversation among the claimed events.
type conversationKey struct{ channelID, pageID, psid string }

// Run dispatches until ctx is done, then returns nil. A claim that fails is logged and retried with backoff; a
// signal that fails is logged and its event delivered again after its lease. It returns an error only when
// the Dispatcher lacks Inbox or Temporal, or its metrics cannot be registered.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.Inbox == nil || d.Temporal == nil {
		return errors.New("dispatcher: Inbox and Temporal are required")
	}
	r, err := d.runner()
	if err != nil {
		return err
	}
	var backoff time.Duration
	for ctx.Err() == nil {
		now := r.now()
		leaseUntil := now.Add(r.lease)
		events, err := d.Inbox.ClaimEvents(ctx, r.owner, r.batch, now, leaseUntil)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			backoff = min(max(2*backoff, r.idle), maxClaimBackoff)
			r.logger.Warn("Could not claim inbox events", "Error", err, "Backoff", backoff)
			sleep(ctx, backoff)
		case len(events) == 0:
			backoff = 0
			sleep(ctx, r.idle)
		default:
			backoff = 0
			r.dispatch(ctx, events, leaseUntil)
		}
	}
	return nil
}

// runner is one Run of a Dispatcher, with the defaults applied.
type runner struct {
	*Dispatcher
	owner   string
	batch   int
	lease   time.Duration
	idle    time.Duration
	now     func() time.Time
	logger  *slog.Logger
	metrics *dispatchMetrics
	// blocked holds the conversations whose signal failed, until the failed event's lease is over.
	blocked map[conversationKey]time.Time
}

func (d *Dispatcher) runner() (*runner, error) {
	r := &runner{
		Dispatcher: d, owner: d.Owner, batch: d.Batch, lease: d.Lease, idle: d.Idle, now: d.Now, logger: d.Logger,
		blocked: map[conversationKey]time.Time{},
	}
	if r.owner == "" {
		host, _ := os.Hostname()
		r.owner = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if r.batch <= 0 {
		r.batch = DefaultDispatchBatch
	}
	if r.lease <= 0 {
		r.lease = DefaultDispatchLease
	}
	if r.idle <= 0 {
		r.idle = DefaultDispatchIdle
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	var err error
	r.metrics, err = newDispatchMetrics(d.Metrics)
	return r, err
}

// conversationEvents are one conversation's events of a batch, in the claimed order.
type conversationEvents struct {
	key    conversationKey
	events []aicc.InboxEvent
}

// outcome is what became of one conversation's events of a batch.
type outcome struct {
	signalled []int64 // in order, up to the first failure
	failed    bool    // the signal after them failed; the rest were not attempted
}

// dispatch signals a claimed batch and marks what was signalled.
func (r *runner) dispatch(ctx context.Context, events []aicc.InboxEvent, leaseUntil time.Time) {
	start := time.Now()
	now := r.now()
	for k, until := range r.blocked {
		if !now.Before(until) {
			delete(r.blocked, k)
		}
	}

	var (
		groups  []*conversationEvents
		byKey   = map[conversationKey]*conversationEvents{}
		skipped []int64
	)
	for _, e := range events {
		if e.TenantID == "" || e.ChannelID == "" || e.PageID == "" || e.PSID == "" {
			r.logger.Warn("An inbox event has no conversation; it is marked delivered without a signal",
				"InboxID", e.ID, "Kind", e.Kind)
			skipped = append(skipped, e.ID)
			continue
		}
		k := conversationKey{e.ChannelID, e.PageID, e.PSID}
		g, ok := byKey[k]
		if !ok {
			g = &conversationEvents{key: k}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.events = append(g.events, e)
	}

	outcomes := make([]outcome, len(groups))
	deferred := 0
	sem := make(chan struct{}, dispatchConcurrency)
	var wg sync.WaitGroup
	for i, g := range groups {
		if _, ok := r.blocked[g.key]; ok {
			deferred += len(g.events)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			outcomes[i] = r.signalAll(ctx, g.events)
		}()
	}
	wg.Wait()

	ids := skipped
	signalled, failed := 0, 0
	for i, o := range outcomes {
		ids = append(ids, o.signalled...)
		signalled += len(o.signalled)
		if o.failed {
			failed++
			deferred += len(groups[i].events) - len(o.signalled) - 1
			r.blocked[groups[i].key] = leaseUntil
		}
	}
	if len(ids) > 0 {
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
		err := r.Inbox.MarkDelivered(mctx, ids, r.now())
		cancel()
		if err != nil {
			// Signalled but not marked: delivered again after the lease, and ignored by the workflows.
			r.logger.Warn("Could not mark inbox events delivered", "Error", err, "Events", len(ids))
			failed += signalled
			signalled = 0
		}
	}

	r.metrics.seconds.Observe(time.Since(start).Seconds())
	r.metrics.events.WithLabelValues(dispatchDelivered).Add(float64(signalled))
	r.metrics.events.WithLabelValues(dispatchFailed).Add(float64(failed))
	r.metrics.events.WithLabelValues(dispatchDeferred).Add(float64(deferred))
	r.metrics.events.WithLabelValues(dispatchSkipped).Add(float64(len(skipped)))
}

// signalAll signals one conversation's events in order and stops at the first failure.
func (r *runner) signalAll(ctx context.Context, events []aicc.InboxEvent) outcome {
	var o outcome
	for _, e := range events {
		if err := r.signal(ctx, e); err != nil {
			if ctx.Err() == nil {
				r.logger.Warn("Could not signal an inbox event to its conversation; it is delivered again after its lease",
					"InboxID", e.ID, "WorkflowID", workflows.ConversationWorkflowID(e.ChannelID, e.PageID, e.PSID), "Error", err)
			}
			o.failed = true
			return o
		}
		o.signalled = append(o.signalled, e.ID)
	}
	return o
}

// signal delivers one event to its conversation's workflow, starting the workflow when it does not run.
func (r *runner) signal(ctx context.Context, e aicc.InboxEvent) error {
	return workflows.SignalInbox(ctx, r.Temporal,
		workflows.ConversationInput{TenantID: e.TenantID, ChannelID: e.ChannelID, PageID: e.PageID, PSID: e.PSID},
		workflows.InboxEventSignal{InboxID: e.ID, Kind: e.Kind, MID: e.MID, Timestamp: e.Timestamp, Text: e.Text, At: e.ReceivedAt})
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
