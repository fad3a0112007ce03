package workflows

import (
	"fmt"
	"time"
)

// InboxRetentionWorkflowType is the name InboxRetention is registered under; its schedule starts it by this name.
const InboxRetentionWorkflowType = "InboxRetention"

// InboxRetentionScheduleID is the ID of the Temporal Schedule that starts InboxRetention, and the ID of the
// workflows it starts, to which Temporal appends the scheduled time (inbox-retention-2026-12-01T10:00:00Z).
const InboxRetentionScheduleID = "inbox-retention"

// DefaultInboxRetentionEvery is how often the schedule starts InboxRetention unless told otherwise.
const DefaultInboxRetentionEvery = time.Hour

// DefaultInboxPurgeBatch is how many events one statement of the purge deletes unless told otherwise: enough
// that a purge is quick, few enough that each statement holds its locks for milliseconds.
const DefaultInboxPurgeBatch = 1000

// maxInboxPurgeBatch bounds the events one statement deletes.
const maxInboxPurgeBatch = 10_000

// InboxRetentionInput starts (or continues as new) an inbox purge. The ages are from the configuration
// (AICC_INBOX_RETENTION, AICC_DEAD_LETTER_RETENTION), and the schedule carries them.
type InboxRetentionInput struct {
	DeliveredAge time.Duration // delivered events older than this are deleted
	DeadAge      time.Duration // dead letters and webhook rejects older than this are deleted
	Batch        int           // events one statement deletes; 0 means DefaultInboxPurgeBatch
	// Progress is the purge so far when the workflow continues as new; nil when the schedule starts it.
	Progress *InboxRetentionResult
}

// summary describes the input in a line, which the schedule shows in the Web UI and by which
// EnsureInboxRetentionSchedule tells whether an existing schedule carries the same input.
func (in InboxRetentionInput) summary() string {
	return fmt.Sprintf("Deletes the inbox events delivered over %s ago, and the dead letters and webhook rejects over %s old, %d at a time.",
		in.DeliveredAge, in.DeadAge, in.Batch)
}

// InboxRetentionResult is what a purge deleted: its totals over every run, and the cut-offs it deleted before,
// fixed when it started.
type InboxRetentionResult struct {
	DeliveredBefore time.Time
	DeadBefore      time.Time
	Deleted         int
	Batches         int // statements run
	Runs            int // this one and the ones it continued from
}

// The bounds of one purge run: PurgeInbox runs at most purgeBatchesPerCall statements per call, and a run makes
// at most purgeCallsPerRun calls (ten million events at the default batch) before it continues as new, which
// keeps its history to a few hundred events.
const (
	purgeBatchesPerCall    = 100
	purgeCallsPerRun       = 100
	purgeActivityTimeout   = 10 * time.Minute
	purgeHeartbeatTimeout  = time.Minute
	purgeMaxAttempts       = 10
	purgeMaxRetryInterval  = time.Minute
	purgeInitialRetryDelay = time.Second
)
