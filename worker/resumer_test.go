package worker_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

var resumeNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// resumeStore is a fake aicc.ChannelStore holding channels and Pages in a status since some time, answering
// ChannelsInStatus and PagesInStatus as the real store does. errs fail the listing of a status.
type resumeStore struct {
	aicc.ChannelStore
	mu       sync.Mutex
	channels []*aicc.Channel
	pages    []*aicc.Page
	exports  []*aicc.Export
	errs     map[string]error // by status
	passes   int              // listings of pending channels: one per pass
}

// channel adds a channel of ten_1 in status since the given time before resumeNow.
func (s *resumeStore) channel(id string, status aicc.ChannelStatus, ago time.Duration) {
	s.channels = append(s.channels, &aicc.Channel{ID: id, TenantID: "ten_1",
		Onboarding: aicc.Onboarding{Status: status, UpdatedAt: resumeNow.Add(-ago)}})
}

// page adds a Page of ten_1/ch_1 in status since the given time before resumeNow.
func (s *resumeStore) page(id string, status aicc.PageStatus, ago time.Duration) {
	s.pages = append(s.pages, &aicc.Page{PageID: id, ChannelID: "ch_1", TenantID: "ten_1",
		State: aicc.PageState{Status: status, UpdatedAt: resumeNow.Add(-ago)}})
}

func (s *resumeStore) ChannelsInStatus(_ context.Context, status aicc.ChannelStatus, before time.Time, limit int) ([]*aicc.Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == aicc.StatusPending {
		s.passes++
	}
	if err := s.errs[string(status)]; err != nil {
		return nil, err
	}
	var out []*aicc.Channel
	for _, ch := range s.channels {
		if ch.Onboarding.Status == status && ch.Onboarding.UpdatedAt.Before(before) && len(out) < limit {
			out = append(out, ch)
		}
	}
	return out, nil
}

func (s *resumeStore) PagesInStatus(_ context.Context, status aicc.PageStatus, before time.Time, limit int) ([]*aicc.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.errs[string(status)]; err != nil {
		return nil, err
	}
	var out []*aicc.Page
	for _, p := range s.pages {
		if p.State.Status == status && p.State.UpdatedAt.Before(before) && len(out) < limit {
			out = append(out, p)
		}
	}
	return out, nil
}

// export adds an export of ten_1 in status since the given time before resumeNow.
func (s *resumeStore) export(id string, status aicc.ExportStatus, ago time.Duration) {
	s.exports = append(s.exports, &aicc.Export{ID: id, TenantID: "ten_1", Status: status, UpdatedAt: resumeNow.Add(-ago)})
}

func (s *resumeStore) ExportsInStatus(_ context.Context, status aicc.ExportStatus, before time.Time, limit int) ([]*aicc.Export, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.errs[string(status)]; err != nil {
		return nil, err
	}
	var out []*aicc.Export
	for _, e := range s.exports {
		if e.Status == status && e.UpdatedAt.Before(before) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *resumeStore) passCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.passes
}

// newResumer returns a resumer over store and a mocked Temporal, at resumeNow, with the default grace.
func newResumer(t *testing.T, store *resumeStore) (*worker.Resumer, *mocks.Client, *lockedWriter) {
	t.Helper()
	tc := mocks.NewClient(t)
	logs := &lockedWriter{w: new(bytes.Buffer)}
	return &worker.Resumer{
		Store: store, Temporal: tc, VerificationTTL: 48 * time.Hour,
		Now: func() time.Time { return resumeNow }, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}, tc, logs
}

// expectUpdateWithStart expects the Update-with-Start of workflow typ under id with in, answering err.
func expectUpdateWithStart(t *testing.T, tc *mocks.Client, id, typ string, in any, err error) {
	tc.On("NewWithStartWorkflowOperation", mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == id }), typ, in).
		Return(startOp{id: id}).Once()
	var h client.WorkflowUpdateHandle
	if err == nil {
		uh := mocks.NewWorkflowUpdateHandle(t)
		uh.On("Get", mock.Anything, mock.Anything).Return(nil).Once()
		h = uh
	}
	tc.On("UpdateWithStartWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWithStartWorkflowOptions) bool {
		return o.StartWorkflowOperation == startOp{id: id}
	})).Return(h, err).Once()
}

func expectOnboarding(t *testing.T, tc *mocks.Client, channelID string, err error) {
	expectUpdateWithStart(t, tc, workflows.OnboardingWorkflowID(channelID), workflows.OnboardingWorkflowType,
		workflows.OnboardingInput{TenantID: "ten_1", ChannelID: channelID, VerificationTTL: 48 * time.Hour}, err)
}

// expectDeletion expects a plain start of the channel's deletion (no Update: resuming adds nothing to a running
// deletion's history), answering err.
func expectDeletion(t *testing.T, tc *mocks.Client, channelID string, err error) {
	var run client.WorkflowRun
	if err == nil {
		run = mocks.NewWorkflowRun(t)
	}
	tc.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return o.ID == workflows.ChannelDeleteWorkflowID(channelID) && o.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
	}), workflows.ChannelDeleteWorkflowType, workflows.ChannelDeleteInput{TenantID: "ten_1", ChannelID: channelID}).
		Return(run, err).Once()
}

func expectConnect(t *testing.T, tc *mocks.Client, pageID string, err error) {
	var run client.WorkflowRun
	if err == nil {
		run = mocks.NewWorkflowRun(t)
	}
	tc.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return o.ID == workflows.ConnectPageWorkflowID("ch_1", pageID)
	}), workflows.ConnectPageWorkflowType, workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: pageID}).
		Return(run, err).Once()
}

func expectExport(t *testing.T, tc *mocks.Client, exportID string, err error) {
	var run client.WorkflowRun
	if err == nil {
		run = mocks.NewWorkflowRun(t)
	}
	tc.On("ExecuteWorkflow", mock.Anything, mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
		return o.ID == workflows.ExportWorkflowID(exportID)
	}), workflows.ExportWorkflowType, workflows.ExportInput{TenantID: "ten_1", ExportID: exportID, Retention: time.Hour}).
		Return(run, err).Once()
}

// What the API stored while Temporal did not take the start is resumed once the grace is over; rows younger
// than the grace are left to the API's own start. The mocked client fails the test on any other call.
func TestResumerResumesWhatWasLeft(t *testing.T) {
	store := &resumeStore{}
	store.channel("ch_pending", aicc.StatusPending, 2*time.Minute)
	store.channel("ch_young", aicc.StatusPending, 30*time.Second)
	store.channel("ch_deleting", aicc.StatusDeleting, time.Hour)
	store.channel("ch_deleting_young", aicc.StatusDeleting, 10*time.Second)
	store.channel("ch_active", aicc.StatusActive, time.Hour)
	store.page("p_connecting", aicc.PageConnecting, 5*time.Minute)
	store.page("p_young", aicc.PageConnecting, time.Second)
	store.page("p_subscribed", aicc.PageSubscribed, time.Hour)
	store.export("exp_pending", aicc.ExportPending, 3*time.Minute)
	store.export("exp_young", aicc.ExportPending, time.Second)
	store.export("exp_running", aicc.ExportRunning, time.Hour)
	r, tc, logs := newResumer(t, store)
	r.ExportRetention = time.Hour
	expectOnboarding(t, tc, "ch_pending", nil)
	expectDeletion(t, tc, "ch_deleting", nil)
	expectConnect(t, tc, "p_connecting", nil)
	expectExport(t, tc, "exp_pending", nil)

	n, err := r.Resume(context.Background())

	require.NoError(t, err)
	assert.Equal(t, 4, n)
	for _, id := range []string{"ch_pending", "ch_deleting", "p_connecting", "exp_pending"} {
		assert.Contains(t, logs.String(), id)
	}
}

func TestResumerGrace(t *testing.T) {
	store := &resumeStore{}
	store.channel("ch_pending", aicc.StatusPending, 2*time.Minute)
	r, _, _ := newResumer(t, store)
	r.Grace = 5 * time.Minute

	n, err := r.Resume(context.Background())

	require.NoError(t, err, "a channel pending for less than the configured grace is left alone")
	assert.Zero(t, n)
}

// A workflow that runs already is nothing to resume: not an error, and not counted.
func TestResumerAlreadyRunning(t *testing.T) {
	store := &resumeStore{}
	store.channel("ch_pending", aicc.StatusPending, 2*time.Minute)
	store.channel("ch_deleting", aicc.StatusDeleting, 2*time.Minute)
	store.page("p_connecting", aicc.PageConnecting, 2*time.Minute)
	r, tc, _ := newResumer(t, store)
	running := serviceerror.NewWorkflowExecutionAlreadyStarted("workflow already started", "req", "run")
	expectOnboarding(t, tc, "ch_pending", running)
	expectDeletion(t, tc, "ch_deleting", running)
	expectConnect(t, tc, "p_connecting", running)

	n, err := r.Resume(context.Background())

	require.NoError(t, err)
	assert.Zero(t, n)
}

// Temporal being unavailable fails that start, which the pass reports; the other rows are still tried.
func TestResumerTemporalUnavailable(t *testing.T) {
	store := &resumeStore{}
	store.channel("ch_a", aicc.StatusPending, 2*time.Minute)
	store.channel("ch_b", aicc.StatusPending, 3*time.Minute)
	store.channel("ch_deleting", aicc.StatusDeleting, 2*time.Minute)
	store.page("p_connecting", aicc.PageConnecting, 2*time.Minute)
	r, tc, _ := newResumer(t, store)
	unavailable := serviceerror.NewUnavailable("frontend is down")
	expectOnboarding(t, tc, "ch_a", unavailable)
	expectOnboarding(t, tc, "ch_b", nil)
	expectDeletion(t, tc, "ch_deleting", unavailable)
	expectConnect(t, tc, "p_connecting", nil)

	n, err := r.Resume(context.Background())

	var u *serviceerror.Unavailable
	assert.ErrorAs(t, err, &u)
	assert.Equal(t, 2, n, "ch_b and p_connecting")
}

// A listing the database does not answer is reported; the other kinds of rows are still resumed.
func TestResumerStoreError(t *testing.T) {
	store := &resumeStore{errs: map[string]error{string(aicc.StatusPending): errors.New("database is down")}}
	store.channel("ch_pending", aicc.StatusPending, 2*time.Minute)
	store.channel("ch_deleting", aicc.StatusDeleting, 2*time.Minute)
	store.page("p_connecting", aicc.PageConnecting, 2*time.Minute)
	r, tc, _ := newResumer(t, store)
	expectDeletion(t, tc, "ch_deleting", nil)
	expectConnect(t, tc, "p_connecting", nil)

	n, err := r.Resume(context.Background())

	assert.ErrorContains(t, err, "database is down")
	assert.Equal(t, 2, n)
}

// Run passes again and again, a failed pass logged and followed by the next one, until ctx is done; then it
// returns nil.
func TestResumerRun(t *testing.T) {
	store := &resumeStore{errs: map[string]error{string(aicc.StatusDeleting): errors.New("database is down")}}
	r, _, logs := newResumer(t, store)
	r.Interval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	require.Eventually(t, func() bool { return store.passCount() >= 3 }, 10*time.Second, time.Millisecond)
	cancel()

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return once ctx was done")
	}
	assert.Contains(t, logs.String(), "database is down")
}

func TestResumerRunNeedsStoreAndTemporal(t *testing.T) {
	assert.Error(t, (&worker.Resumer{Temporal: mocks.NewClient(t)}).Run(context.Background()))
	assert.Error(t, (&worker.Resumer{Store: &resumeStore{}}).Run(context.Background()))
}
