package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// channelStore is a fake aicc.ChannelStore: it keeps the onboarding states it is given and fails with err.
// Methods the activities do not use panic through the nil embedded interface.
type channelStore struct {
	aicc.ChannelStore
	err        error
	onboarding map[string]aicc.Onboarding
}

func (s *channelStore) SetOnboarding(_ context.Context, channelID string, o aicc.Onboarding) error {
	if s.err != nil {
		return s.err
	}
	if s.onboarding == nil {
		s.onboarding = map[string]aicc.Onboarding{}
	}
	s.onboarding[channelID] = o
	return nil
}

func newEnv(t *testing.T, store *channelStore) (*testsuite.TestActivityEnvironment, *activities.Activities) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	acts := &activities.Activities{Channels: store, Now: func() time.Time { return time.Unix(1_700_000_000, 0).UTC() }}
	env.RegisterActivity(acts)
	return env, acts
}

func TestRecordOnboarding(t *testing.T) {
	store := &channelStore{}
	env, acts := newEnv(t, store)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	want := aicc.Onboarding{
		Status:     aicc.StatusVerified,
		Step:       "await_confirmation",
		VerifiedAt: at,
		UpdatedAt:  at,
	}

	_, err := env.ExecuteActivity(acts.RecordOnboarding, activities.RecordOnboardingInput{ChannelID: "ch_1", Onboarding: want})
	require.NoError(t, err)

	got, ok := store.onboarding["ch_1"]
	require.True(t, ok)
	assert.Equal(t, want.Status, got.Status)
	assert.Equal(t, want.Step, got.Step)
	assert.True(t, want.VerifiedAt.Equal(got.VerifiedAt))
	assert.True(t, want.UpdatedAt.Equal(got.UpdatedAt))
	assert.True(t, got.ActivatedAt.IsZero())

	// Idempotent: the same write again is the same state.
	_, err = env.ExecuteActivity(acts.RecordOnboarding, activities.RecordOnboardingInput{ChannelID: "ch_1", Onboarding: want})
	require.NoError(t, err)
	assert.Len(t, store.onboarding, 1)
}

func TestRecordOnboardingStoreError(t *testing.T) {
	t.Run("transient", func(t *testing.T) {
		env, acts := newEnv(t, &channelStore{err: errors.New("database is down")})
		_, err := env.ExecuteActivity(acts.RecordOnboarding, activities.RecordOnboardingInput{ChannelID: "ch_1"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "database is down")
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			assert.False(t, appErr.NonRetryable(), "a database outage is retried")
		}
	})

	t.Run("domain", func(t *testing.T) {
		env, acts := newEnv(t, &channelStore{err: aicc.Errorf(aicc.ENOTFOUND, "The channel does not exist.")})
		_, err := env.ExecuteActivity(acts.RecordOnboarding, activities.RecordOnboardingInput{ChannelID: "ch_1"})
		require.Error(t, err)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, aicc.ENOTFOUND, appErr.Type(), "typed with the code, so the call site can stop retrying")
		assert.Equal(t, "The channel does not exist.", appErr.Message())
	})

	t.Run("channel being deleted", func(t *testing.T) {
		env, acts := newEnv(t, &channelStore{err: aicc.Errorf(aicc.ECHANNELDELETING, "The channel is being deleted.")})
		_, err := env.ExecuteActivity(acts.RecordOnboarding, activities.RecordOnboardingInput{ChannelID: "ch_1"})
		assert.NoError(t, err, "the deletion ends the onboarding: nothing to record, nothing to retry")
	})
}

// A refusal is an expected business outcome, benign to the SDK (no ERROR line, no failure metric), unless it
// is an internal error; either way it is not retried and keeps the code and the safe message.
func TestNonRetryableIsBenignUnlessInternal(t *testing.T) {
	for code, benign := range map[string]bool{
		aicc.EMETATOKENINVALID: true, aicc.ECHANNELDELETING: true, aicc.EINVALID: true, aicc.EINTERNAL: false,
	} {
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, activities.NonRetryable(aicc.Errorf(code, "why")), &appErr)
		assert.Equal(t, code, appErr.Type())
		assert.Equal(t, "why", appErr.Message())
		assert.True(t, appErr.NonRetryable(), code)
		assert.Equal(t, benign, appErr.Category() == temporal.ApplicationErrorCategoryBenign, code)
	}
	plain := errors.New("database down")
	assert.Same(t, plain, activities.NonRetryable(plain), "an error without a code is left as it is, to be retried")
}
