package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// purgeStore is a fake aicc.InboxStore holding old events to purge; it records the calls and fails with err.
type purgeStore struct {
	aicc.InboxStore
	old   int
	err   error
	calls []purgeCall
}

type purgeCall struct {
	deliveredBefore, deadBefore time.Time
	limit                       int
}

func (s *purgeStore) PurgeInbox(_ context.Context, deliveredBefore, deadBefore time.Time, limit int) (int, error) {
	s.calls = append(s.calls, purgeCall{deliveredBefore, deadBefore, limit})
	if s.err != nil {
		return 0, s.err
	}
	n := min(s.old, limit)
	s.old -= n
	return n, nil
}

func purgeEnv(store *purgeStore) (*testsuite.TestActivityEnvironment, *activities.Activities) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	acts := &activities.Activities{Inbox: store}
	env.RegisterActivity(acts)
	return env, acts
}

func TestPurgeInbox(t *testing.T) {
	cutoff, deadCutoff := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	in := activities.PurgeInboxInput{DeliveredBefore: cutoff, DeadBefore: deadCutoff, Batch: 2, Batches: 3}
	purge := func(t *testing.T, store *purgeStore, in activities.PurgeInboxInput) activities.PurgeInboxResult {
		t.Helper()
		env, acts := purgeEnv(store)
		v, err := env.ExecuteActivity(acts.PurgeInbox, in)
		require.NoError(t, err)
		var got activities.PurgeInboxResult
		require.NoError(t, v.Get(&got))
		return got
	}

	t.Run("until a batch is short", func(t *testing.T) {
		store := &purgeStore{old: 5}
		require.Equal(t, activities.PurgeInboxResult{Deleted: 5, Batches: 3, Done: true}, purge(t, store, in))
		require.Equal(t, []purgeCall{{cutoff, deadCutoff, 2}, {cutoff, deadCutoff, 2}, {cutoff, deadCutoff, 2}}, store.calls)
	})
	t.Run("an empty batch ends it", func(t *testing.T) {
		store := &purgeStore{old: 4}
		require.Equal(t, activities.PurgeInboxResult{Deleted: 4, Batches: 3, Done: true}, purge(t, store, in))
	})
	t.Run("at most Batches statements", func(t *testing.T) {
		store := &purgeStore{old: 10}
		require.Equal(t, activities.PurgeInboxResult{Deleted: 6, Batches: 3}, purge(t, store, in))
		require.Equal(t, 4, store.old)
	})
	t.Run("a retry goes on from its heartbeat", func(t *testing.T) {
		store := &purgeStore{old: 10}
		env, acts := purgeEnv(store)
		env.SetHeartbeatDetails(activities.PurgeInboxResult{Deleted: 4, Batches: 2})
		v, err := env.ExecuteActivity(acts.PurgeInbox, in)
		require.NoError(t, err)
		var got activities.PurgeInboxResult
		require.NoError(t, v.Get(&got))
		require.Equal(t, activities.PurgeInboxResult{Deleted: 6, Batches: 3}, got)
		require.Len(t, store.calls, 1)
	})
	t.Run("a database error is retried", func(t *testing.T) {
		store := &purgeStore{err: errors.New("db: purge inbox: connection refused")}
		env, acts := purgeEnv(store)
		_, err := env.ExecuteActivity(acts.PurgeInbox, in)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		require.False(t, appErr.NonRetryable())
	})
	t.Run("an input without bounds is refused", func(t *testing.T) {
		for _, bad := range []activities.PurgeInboxInput{{Batch: 0, Batches: 1}, {Batch: 1, Batches: 0}} {
			store := &purgeStore{old: 1}
			env, acts := purgeEnv(store)
			_, err := env.ExecuteActivity(acts.PurgeInbox, bad)
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			require.True(t, appErr.NonRetryable())
			require.Equal(t, aicc.EINVALID, appErr.Type())
			require.Empty(t, store.calls)
		}
	})
}
