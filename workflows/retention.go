package workflows

import (
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// InboxRetention deletes the inbox events delivered more than in.DeliveredAge ago, and the dead letters and the
// webhook rejects (parts of webhook POSTs kept aside) older than in.DeadAge, never a pending event. The Temporal Schedule InboxRetentionScheduleID starts it every hour
// (EnsureInboxRetentionSchedule). It fixes both cut-offs when it starts, then calls PurgeInbox, which deletes
// in.Batch events per statement and heartbeats, until a statement deletes fewer than in.Batch; past
// purgeCallsPerRun calls it continues as new with its progress. It returns the totals.
func InboxRetention(ctx workflow.Context, in InboxRetentionInput) (InboxRetentionResult, error) {
	if err := invalidInput("inbox retention", nil,
		when(in.DeliveredAge <= 0, "deliveredAge must be positive"),
		when(in.DeadAge <= 0, "deadAge must be positive"),
		when(in.Batch < 0 || in.Batch > maxInboxPurgeBatch, "batch must be from 0 to 10000")); err != nil {
		return InboxRetentionResult{}, err
	}
	if in.Batch == 0 {
		in.Batch = DefaultInboxPurgeBatch
	}
	wf := &retentionImpl{in: in, logger: workflow.GetLogger(ctx)}
	wf.setup(ctx)
	return wf.res, wf.run(ctx)
}

// retentionImpl is the state of one InboxRetention run.
type retentionImpl struct {
	in     InboxRetentionInput
	logger log.Logger
	res    InboxRetentionResult
}

// setup takes the progress of the run this one continues, or fixes the cut-offs of a new purge.
func (wf *retentionImpl) setup(ctx workflow.Context) {
	if wf.in.Progress != nil {
		wf.res = *wf.in.Progress
	} else {
		now := workflow.Now(ctx)
		wf.res = InboxRetentionResult{DeliveredBefore: now.Add(-wf.in.DeliveredAge), DeadBefore: now.Add(-wf.in.DeadAge)}
	}
	wf.res.Runs++
}

// run purges until nothing older than the cut-offs is left, or continues as new.
func (wf *retentionImpl) run(ctx workflow.Context) error {
	var a *activities.Activities
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: purgeActivityTimeout,
		HeartbeatTimeout:    purgeHeartbeatTimeout,
		// A database that stays down fails the run, which the Web UI shows; the next scheduled run starts over.
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: purgeInitialRetryDelay, BackoffCoefficient: 2, MaximumInterval: purgeMaxRetryInterval,
			MaximumAttempts: purgeMaxAttempts, NonRetryableErrorTypes: []string{aicc.EINVALID},
		},
	})
	in := activities.PurgeInboxInput{
		DeliveredBefore: wf.res.DeliveredBefore, DeadBefore: wf.res.DeadBefore, Batch: wf.in.Batch, Batches: purgeBatchesPerCall,
	}
	for range purgeCallsPerRun {
		var r activities.PurgeInboxResult
		if err := workflow.ExecuteActivity(actx, a.PurgeInbox, in).Get(ctx, &r); err != nil {
			return err
		}
		wf.res.Deleted += r.Deleted
		wf.res.Batches += r.Batches
		if r.Done {
			wf.logger.Info("The inbox is purged", "Deleted", wf.res.Deleted, "DeliveredBefore", wf.res.DeliveredBefore,
				"DeadBefore", wf.res.DeadBefore)
			return nil
		}
	}
	next := wf.in
	progress := wf.res
	next.Progress = &progress
	return workflow.NewContinueAsNewError(ctx, InboxRetentionWorkflowType, next)
}
