package activities_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// deletionStore is a fake aicc.ChannelStore for the deletion's activities: channels by ID with their tenant and
// status, and their Pages. Methods the activities do not use panic through the nil embedded interface.
type deletionStore struct {
	aicc.ChannelStore
	mu       sync.Mutex
	channels map[string]*aicc.Channel
	pages    map[string][]string // Page IDs by channel ID
	markedAt time.Time
	listed   []aicc.ListOptions
	deleted  []string
	err      error // returned by every method when set
}

func newDeletionStore() *deletionStore {
	return &deletionStore{
		channels: map[string]*aicc.Channel{"ch_1": {ID: "ch_1", TenantID: "ten_1", Onboarding: aicc.Onboarding{Status: aicc.StatusActive}}},
		pages:    map[string][]string{"ch_1": {"111", "222"}},
	}
}

func (s *deletionStore) MarkChannelDeleting(_ context.Context, channelID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	ch, ok := s.channels[channelID]
	if !ok {
		return notFound("channel")
	}
	ch.Onboarding.Status, s.markedAt = aicc.StatusDeleting, at
	return nil
}

func (s *deletionStore) ListPages(_ context.Context, tenantID, channelID string, opt aicc.ListOptions) ([]*aicc.Page, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listed = append(s.listed, opt)
	if s.err != nil {
		return nil, "", s.err
	}
	if ch, ok := s.channels[channelID]; !ok || ch.TenantID != tenantID {
		return nil, "", notFound("channel")
	}
	var out []*aicc.Page
	next := ""
	for i, id := range s.pages[channelID] {
		if i == opt.Limit {
			next = "more"
			break
		}
		out = append(out, &aicc.Page{PageID: id, ChannelID: channelID, TenantID: tenantID})
	}
	return out, next, nil
}

func (s *deletionStore) DeleteChannel(_ context.Context, tenantID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if ch, ok := s.channels[id]; !ok || ch.TenantID != tenantID {
		return notFound("channel")
	}
	delete(s.channels, id)
	delete(s.pages, id)
	s.deleted = append(s.deleted, id)
	return nil
}

func deletionEnv(t *testing.T, store *deletionStore) (*testsuite.TestActivityEnvironment, *activities.Activities) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	acts := &activities.Activities{Channels: store, Now: func() time.Time { return testNow }}
	env.RegisterActivity(acts)
	return env, acts
}

var channelIn = activities.ChannelInput{TenantID: "ten_1", ChannelID: "ch_1"}

// assertRetried asserts that err is what a database outage gives: an error the workflow retries.
func assertRetried(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "database is down")
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		assert.False(t, appErr.NonRetryable(), "a database outage is retried")
	}
}

func TestMarkChannelDeleting(t *testing.T) {
	store := newDeletionStore()
	env, acts := deletionEnv(t, store)

	for range 2 { // idempotent
		_, err := env.ExecuteActivity(acts.MarkChannelDeleting, channelIn)
		require.NoError(t, err)
	}
	assert.Equal(t, aicc.StatusDeleting, store.channels["ch_1"].Onboarding.Status)
	assert.True(t, testNow.Equal(store.markedAt))

	t.Run("gone", func(t *testing.T) {
		env, acts := deletionEnv(t, newDeletionStore())
		_, err := env.ExecuteActivity(acts.MarkChannelDeleting, activities.ChannelInput{TenantID: "ten_1", ChannelID: "ch_2"})
		appError(t, err, aicc.ENOTFOUND, false) // the deletion's call site stops on it: nothing to delete
	})

	t.Run("database down", func(t *testing.T) {
		store := newDeletionStore()
		store.err = errors.New("database is down")
		env, acts := deletionEnv(t, store)
		_, err := env.ExecuteActivity(acts.MarkChannelDeleting, channelIn)
		assertRetried(t, err)
	})
}

func TestChannelPageIDs(t *testing.T) {
	ids := func(t *testing.T, store *deletionStore) []string {
		t.Helper()
		env, acts := deletionEnv(t, store)
		v, err := env.ExecuteActivity(acts.ChannelPageIDs, channelIn)
		require.NoError(t, err)
		var got []string
		require.NoError(t, v.Get(&got))
		return got
	}

	t.Run("pages", func(t *testing.T) {
		assert.Equal(t, []string{"111", "222"}, ids(t, newDeletionStore()))
	})

	t.Run("none", func(t *testing.T) {
		store := newDeletionStore()
		store.pages = nil
		assert.Empty(t, ids(t, store))
	})

	// The deletion removes the Pages it got and asks again: one answer holds at most one list page.
	t.Run("many", func(t *testing.T) {
		store := newDeletionStore()
		store.pages["ch_1"] = nil
		for i := range aicc.MaxListLimit + 50 {
			store.pages["ch_1"] = append(store.pages["ch_1"], fmt.Sprint(100000+i))
		}
		got := ids(t, store)
		assert.Len(t, got, aicc.MaxListLimit)
		assert.Equal(t, "100000", got[0])
		assert.Equal(t, []aicc.ListOptions{{Limit: aicc.MaxListLimit}}, store.listed)
	})

	t.Run("another tenant", func(t *testing.T) {
		env, acts := deletionEnv(t, newDeletionStore())
		_, err := env.ExecuteActivity(acts.ChannelPageIDs, activities.ChannelInput{TenantID: "ten_2", ChannelID: "ch_1"})
		appError(t, err, aicc.ENOTFOUND, false)
	})

	t.Run("database down", func(t *testing.T) {
		store := newDeletionStore()
		store.err = errors.New("database is down")
		env, acts := deletionEnv(t, store)
		_, err := env.ExecuteActivity(acts.ChannelPageIDs, channelIn)
		assertRetried(t, err)
	})
}

func TestDeleteChannel(t *testing.T) {
	store := newDeletionStore()
	env, acts := deletionEnv(t, store)

	// A channel that is gone already counts as deleted: a retry after the delete succeeds.
	for range 2 {
		_, err := env.ExecuteActivity(acts.DeleteChannel, channelIn)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{"ch_1"}, store.deleted)
	assert.NotContains(t, store.channels, "ch_1")

	t.Run("another tenant's channel is not deleted", func(t *testing.T) {
		store := newDeletionStore()
		env, acts := deletionEnv(t, store)
		_, err := env.ExecuteActivity(acts.DeleteChannel, activities.ChannelInput{TenantID: "ten_2", ChannelID: "ch_1"})
		require.NoError(t, err)
		assert.Contains(t, store.channels, "ch_1")
		assert.Empty(t, store.deleted)
	})

	t.Run("refused", func(t *testing.T) {
		store := newDeletionStore()
		store.err = aicc.Errorf(aicc.EINUSE, "The channel is referenced.")
		env, acts := deletionEnv(t, store)
		_, err := env.ExecuteActivity(acts.DeleteChannel, channelIn)
		appErr := appError(t, err, aicc.EINUSE, false)
		assert.Equal(t, "The channel is referenced.", appErr.Message())
	})

	t.Run("database down", func(t *testing.T) {
		store := newDeletionStore()
		store.err = errors.New("database is down")
		env, acts := deletionEnv(t, store)
		_, err := env.ExecuteActivity(acts.DeleteChannel, channelIn)
		assertRetried(t, err)
	})
}
