package worker_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// inbox is a fake aicc.InboxStore: each claim returns the next scripted batch (or error), then nothing.
type inbox struct {
	aicc.InboxStore
	mu      sync.Mutex
	batches [][]aicc.InboxEvent
	errs    []error // returned by the claims before the batches
	claims  []claim
	marked  []int64
	markErr error
	// empty counts the claims that found nothing since a batch was last claimed or added.
	empty int
}

type claim struct {
	owner           string
	limit           int
	now, leaseUntil time.Time
}

func (s *inbox) ClaimEvents(_ context.Context, owner string, limit int, now, leaseUntil time.Time) ([]aicc.InboxEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims = append(s.claims, claim{owner, limit, now, leaseUntil})
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		return nil, err
	}
	if len(s.batches) == 0 {
		s.empty++
		return nil, nil
	}
	s.empty = 0
	b := s.batches[0]
	s.batches = s.batches[1:]
	return b, nil
}

func (s *inbox) MarkDelivered(_ context.Context, ids []int64, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.markErr != nil {
		return s.markErr
	}
	s.marked = append(s.marked, ids...)
	return nil
}

// add queues a batch for the next claim.
func (s *inbox) add(events ...aicc.InboxEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, events)
	s.empty = 0
}

func (s *inbox) markedIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.marked...)
}

var dispatchNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func event(id int64, psid string, kind aicc.EventKind, ts int64) aicc.InboxEvent {
	return aicc.InboxEvent{
		ID: id, TenantID: "ten_1", ChannelID: "ch_1", PageID: "102030405060", PSID: psid, Kind: kind,
		MID: "m_" + psid, Timestamp: ts, Text: "hello " + psid, DedupKey: "k", ReceivedAt: dispatchNow,
	}
}

// signalArgs are the arguments the dispatcher must signal e with (through workflows.SignalInbox).
func signalArgs(e aicc.InboxEvent) []any {
	return []any{
		mock.Anything,
		workflows.ConversationWorkflowID(e.ChannelID, e.PageID, e.PSID),
		workflows.SignalInboxEvent,
		workflows.InboxEventSignal{InboxID: e.ID, Kind: e.Kind, MID: e.MID, Timestamp: e.Timestamp, Text: e.Text, At: e.ReceivedAt},
		workflows.StartConversationOptions(e.TenantID, e.ChannelID),
		workflows.ConversationWorkflowType,
		workflows.ConversationInput{TenantID: e.TenantID, ChannelID: e.ChannelID, PageID: e.PageID, PSID: e.PSID},
	}
}

// dispatcher is a Dispatcher under test with its fakes, its clock and its log.
type dispatcher struct {
	*worker.Dispatcher
	inbox *inbox
	tc    *mocks.Client
	reg   *prometheus.Registry
	logs  *lockedWriter

	mu  sync.Mutex
	now time.Time
}

func newDispatcher(t *testing.T) *dispatcher {
	t.Helper()
	d := &dispatcher{inbox: &inbox{}, tc: mocks.NewClient(t), reg: prometheus.NewRegistry(), logs: &lockedWriter{w: new(bytes.Buffer)}, now: dispatchNow}
	d.Dispatcher = &worker.Dispatcher{
		Inbox: d.inbox, Temporal: d.tc, Owner: "test-owner", Batch: 10, Lease: time.Minute, Idle: time.Millisecond,
		Now: d.clock, Logger: slog.New(slog.NewTextHandler(d.logs, nil)), Metrics: d.reg,
	}
	return d
}

func (d *dispatcher) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

func (d *dispatcher) advance(by time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.now = d.now.Add(by)
}

// start runs the dispatcher until the test stops it; stop cancels it and requires that Run returned nil.
func (d *dispatcher) start(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
	t.Cleanup(stop)
	return stop
}

// waitIdle waits until every scripted batch has been claimed and a claim after them found nothing: Run claims
// again only once the batch before is dispatched and marked.
func (d *dispatcher) waitIdle(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		d.inbox.mu.Lock()
		defer d.inbox.mu.Unlock()
		return len(d.inbox.batches) == 0 && len(d.inbox.errs) == 0 && d.inbox.empty > 0
	}, 5*time.Second, time.Millisecond)
}

// count returns aicc_dispatched_events_total{result}.
func (d *dispatcher) count(t *testing.T, result string) float64 {
	t.Helper()
	mfs, err := d.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "aicc_dispatched_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// lockedWriter serializes the writes of concurrent log calls.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (d *dispatcher) log() string { return d.logs.String() }

// String returns what was written.
func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.String()
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func TestDispatcherSignalsAndMarks(t *testing.T) {
	d := newDispatcher(t)
	a1, b1 := event(1, "111", aicc.EventMessage, 1000), event(2, "222", aicc.EventEcho, 1001)
	d.tc.On("SignalWithStartWorkflow", signalArgs(a1)...).Return(nil, nil).Once()
	d.tc.On("SignalWithStartWorkflow", signalArgs(b1)...).Return(nil, nil).Once()
	d.inbox.add(a1, b1)

	d.start(t)
	d.waitIdle(t)

	assert.ElementsMatch(t, []int64{1, 2}, d.inbox.markedIDs())
	d.inbox.mu.Lock()
	first := d.inbox.claims[0]
	d.inbox.mu.Unlock()
	assert.Equal(t, "test-owner", first.owner)
	assert.Equal(t, 10, first.limit)
	assert.Equal(t, dispatchNow, first.now)
	assert.Equal(t, dispatchNow.Add(time.Minute), first.leaseUntil)
	assert.Equal(t, 2.0, d.count(t, "delivered"))
	assert.Equal(t, 0.0, d.count(t, "failed"))
}

// A failed signal leaves its event, and the later events of its conversation, undelivered until the lease is
// over; other conversations are delivered meanwhile.
func TestDispatcherFailedSignalIsNotMarked(t *testing.T) {
	d := newDispatcher(t)
	a1, a2, b1 := event(1, "111", aicc.EventMessage, 1000), event(2, "111", aicc.EventMessage, 1001), event(3, "222", aicc.EventMessage, 1002)
	a3 := event(4, "111", aicc.EventRead, 1003)
	d.tc.On("SignalWithStartWorkflow", signalArgs(a1)...).Return(nil, errors.New("temporal is unavailable")).Once()
	d.tc.On("SignalWithStartWorkflow", signalArgs(b1)...).Return(nil, nil).Once()
	d.inbox.add(a1, a2, b1)
	d.inbox.add(a3) // claimed while a1's lease runs: held back

	stop := d.start(t)
	d.waitIdle(t)

	assert.Equal(t, []int64{3}, d.inbox.markedIDs())
	assert.Equal(t, 1.0, d.count(t, "delivered"))
	assert.Equal(t, 1.0, d.count(t, "failed"))
	assert.Equal(t, 2.0, d.count(t, "deferred"))
	assert.Contains(t, d.log(), "temporal is unavailable")
	d.tc.AssertNotCalled(t, "SignalWithStartWorkflow", signalArgs(a2)...)
	d.tc.AssertNotCalled(t, "SignalWithStartWorkflow", signalArgs(a3)...)

	// The lease is over: the store gives the events back, in order, and they are delivered.
	d.advance(time.Minute)
	for _, e := range []aicc.InboxEvent{a1, a2, a3} {
		d.tc.On("SignalWithStartWorkflow", signalArgs(e)...).Return(nil, nil).Once()
	}
	d.inbox.add(a1, a2, a3)
	d.waitIdle(t)
	stop()
	assert.ElementsMatch(t, []int64{3, 1, 2, 4}, d.inbox.markedIDs())
}

// The events of one conversation are signalled one after the other in the claimed order, while conversations
// are signalled concurrently.
func TestDispatcherKeepsOrderPerConversation(t *testing.T) {
	d := newDispatcher(t)
	var batch []aicc.InboxEvent
	psids := []string{"111", "222", "333", "444"}
	for i := range 40 {
		batch = append(batch, event(int64(i+1), psids[i%len(psids)], aicc.EventMessage, int64(1000+i)))
	}
	var (
		mu       sync.Mutex
		order    = map[string][]int64{}
		inFlight = map[string]int{}
		parallel int
		busy     int
	)
	d.tc.On("SignalWithStartWorkflow", mock.Anything, mock.Anything, workflows.SignalInboxEvent, mock.Anything,
		mock.Anything, workflows.ConversationWorkflowType, mock.Anything).Return(
		func(_ context.Context, id, _ string, arg any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
			s := arg.(workflows.InboxEventSignal)
			mu.Lock()
			inFlight[id]++
			busy++
			parallel = max(parallel, busy)
			assert.Equal(t, 1, inFlight[id], "one signal at a time per conversation")
			mu.Unlock()
			time.Sleep(time.Duration(s.InboxID%3) * time.Millisecond)
			mu.Lock()
			order[id] = append(order[id], s.InboxID)
			inFlight[id]--
			busy--
			mu.Unlock()
			return nil, nil
		})
	d.inbox.add(batch...)

	d.start(t)
	d.waitIdle(t)

	require.Len(t, order, len(psids))
	for i, psid := range psids {
		var want []int64
		for id := int64(i + 1); id <= 40; id += int64(len(psids)) {
			want = append(want, id)
		}
		assert.Equal(t, want, order[workflows.ConversationWorkflowID("ch_1", "102030405060", psid)], psid)
	}
	assert.Greater(t, parallel, 1, "conversations are signalled concurrently")
	assert.Len(t, d.inbox.markedIDs(), 40)
}

// A claim that fails is retried after a backoff; an event without a conversation is marked without a signal.
func TestDispatcherClaimErrorAndSkippedEvent(t *testing.T) {
	d := newDispatcher(t)
	d.inbox.errs = []error{errors.New("database is down"), errors.New("database is down")}
	orphan := event(1, "", aicc.EventUnknown, 1000)
	a1 := event(2, "111", aicc.EventMessage, 1001)
	d.tc.On("SignalWithStartWorkflow", signalArgs(a1)...).Return(nil, nil).Once()
	d.inbox.add(orphan, a1)

	d.start(t)
	d.waitIdle(t)

	assert.ElementsMatch(t, []int64{1, 2}, d.inbox.markedIDs())
	assert.Equal(t, 1.0, d.count(t, "skipped"))
	assert.Equal(t, 1.0, d.count(t, "delivered"))
	assert.Contains(t, d.log(), "database is down")
}

// A mark that fails leaves the signalled events to be delivered again after their lease.
func TestDispatcherMarkFails(t *testing.T) {
	d := newDispatcher(t)
	d.inbox.markErr = errors.New("database is down")
	a1 := event(1, "111", aicc.EventMessage, 1000)
	d.tc.On("SignalWithStartWorkflow", signalArgs(a1)...).Return(nil, nil).Once()
	d.inbox.add(a1)

	d.start(t)
	d.waitIdle(t)

	assert.Empty(t, d.inbox.markedIDs())
	assert.Equal(t, 1.0, d.count(t, "failed"))
	assert.Equal(t, 0.0, d.count(t, "delivered"))
}

// Run returns nil once its context is done, idle or backing off, and a restarted dispatcher reuses the metrics
// registered by the one before.
func TestDispatcherStops(t *testing.T) {
	d := newDispatcher(t)
	d.Idle = time.Hour
	stop := d.start(t)
	require.Eventually(t, func() bool {
		d.inbox.mu.Lock()
		defer d.inbox.mu.Unlock()
		return len(d.inbox.claims) > 0
	}, 5*time.Second, time.Millisecond)
	stop() // during the hour-long idle wait

	d.inbox.errs = []error{errors.New("database is down")}
	stop = d.start(t) // same registry
	require.Eventually(t, func() bool {
		d.inbox.mu.Lock()
		defer d.inbox.mu.Unlock()
		return len(d.inbox.errs) == 0
	}, 5*time.Second, time.Millisecond)
	stop()

	err := (&worker.Dispatcher{}).Run(context.Background())
	assert.Error(t, err, "Inbox and Temporal are required")
}
