package main

// The end-to-end test of inbox retention: the schedule a worker sets up, and a purge it starts, on the stack of
// e2e_test.go.

import (
	"context"
	"fmt"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// TestInboxRetentionEndToEnd: the schedule a starting worker sets up runs InboxRetention every hour with the
// configured ages; a worker with the same ages leaves it, one with other ages updates it (and an operator's pause
// stays); triggered, it deletes the old delivered events and the old dead letters and keeps the recent ones and
// every pending event, however old.
func TestInboxRetentionEndToEnd(t *testing.T) {
	s, _ := newStack(t)
	ctx := context.Background()
	cfg, err := ConfigFromEnv(env(map[string]string{"AICC_INBOX_RETENTION": "48h", "AICC_DEAD_LETTER_RETENTION": "96h"}))
	if err != nil {
		t.Fatal(err)
	}
	ensureInboxRetention(ctx, cfg, s.temporal, s.logger)
	h := s.temporal.ScheduleClient().GetHandle(ctx, workflows.InboxRetentionScheduleID)
	want := workflows.InboxRetentionInput{DeliveredAge: 48 * time.Hour, DeadAge: 96 * time.Hour, Batch: workflows.DefaultInboxPurgeBatch}
	desc := s.describeRetention(ctx, h, want)
	if got := desc.Schedule.Spec.Intervals; len(got) != 1 || got[0].Every != time.Hour {
		t.Errorf("schedule intervals = %+v, want every hour", got)
	}
	if p := desc.Schedule.Policy; p.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP {
		t.Errorf("overlap policy = %s, want skip", p.Overlap)
	}

	// Another worker with the same ages changes nothing; one with other ages updates the paused schedule.
	ensure := func(c Config) string {
		t.Helper()
		outcome, err := workflows.EnsureInboxRetentionSchedule(ctx, s.temporal, inboxRetentionSchedule(c))
		if err != nil {
			t.Fatalf("EnsureInboxRetentionSchedule: %v", err)
		}
		return outcome
	}
	if got := ensure(cfg); got != workflows.ScheduleUnchanged {
		t.Errorf("ensure with the same ages = %s, want %s", got, workflows.ScheduleUnchanged)
	}
	if err := h.Pause(ctx, client.SchedulePauseOptions{Note: "paused by an operator"}); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.InboxRetention = 72 * time.Hour
	if got := ensure(other); got != workflows.ScheduleUpdated {
		t.Errorf("ensure with other ages = %s, want %s", got, workflows.ScheduleUpdated)
	}
	changed := want
	changed.DeliveredAge = 72 * time.Hour
	if desc := s.describeRetention(ctx, h, changed); !desc.Schedule.State.Paused {
		t.Errorf("schedule state after the update = %+v, want it still paused", desc.Schedule.State)
	}
	if got := ensure(cfg); got != workflows.ScheduleUpdated {
		t.Errorf("ensure with the first ages again = %s, want %s", got, workflows.ScheduleUpdated)
	}
	if err := h.Unpause(ctx, client.ScheduleUnpauseOptions{}); err != nil {
		t.Fatal(err)
	}

	// The inbox: delivered 3 days and 1 hour ago, pending since 10 days, dead since 5 days and since now.
	now := time.Now().UTC()
	events := make([]aicc.InboxEvent, 6)
	for i := range events {
		events[i] = aicc.InboxEvent{
			TenantID: s.tenantID, ChannelID: "ch_retention", PageID: fakePageID, PSID: fakePSID, Kind: aicc.EventMessage,
			MID: fmt.Sprintf("m_%d", i), Timestamp: int64(i), DedupKey: fmt.Sprintf("mid:m_%d", i), Payload: []byte("{}"),
			ReceivedAt: now.Add(-10 * 24 * time.Hour),
		}
	}
	if _, err := s.store.StoreEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	oldDelivered, recent, pending, oldDead, newDead := events[0:2], events[2], events[3], events[4], events[5]
	if err := s.store.MarkDelivered(ctx, "e2e", []int64{oldDelivered[0].ID, oldDelivered[1].ID}, nil, now.Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.store.MarkDelivered(ctx, "e2e", []int64{recent.ID}, nil, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	for at, e := range map[time.Time]aicc.InboxEvent{now.Add(-120 * time.Hour): oldDead, now: newDead} {
		if _, err := s.store.DB().NewRaw("UPDATE inbox SET attempts = 1, dead_at = ? WHERE id = ?", at, e.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}

	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatalf("trigger: %v", err)
	}
	var run client.ScheduleWorkflowExecution
	eventually(t, 15*time.Second, "the triggered purge to start", func() bool {
		desc, err := h.Describe(ctx)
		if err != nil || len(desc.Info.RecentActions) == 0 || desc.Info.RecentActions[0].StartWorkflowResult == nil {
			return false
		}
		run = *desc.Info.RecentActions[0].StartWorkflowResult
		return true
	})
	var res workflows.InboxRetentionResult
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := s.temporal.GetWorkflow(wctx, run.WorkflowID, run.FirstExecutionRunID).Get(wctx, &res); err != nil {
		t.Fatalf("purge %s: %v", run.WorkflowID, err)
	}
	if res.Deleted != 3 || res.Runs != 1 || res.Batches != 1 {
		t.Errorf("purge result = %+v, want 3 deleted in 1 statement", res)
	}
	var left []int64
	if err := s.store.DB().NewSelect().TableExpr("inbox").Column("id").OrderExpr("id").Scan(ctx, &left); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint([]int64{recent.ID, pending.ID, newDead.ID}); fmt.Sprint(left) != want {
		t.Errorf("inbox IDs after the purge = %v, want %s (the recent, the pending and the new dead letter)", left, want)
	}
	s.recordHistory(ctx, run.WorkflowID, "inbox-retention-purge")
}

// describeRetention describes the retention schedule and checks that it starts InboxRetention on the task queue
// with want, decoded as the worker would.
func (s *stack) describeRetention(ctx context.Context, h client.ScheduleHandle, want workflows.InboxRetentionInput) *client.ScheduleDescription {
	s.t.Helper()
	desc, err := h.Describe(ctx)
	if err != nil {
		s.t.Fatalf("describe schedule %s: %v", workflows.InboxRetentionScheduleID, err)
	}
	a, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || a.Workflow != workflows.InboxRetentionWorkflowType || a.TaskQueue != workflows.TaskQueue || len(a.Args) != 1 {
		s.t.Fatalf("schedule action = %+v, want InboxRetention on %s with one input", desc.Schedule.Action, workflows.TaskQueue)
	}
	p, ok := a.Args[0].(*commonpb.Payload)
	if !ok {
		s.t.Fatalf("schedule input is a %T", a.Args[0])
	}
	var got workflows.InboxRetentionInput
	if err := s.codec.DataConverter().FromPayload(p, &got); err != nil {
		s.t.Fatalf("schedule input: %v", err)
	}
	if got != want {
		s.t.Errorf("schedule input = %+v, want %+v", got, want)
	}
	return desc
}
