package db

import (
	"context"
	"time"

	"github.com/aiccfb/aicc"
)

// SaveConversation inserts the conversation or replaces every field of the stored one; saving the same
// conversation twice changes nothing. An empty ID is aicc.ConversationID of its channel, Page and customer,
// an empty status is open, a zero UpdatedAt is now and a zero StartedAt is UpdatedAt; c is updated to what a
// read returns. A conversation of another tenant with the same ID is not touched: ECONFLICT.
func (s *Store) SaveConversation(ctx context.Context, c *aicc.Conversation) error {
	if c.ID == "" {
		c.ID = aicc.ConversationID(c.ChannelID, c.PageID, c.PSID)
	}
	if c.Status == "" {
		c.Status = aicc.ConversationOpen
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = time.Now()
	}
	if c.StartedAt.IsZero() {
		c.StartedAt = c.UpdatedAt
	}
	r := newConversationRow(c)
	res, err := s.db.NewInsert().Model(r).On("CONFLICT (id) DO UPDATE").
		Set("channel_id = EXCLUDED.channel_id").Set("page_id = EXCLUDED.page_id").Set("psid = EXCLUDED.psid").
		Set("status = EXCLUDED.status").Set("message_count = EXCLUDED.message_count").
		Set("last_customer_message = EXCLUDED.last_customer_message").
		Set("last_customer_message_at = EXCLUDED.last_customer_message_at").
		Set("last_agent_message = EXCLUDED.last_agent_message").
		Set("last_agent_message_at = EXCLUDED.last_agent_message_at").
		Set("started_at = EXCLUDED.started_at").Set("ended_at = EXCLUDED.ended_at").
		Set("updated_at = EXCLUDED.updated_at").Set("applied_inbox_ids = EXCLUDED.applied_inbox_ids").
		Set("stage = EXCLUDED.stage").Set("queue_id = EXCLUDED.queue_id").Set("agent_id = EXCLUDED.agent_id").
		Set("last_agent_id = EXCLUDED.last_agent_id").Set("last_agent_at = EXCLUDED.last_agent_at").
		Set("end_reason = EXCLUDED.end_reason").Set("timers = EXCLUDED.timers").
		Where("?TableAlias.tenant_id = EXCLUDED.tenant_id").
		Returning("NULL"). // the row is what was sent: nothing to read back
		Exec(ctx)
	if err != nil {
		return wrap(err, "save conversation")
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(err, "save conversation")
	} else if n == 0 {
		return aicc.Errorf(aicc.ECONFLICT, "The conversation belongs to another tenant.")
	}
	*c = *r.domain()
	return nil
}

// CountConversations counts every tenant's conversations by state, from the index on (status, stage).
func (s *Store) CountConversations(ctx context.Context) (map[aicc.ConversationState]int, error) {
	var rows []struct {
		Status string
		Stage  string
		N      int
	}
	err := s.db.NewSelect().Table("conversations").Column("status", "stage").ColumnExpr("count(*) AS n").
		Group("status", "stage").Scan(ctx, &rows)
	if err != nil {
		return nil, wrap(err, "count conversations")
	}
	counts := map[aicc.ConversationState]int{}
	for _, r := range rows {
		counts[aicc.StateOf(aicc.ConversationStatus(r.Status), aicc.ConversationStage(r.Stage))] += r.N
	}
	return counts, nil
}

// GetConversation returns the tenant's conversation with the given ID.
func (s *Store) GetConversation(ctx context.Context, tenantID, id string) (*aicc.Conversation, error) {
	r := new(conversationRow)
	if err := s.db.NewSelect().Model(r).Where("id = ? AND tenant_id = ?", id, tenantID).Scan(ctx); err != nil {
		return nil, wrap(found(err, "conversation"), "get conversation")
	}
	return r.domain(), nil
}

// ListConversations lists the conversations of the tenant's channel, the latest updated first (ties by ID,
// descending); ENOTFOUND when the tenant has no such channel.
func (s *Store) ListConversations(ctx context.Context, tenantID, channelID string, opt aicc.ListOptions) ([]*aicc.Conversation, string, error) {
	l, err := newListing(byUpdatedLatest, opt)
	if err != nil {
		return nil, "", err
	}
	if err := channelInTenant(ctx, s.db, tenantID, channelID); err != nil {
		return nil, "", wrap(err, "list conversations")
	}
	var rows []*conversationRow
	q := s.db.NewSelect().Model(&rows).Where("tenant_id = ? AND channel_id = ?", tenantID, channelID)
	if err := l.apply(q).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list conversations")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*conversationRow).domain), next, nil
}
