package workflows_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

// ExportSuite runs Export in virtual time against mocked activities: WriteExport returns s.files (or the next
// queued error), and can be made to block until the workflow cancels it; DeleteExportFiles can be made to
// block until released.
type ExportSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	calls    []exportCall
	files    []aicc.ExportFile  // what WriteExport returns
	failWith map[string][]error // the next errors of an activity, by name

	blockWrite   bool          // WriteExport blocks until the workflow cancels it
	writeStarted chan struct{} // closed when a blocking WriteExport started
	writeStopped chan struct{} // closed when the workflow cancelled WriteExport

	blockDelete    bool          // DeleteExportFiles blocks until deleteReleased is closed
	deleteStarted  chan struct{} // closed when a blocking DeleteExportFiles started
	deleteReleased chan struct{}
}

func TestExport(t *testing.T) { suite.Run(t, new(ExportSuite)) }

// exportCall is one activity call: its name, its input, and when it ran, as virtual time since the start.
type exportCall struct {
	name string
	in   any
	at   time.Duration
}

var (
	exportStart = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	exportIn    = workflows.ExportInput{TenantID: "ten_1", ExportID: "exp_1", Retention: 24 * time.Hour}
	// exportFiles are what a successful WriteExport wrote: 2,001 records.
	exportFiles = []aicc.ExportFile{
		{Name: "channels-0001.csv", Records: 2000, Bytes: 512_000, SHA256: "aa"},
		{Name: "channels-0002.csv", Records: 1, Bytes: 300, SHA256: "bb"},
	}
)

// exportWithRetention is exportIn with another retention.
func exportWithRetention(retention time.Duration) workflows.ExportInput {
	in := exportIn
	in.Retention = retention
	return in
}

// waitFor waits for ch to be closed, at most a few seconds of real time, and reports whether it was.
func waitFor(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

func (s *ExportSuite) SetupTest() {
	s.calls, s.files, s.failWith = nil, exportFiles, map[string][]error{}
	s.blockWrite, s.writeStarted, s.writeStopped = false, make(chan struct{}), make(chan struct{})
	s.blockDelete, s.deleteStarted, s.deleteReleased = false, make(chan struct{}), make(chan struct{})
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetStartTime(exportStart)
	s.env.RegisterWorkflowWithOptions(workflows.Export, workflow.RegisterOptions{Name: workflows.ExportWorkflowType})

	s.env.OnActivity(a.WriteExport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ExportInput) ([]aicc.ExportFile, error) {
			if err := s.call("WriteExport", in); err != nil {
				return nil, err
			}
			if s.blocks(&s.blockWrite) {
				close(s.writeStarted)
				if !waitFor(s.writeStopped) {
					return nil, errors.New("WriteExport was never cancelled")
				}
				return nil, temporal.NewCanceledError()
			}
			return s.files, nil
		}).Maybe()
	s.env.OnActivity(a.DeleteExportFiles, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ExportInput) error {
			if err := s.call("DeleteExportFiles", in); err != nil {
				return err
			}
			if s.blocks(&s.blockDelete) {
				close(s.deleteStarted)
				if !waitFor(s.deleteReleased) {
					return errors.New("DeleteExportFiles was never released")
				}
			}
			return nil
		}).Maybe()
	s.env.OnActivity(a.RecordExport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordExportInput) error {
			return s.call("RecordExport", in)
		}).Maybe()
	s.env.SetOnActivityCanceledListener(func(info *activity.Info) {
		s.mu.Lock()
		s.calls = append(s.calls, exportCall{name: "cancelled:" + info.ActivityType.Name, at: s.env.Now().Sub(exportStart)})
		s.mu.Unlock()
		if info.ActivityType.Name == "WriteExport" {
			close(s.writeStopped)
		}
	})
}

// call records an activity call and returns the next error queued for it, if any.
func (s *ExportSuite) call(name string, in any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, exportCall{name: name, in: in, at: s.env.Now().Sub(exportStart)})
	if errs := s.failWith[name]; len(errs) > 0 {
		s.failWith[name] = errs[1:]
		return errs[0]
	}
	return nil
}

// whenClosed runs fn on the workflow's event loop once ch is closed, checking first after delay and then every
// millisecond. While an activity runs, virtual time stands still and a timer fires in real time; blocking the
// event loop instead could keep the awaited activity from being scheduled at all.
func (s *ExportSuite) whenClosed(delay time.Duration, ch chan struct{}, fn func()) {
	s.env.RegisterDelayedCallback(func() {
		select {
		case <-ch:
			fn()
		default:
			s.whenClosed(time.Millisecond, ch, fn)
		}
	}, delay)
}

// order are the names of the calls made so far, in order.
func (s *ExportSuite) order() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, c := range s.calls {
		names = append(names, c.name)
	}
	return names
}

// at is when the last call named name was made, in virtual time since the start.
func (s *ExportSuite) at(name string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.calls) - 1; i >= 0; i-- {
		if s.calls[i].name == name {
			return s.calls[i].at
		}
	}
	s.Failf("no call", "%s was not called", name)
	return -1
}

// blocks reports whether the call blocks (only the first call of an activity does), and clears it.
func (s *ExportSuite) blocks(flag *bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := *flag
	*flag = false
	return b
}

func (s *ExportSuite) fail(name string, errs ...error) { s.failWith[name] = errs }

// names are the calls made so far, "name@virtual time", in order.
func (s *ExportSuite) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, c := range s.calls {
		names = append(names, c.name+"@"+c.at.String())
	}
	return names
}

// records are the progresses RecordExport was given, in order; every one is of exportIn's export.
func (s *ExportSuite) records() []aicc.ExportProgress {
	s.mu.Lock()
	defer s.mu.Unlock()
	var got []aicc.ExportProgress
	for _, c := range s.calls {
		if c.name == "RecordExport" {
			in := c.in.(activities.RecordExportInput)
			s.Equal(exportIn.TenantID, in.TenantID)
			s.Equal(exportIn.ExportID, in.ExportID)
			got = append(got, in.Progress)
		}
	}
	return got
}

// count is how many times the activity name was called.
func (s *ExportSuite) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.name == name {
			n++
		}
	}
	return n
}

// run runs the export and returns its result, requiring it to end without an error.
func (s *ExportSuite) run(in workflows.ExportInput) workflows.ExportResult {
	s.T().Helper()
	return runToEnd[workflows.ExportResult](s.T(), s.env, workflows.ExportWorkflowType, in)
}

// cancelOutcome is what a caller of UpdateCancelExport saw, with the calls made when it got its answer.
type cancelOutcome struct {
	accepted  bool
	rejected  error
	done      bool
	status    aicc.ExportStatus
	err       error
	callsThen []string
}

// cancel sends UpdateCancelExport, as CancelExport does; then, if given, runs after once it was answered.
func (s *ExportSuite) cancel(id string, after func()) *cancelOutcome {
	out := new(cancelOutcome)
	s.env.UpdateWorkflow(workflows.UpdateCancelExport, id, &testsuite.TestUpdateCallback{
		OnAccept: func() { out.accepted = true },
		OnReject: func(err error) {
			out.rejected, out.callsThen = err, s.names()
			if after != nil {
				after()
			}
		},
		OnComplete: func(v any, err error) {
			out.done, out.err, out.callsThen = true, err, s.names()
			if st, ok := v.(aicc.ExportStatus); ok {
				out.status = st
			}
			if after != nil {
				after()
			}
		},
	}, workflows.CancelExportRequest{})
	return out
}

// requireConflict requires the cancel to have been refused by the validator with CONFLICT.
func (s *ExportSuite) requireConflict(out *cancelOutcome, status aicc.ExportStatus) {
	s.T().Helper()
	s.Require().NotNil(out)
	s.False(out.accepted, "refused before it is accepted")
	s.False(out.done)
	var appErr *temporal.ApplicationError
	s.Require().ErrorAs(out.rejected, &appErr)
	s.Equal(aicc.ECONFLICT, appErr.Type())
	var e *aicc.Error
	s.Require().ErrorAs(workflows.DomainError(out.rejected), &e)
	s.Equal(aicc.ECONFLICT, e.Code)
	s.Contains(e.Message, string(status))
}

// A successful export is recorded running, then success with its files and counts, kept for the retention
// period, and then deleted and recorded expired at exactly its ExpiresAt.
func (s *ExportSuite) TestSuccessThenExpiry() {
	res := s.run(exportIn)

	s.Equal(workflows.ExportResult{Status: aicc.ExportExpired, Records: 2001}, res)
	s.Equal([]string{
		"RecordExport@0s", "WriteExport@0s", "RecordExport@0s",
		"DeleteExportFiles@24h0m0s", "RecordExport@24h0m0s",
	}, s.names())
	s.Equal(exportIn, s.calls[1].in, "WriteExport is given the export")
	s.Equal(exportIn, s.calls[3].in, "DeleteExportFiles is given the export")

	records := s.records()
	s.Require().Len(records, 3)
	running, success, expired := records[0], records[1], records[2]
	s.Equal(aicc.ExportProgress{Status: aicc.ExportRunning, StartedAt: exportStart, UpdatedAt: exportStart}, running)
	expiresAt := exportStart.Add(exportIn.Retention)
	s.Equal(aicc.ExportProgress{
		Status: aicc.ExportSuccess, Total: 2001, RecordsDone: 2001, FilesDone: 2, Files: exportFiles,
		StartedAt: exportStart, FinishedAt: exportStart, ExpiresAt: expiresAt, UpdatedAt: exportStart,
	}, success)
	s.Equal(success.FinishedAt.Add(exportIn.Retention), success.ExpiresAt, "ExpiresAt = FinishedAt + retention")
	s.Equal(aicc.ExportExpired, expired.Status)
	s.Empty(expired.ErrorCode)
	s.Equal(expiresAt, expired.UpdatedAt, "recorded expired at exactly ExpiresAt")
	s.Equal(expiresAt, expired.ExpiresAt)
	s.Equal(success.FinishedAt, expired.FinishedAt, "it finished when it succeeded")
	s.Equal(2001, expired.RecordsDone)
}

// With no retention in the input, the files are kept for aicc.DefaultExportRetention, 7 days.
func (s *ExportSuite) TestDefaultRetention() {
	s.Equal(7*24*time.Hour, aicc.DefaultExportRetention)

	res := s.run(exportWithRetention(0))

	s.Equal(aicc.ExportExpired, res.Status)
	s.Equal([]string{
		"RecordExport@0s", "WriteExport@0s", "RecordExport@0s",
		"DeleteExportFiles@168h0m0s", "RecordExport@168h0m0s",
	}, s.names())
	records := s.records()
	s.Equal(exportStart.Add(aicc.DefaultExportRetention), records[1].ExpiresAt)
	s.Equal(exportStart.Add(aicc.DefaultExportRetention), records[2].UpdatedAt)
}

// A WriteExport that fails for good ends the export failed with the error's code, after deleting what it wrote.
func (s *ExportSuite) TestWriteFailsForGood() {
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"too large", temporal.NewNonRetryableApplicationError("The selection now matches more than 100000 channels.",
			aicc.EEXPORTTOOLARGE, nil), aicc.EEXPORTTOOLARGE},
		// Retryable by itself, but the retry policy stops on NOT_FOUND: the export's row is gone.
		{"not found", temporal.NewApplicationError("The export does not exist.", aicc.ENOTFOUND), aicc.ENOTFOUND},
	} {
		s.Run(tc.name, func() {
			s.SetupTest()
			s.fail("WriteExport", tc.err)

			res := s.run(exportIn)

			s.Equal(workflows.ExportResult{Status: aicc.ExportFailed, ErrorCode: tc.code}, res)
			s.Equal([]string{"RecordExport@0s", "WriteExport@0s", "DeleteExportFiles@0s", "RecordExport@0s"}, s.names(),
				"not retried; the files are deleted, and nothing waits for a retention")
			records := s.records()
			s.Equal(aicc.ExportProgress{
				Status: aicc.ExportFailed, ErrorCode: tc.code, StartedAt: exportStart, FinishedAt: exportStart,
				UpdatedAt: exportStart,
			}, records[len(records)-1])
		})
	}
}

// An error that is no domain error (the storage is down) is retried; when the retries run out, the export is
// failed INTERNAL. A transient one that passes lets the export succeed.
func (s *ExportSuite) TestWriteFailsAfterRetries() {
	s.Run("retries run out", func() {
		s.SetupTest()
		errs := make([]error, 20)
		for i := range errs {
			errs[i] = errors.New("export storage exports/exp_1/channels-0001.csv: connection refused")
		}
		s.fail("WriteExport", errs...)

		res := s.run(exportIn)

		s.Equal(workflows.ExportResult{Status: aicc.ExportFailed, ErrorCode: aicc.EINTERNAL}, res)
		s.Equal(10, s.count("WriteExport"), "the retry policy's attempts")
		s.Equal(1, s.count("DeleteExportFiles"))
		records := s.records()
		last := records[len(records)-1]
		s.Equal(aicc.ExportFailed, last.Status)
		s.Equal(aicc.EINTERNAL, last.ErrorCode)
		s.Nil(last.Files)
		s.True(last.ExpiresAt.IsZero())
		s.True(last.FinishedAt.After(exportStart), "after the retries' back-off")
		s.Equal(last.FinishedAt, last.UpdatedAt)
	})

	s.Run("a transient error", func() {
		s.SetupTest()
		s.fail("WriteExport", errors.New("connection refused"), errors.New("connection refused"))

		res := s.run(exportIn)

		s.Equal(aicc.ExportExpired, res.Status)
		s.Equal(3, s.count("WriteExport"))
		s.Equal(aicc.ExportSuccess, s.records()[1].Status)
	})
}

// Cancelling while WriteExport runs stops it, and only once it stopped deletes the files; the export is
// recorded cancelled, and the Update answers cancelled once the files are deleted.
func (s *ExportSuite) TestCancelDuringWrite() {
	s.blockWrite = true
	var out *cancelOutcome
	s.whenClosed(time.Millisecond, s.writeStarted, func() { out = s.cancel("cancel-1", nil) })

	res := s.run(exportIn)

	s.Equal(aicc.ExportCancelled, res.Status)
	s.Empty(res.ErrorCode)
	s.Require().NotNil(out)
	s.True(out.accepted)
	s.NoError(out.rejected)
	s.True(out.done)
	s.NoError(out.err)
	s.Equal(aicc.ExportCancelled, out.status)

	s.Equal([]string{"RecordExport", "WriteExport", "cancelled:WriteExport", "DeleteExportFiles", "RecordExport"}, s.order(),
		"the files are deleted once WriteExport stopped writing them; no retention")
	cancelledAt := s.at("cancelled:WriteExport")
	s.Positive(cancelledAt)
	s.Equal(cancelledAt, s.at("DeleteExportFiles"))
	s.Contains(out.callsThen, "DeleteExportFiles@"+cancelledAt.String(), "answered once the files are deleted")
	records := s.records()
	// The first check for the running WriteExport may come before the workflow starts, and move its start.
	started, end := records[0].StartedAt, exportStart.Add(cancelledAt)
	s.False(started.Before(exportStart))
	s.True(end.After(started))
	s.Equal(aicc.ExportProgress{Status: aicc.ExportCancelled, StartedAt: started, FinishedAt: end, UpdatedAt: end},
		records[len(records)-1])
}

// Cancelling a successful export during its retention deletes its files at once and records it cancelled; it
// does not expire later.
func (s *ExportSuite) TestCancelDuringRetention() {
	var out *cancelOutcome
	s.env.RegisterDelayedCallback(func() { out = s.cancel("cancel-1", nil) }, time.Hour)

	res := s.run(exportIn)

	s.Equal(workflows.ExportResult{Status: aicc.ExportCancelled, Records: 2001}, res)
	s.Require().NotNil(out)
	s.True(out.done)
	s.NoError(out.err)
	s.Equal(aicc.ExportCancelled, out.status)
	s.Equal([]string{
		"RecordExport@0s", "WriteExport@0s", "RecordExport@0s", "DeleteExportFiles@1h0m0s", "RecordExport@1h0m0s",
	}, s.names())
	records := s.records()
	last := records[len(records)-1]
	s.Equal(aicc.ExportCancelled, last.Status)
	s.Nil(last.Files, "its files are gone")
	s.True(last.ExpiresAt.IsZero(), "it no longer expires")
	s.Equal(exportStart.Add(time.Hour), last.FinishedAt)
	s.Equal(exportStart.Add(time.Hour), last.UpdatedAt)
}

// A second cancel, while the first one deletes the files, is refused with CONFLICT by the validator.
func (s *ExportSuite) TestCancelWhenCancelled() {
	s.blockWrite, s.blockDelete = true, true
	var first, second *cancelOutcome
	s.whenClosed(time.Millisecond, s.writeStarted, func() { first = s.cancel("cancel-1", nil) })
	s.whenClosed(time.Millisecond, s.deleteStarted, func() {
		second = s.cancel("cancel-2", func() { close(s.deleteReleased) })
	})

	res := s.run(exportIn)

	s.Equal(aicc.ExportCancelled, res.Status)
	s.Require().NotNil(first)
	s.True(first.done)
	s.Equal(aicc.ExportCancelled, first.status)
	s.requireConflict(second, aicc.ExportCancelled)
	s.Equal(1, s.count("DeleteExportFiles"))
}

// A cancel that comes while the export ends otherwise (its files are being deleted because it expired or
// failed) is refused with CONFLICT: it cannot make the export cancelled any more, and accepting it would leave
// an Update waiting for a status that never comes, and the workflow waiting for the Update.
func (s *ExportSuite) TestCancelWhileEnding() {
	s.Run("expiring", func() {
		s.SetupTest()
		s.blockDelete = true
		var out *cancelOutcome
		s.whenClosed(exportIn.Retention+time.Millisecond, s.deleteStarted, func() {
			out = s.cancel("cancel-1", func() { close(s.deleteReleased) })
		})

		res := s.run(exportIn)

		s.Equal(aicc.ExportExpired, res.Status)
		s.requireConflict(out, aicc.ExportExpired)
		s.Equal([]string{"RecordExport", "WriteExport", "RecordExport", "DeleteExportFiles", "RecordExport"}, s.order())
		s.Equal(aicc.ExportExpired, s.records()[2].Status)
	})

	s.Run("failing", func() {
		s.SetupTest()
		s.blockDelete = true
		s.fail("WriteExport", temporal.NewNonRetryableApplicationError("Too large.", aicc.EEXPORTTOOLARGE, nil))
		var out *cancelOutcome
		s.whenClosed(time.Millisecond, s.deleteStarted, func() {
			out = s.cancel("cancel-1", func() { close(s.deleteReleased) })
		})

		res := s.run(exportIn)

		s.Equal(aicc.ExportFailed, res.Status)
		s.Equal(aicc.EEXPORTTOOLARGE, res.ErrorCode)
		s.requireConflict(out, aicc.ExportFailed)
		s.Equal([]string{"RecordExport", "WriteExport", "DeleteExportFiles", "RecordExport"}, s.order())
	})
}

// An invalid input fails the export with one INVALID error naming every problem, before any activity runs.
func (s *ExportSuite) TestInvalidInput() {
	s.env.ExecuteWorkflow(workflows.ExportWorkflowType, workflows.ExportInput{Retention: -time.Hour})

	s.Require().True(s.env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	s.Require().ErrorAs(s.env.GetWorkflowError(), &appErr)
	s.Equal(aicc.EINVALID, appErr.Type())
	s.True(appErr.NonRetryable())
	for _, want := range []string{"tenantId is required", "exportId is required", "retention must not be negative"} {
		s.Contains(appErr.Message(), want)
	}
	s.Equal(2, strings.Count(appErr.Message(), ";"), "one error for all three problems")
	s.Empty(s.names(), "no activity ran")
}
