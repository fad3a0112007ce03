package worker_test

// The Dispatcher's tests run it against the real store (SQLite always, Postgres too when AICC_TEST_POSTGRES_URL
// is set) and a fake Temporal client that records, per conversation workflow, the signals it got and answers
// each as the test says. Nothing asserts how long anything took: leases are short so that retries and takeovers
// happen within a second or two, and every wait is a generous deadline.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// Timings of the tests.
const (
	// testLease is short so that a failed conversation is tried again, or a stalled one taken over, within a
	// second (the retry backoff is min(1s<<attempts, lease)).
	testLease = time.Second
	// testIdle makes a dispatcher with nothing to do claim again almost at once.
	testIdle = 5 * time.Millisecond
	// waitFor is the deadline of every wait: far beyond what the waits take (a few seconds at most), so that a
	// slow machine never fails a test.
	waitFor = 30 * time.Second
	tick    = 10 * time.Millisecond
)

// The channel and Page of the tests' conversations.
const (
	testChannel = "ch_1"
	testPage    = "102030405060"
)

// customerMessage returns a customer's message to testPage at Meta timestamp ts, in the tenant's conversation
// with psid; its dedup key is unique per customer and timestamp.
func customerMessage(tenant, psid string, ts int64) aicc.InboxEvent {
	return aicc.InboxEvent{
		TenantID: tenant, ChannelID: testChannel, PageID: testPage, PSID: psid, Kind: aicc.EventMessage,
		MID: fmt.Sprintf("m_%s_%d", psid, ts), Timestamp: ts, DedupKey: fmt.Sprintf("%s/%d", psid, ts),
		Text: fmt.Sprintf("hello %d", ts), Payload: []byte(`{}`),
	}
}

// customerMessages returns the customer's messages at the given timestamps, in that order.
func customerMessages(tenant, psid string, timestamps ...int64) []aicc.InboxEvent {
	out := make([]aicc.InboxEvent, len(timestamps))
	for i, ts := range timestamps {
		out[i] = customerMessage(tenant, psid, ts)
	}
	return out
}

// workflowID is the ID of the workflow of the conversation with psid on testPage.
func workflowID(psid string) string {
	return workflows.ConversationWorkflowID(testChannel, testPage, psid)
}

// storeEvents stores the events in one batch, in the order given, and sets their inbox IDs.
func storeEvents(t *testing.T, s aicc.InboxStore, events []aicc.InboxEvent) {
	t.Helper()
	dup, err := s.StoreEvents(context.Background(), events)
	require.NoError(t, err)
	require.Zero(t, dup)
}

// byTimestamp returns the events sorted as the dispatcher must deliver them: by Meta timestamp, then inbox ID.
func byTimestamp(events []aicc.InboxEvent) []aicc.InboxEvent {
	out := slices.Clone(events)
	slices.SortFunc(out, func(a, b aicc.InboxEvent) int {
		return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// inboxIDs returns the events' inbox IDs.
func inboxIDs(events []aicc.InboxEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

// fakeTemporal is a Temporal client that only takes conversation signals: it records, by workflow ID, every
// signal-with-start of SignalInboxEvents it gets, and answers each with what reply returns (success when reply
// is nil). Any other call panics on the nil client.Client. Two signals of one workflow running at once are a
// problem, as is a call that is not a conversation's signal; the test fails on them when it ends.
type fakeTemporal struct {
	client.Client

	mu       sync.Mutex
	reply    func(ctx context.Context, s *signal) error
	calls    map[string][]*signal // by workflow ID, in the order they started
	running  map[string]int       // signals running, by workflow ID
	problems []string
}

// signal is one signal-with-start the fake got.
type signal struct {
	By         string // the dispatcher that sent it, when it came through fakeTemporal.as
	WorkflowID string
	Input      workflows.ConversationInput
	Events     []workflows.InboxEventSignal
	Done       bool  // the fake answered
	Err        error // what it answered
}

// ids returns the inbox IDs the signal carried, in order.
func (s *signal) ids() []int64 {
	out := make([]int64, len(s.Events))
	for i, e := range s.Events {
		out[i] = e.InboxID
	}
	return out
}

// carries reports whether the signal carried the event.
func (s *signal) carries(id int64) bool { return slices.Contains(s.ids(), id) }

// newFakeTemporal returns a fake that accepts every signal. Its problems fail the test when the test ends,
// after the dispatchers started later were stopped.
func newFakeTemporal(t *testing.T) *fakeTemporal {
	f := &fakeTemporal{calls: map[string][]*signal{}, running: map[string]int{}}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if n := len(f.problems); n > 0 {
			t.Errorf("the fake Temporal saw %d problems, first %q", n, f.problems[:min(n, 5)])
		}
	})
	return f
}

// setReply makes reply answer the signals from now on.
func (f *fakeTemporal) setReply(reply func(ctx context.Context, s *signal) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reply = reply
}

// as returns a client of the fake whose signals are recorded as sent by the named dispatcher.
func (f *fakeTemporal) as(name string) client.Client {
	return &namedClient{fakeTemporal: f, name: name}
}

// namedClient is the fake as one dispatcher's client.
type namedClient struct {
	*fakeTemporal
	name string
}

func (c *namedClient) SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
	opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	return nil, c.signal(ctx, c.name, workflowID, signalName, signalArg, opts, workflow, args)
}

func (f *fakeTemporal) SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
	opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	return nil, f.signal(ctx, "", workflowID, signalName, signalArg, opts, workflow, args)
}

// signal records one signal-with-start and answers it.
func (f *fakeTemporal) signal(ctx context.Context, by, workflowID, signalName string, signalArg any,
	opts client.StartWorkflowOptions, workflow any, args []any) error {
	payload, isPayload := signalArg.(workflows.InboxEventsSignal)
	var in workflows.ConversationInput
	if len(args) == 1 {
		in, _ = args[0].(workflows.ConversationInput)
	}
	s := &signal{By: by, WorkflowID: workflowID, Input: in, Events: payload.Events}

	f.mu.Lock()
	switch {
	case signalName != workflows.SignalInboxEvents || !isPayload || workflow != workflows.ConversationWorkflowType:
		f.problems = append(f.problems,
			fmt.Sprintf("unexpected signal %q (%T) of workflow %v", signalName, signalArg, workflow))
	case workflowID != workflows.ConversationWorkflowID(in.ChannelID, in.PageID, in.PSID) || in.TenantID == "":
		f.problems = append(f.problems, fmt.Sprintf("workflow %s started with input %+v", workflowID, in))
	case !reflect.DeepEqual(opts, workflows.StartConversationOptions(in.TenantID, in.ChannelID)):
		f.problems = append(f.problems, fmt.Sprintf("workflow %s started with options %+v", workflowID, opts))
	case len(payload.Events) == 0:
		f.problems = append(f.problems, fmt.Sprintf("workflow %s signalled no event", workflowID))
	}
	f.calls[workflowID] = append(f.calls[workflowID], s)
	f.running[workflowID]++
	if n := f.running[workflowID]; n > 1 {
		f.problems = append(f.problems, fmt.Sprintf("%d signals of %s at once (the latest by %q, events %v)",
			n, workflowID, by, s.ids()))
	}
	reply := f.reply
	f.mu.Unlock()

	var err error
	if reply != nil {
		err = reply(ctx, s)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[workflowID]--
	s.Done, s.Err = true, err
	return err
}

// signals returns copies of the signals the workflow got so far, in the order they started.
func (f *fakeTemporal) signals(workflowID string) []signal {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]signal, len(f.calls[workflowID]))
	for i, s := range f.calls[workflowID] {
		out[i] = *s
	}
	return out
}

// delivered returns the inbox IDs of the workflow's signals that succeeded, in the order they were sent.
func (f *fakeTemporal) delivered(workflowID string) []int64 {
	var out []int64
	for _, s := range f.signals(workflowID) {
		if s.Done && s.Err == nil {
			out = append(out, s.ids()...)
		}
	}
	return out
}

// total returns how many signals the fake got.
func (f *fakeTemporal) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, calls := range f.calls {
		n += len(calls)
	}
	return n
}

// inFlight reports whether a signal of the workflow is running.
func (f *fakeTemporal) inFlight(workflowID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[workflowID] > 0
}

// failCarrying is a reply that fails with err every signal carrying the event, and takes the others.
func failCarrying(id int64, err error) func(context.Context, *signal) error {
	return func(_ context.Context, s *signal) error {
		if s.carries(id) {
			return err
		}
		return nil
	}
}

// flakyInbox is a store that fails on demand: the next failClaims claims, and the next failMarks marks of
// delivered events. It counts the claims and records the conversations each returned, and the lease renewals
// made while a mark ran. afterClaim, when set, is called with the events of each claim that succeeded,
// afterMark after each mark of delivered events that did.
type flakyInbox struct {
	aicc.InboxStore
	afterClaim func([]aicc.InboxEvent)
	afterMark  func()

	mu             sync.Mutex
	failClaims     int
	failMarks      int
	claims         int
	claimed        map[aicc.ConversationKey]int // claims that returned the conversation
	marking        bool
	renewedMarking int // renewals made while a mark ran
}

func (s *flakyInbox) ClaimConversations(ctx context.Context, owner string, limit, perConversation int,
	lease time.Duration) ([]aicc.InboxEvent, error) {
	s.mu.Lock()
	s.claims++
	if s.failClaims > 0 {
		s.failClaims--
		s.mu.Unlock()
		return nil, errors.New("the database is down")
	}
	s.mu.Unlock()
	events, err := s.InboxStore.ClaimConversations(ctx, owner, limit, perConversation, lease)
	s.mu.Lock()
	if s.claimed == nil {
		s.claimed = map[aicc.ConversationKey]int{}
	}
	seen := map[aicc.ConversationKey]bool{}
	for _, e := range events {
		if c := e.Conversation(); !seen[c] {
			seen[c] = true
			s.claimed[c]++
		}
	}
	s.mu.Unlock()
	if err == nil && s.afterClaim != nil {
		s.afterClaim(events)
	}
	return events, err
}

func (s *flakyInbox) MarkDelivered(ctx context.Context, owner string, ids []int64, release []aicc.ConversationKey,
	at time.Time) error {
	s.mu.Lock()
	if len(ids) > 0 && s.failMarks > 0 {
		s.failMarks--
		s.mu.Unlock()
		return errors.New("the database is down")
	}
	s.marking = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.marking = false
		s.mu.Unlock()
	}()
	err := s.InboxStore.MarkDelivered(ctx, owner, ids, release, at)
	if err == nil && len(ids) > 0 && s.afterMark != nil {
		s.afterMark()
	}
	return err
}

func (s *flakyInbox) ExtendLeases(ctx context.Context, owner string, convs []aicc.ConversationKey,
	lease time.Duration) (int, error) {
	s.mu.Lock()
	if s.marking {
		s.renewedMarking++
	}
	s.mu.Unlock()
	return s.InboxStore.ExtendLeases(ctx, owner, convs, lease)
}

// counts returns how many claims were made and how many of them returned the conversation.
func (s *flakyInbox) counts(c aicc.ConversationKey) (claims, claimed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims, s.claimed[c]
}

// testDispatcher is a Dispatcher under test, with its metrics and its log.
type testDispatcher struct {
	*worker.Dispatcher
	reg  *prometheus.Registry
	logs *lockedWriter
}

// newDispatcher returns a dispatcher named owner on the inbox and Temporal client, with the tests' lease and
// idle wait, three attempts before a dead letter, and metrics and a log of its own. Its log is shown when the
// test fails.
func newDispatcher(t *testing.T, inbox aicc.InboxStore, tc client.Client, owner string) *testDispatcher {
	t.Helper()
	d := &testDispatcher{reg: prometheus.NewRegistry(), logs: &lockedWriter{w: new(bytes.Buffer)}}
	d.Dispatcher = &worker.Dispatcher{
		Inbox: inbox, Temporal: tc, Owner: owner, Lease: testLease, Idle: testIdle, MaxAttempts: 3,
		Logger: slog.New(slog.NewTextHandler(d.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Metrics: d.reg,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of dispatcher %s:\n%s", owner, d.logs)
		}
	})
	return d
}

// start runs the dispatcher until stop, or the end of the test; stop cancels it and requires that Run return
// nil, and soon.
func (d *testDispatcher) start(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "Run")
		case <-time.After(waitFor):
			t.Errorf("Run of %s did not return after its context was cancelled", d.Owner)
		}
	})
	t.Cleanup(stop)
	return stop
}

// counter returns the value of the dispatcher's counter name with the given label pairs; 0 when it has none.
func (d *testDispatcher) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := d.reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// dispatched returns aicc_dispatched_events_total{result}.
func (d *testDispatcher) dispatched(t *testing.T, result string) float64 {
	t.Helper()
	return d.counter(t, "aicc_dispatched_events_total", "result", result)
}

// waitCounter waits until the counter name{labels} is want: the dispatcher counts what it recorded once the
// store has committed it, so a test that saw it in the store may read the counter a moment too early.
func (d *testDispatcher) waitCounter(t *testing.T, want float64, name string, labels ...string) {
	t.Helper()
	require.Eventually(t, func() bool { return d.counter(t, name, labels...) == want }, waitFor, tick,
		"%s%q never reached %v", name, labels, want)
}

// waitDispatched waits until aicc_dispatched_events_total{result} is want.
func (d *testDispatcher) waitDispatched(t *testing.T, result string, want float64) {
	t.Helper()
	d.waitCounter(t, want, "aicc_dispatched_events_total", "result", result)
}

// deadLetters returns aicc_dead_letters_total.
func (d *testDispatcher) deadLetters(t *testing.T) float64 {
	t.Helper()
	return d.counter(t, "aicc_dead_letters_total")
}

// waitDeadLetters waits until aicc_dead_letters_total is want.
func (d *testDispatcher) waitDeadLetters(t *testing.T, want float64) {
	t.Helper()
	d.waitCounter(t, want, "aicc_dead_letters_total")
}

// undelivered returns how many events of the inbox are pending: neither delivered nor dead letters.
func undelivered(t *testing.T, s aicc.InboxStore) int {
	t.Helper()
	st, err := s.InboxStats(context.Background())
	require.NoError(t, err)
	return st.Undelivered
}

// waitDelivered waits until no event of the inbox is pending.
func waitDelivered(t *testing.T, s aicc.InboxStore) {
	t.Helper()
	require.Eventually(t, func() bool { return undelivered(t, s) == 0 }, waitFor, tick, "every event delivered or dead")
}

// storedEvents returns the events of the tenant's conversation with psid as the store has them, by timestamp;
// it saves the conversation's read model first, which the listing needs.
func storedEvents(t *testing.T, s *db.Store, tenant, psid string) []aicc.InboxEvent {
	t.Helper()
	ctx := context.Background()
	c := &aicc.Conversation{TenantID: tenant, ChannelID: testChannel, PageID: testPage, PSID: psid}
	require.NoError(t, s.SaveConversation(ctx, c))
	events, _, err := s.ConversationEvents(ctx, tenant, c.ID, aicc.ListOptions{Limit: aicc.MaxListLimit})
	require.NoError(t, err)
	return events
}

// Each conversation's claimed events reach its workflow in one signal, in Meta timestamp order whatever order
// they arrived in, with what the workflow needs of them; they are then marked delivered and counted.
func TestDispatcherSignalsEachConversationOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		psids := []string{"111", "222", "333"}
		var events []aicc.InboxEvent
		for _, ts := range []int64{1005, 1003, 1009, 1001, 1007} { // the conversations interleaved, out of order
			for _, psid := range psids {
				events = append(events, customerMessage("ten_1", psid, ts))
			}
		}
		events = append(events, customerMessage("ten_1", "111", 1003)) // same timestamp: by inbox ID
		events[len(events)-1].DedupKey, events[len(events)-1].Kind = "111/1003b", aicc.EventEcho
		storeEvents(t, s, events)

		tc := newFakeTemporal(t)
		d := newDispatcher(t, s, tc, "A")
		d.start(t)
		waitDelivered(t, s)

		for _, psid := range psids {
			var want []workflows.InboxEventSignal
			for _, e := range byTimestamp(events) {
				if e.PSID == psid {
					want = append(want, workflows.InboxEventSignal{
						InboxID: e.ID, Kind: e.Kind, MID: e.MID, Timestamp: e.Timestamp, Text: e.Text, At: e.ReceivedAt,
					})
				}
			}
			got := tc.signals(workflowID(psid))
			require.Len(t, got, 1, "signals of %s", psid)
			assert.Equal(t, want, got[0].Events, psid)
			assert.Equal(t, workflows.ConversationInput{TenantID: "ten_1", ChannelID: testChannel, PageID: testPage, PSID: psid,
				Revision: workflows.ConversationRevision}, got[0].Input)
			for _, e := range storedEvents(t, s, "ten_1", psid) {
				assert.False(t, e.DeliveredAt.IsZero(), "event %d delivered", e.ID)
				assert.Zero(t, e.Attempts, "event %d", e.ID)
			}
		}
		d.waitDispatched(t, "delivered", float64(len(events)))
		assert.Zero(t, d.dispatched(t, "failed"))
		assert.Zero(t, d.deadLetters(t))
	})
}

// Two dispatchers deliver an inbox that grows while they run: every event is signalled, each conversation's
// events reach its workflow in timestamp order, and one dispatcher at a time signals a conversation.
func TestDispatcherKeepsOrderAcrossDispatchers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		const (
			convs   = 50
			waves   = 5
			perWave = 4 // events per conversation per wave: 20 each in all
		)
		tc := newFakeTemporal(t)
		tc.setReply(func(context.Context, *signal) error {
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // signals finish out of order
			return nil
		})
		var stops []func()
		for _, owner := range []string{"A", "B"} {
			d := newDispatcher(t, s, tc.as(owner), owner)
			// Few events per claim and few conversations at once: each conversation takes several claims, which
			// the two dispatchers compete for.
			d.PerSignal, d.Concurrency = 3, 4
			stops = append(stops, d.start(t))
		}

		// Each wave comes later in Meta's time than the waves before, and is stored shuffled in one batch. (An
		// event stored after a later event of its conversation was delivered would be applied late: the order
		// holds among the events in the inbox together.)
		want := map[string][]int64{} // inbox IDs by workflow ID
		tenant := func(c int) string { return fmt.Sprintf("ten_%d", c%3) }
		for w := range waves {
			var wave []aicc.InboxEvent
			for c := range convs {
				for k := range perWave {
					e := customerMessage(tenant(c), fmt.Sprintf("%d", 1000+c), int64(10_000*(w+1)+10*k+rand.IntN(5)))
					e.DedupKey = fmt.Sprintf("%d/%d/%d", c, w, k)
					wave = append(wave, e)
				}
			}
			rand.Shuffle(len(wave), func(i, j int) { wave[i], wave[j] = wave[j], wave[i] })
			storeEvents(t, s, wave)
			for _, e := range wave {
				want[workflowID(e.PSID)] = append(want[workflowID(e.PSID)], e.ID)
			}
			time.Sleep(50 * time.Millisecond) // let the dispatchers deliver part of it before the next wave
		}
		waitDelivered(t, s)
		for _, stop := range stops {
			stop() // no signal after this
		}

		signalled, redelivered, shared := map[string]int{}, 0, 0
		for id, ids := range want {
			calls := tc.signals(id)
			var (
				applied []workflows.InboxEventSignal // what the workflow applies: each inbox ID once
				seen    = map[int64]bool{}
				by      = map[string]bool{}
			)
			for _, c := range calls {
				require.True(t, c.Done)
				require.NoError(t, c.Err)
				signalled[c.By]++
				by[c.By] = true
				for _, e := range c.Events {
					if seen[e.InboxID] {
						redelivered++
						continue
					}
					seen[e.InboxID] = true
					applied = append(applied, e)
				}
			}
			if len(by) > 1 {
				shared++
			}
			assert.True(t, slices.IsSortedFunc(applied, func(a, b workflows.InboxEventSignal) int {
				return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.InboxID, b.InboxID))
			}), "events of %s out of order: %v", id, sortKeys(applied))
			got := slices.Sorted(func(yield func(int64) bool) {
				for id := range seen {
					if !yield(id) {
						return
					}
				}
			})
			assert.Equal(t, slices.Sorted(slices.Values(ids)), got, "events of %s signalled", id)
		}
		t.Logf("signals by dispatcher: %v; redelivered events: %d; conversations signalled by both: %d",
			signalled, redelivered, shared)
		assert.Positive(t, signalled["A"], "dispatcher A signalled")
		assert.Positive(t, signalled["B"], "dispatcher B signalled")
		assert.Positive(t, shared, "conversations changed hands")
	})
}

// A poison event, whose every signal fails, is isolated: its conversation's events are tried again one per
// signal, the event becomes a dead letter after MaxAttempts, and the events before and after it are delivered.
func TestDispatcherDeadLettersAPoisonEvent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		poisoned := customerMessages("ten_1", "111", 1001, 1002, 1003, 1004, 1005)
		storeEvents(t, s, poisoned)
		storeEvents(t, s, customerMessages("ten_1", "222", 1001, 1002))
		p := func(i int) int64 { return poisoned[i].ID }
		poison := p(2)

		tc := newFakeTemporal(t)
		tc.setReply(failCarrying(poison, errors.New("poison pill")))
		d := newDispatcher(t, s, tc, "A")
		d.start(t)
		waitDelivered(t, s)

		// The first failure carried the whole claim; after it, one event per signal.
		var got [][]int64
		var failed []bool
		for _, c := range tc.signals(workflowID("111")) {
			got = append(got, c.ids())
			failed = append(failed, c.Err != nil)
		}
		assert.Equal(t, [][]int64{{p(0), p(1), p(2), p(3), p(4)}, {p(0)}, {p(1)}, {p(2)}, {p(2)}, {p(3)}, {p(4)}}, got)
		assert.Equal(t, []bool{true, false, false, true, true, false, false}, failed)
		assert.Equal(t, []int64{p(0), p(1), p(3), p(4)}, tc.delivered(workflowID("111")))
		assert.Len(t, tc.signals(workflowID("222")), 1, "the other conversation is delivered at once")

		for _, e := range storedEvents(t, s, "ten_1", "111") {
			if e.ID == poison {
				assert.False(t, e.DeadAt.IsZero(), "the poison event is a dead letter")
				assert.True(t, e.DeliveredAt.IsZero(), "the poison event is not delivered")
				assert.Equal(t, 3, e.Attempts)
				assert.Equal(t, "poison pill", e.LastError)
				continue
			}
			assert.False(t, e.DeliveredAt.IsZero(), "event %d delivered", e.ID)
			assert.True(t, e.DeadAt.IsZero(), "event %d not dead", e.ID)
		}
		dead, _, err := s.DeadLetters(context.Background(), "ten_1", aicc.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, []int64{poison}, inboxIDs(dead))
		d.waitDeadLetters(t, 1)
		assert.Equal(t, 7.0, d.dispatched(t, "failed"), "5 in the first signal, then the poison event twice")
		d.waitDispatched(t, "delivered", 6.0)
		assert.Contains(t, d.logs.String(), "poison pill")
	})
}

// An event Temporal refuses as an invalid argument when it is signalled alone, or whose customer ID is too long
// to name a workflow, becomes a dead letter at once, long before MaxAttempts.
func TestDispatcherDeadLettersWhatCanNeverBeDelivered(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		alone := customerMessages("ten_1", "111", 1001)
		pair := customerMessages("ten_1", "222", 1001, 1002) // its second event is invalid
		long := customerMessages("ten_1", strings.Repeat("9", 256), 1001)
		storeEvents(t, s, alone)
		storeEvents(t, s, pair)
		storeEvents(t, s, long)
		invalid := map[int64]bool{alone[0].ID: true, pair[1].ID: true}

		tc := newFakeTemporal(t)
		tc.setReply(func(_ context.Context, sg *signal) error {
			for _, id := range sg.ids() {
				if invalid[id] {
					return serviceerror.NewInvalidArgument("payload refused")
				}
			}
			return nil
		})
		d := newDispatcher(t, s, tc, "A")
		d.MaxAttempts = 10
		d.start(t)
		waitDelivered(t, s)

		ctx := context.Background()
		dead, _, err := s.DeadLetters(ctx, "ten_1", aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []int64{long[0].ID, pair[1].ID, alone[0].ID}, inboxIDs(dead), "the latest first")
		assert.Equal(t, 1, dead[0].Attempts, "the long PSID")
		assert.Contains(t, dead[0].LastError, "longer than 255 bytes")
		assert.Equal(t, 2, dead[1].Attempts, "refused with its conversation's other event, then alone")
		assert.Equal(t, 1, dead[2].Attempts, "refused alone")
		assert.Contains(t, dead[2].LastError, "payload refused")

		assert.Len(t, tc.signals(workflowID("111")), 1)
		assert.Equal(t, []int64{pair[0].ID}, tc.delivered(workflowID("222")))
		assert.Empty(t, tc.signals(workflowID(long[0].PSID)), "no signal for a PSID too long")
		d.waitDeadLetters(t, 3)
	})
}

// While Temporal is unavailable no attempt is counted: the events wait, and once Temporal is back they are
// delivered in one signal, as if nothing had happened.
func TestDispatcherWaitsForTemporal(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		events := customerMessages("ten_1", "111", 1001, 1002, 1003)
		storeEvents(t, s, events)
		var down atomic.Bool
		down.Store(true)
		tc := newFakeTemporal(t)
		tc.setReply(func(context.Context, *signal) error {
			if down.Load() {
				return serviceerror.NewUnavailable("connection refused")
			}
			return nil
		})
		d := newDispatcher(t, s, tc, "A")
		d.MaxAttempts = 1 // one counted attempt would make dead letters
		d.start(t)

		// Down for more than MaxAttempts tries (claims pause for a second after the first).
		require.Eventually(t, func() bool { return len(tc.signals(workflowID("111"))) > d.MaxAttempts }, waitFor, tick)
		for _, e := range storedEvents(t, s, "ten_1", "111") {
			assert.Zero(t, e.Attempts, "event %d while Temporal is down", e.ID)
			assert.True(t, e.DeliveredAt.IsZero(), "event %d delivered while Temporal is down", e.ID)
		}
		down.Store(false)
		waitDelivered(t, s)

		calls := tc.signals(workflowID("111"))
		for _, c := range calls {
			assert.Equal(t, inboxIDs(events), c.ids(), "every try carries the whole conversation")
		}
		assert.NoError(t, calls[len(calls)-1].Err)
		for _, e := range storedEvents(t, s, "ten_1", "111") {
			assert.Zero(t, e.Attempts, "event %d", e.ID)
			assert.Empty(t, e.LastError, "event %d", e.ID)
			assert.False(t, e.DeliveredAt.IsZero(), "event %d delivered", e.ID)
		}
		dead, _, err := s.DeadLetters(context.Background(), "ten_1", aicc.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, dead)
		assert.Zero(t, d.deadLetters(t))
		d.waitDispatched(t, "delivered", 3.0)
		assert.Equal(t, float64(3*(len(calls)-1)), d.dispatched(t, "failed"))
	})
}

// Events signalled but not marked delivered (the mark failed, or the process crashed) are signalled again once
// their lease is over, and then marked: delivered at least once.
func TestDispatcherSignalsAgainWhatItCouldNotMark(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		events := customerMessages("ten_1", "111", 1001, 1002, 1003)
		storeEvents(t, s, events)
		inbox := &flakyInbox{InboxStore: s, failMarks: 1}
		tc := newFakeTemporal(t)
		d := newDispatcher(t, inbox, tc, "A")
		stop := d.start(t)
		waitDelivered(t, s)
		stop()

		calls := tc.signals(workflowID("111"))
		require.Len(t, calls, 2)
		for _, c := range calls {
			assert.Equal(t, inboxIDs(events), c.ids())
		}
		for _, e := range storedEvents(t, s, "ten_1", "111") {
			assert.Zero(t, e.Attempts, "a failed mark is no failed delivery")
		}
		assert.Equal(t, 3.0, d.dispatched(t, "failed"))
		d.waitDispatched(t, "delivered", 3.0)
		assert.Contains(t, d.logs.String(), "Could not mark")
	})
}

// A signal that takes longer than the lease keeps its conversation: the lease is renewed meanwhile, so another
// dispatcher never claims it.
func TestDispatcherRenewsLeases(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		const lease = 900 * time.Millisecond
		events := customerMessages("ten_1", "111", 1001)
		storeEvents(t, s, events)
		release := make(chan struct{})
		tc := newFakeTemporal(t)
		tc.setReply(func(ctx context.Context, _ *signal) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		a := newDispatcher(t, s, tc.as("A"), "A")
		a.Lease = lease
		a.start(t)
		require.Eventually(t, func() bool { return tc.inFlight(workflowID("111")) }, waitFor, tick)

		inbox := &flakyInbox{InboxStore: s}
		b := newDispatcher(t, inbox, tc.as("B"), "B")
		b.Lease = lease
		b.start(t)
		time.Sleep(2 * lease) // well past the lease A took, while B claims all along
		claims, claimed := inbox.counts(events[0].Conversation())
		assert.Greater(t, claims, 1, "B claimed meanwhile")
		assert.Zero(t, claimed, "B claimed the conversation A was signalling")
		close(release)
		waitDelivered(t, s)

		calls := tc.signals(workflowID("111"))
		require.Len(t, calls, 1)
		assert.Equal(t, "A", calls[0].By)
	})
}

// A conversation released by a settle and claimed again before that settle is over keeps its new lease
// renewed: no other dispatcher takes it while its signal is on its way.
func TestDispatcherRenewsAConversationClaimedAgainWhileSettling(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		const lease = 900 * time.Millisecond
		events := customerMessages("ten_1", "111", 1001, 1002)
		storeEvents(t, s, events[:1])
		first, next := events[0], events[1:]
		marked, resume, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
		tc := newFakeTemporal(t)
		tc.setReply(func(ctx context.Context, sg *signal) error {
			if sg.carries(first.ID) {
				return nil
			}
			select { // the conversation's next signal
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		// A's settle of the first signal lingers after its mark has released the conversation.
		inboxA := &flakyInbox{InboxStore: s, afterMark: sync.OnceFunc(func() {
			close(marked)
			<-resume
		})}
		a := newDispatcher(t, inboxA, tc.as("A"), "A")
		a.Lease = lease
		a.start(t)
		require.Eventually(t, func() bool { return len(tc.signals(workflowID("111"))) == 1 }, waitFor, tick)
		storeEvents(t, s, next)
		select {
		case <-marked:
		case <-time.After(waitFor):
			t.Fatal("A never marked the first signal delivered")
		}
		require.Eventually(t, func() bool { return tc.inFlight(workflowID("111")) }, waitFor, tick,
			"A claims the conversation again and signals its next event")
		close(resume)

		inboxB := &flakyInbox{InboxStore: s}
		b := newDispatcher(t, inboxB, tc.as("B"), "B")
		b.Lease = lease
		b.start(t)
		time.Sleep(2 * lease)
		claims, claimed := inboxB.counts(first.Conversation())
		assert.Greater(t, claims, 1, "B claimed meanwhile")
		assert.Zero(t, claimed, "B claimed the conversation A was signalling")
		close(release)
		waitDelivered(t, s)
		for _, call := range tc.signals(workflowID("111")) {
			assert.Equal(t, "A", call.By)
		}
	})
}

// A dispatcher never renews leases while it marks events delivered and releases their conversations: on
// Postgres the two lock the same leases in different orders, and deadlocked (seen in a burst: the mark failed,
// and its conversations waited out their leases).
func TestDispatcherRenewsNoLeaseWhileItMarks(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		const lease = 300 * time.Millisecond
		storeEvents(t, s, customerMessages("ten_1", "111", 1001))
		inbox := &flakyInbox{InboxStore: s, afterMark: sync.OnceFunc(func() {
			time.Sleep(lease) // three renewal ticks
		})}
		d := newDispatcher(t, inbox, newFakeTemporal(t), "A")
		d.Lease = lease
		d.start(t)
		waitDelivered(t, s)
		d.waitDispatched(t, "delivered", 1.0)

		inbox.mu.Lock()
		defer inbox.mu.Unlock()
		assert.Zero(t, inbox.renewedMarking)
	})
}

// sortKeys returns the events' sort keys, "ID@timestamp", for a failure message.
func sortKeys(events []workflows.InboxEventSignal) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = fmt.Sprintf("%d@%d", e.InboxID, e.Timestamp)
	}
	return out
}

// Events without a conversation (no customer) are marked delivered without a signal.
func TestDispatcherSkipsEventsWithoutConversation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		orphans := customerMessages("ten_1", "", 1001, 1002)
		storeEvents(t, s, append(orphans, customerMessage("ten_1", "111", 1003)))
		tc := newFakeTemporal(t)
		d := newDispatcher(t, s, tc, "A")
		d.start(t)
		waitDelivered(t, s)

		assert.Equal(t, 1, tc.total(), "only the customer's message is signalled")
		assert.Len(t, tc.signals(workflowID("111")), 1)
		assert.Equal(t, 2.0, d.dispatched(t, "skipped"))
		d.waitDispatched(t, "delivered", 1.0)
	})
}

// A dispatcher that stops returns nil, and releases the conversations it claimed but did not signal, so that
// another dispatcher delivers them long before their lease would have ended.
func TestDispatcherStopReleasesClaims(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		storeEvents(t, s, customerMessages("ten_1", "111", 1001, 1002))
		storeEvents(t, s, customerMessages("ten_1", "222", 1001, 1002))
		tc := newFakeTemporal(t)
		tc.setReply(func(ctx context.Context, sg *signal) error {
			if sg.By == "A" { // A's signals hang until it stops
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		a := newDispatcher(t, s, tc.as("A"), "A")
		a.Lease, a.Concurrency = time.Minute, 1 // both conversations claimed, one signal at a time
		stopA := a.start(t)
		require.Eventually(t, func() bool { return tc.total() == 1 }, waitFor, tick, "A signals")
		stopA()
		assert.Equal(t, 2*2, undelivered(t, s))

		// B restarts on A's metrics registry, as a restarted process would.
		b := newDispatcher(t, s, tc.as("B"), "B")
		b.Lease, b.reg, b.Metrics = time.Minute, a.reg, a.reg
		b.start(t)
		require.Eventually(t, func() bool { return undelivered(t, s) == 0 }, testLease*20, tick,
			"delivered well within the minute of A's leases")
		for _, psid := range []string{"111", "222"} {
			calls := tc.signals(workflowID(psid))
			last := calls[len(calls)-1]
			assert.Equal(t, "B", last.By)
			assert.Len(t, last.Events, 2)
		}
		b.waitDispatched(t, "delivered", 4.0)
	})
}

// A claim that returns as the dispatcher stops is released at once, unsignalled.
func TestDispatcherStopReleasesAClaimItWasMaking(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		storeEvents(t, s, customerMessages("ten_1", "111", 1001, 1002))
		tc := newFakeTemporal(t)
		ctx, cancel := context.WithCancel(context.Background())
		inbox := &flakyInbox{InboxStore: s, afterClaim: func(events []aicc.InboxEvent) {
			if len(events) > 0 {
				cancel() // the process is told to stop while its claim comes back
			}
		}}
		a := newDispatcher(t, inbox, tc.as("A"), "A")
		a.Lease = time.Minute
		require.NoError(t, a.Run(ctx))
		assert.Zero(t, tc.total())
		assert.Equal(t, 2, undelivered(t, s))

		b := newDispatcher(t, s, tc.as("B"), "B")
		b.Lease = time.Minute
		b.start(t)
		require.Eventually(t, func() bool { return undelivered(t, s) == 0 }, testLease*20, tick,
			"delivered well within the minute of A's lease")
		calls := tc.signals(workflowID("111"))
		require.Len(t, calls, 1)
		assert.Equal(t, "B", calls[0].By)
	})
}

// A signal that succeeds while the dispatcher stops is marked delivered before Run returns, not signalled
// again.
func TestDispatcherStopMarksWhatWasSignalled(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		storeEvents(t, s, customerMessages("ten_1", "111", 1001, 1002))
		tc := newFakeTemporal(t)
		tc.setReply(func(ctx context.Context, _ *signal) error {
			<-ctx.Done() // Temporal took the signal just as the dispatcher stopped
			return nil
		})
		d := newDispatcher(t, s, tc, "A")
		stop := d.start(t)
		require.Eventually(t, func() bool { return tc.total() == 1 }, waitFor, tick)
		stop()
		assert.Zero(t, undelivered(t, s))
		d.waitDispatched(t, "delivered", 2.0)
	})
}

// A claim that fails is retried after a backoff.
func TestDispatcherRetriesClaims(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		storeEvents(t, s, customerMessages("ten_1", "111", 1001))
		inbox := &flakyInbox{InboxStore: s, failClaims: 2}
		tc := newFakeTemporal(t)
		d := newDispatcher(t, inbox, tc, "A")
		d.start(t)
		waitDelivered(t, s)

		assert.Len(t, tc.signals(workflowID("111")), 1)
		assert.Contains(t, d.logs.String(), "the database is down")
	})
}

// Run needs an inbox and a Temporal client.
func TestDispatcherRequiresInboxAndTemporal(t *testing.T) {
	s := dbtest.SQLite(t)
	for name, d := range map[string]*worker.Dispatcher{
		"neither":     {},
		"no Temporal": {Inbox: s},
		"no inbox":    {Temporal: newFakeTemporal(t)},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Error(t, d.Run(context.Background()))
		})
	}
}

// lockedWriter serializes the writes of concurrent log calls.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

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
