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

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// fakeClock is a pacer's clock that only moves when the pacer sleeps, so that tests count calls per second of
// fake time and never depend on how fast the machine is.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func pacerOn(clock *fakeClock, perSecond float64) *activities.Pacer {
	p := activities.NewPacer(perSecond)
	p.Now, p.Sleep = clock.Now, clock.Sleep
	return p
}

// The first second of fake time lets the burst and one second's rate through, and no more.
func TestPacerRate(t *testing.T) {
	clock := newFakeClock()
	p := pacerOn(clock, 10)
	start := clock.Now()
	inFirstSecond := 0
	for range 50 {
		require.NoError(t, p.Wait(t.Context(), "p1"))
		if clock.Now().Sub(start) <= time.Second {
			inFirstSecond++
		}
	}
	assert.Equal(t, 20, inFirstSecond, "a burst of 10, then 10 a second")
	assert.InDelta(t, 4*time.Second, clock.Now().Sub(start), float64(time.Millisecond), "40 calls beyond the burst at 10/s")
	assert.Len(t, clock.slept, 40, "every call beyond the burst waits its turn")
	for _, d := range clock.slept {
		assert.InDelta(t, 100*time.Millisecond, d, float64(time.Millisecond))
	}

	// A Page of its own has a bucket of its own.
	before := clock.Now()
	for range 10 {
		require.NoError(t, p.Wait(t.Context(), "p2"))
	}
	assert.Equal(t, before, clock.Now(), "p2's burst is whole")

	// After a quiet second the bucket is full again.
	clock.advance(time.Second)
	before = clock.Now()
	for range 10 {
		require.NoError(t, p.Wait(t.Context(), "p1"))
	}
	assert.Equal(t, before, clock.Now())
}

func TestPacerDefaults(t *testing.T) {
	assert.EqualValues(t, activities.DefaultSendRate, activities.NewPacer(0).Rate())
	assert.EqualValues(t, activities.DefaultSendRate, activities.NewPacer(-1).Rate())
	assert.EqualValues(t, 0.5, activities.NewPacer(0.5).Rate())

	clock := newFakeClock()
	p := pacerOn(clock, activities.DefaultSendRate)
	for range activities.DefaultSendRate {
		require.NoError(t, p.Wait(t.Context(), "p1"))
	}
	assert.Empty(t, clock.slept, "300 calls at once: Meta's budget for a second")
	require.NoError(t, p.Wait(t.Context(), "p1"))
	assert.Len(t, clock.slept, 1)

	// A rate below one a second still lets one call through at once.
	clock = newFakeClock()
	p = pacerOn(clock, 0.5)
	require.NoError(t, p.Wait(t.Context(), "p1"))
	require.NoError(t, p.Wait(t.Context(), "p1"))
	assert.Equal(t, []time.Duration{2 * time.Second}, clock.slept)

	var nilPacer *activities.Pacer
	assert.NoError(t, nilPacer.Wait(t.Context(), "p1"), "a nil pacer paces nothing")
	nilPacer.Hold("p1", time.Hour)
	assert.Zero(t, nilPacer.Pages())
}

// A Wait that cannot have its turn in time fails at once, or when its context ends, and gives its token back.
func TestPacerContext(t *testing.T) {
	// From the real time: the deadlines below are real ones still ahead, so that only the pacer's own check
	// refuses a turn, before it sleeps.
	clock := &fakeClock{now: time.Now()}
	p := pacerOn(clock, 1)
	require.NoError(t, p.Wait(t.Context(), "p1")) // the burst

	ctx, cancel := context.WithDeadline(t.Context(), clock.Now().Add(500*time.Millisecond))
	defer cancel()
	assert.ErrorIs(t, p.Wait(ctx, "p1"), context.DeadlineExceeded, "its turn is in 1s, after the deadline")

	// A turn in time, but too late for the call after it.
	p.CallTime = 10 * time.Second
	ctx, cancel = context.WithDeadline(t.Context(), clock.Now().Add(5*time.Second))
	defer cancel()
	assert.ErrorIs(t, p.Wait(ctx, "p1"), context.DeadlineExceeded, "its turn is in 1s, and the call may take 10s more")
	p.CallTime = 0

	cancelled, cancelNow := context.WithCancel(t.Context())
	cancelNow()
	assert.ErrorIs(t, p.Wait(cancelled, "p1"), context.Canceled)
	assert.Empty(t, clock.slept)

	require.NoError(t, p.Wait(t.Context(), "p1"))
	assert.Equal(t, []time.Duration{time.Second}, clock.slept, "the tokens given back: the next call waits 1s, not 3s")
}

// Meta's rate limit holds a Page: its calls fail at once with what is left of the hold, others go on.
func TestPacerHold(t *testing.T) {
	clock := newFakeClock()
	p := pacerOn(clock, 10)
	p.Hold("p1", 3*time.Minute)
	p.Hold("p1", time.Minute) // a shorter hold does not shorten it

	err := p.Wait(t.Context(), "p1")
	var ge *aicc.GraphError
	require.True(t, errors.As(err, &ge))
	assert.Equal(t, aicc.EMETARATELIMITED, aicc.ErrorCode(err))
	assert.True(t, ge.Retryable)
	assert.Equal(t, 3*time.Minute, ge.RetryAfter)
	require.NoError(t, p.Wait(t.Context(), "p2"))

	clock.advance(2 * time.Minute)
	require.True(t, errors.As(p.Wait(t.Context(), "p1"), &ge))
	assert.Equal(t, time.Minute, ge.RetryAfter)

	clock.advance(time.Minute)
	require.NoError(t, p.Wait(t.Context(), "p1"))
	assert.Empty(t, clock.slept, "the hold spent no tokens")
}

// The pacer forgets the least recently used Page beyond MaxPages.
func TestPacerBounded(t *testing.T) {
	clock := newFakeClock()
	p := pacerOn(clock, 1)
	p.MaxPages = 3
	for i := range 10 {
		require.NoError(t, p.Wait(t.Context(), fmt.Sprint("p", i)))
	}
	assert.Equal(t, 3, p.Pages())

	// p9 is among the kept ones: its bucket is spent. p0 was forgotten: it starts afresh.
	require.NoError(t, p.Wait(t.Context(), "p9"))
	assert.Len(t, clock.slept, 1)
	require.NoError(t, p.Wait(t.Context(), "p0"))
	assert.Len(t, clock.slept, 1)
	assert.Equal(t, 3, p.Pages())
}
