package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// conversationJSON is a conversation as its workflow last recorded it.
type conversationJSON struct {
	ID                    string                  `json:"id"`
	ChannelID             string                  `json:"channelId"`
	PageID                string                  `json:"pageId"`
	PSID                  string                  `json:"psid"`
	Status                aicc.ConversationStatus `json:"status"`
	MessageCount          int                     `json:"messageCount"`
	LastCustomerMessage   string                  `json:"lastCustomerMessage"`
	LastCustomerMessageAt *time.Time              `json:"lastCustomerMessageAt,omitempty"`
	LastAgentMessage      string                  `json:"lastAgentMessage"`
	LastAgentMessageAt    *time.Time              `json:"lastAgentMessageAt,omitempty"`
	StartedAt             time.Time               `json:"startedAt"`
	EndedAt               *time.Time              `json:"endedAt,omitempty"`
	UpdatedAt             time.Time               `json:"updatedAt"`
	// The runtime: who has the conversation, the customer's last agent, why it ended, its pending timers.
	Stage       aicc.ConversationStage   `json:"stage,omitempty"`
	QueueID     string                   `json:"queueId,omitempty"`
	AgentID     string                   `json:"agentId,omitempty"`
	LastAgentID string                   `json:"lastAgentId,omitempty"`
	LastAgentAt *time.Time               `json:"lastAgentAt,omitempty"`
	EndReason   aicc.EndReason           `json:"endReason,omitempty"`
	Timers      []aicc.ConversationTimer `json:"timers"`
}

func toConversationJSON(cv *aicc.Conversation) conversationJSON {
	timers := cv.Timers
	if timers == nil {
		timers = []aicc.ConversationTimer{} // [], not null
	}
	return conversationJSON{
		ID: cv.ID, ChannelID: cv.ChannelID, PageID: cv.PageID, PSID: cv.PSID, Status: cv.Status,
		MessageCount:        cv.MessageCount,
		LastCustomerMessage: cv.LastCustomerMessage, LastCustomerMessageAt: optTime(cv.LastCustomerMessageAt),
		LastAgentMessage: cv.LastAgentMessage, LastAgentMessageAt: optTime(cv.LastAgentMessageAt),
		StartedAt: cv.StartedAt.UTC(), EndedAt: optTime(cv.EndedAt), UpdatedAt: cv.UpdatedAt.UTC(),
		Stage: cv.Stage, QueueID: cv.QueueID, AgentID: cv.AgentID, LastAgentID: cv.LastAgentID,
		LastAgentAt: optTime(cv.LastAgentAt), EndReason: cv.EndReason, Timers: timers,
	}
}

// conversationDetailJSON is a conversation with the first page of its events.
type conversationDetailJSON struct {
	conversationJSON
	Events           []eventJSON `json:"events"`
	EventsNextCursor string      `json:"eventsNextCursor,omitempty"`
}

// eventJSON is a webhook event of a conversation. Meta's times (timestamp, watermark) are milliseconds since
// the epoch, shown as RFC 3339 times; payload is the messaging item as Meta sent it, for what the other fields
// do not show (attachments, quick replies, reactions).
type eventJSON struct {
	ID          int64           `json:"id"`
	Kind        aicc.EventKind  `json:"kind"`
	MID         string          `json:"mid,omitempty"`
	Watermark   *time.Time      `json:"watermark,omitempty"`
	Timestamp   time.Time       `json:"timestamp"`
	Text        string          `json:"text,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	ReceivedAt  time.Time       `json:"receivedAt"`
	DeliveredAt *time.Time      `json:"deliveredAt,omitempty"`
}

func toEventJSON(e aicc.InboxEvent) eventJSON {
	out := eventJSON{
		ID: e.ID, Kind: e.Kind, MID: e.MID, Timestamp: time.UnixMilli(e.Timestamp).UTC(), Text: e.Text,
		ReceivedAt: e.ReceivedAt.UTC(), DeliveredAt: optTime(e.DeliveredAt),
	}
	if e.Watermark != 0 {
		out.Watermark = optTime(time.UnixMilli(e.Watermark))
	}
	if json.Valid(e.Payload) {
		out.Payload = e.Payload
	}
	return out
}

// listConversations lists a channel's conversations, the latest updated first.
func (s *Server) listConversations(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	// The store answers NOT_FOUND for a channel of another tenant, rather than an empty list.
	items, next, err := s.Store.ListConversations(c.Request.Context(), principalOf(c).TenantID, c.Param("channelID"), opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toConversationJSON))
	return nil
}

// getConversation answers a conversation with its first events (?limit= of them), by Meta timestamp.
func (s *Server) getConversation(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	opt.Cursor = "" // the next pages are at .../events
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	cv, err := s.Store.GetConversation(ctx, tenant, c.Param("conversationID"))
	if err != nil {
		return err
	}
	events, next, err := s.Store.ConversationEvents(ctx, tenant, cv.ID, opt)
	if err != nil {
		return err
	}
	page := listOf(events, next, toEventJSON)
	c.JSON(http.StatusOK, conversationDetailJSON{
		conversationJSON: toConversationJSON(cv), Events: page.Items, EventsNextCursor: page.NextCursor,
	})
	return nil
}

// listConversationEvents lists a conversation's events by Meta timestamp.
func (s *Server) listConversationEvents(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	// The store answers NOT_FOUND for a conversation of another tenant, rather than an empty list.
	events, next, err := s.Store.ConversationEvents(c.Request.Context(), principalOf(c).TenantID, c.Param("conversationID"), opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(events, next, toEventJSON))
	return nil
}
