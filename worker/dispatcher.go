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
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/ops"
	"github.com/aiccfb/aicc/workflows"
)

// Dispatcher delivers the inbox to the conversation workflows.
//
// It claims conversations, not events: InboxStore.ClaimConversations leases to it, on the database's clock,
// conversations that have pending events, and returns their oldest pending events in Meta timestamp order. Each
// conversation's claimed events go to its workflow in one signal-with-start (workflows.DeliverInboxEvents), a few
// conversations at a time; the events signalled are marked delivered, and their leases released, in batches.
// The next claim is made while signals run, up to twice Claim conversations in flight, and the leases of those
// in flight are renewed every third of the lease.
//
// Order: only a conversation's lease holder signals it, one signal after the other in timestamp order, so in any
// number of processes a conversation's events reach its workflow in order. An event that reaches the inbox after
// a later event of its conversation was delivered is applied late (the workflow counts such events).
//
// Failures: a failed signal counts an attempt of the events it carried (InboxStore.FailDelivery), and the
// conversation stays leased for a backoff, so that its later events wait behind them. A conversation with a
// failed event is then signalled one event at a time, which isolates a poison event; after MaxAttempts, or at
// once when it can never be delivered, an event becomes a dead letter and the rest of its conversation goes on.
// While Temporal is unavailable nothing is counted: the conversation waits, and no new claim is made until the
// backoff is over.
//
// Crash safety: an event is marked delivered only after its signal succeeded. A crash (or a failed mark) between
// the two leaves it pending: once its lease is over, a dispatcher signals it again, and the workflow, which
// remembers the inbox IDs it applied, ignores it. An event is delivered at least once and applied exactly once.
//
// The zero value of every field but Inbox and Temporal has a default, given with the field.
type Dispatcher struct {
	Inbox    aicc.InboxStore
	Temporal client.Client
	// Owner names this dispatcher on its leases; default "<hostname>/<pid>".
	Owner string
	// Concurrency is how many conversations are signalled at once; default DefaultDispatchConcurrency.
	Concurrency int
	// Claim is how many conversations a claim leases at most; default 2×Concurrency.
	Claim int
	// PerSignal is how many events of a conversation a claim takes and one signal carries at most; default
	// DefaultDispatchPerSignal.
	PerSignal int
	// Lease is how long a claimed conversation is this dispatcher's unless renewed; default DefaultDispatchLease.
	Lease time.Duration
	// MaxAttempts is how many failed deliveries make an event a dead letter; default DefaultDispatchMaxAttempts.
	MaxAttempts int
	// Idle is how long to wait after a claim found nothing; default DefaultDispatchIdle.
	Idle time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics is where the dispatcher registers its metrics; nil registers none.
	Metrics prometheus.Registerer
}

// Dispatcher defaults.
const (
	// DefaultDispatchConcurrency hides the round trip to Temporal: on 2 cores a bare signal-with-start loop gains
	// nothing beyond 32 at once.
	DefaultDispatchConcurrency = 32
	// DefaultDispatchPerSignal bounds a signal's payload: 100 Messenger texts are far below Temporal's 2 MB.
	DefaultDispatchPerSignal = 100
	// DefaultDispatchLease is far longer than a signal takes (milliseconds), and short enough that the
	// conversations of a crashed dispatcher are taken over within a minute.
	DefaultDispatchLease = 30 * time.Second
	// DefaultDispatchMaxAttempts gives a failing event about ten minutes of retries (the backoff doubles from
	// a second up to the lease) before it becomes a dead letter.
	DefaultDispatchMaxAttempts = 10
	// DefaultDispatchIdle bounds the delivery latency of a quiet inbox at a few claims a second.
	DefaultDispatchIdle = 200 * time.Millisecond
)

const (
	// maxClaimBackoff caps the wait between claims while the database or Temporal does not answer.
	maxClaimBackoff = 5 * time.Second
	// settleTimeout bounds a mark or failure record, which runs even after ctx is done: events signalled
	// during a shutdown are marked rather than signalled again.
	settleTimeout = 5 * time.Second
	// settleBatch is how many conversations' results one mark records at most.
	settleBatch = 256
	// maxSignalText bounds the text one signal carries; a conversation's claimed events beyond it go in more
	// signals, in order.
	maxSignalText = 256 << 10
	// maxIDBytes bounds the Page and customer IDs of a deliverable event; Meta's are about 16 digits.
	maxIDBytes = 255
)

// Results of aicc_dispatched_events_total.
const (
	dispatchDelivered = "delivered" // signalled and marked delivered
	dispatchFailed    = "failed"    // the signal, or the mark, failed; tried again after a backoff or the lease
	dispatchSkipped   = "skipped"   // no conversation (no Page or customer): marked delivered without a signal
)

// dispatchMetrics are the dispatcher's metrics.
type dispatchMetrics struct {
	seconds     prometheus.Histogram
	lag         prometheus.Histogram
	events      *prometheus.CounterVec
	deadLetters prometheus.Counter
}

func newDispatchMetrics(reg prometheus.Registerer) (*dispatchMetrics, error) {
	m := &dispatchMetrics{
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aicc_dispatch_duration_seconds",
			Help:    "Time to signal one conversation's claimed inbox events to its workflow.",
			Buckets: prometheus.DefBuckets,
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aicc_inbox_delivery_lag_seconds",
			Help:    "Time from an inbox event's arrival to its delivery to the conversation's workflow.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_dispatched_events_total",
			Help: "Inbox events the dispatcher handled, by result (delivered, failed, skipped).",
		}, []string{"result"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aicc_dead_letters_total",
			Help: "Inbox events moved to the dead letters: they failed every attempt or can never be delivered.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	// A dispatcher restarted on the same registry takes over the collectors of the previous one.
	var err error
	if m.seconds, err = ops.Register(reg, m.seconds); err != nil {
		return nil, err
	}
	if m.lag, err = ops.Register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.events, err = ops.Register(reg, m.events); err != nil {
		return nil, err
	}
	if m.deadLetters, err = ops.Register(reg, m.deadLetters); err != nil {
		return nil, err
	}
	return m, nil
}

// Run dispatches until ctx is done, then settles what is in flight and returns nil. A claim that fails is
// logged and retried with backoff. It returns an error only when the Dispatcher lacks Inbox or Temporal, or its
// metrics cannot be registered.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.Inbox == nil || d.Temporal == nil {
		return errors.New("dispatcher: Inbox and Temporal are required")
	}
	r, err := d.runner()
	if err != nil {
		return err
	}
	work := make(chan *delivery)
	results := make(chan *delivery, 2*r.claim)
	var signallers sync.WaitGroup
	for range r.concurrency {
		signallers.Go(func() {
			for dl := range work {
				r.deliver(ctx, dl)
				results <- dl
			}
		})
	}
	settled := make(chan struct{})
	go func() {
		r.settleAll(results)
		close(settled)
	}()
	extended := make(chan struct{})
	go func() {
		r.extendLeases(ctx)
		close(extended)
	}()

	r.claimAll(ctx, work, results)
	close(work)
	signallers.Wait()
	close(results)
	<-settled
	<-extended
	return nil
}

// runner is one Run of a Dispatcher, with the defaults applied, and its conversations in flight.
type runner struct {
	*Dispatcher
	owner       string
	concurrency int
	claim       int
	perSignal   int
	lease       time.Duration
	maxAttempts int
	idle        time.Duration
	logger      *slog.Logger
	metrics     *dispatchMetrics

	// leaseMu orders lease renewals and settles: a renewal must not extend the lease a failure just set to its
	// backoff, and on Postgres a renewal and a release that lock the same leases in different orders deadlock.
	leaseMu sync.Mutex

	mu sync.Mutex
	// inflight counts the deliveries of each conversation that were claimed and not yet settled: two when a
	// settle released the conversation and a claim took it again before that settle was over.
	inflight map[aicc.ConversationKey]int
	freed    chan struct{} // a conversation was settled (capacity 1)
	pause    time.Time     // no claim before then: Temporal was unavailable
	backoff  time.Duration // the pause after the next unavailable Temporal
}

func (d *Dispatcher) runner() (*runner, error) {
	r := &runner{
		Dispatcher: d, owner: d.Owner, concurrency: d.Concurrency, claim: d.Claim, perSignal: d.PerSignal,
		lease: d.Lease, maxAttempts: d.MaxAttempts, idle: d.Idle, logger: d.Logger,
		inflight: map[aicc.ConversationKey]int{}, freed: make(chan struct{}, 1),
	}
	if r.owner == "" {
		host, _ := os.Hostname()
		r.owner = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if r.concurrency <= 0 {
		r.concurrency = DefaultDispatchConcurrency
	}
	if r.claim <= 0 {
		r.claim = 2 * r.concurrency
	}
	if r.perSignal <= 0 {
		r.perSignal = DefaultDispatchPerSignal
	}
	if r.lease <= 0 {
		r.lease = DefaultDispatchLease
	}
	if r.maxAttempts <= 0 {
		r.maxAttempts = DefaultDispatchMaxAttempts
	}
	if r.idle <= 0 {
		r.idle = DefaultDispatchIdle
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	var err error
	r.metrics, err = newDispatchMetrics(d.Metrics)
	return r, err
}

// delivery is one claimed conversation's events and what became of them.
type delivery struct {
	conv   aicc.ConversationKey
	tenant string
	events []aicc.InboxEvent // in Meta timestamp order

	signalled []int64 // delivered (or skipped), in order, up to the first failure
	skipped   int     // of signalled: events without a conversation, marked delivered without a signal
	failed    []int64 // the events of the signal that failed; the rest were not attempted
	err       error   // why
	permanent bool    // the failed events can never be delivered
	aborted   bool    // not signalled (at all, or past signalled): the dispatcher stops
}

// claimAll claims conversations and hands them to the signallers until ctx is done.
func (r *runner) claimAll(ctx context.Context, work, results chan<- *delivery) {
	var backoff time.Duration
	for ctx.Err() == nil {
		room, wait := r.room()
		switch {
		case wait > 0:
			sleep(ctx, wait)
			continue
		case room < r.claim/2:
			// Claim when half a claim fits, so that claims stay large while the signallers are busy.
			select {
			case <-ctx.Done():
			case <-r.freed:
			}
			continue
		}
		events, err := r.Inbox.ClaimConversations(ctx, r.owner, min(room, r.claim), r.perSignal, r.lease)
		switch {
		case err != nil && ctx.Err() != nil:
			// Stopped: the claim failed as a whole and took no lease (unless its commit went through and only the
			// answer was lost: then its leases run out).
		case err != nil:
			backoff = min(max(2*backoff, r.idle), maxClaimBackoff)
			r.logger.Warn("Could not claim inbox events", "Error", err, "Backoff", backoff)
			sleep(ctx, backoff)
		case len(events) == 0:
			backoff = 0
			sleep(ctx, r.idle)
		default:
			// Handed on even when ctx is done: settled as aborted, the conversations are released at once.
			backoff = 0
			for _, dl := range r.group(events) {
				select {
				case work <- dl:
				case <-ctx.Done():
					dl.aborted = true
					results <- dl
				}
			}
		}
	}
}

// room returns how many more conversations may be claimed, or how long claims pause.
func (r *runner) room() (int, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if wait := time.Until(r.pause); wait > 0 {
		return 0, wait
	}
	return 2*r.claim - len(r.inflight), 0
}

// group splits claimed events, grouped by conversation already, into deliveries, and counts them in flight.
func (r *runner) group(events []aicc.InboxEvent) []*delivery {
	var out []*delivery
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range events {
		conv := e.Conversation()
		if len(out) == 0 || out[len(out)-1].conv != conv {
			out = append(out, &delivery{conv: conv, tenant: e.TenantID})
			r.inflight[conv]++
		}
		dl := out[len(out)-1]
		dl.events = append(dl.events, e)
	}
	return out
}

// deliver signals a conversation's events in order, in as few signals as their size allows, or one per signal
// when one of them failed before; it stops at the first failure.
func (r *runner) deliver(ctx context.Context, dl *delivery) {
	start := time.Now()
	defer func() { r.metrics.seconds.Observe(time.Since(start).Seconds()) }()
	if dl.conv.PSID == "" || dl.conv.PageID == "" || dl.conv.ChannelID == "" || dl.tenant == "" {
		r.logger.Warn("Inbox events without a conversation are marked delivered without a signal",
			"Events", len(dl.events), "Kind", dl.events[0].Kind)
		dl.signalled, dl.skipped = ids(dl.events), len(dl.events)
		return
	}
	if len(dl.conv.PSID) > maxIDBytes || len(dl.conv.PageID) > maxIDBytes {
		dl.failed, dl.permanent = ids(dl.events), true
		dl.err = fmt.Errorf("the Page or customer ID is longer than %d bytes", maxIDBytes)
		return
	}
	in := workflows.ConversationInput{TenantID: dl.tenant, ChannelID: dl.conv.ChannelID, PageID: dl.conv.PageID, PSID: dl.conv.PSID}
	for _, chunk := range r.signals(dl.events) {
		if ctx.Err() != nil {
			dl.aborted = true
			return
		}
		if err := workflows.DeliverInboxEvents(ctx, r.Temporal, in, signalsOf(chunk)); err != nil {
			if ctx.Err() != nil {
				dl.aborted = true
				return
			}
			dl.failed, dl.err = ids(chunk), err
			dl.permanent = len(chunk) == 1 && isInvalid(err)
			return
		}
		dl.signalled = append(dl.signalled, ids(chunk)...)
	}
}

// signals splits a conversation's events into the signals that carry them: one each when one of them failed
// before, else as many as fit maxSignalText.
func (r *runner) signals(events []aicc.InboxEvent) [][]aicc.InboxEvent {
	var out [][]aicc.InboxEvent
	retrying := false
	for _, e := range events {
		retrying = retrying || e.Attempts > 0
	}
	start, size := 0, 0
	for i, e := range events {
		if i > start && (retrying || size+len(e.Text) > maxSignalText) {
			out = append(out, events[start:i])
			start, size = i, 0
		}
		size += len(e.Text)
	}
	return append(out, events[start:])
}

// settleAll records what became of the deliveries, batching those that arrive together, until results is
// closed.
func (r *runner) settleAll(results <-chan *delivery) {
	for dl := range results {
		batch := []*delivery{dl}
	more:
		for len(batch) < settleBatch {
			select {
			case dl, ok := <-results:
				if !ok {
					break more
				}
				batch = append(batch, dl)
			default:
				break more
			}
		}
		r.settle(batch)
	}
}

// settle marks the batch's signalled events delivered, releasing the leases of the conversations done, then
// records each failure, and frees the conversations.
func (r *runner) settle(batch []*delivery) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	var (
		delivered []int64
		release   []aicc.ConversationKey
		skipped   int
	)
	for _, dl := range batch {
		delivered = append(delivered, dl.signalled...)
		skipped += dl.skipped
		if dl.failed == nil {
			release = append(release, dl.conv) // done, or aborted: another dispatcher may take it at once
		}
	}
	r.leaseMu.Lock()
	defer r.leaseMu.Unlock()
	if err := r.Inbox.MarkDelivered(ctx, r.owner, delivered, release, time.Now()); err != nil {
		// Signalled but not marked: delivered again after the lease, and ignored by the workflows.
		r.logger.Warn("Could not mark inbox events delivered", "Error", err, "Events", len(delivered))
		r.metrics.events.WithLabelValues(dispatchFailed).Add(float64(len(delivered)))
	} else {
		r.metrics.events.WithLabelValues(dispatchDelivered).Add(float64(len(delivered) - skipped))
		r.metrics.events.WithLabelValues(dispatchSkipped).Add(float64(skipped))
		now := time.Now()
		for _, dl := range batch {
			for _, e := range dl.events[:len(dl.signalled)] {
				r.metrics.lag.Observe(now.Sub(e.ReceivedAt).Seconds())
			}
		}
	}
	unavailable := false
	for _, dl := range batch {
		if dl.failed != nil {
			unavailable = r.fail(ctx, dl) || unavailable
		}
	}
	r.mu.Lock()
	for _, dl := range batch {
		if r.inflight[dl.conv]--; r.inflight[dl.conv] == 0 {
			delete(r.inflight, dl.conv)
		}
	}
	switch now := time.Now(); {
	case unavailable && now.After(r.pause):
		// Once per pause: the failures of one outage settle in several batches.
		r.backoff = min(max(2*r.backoff, time.Second), maxClaimBackoff)
		r.pause = now.Add(r.backoff)
	case !unavailable && len(delivered) > 0:
		r.backoff = 0
	}
	r.mu.Unlock()
	select {
	case r.freed <- struct{}{}:
	default:
	}
}

// fail records a failed delivery. When Temporal was unavailable nothing is counted: the conversation keeps its
// lease for a second and fail returns true. Otherwise the failed events get an attempt, or become dead letters.
func (r *runner) fail(ctx context.Context, dl *delivery) (unavailable bool) {
	r.metrics.events.WithLabelValues(dispatchFailed).Add(float64(len(dl.failed)))
	if isUnavailable(dl.err) {
		r.logger.Warn("Temporal is unavailable; the conversation's events wait", "Error", dl.err, "Events", len(dl.failed))
		if _, err := r.Inbox.ExtendLeases(ctx, r.owner, []aicc.ConversationKey{dl.conv}, time.Second); err != nil {
			r.logger.Warn("Could not hold the conversation back; it is claimed again after its lease", "Error", err)
		}
		return true
	}
	attempts := 0
	for _, e := range dl.events {
		attempts = max(attempts, e.Attempts)
	}
	dead, err := r.Inbox.FailDelivery(ctx, aicc.DeliveryFailure{
		Owner: r.owner, Conversation: dl.conv, IDs: dl.failed, Error: dl.err.Error(),
		MaxAttempts: r.maxAttempts, Permanent: dl.permanent, RetryIn: min(time.Second<<min(attempts, 30), r.lease),
	})
	switch {
	case aicc.ErrorCode(err) == aicc.ECONFLICT:
		r.logger.Warn("Another dispatcher took the conversation over; it delivers the events", "InboxIDs", dl.failed)
		return false
	case err != nil:
		r.logger.Warn("Could not record a failed delivery; the events are delivered again after the lease",
			"Error", err, "Events", len(dl.failed))
		return false
	}
	workflowID := workflows.ConversationWorkflowID(dl.conv.ChannelID, dl.conv.PageID, dl.conv.PSID)
	if len(dead) > 0 {
		r.metrics.deadLetters.Add(float64(len(dead)))
		r.logger.Error("Inbox events became dead letters", "InboxIDs", dead, "WorkflowID", workflowID, "Error", dl.err)
	}
	if len(dead) < len(dl.failed) {
		r.logger.Warn("Could not signal inbox events to their conversation; they are tried again",
			"InboxIDs", dl.failed, "WorkflowID", workflowID, "Attempt", attempts+1, "Error", dl.err)
	}
	return false
}

// extendLeases renews the leases of the conversations in flight every third of the lease, until ctx is done.
func (r *runner) extendLeases(ctx context.Context) {
	t := time.NewTicker(r.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.renewLeases(ctx)
	}
}

// renewLeases extends the leases of the conversations in flight.
func (r *runner) renewLeases(ctx context.Context) {
	r.leaseMu.Lock()
	defer r.leaseMu.Unlock()
	r.mu.Lock()
	convs := make([]aicc.ConversationKey, 0, len(r.inflight))
	for c := range r.inflight {
		convs = append(convs, c)
	}
	r.mu.Unlock()
	if held, err := r.Inbox.ExtendLeases(ctx, r.owner, convs, r.lease); err != nil {
		r.logger.Warn("Could not renew the leases of conversations in flight", "Error", err, "Conversations", len(convs))
	} else if held < len(convs) {
		// Released meanwhile, or taken over after a stall: the workflows ignore what they applied already.
		r.logger.Debug("Some leases were no longer held", "Held", held, "Conversations", len(convs))
	}
}

// isUnavailable reports whether err says Temporal could not take the signal now, whatever it carried.
func isUnavailable(err error) bool {
	var (
		unavailable   *serviceerror.Unavailable
		deadline      *serviceerror.DeadlineExceeded
		exhausted     *serviceerror.ResourceExhausted
		canceled      *serviceerror.Canceled
		internal      *serviceerror.Internal
		nsNotFound    *serviceerror.NamespaceNotFound
		nsNotActive   *serviceerror.NamespaceNotActive
		nsUnavailable *serviceerror.NamespaceUnavailable
		denied        *serviceerror.PermissionDenied
	)
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &exhausted) ||
		errors.As(err, &canceled) || errors.As(err, &internal) || errors.As(err, &nsNotFound) ||
		errors.As(err, &nsNotActive) || errors.As(err, &nsUnavailable) || errors.As(err, &denied)
}

// isInvalid reports whether Temporal refused the signal for what it carried.
func isInvalid(err error) bool {
	var invalid *serviceerror.InvalidArgument
	return errors.As(err, &invalid)
}

// signalsOf returns the events as their conversation's workflow gets them.
func signalsOf(events []aicc.InboxEvent) []workflows.InboxEventSignal {
	out := make([]workflows.InboxEventSignal, len(events))
	for i, e := range events {
		out[i] = workflows.InboxEventSignal{InboxID: e.ID, Kind: e.Kind, MID: e.MID, Timestamp: e.Timestamp, Text: e.Text, At: e.ReceivedAt}
	}
	return out
}

// ids returns the events' inbox IDs.
func ids(events []aicc.InboxEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
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
