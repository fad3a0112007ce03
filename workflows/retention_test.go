package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

var (
	retentionStart = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	retentionIn    = workflows.InboxRetentionInput{DeliveredAge: 30 * 24 * time.Hour, DeadAge: 90 * 24 * time.Hour}
)

// purgeCall is one PurgeInbox call: its input and when it ran, as virtual time since the start.
type purgeCall struct {
	in activities.PurgeInboxInput
	at time.Duration
}

// runRetention runs InboxRetention with in against a PurgeInbox that answers with results (or errs) in turn and
// then Done with nothing deleted; it returns the environment and the calls.
func runRetention(t *testing.T, in workflows.InboxRetentionInput, results []activities.PurgeInboxResult, errs ...error) (*testsuite.TestWorkflowEnvironment, *[]purgeCall) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.SetStartTime(retentionStart)
	env.RegisterWorkflowWithOptions(workflows.InboxRetention, workflow.RegisterOptions{Name: workflows.InboxRetentionWorkflowType})
	calls := &[]purgeCall{}
	env.OnActivity(a.PurgeInbox, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PurgeInboxInput) (activities.PurgeInboxResult, error) {
			*calls = append(*calls, purgeCall{in: in, at: env.Now().Sub(retentionStart)})
			if len(errs) > 0 {
				err := errs[0]
				errs = errs[1:]
				return activities.PurgeInboxResult{}, err
			}
			if len(results) == 0 {
				return activities.PurgeInboxResult{Batches: 1, Done: true}, nil
			}
			r := results[0]
			results = results[1:]
			return r, nil
		}).Maybe()
	env.ExecuteWorkflow(workflows.InboxRetentionWorkflowType, in)
	require.True(t, env.IsWorkflowCompleted())
	return env, calls
}

func TestInboxRetentionPurgesUntilAShortBatch(t *testing.T) {
	env, calls := runRetention(t, retentionIn, []activities.PurgeInboxResult{
		{Deleted: 100_000, Batches: 100}, {Deleted: 100_000, Batches: 100}, {Deleted: 1_234, Batches: 2, Done: true},
	})
	require.NoError(t, env.GetWorkflowError())
	var got workflows.InboxRetentionResult
	require.NoError(t, env.GetWorkflowResult(&got))
	cutoff, deadCutoff := retentionStart.Add(-30*24*time.Hour), retentionStart.Add(-90*24*time.Hour)
	require.Equal(t, workflows.InboxRetentionResult{
		DeliveredBefore: cutoff, DeadBefore: deadCutoff, Deleted: 201_234, Batches: 202, Runs: 1,
	}, got)
	want := activities.PurgeInboxInput{DeliveredBefore: cutoff, DeadBefore: deadCutoff, Batch: workflows.DefaultInboxPurgeBatch, Batches: 100}
	require.Len(t, *calls, 3)
	for _, c := range *calls {
		require.Equal(t, want, c.in, "the cut-offs stay as they were at the start")
	}
}

// A database that fails for a while is retried with backoff, in virtual time.
func TestInboxRetentionRetriesTheDatabase(t *testing.T) {
	env, calls := runRetention(t, workflows.InboxRetentionInput{DeliveredAge: time.Hour, DeadAge: 2 * time.Hour, Batch: 50},
		nil, errors.New("connection refused"), errors.New("connection refused"))
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, *calls, 3)
	require.Equal(t, 50, (*calls)[0].in.Batch)
	require.Equal(t, 3*time.Second, (*calls)[2].at, "retried after 1 s, then 2 s")
}

// A refused purge fails the run at once; the next scheduled run starts over.
func TestInboxRetentionFailsOnARefusal(t *testing.T) {
	refused := temporal.NewNonRetryableApplicationError("A purge needs a batch size.", aicc.EINVALID, nil)
	env, calls := runRetention(t, retentionIn, nil, refused)
	require.Error(t, env.GetWorkflowError())
	require.Len(t, *calls, 1)
}

// Past purgeCallsPerRun calls the workflow continues as new with its progress; the next run keeps the cut-offs
// of the first rather than moving them to its own start.
func TestInboxRetentionContinuesAsNew(t *testing.T) {
	full := make([]activities.PurgeInboxResult, 100)
	for i := range full {
		full[i] = activities.PurgeInboxResult{Deleted: 1000, Batches: 1}
	}
	env, calls := runRetention(t, retentionIn, full)
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	require.Equal(t, workflows.InboxRetentionWorkflowType, can.WorkflowType.Name)
	require.Len(t, *calls, 100)
	var next workflows.InboxRetentionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	cutoff, deadCutoff := retentionStart.Add(-30*24*time.Hour), retentionStart.Add(-90*24*time.Hour)
	require.Equal(t, &workflows.InboxRetentionResult{
		DeliveredBefore: cutoff, DeadBefore: deadCutoff, Deleted: 100_000, Batches: 100, Runs: 1,
	}, next.Progress)
	require.Equal(t, workflows.DefaultInboxPurgeBatch, next.Batch)

	env, calls = runRetention(t, next, []activities.PurgeInboxResult{{Deleted: 7, Batches: 1, Done: true}})
	require.NoError(t, env.GetWorkflowError())
	var got workflows.InboxRetentionResult
	require.NoError(t, env.GetWorkflowResult(&got))
	require.Equal(t, workflows.InboxRetentionResult{
		DeliveredBefore: cutoff, DeadBefore: deadCutoff, Deleted: 100_007, Batches: 101, Runs: 2,
	}, got)
	require.Equal(t, cutoff, (*calls)[0].in.DeliveredBefore)
}

func TestInboxRetentionRefusesABadInput(t *testing.T) {
	for _, in := range []workflows.InboxRetentionInput{
		{DeadAge: time.Hour},
		{DeliveredAge: time.Hour},
		{DeliveredAge: time.Hour, DeadAge: time.Hour, Batch: -1},
		{DeliveredAge: time.Hour, DeadAge: time.Hour, Batch: 10_001},
	} {
		env, calls := runRetention(t, in, nil)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, env.GetWorkflowError(), &appErr, "%+v", in)
		require.Equal(t, aicc.EINVALID, appErr.Type())
		require.Empty(t, *calls)
	}
}
