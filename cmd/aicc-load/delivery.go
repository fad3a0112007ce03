package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/workflows"
)

// delivery is one stored event of a phase as the inbox has it.
type delivery struct {
	conv        convKey
	receivedAt  time.Time
	deliveredAt time.Time // zero while pending
	dead        bool
}

// convKey is a conversation of the run's channel.
type convKey struct{ page, psid string }

// readDeliveries reads the phase's events (message IDs starting with midPrefix) of the channel from the inbox.
func readDeliveries(ctx context.Context, store *db.Store, channelID, midPrefix string) ([]delivery, error) {
	var rows []struct {
		MID         string       `bun:"mid"`
		PageID      string       `bun:"page_id"`
		PSID        string       `bun:"psid"`
		ReceivedAt  time.Time    `bun:"received_at"`
		DeliveredAt bun.NullTime `bun:"delivered_at"`
		DeadAt      bun.NullTime `bun:"dead_at"`
	}
	err := store.DB().NewSelect().Table("inbox").Column("mid", "page_id", "psid", "received_at", "delivered_at", "dead_at").
		Where("channel_id = ?", channelID).Where("mid LIKE ?", midPrefix+"%").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	out := make([]delivery, 0, len(rows))
	for _, r := range rows {
		if !strings.HasPrefix(r.MID, midPrefix) { // LIKE's _ matches any character
			continue
		}
		out = append(out, delivery{
			conv: convKey{r.PageID, r.PSID}, receivedAt: r.ReceivedAt, deliveredAt: r.DeliveredAt.Time, dead: !r.DeadAt.IsZero(),
		})
	}
	return out, nil
}

// modelCounts reads the read model's MessageCount of the channel's conversations.
func modelCounts(ctx context.Context, store *db.Store, channelID string) (map[convKey]int, error) {
	var rows []struct {
		PageID       string `bun:"page_id"`
		PSID         string `bun:"psid"`
		MessageCount int    `bun:"message_count"`
	}
	err := store.DB().NewSelect().Table("conversations").Column("page_id", "psid", "message_count").
		Where("channel_id = ?", channelID).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read conversations: %w", err)
	}
	out := make(map[convKey]int, len(rows))
	for _, r := range rows {
		out[convKey{r.PageID, r.PSID}] = r.MessageCount
	}
	return out, nil
}

// waitApplied polls the read model until every conversation of the phase counts exactly its events, or until
// timeout; it returns the last comparison and when it matched (zero if it never did).
func waitApplied(ctx context.Context, store *db.Store, channelID string, want map[convKey]int, timeout time.Duration) (modelCheck, time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		got, err := modelCounts(ctx, store, channelID)
		if err != nil {
			return modelCheck{}, time.Time{}, err
		}
		c := compareModel(want, got)
		if c.ok() {
			return c, time.Now(), nil
		}
		if time.Now().After(deadline) {
			return c, time.Time{}, nil
		}
		select {
		case <-ctx.Done():
			return c, time.Time{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stateCheck is what the conversations' workflows said of themselves, for a sample of the phase's conversations.
type stateCheck struct {
	queried    int
	failed     int // the query failed
	wrongCount int // MessageCount is not the conversation's number of events
	late       int // conversations with LateEvents > 0
	lateEvents int // their LateEvents, summed
}

func (c stateCheck) ok() bool { return c.failed == 0 && c.wrongCount == 0 && c.late == 0 }

func (c stateCheck) String() string {
	verdict := "OK"
	if !c.ok() {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s: %d workflows queried, %d failed, %d with a wrong MessageCount, %d with LateEvents > 0 (%d events)",
		verdict, c.queried, c.failed, c.wrongCount, c.late, c.lateEvents)
}

// queryStates asks the workflows of up to n of the conversations in want (every k-th, in a fixed order) for
// their state, and checks MessageCount against want and LateEvents against zero.
func (s *stack) queryStates(ctx context.Context, want map[convKey]int, n int) stateCheck {
	var c stateCheck
	for _, k := range sample(sortedKeys(want), n) {
		var st workflows.ConversationState
		id := workflows.ConversationWorkflowID(s.self.channel, k.page, k.psid)
		v, err := s.temporal.QueryWorkflow(ctx, id, "", workflows.QueryConversation)
		if err == nil {
			err = v.Get(&st)
		}
		c.queried++
		switch {
		case err != nil:
			c.failed++
			s.logger.Warn("query conversation", "WorkflowID", id, "Error", err)
			continue
		case st.Conversation.MessageCount != want[k]:
			c.wrongCount++
		}
		if st.LateEvents > 0 {
			c.late++
			c.lateEvents += st.LateEvents
		}
	}
	return c
}

// historyOf lists the event types of the workflow's current run's history, in order, runs of the same type
// folded ("MarkerRecorded×3"): what one signal made Temporal write.
func (s *stack) historyOf(ctx context.Context, workflowID string) string {
	it := s.temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var types []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return "unavailable: " + err.Error()
		}
		types = append(types, strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_"))
	}
	return fmt.Sprintf("%d events: %s", len(types), foldRuns(types))
}
