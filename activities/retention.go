package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/aiccfb/aicc"
)

// PurgeInboxInput says which inbox events PurgeInbox deletes, and how many at a time.
type PurgeInboxInput struct {
	// DeliveredBefore: the events delivered before it are deleted. DeadBefore: the dead letters that became dead
	// before it, and the webhook rejects received before it. A zero time deletes none of its kind.
	DeliveredBefore time.Time
	DeadBefore      time.Time
	// Batch is the most events one statement deletes; Batches is the most statements one call runs.
	Batch   int
	Batches int
}

// PurgeInboxResult is what a PurgeInbox call deleted.
type PurgeInboxResult struct {
	Deleted int
	Batches int  // statements run
	Done    bool // the last statement deleted fewer than Batch: nothing older is left
}

// PurgeInbox deletes old delivered events, old dead letters and old webhook rejects, in.Batch at a time, until a
// statement deletes fewer than in.Batch (Done) or in.Batches statements have run. It never deletes a pending
// event. It heartbeats its totals after each statement, and an attempt after a retry goes on from the last
// heartbeat: what was deleted stays deleted, and the count and the bound on statements carry over.
func (a *Activities) PurgeInbox(ctx context.Context, in PurgeInboxInput) (PurgeInboxResult, error) {
	if in.Batch <= 0 || in.Batches <= 0 {
		return PurgeInboxResult{}, NonRetryable(aicc.Errorf(aicc.EINVALID, "A purge needs a batch size and a number of batches."))
	}
	var res PurgeInboxResult
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &res); err != nil {
			return PurgeInboxResult{}, err
		}
	}
	for !res.Done && res.Batches < in.Batches {
		n, err := a.Inbox.PurgeInbox(ctx, in.DeliveredBefore, in.DeadBefore, in.Batch)
		if err != nil {
			return PurgeInboxResult{}, domainError(err)
		}
		res.Deleted += n
		res.Batches++
		res.Done = n < in.Batch
		activity.RecordHeartbeat(ctx, res)
	}
	return res, nil
}
