package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"

	"github.com/aiccfb/aicc"
)

// timings collects the durations of one kind of call, and how many items each carried, until taken.
type timings struct {
	mu    sync.Mutex
	d     []time.Duration
	items int
}

// add records one call.
func (t *timings) add(d time.Duration, items int) {
	t.mu.Lock()
	t.d = append(t.d, d)
	t.items += items
	t.mu.Unlock()
}

// take returns the summary of the calls recorded since the last take, and forgets them.
func (t *timings) take() timingSummary {
	t.mu.Lock()
	d, items := t.d, t.items
	t.d, t.items = nil, 0
	t.mu.Unlock()
	return summarizeTimings(d, items)
}

// timingSummary sums up the calls of one kind.
type timingSummary struct {
	n, items          int
	total             time.Duration
	p50, p99, longest time.Duration
}

// summarizeTimings sums up the durations d of calls that carried items in all.
func summarizeTimings(d []time.Duration, items int) timingSummary {
	s := timingSummary{n: len(d), items: items}
	d = slices.Clone(d)
	slices.Sort(d)
	for _, x := range d {
		s.total += x
	}
	s.p50, s.p99, s.longest = percentile(d, 50), percentile(d, 99), percentile(d, 100)
	return s
}

func (s timingSummary) String() string {
	if s.n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d, %.1f items each, mean %s, p50 %s, p99 %s, max %s, %.1f s in all", s.n,
		float64(s.items)/float64(s.n), ms(s.total/time.Duration(s.n)), ms(s.p50), ms(s.p99), ms(s.longest), s.total.Seconds())
}

// timedInbox is the dispatcher's inbox with its claims and marks timed.
type timedInbox struct {
	aicc.InboxStore
	claims, marks timings
}

// ClaimConversations times the claim and counts the events it returned.
func (t *timedInbox) ClaimConversations(ctx context.Context, owner string, limit, perConversation int, lease time.Duration) ([]aicc.InboxEvent, error) {
	start := time.Now()
	events, err := t.InboxStore.ClaimConversations(ctx, owner, limit, perConversation, lease)
	t.claims.add(time.Since(start), len(events))
	return events, err
}

// MarkDelivered times the mark and counts the events it marked.
func (t *timedInbox) MarkDelivered(ctx context.Context, owner string, ids []int64, release []aicc.ConversationKey, at time.Time) error {
	start := time.Now()
	err := t.InboxStore.MarkDelivered(ctx, owner, ids, release, at)
	t.marks.add(time.Since(start), len(ids))
	return err
}

// signalTimer is a client interceptor that times every signal-with-start of the client, the floor's and the
// dispatcher's.
type signalTimer struct {
	interceptor.ClientInterceptorBase
	timings
}

// InterceptClient implements interceptor.ClientInterceptor.
func (s *signalTimer) InterceptClient(next interceptor.ClientOutboundInterceptor) interceptor.ClientOutboundInterceptor {
	return &signalTimerOutbound{ClientOutboundInterceptorBase: interceptor.ClientOutboundInterceptorBase{Next: next}, t: &s.timings}
}

type signalTimerOutbound struct {
	interceptor.ClientOutboundInterceptorBase
	t *timings
}

// SignalWithStartWorkflow times the call.
func (o *signalTimerOutbound) SignalWithStartWorkflow(ctx context.Context, in *interceptor.ClientSignalWithStartWorkflowInput) (client.WorkflowRun, error) {
	start := time.Now()
	run, err := o.Next.SignalWithStartWorkflow(ctx, in)
	o.t.add(time.Since(start), 1)
	return run, err
}
