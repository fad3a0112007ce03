package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
)

// conversationJSON is the conversation as the API shows it.
type conversationJSON struct {
	ID                    string      `json:"id"`
	ChannelID             string      `json:"channelId"`
	PageID                string      `json:"pageId"`
	PSID                  string      `json:"psid"`
	Status                string      `json:"status"`
	MessageCount          int         `json:"messageCount"`
	LastCustomerMessage   string      `json:"lastCustomerMessage"`
	LastCustomerMessageAt *time.Time  `json:"lastCustomerMessageAt"`
	LastAgentMessage      string      `json:"lastAgentMessage"`
	LastAgentMessageAt    *time.Time  `json:"lastAgentMessageAt"`
	StartedAt             time.Time   `json:"startedAt"`
	EndedAt               *time.Time  `json:"endedAt"`
	UpdatedAt             time.Time   `json:"updatedAt"`
	Events                []eventJSON `json:"events"`
	EventsNextCursor      string      `json:"eventsNextCursor"`
}

type eventJSON struct {
	ID          int64          `json:"id"`
	Kind        string         `json:"kind"`
	MID         string         `json:"mid"`
	Watermark   *time.Time     `json:"watermark"`
	Timestamp   time.Time      `json:"timestamp"`
	Text        string         `json:"text"`
	Payload     map[string]any `json:"payload"`
	ReceivedAt  time.Time      `json:"receivedAt"`
	DeliveredAt *time.Time     `json:"deliveredAt"`
}

func TestConversations(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	ctx := context.Background()

	// The customer's messages arrive out of order, with the Page's echo and a read receipt.
	r, _ := h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("101",
		metatest.Text("101", "9001", "m_3", "third", ts0+3000),
		metatest.Text("101", "9001", "m_1", "first", ts0+1000),
		metatest.Echo("101", "9001", "m_2", "an answer", ts0+2000),
		metatest.Read("101", "9001", ts0+2000),
		metatest.Text("101", "9002", "m_9", "someone else", ts0+500),
	)))
	requireReceived(t, r)

	// The conversation workflow writes the read model; here the test does.
	t0 := h.now()
	saved := &aicc.Conversation{
		TenantID: tn.ID, ChannelID: ch, PageID: "101", PSID: "9001", Status: aicc.ConversationOpen, MessageCount: 3,
		LastCustomerMessage: "third", LastCustomerMessageAt: time.UnixMilli(ts0 + 3000),
		LastAgentMessage: "an answer", LastAgentMessageAt: time.UnixMilli(ts0 + 2000),
		StartedAt: t0, UpdatedAt: t0.Add(time.Minute),
	}
	require.NoError(t, h.store.SaveConversation(ctx, saved))
	other := &aicc.Conversation{TenantID: tn.ID, ChannelID: ch, PageID: "101", PSID: "9002", MessageCount: 1,
		LastCustomerMessage: "someone else", LastCustomerMessageAt: time.UnixMilli(ts0 + 500),
		Status: aicc.ConversationEnded, StartedAt: t0, EndedAt: t0.Add(20 * time.Minute), UpdatedAt: t0.Add(20 * time.Minute)}
	require.NoError(t, h.store.SaveConversation(ctx, other))
	id := aicc.ConversationID(ch, "101", "9001")
	assert.Equal(t, id, saved.ID)

	t.Run("list", func(t *testing.T) {
		h := h.on(t)
		r := h.get("/v1/channels/"+ch+"/conversations", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		var page struct {
			Items      []conversationJSON `json:"items"`
			NextCursor string             `json:"nextCursor"`
		}
		r.decode(t, &page)
		require.Len(t, page.Items, 2)
		assert.Equal(t, []string{other.ID, id}, []string{page.Items[0].ID, page.Items[1].ID}, "the latest updated first")
		assert.Empty(t, page.NextCursor)
		assert.Equal(t, "ended", page.Items[0].Status)
		require.NotNil(t, page.Items[0].EndedAt)
		assert.Nil(t, page.Items[0].LastAgentMessageAt, "absent when there is none")

		r = h.get("/v1/channels/"+ch+"/conversations?limit=1", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		r.decode(t, &page)
		require.Len(t, page.Items, 1)
		require.NotEmpty(t, page.NextCursor)
		r = h.get("/v1/channels/"+ch+"/conversations?limit=1&cursor="+page.NextCursor, tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		page.NextCursor = ""
		r.decode(t, &page)
		require.Len(t, page.Items, 1)
		assert.Equal(t, id, page.Items[0].ID)
		assert.Empty(t, page.NextCursor)
	})

	t.Run("get with its first events", func(t *testing.T) {
		h := h.on(t)
		r := h.get("/v1/conversations/"+id+"?limit=3", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		var cv conversationJSON
		r.decode(t, &cv)
		assert.Equal(t, id, cv.ID)
		assert.Equal(t, ch, cv.ChannelID)
		assert.Equal(t, "101", cv.PageID)
		assert.Equal(t, "9001", cv.PSID)
		assert.Equal(t, "open", cv.Status)
		assert.Equal(t, 3, cv.MessageCount)
		assert.Equal(t, "third", cv.LastCustomerMessage)
		assert.Equal(t, time.UnixMilli(ts0+3000).UTC(), cv.LastCustomerMessageAt.UTC())
		assert.Equal(t, "an answer", cv.LastAgentMessage)
		assert.Equal(t, t0, cv.StartedAt.UTC())
		assert.Nil(t, cv.EndedAt)
		assert.Equal(t, t0.Add(time.Minute), cv.UpdatedAt.UTC())

		require.Len(t, cv.Events, 3)
		var mids []string
		for _, e := range cv.Events {
			mids = append(mids, e.MID)
		}
		assert.Equal(t, []string{"m_1", "m_2", ""}, mids, "by Meta's timestamp, whatever the order received")
		first := cv.Events[0]
		assert.Equal(t, "message", first.Kind)
		assert.Equal(t, "first", first.Text)
		assert.Equal(t, time.UnixMilli(ts0+1000).UTC(), first.Timestamp.UTC())
		assert.Equal(t, t0, first.ReceivedAt.UTC())
		assert.Nil(t, first.DeliveredAt)
		assert.Nil(t, first.Watermark)
		assert.Equal(t, map[string]any{"mid": "m_1", "text": "first"}, first.Payload["message"], "the item as Meta sent it")
		assert.Equal(t, "echo", cv.Events[1].Kind)
		read := cv.Events[2]
		assert.Equal(t, "read", read.Kind)
		require.NotNil(t, read.Watermark)
		assert.Equal(t, time.UnixMilli(ts0+2000).UTC(), read.Watermark.UTC())
		require.NotEmpty(t, cv.EventsNextCursor)

		r = h.get("/v1/conversations/"+id+"/events?cursor="+cv.EventsNextCursor, tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		var page struct {
			Items      []eventJSON `json:"items"`
			NextCursor string      `json:"nextCursor"`
		}
		r.decode(t, &page)
		require.Len(t, page.Items, 1)
		assert.Equal(t, "m_3", page.Items[0].MID)
		assert.Empty(t, page.NextCursor)
	})

	t.Run("delivered", func(t *testing.T) {
		h := h.on(t)
		events, _, err := h.store.ConversationEvents(ctx, tn.ID, id, aicc.ListOptions{Limit: 1})
		require.NoError(t, err)
		require.NoError(t, h.store.MarkDelivered(ctx, "test", []int64{events[0].ID}, nil, t0.Add(time.Second)))
		r := h.get("/v1/conversations/"+id+"/events?limit=1", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		var page struct {
			Items []eventJSON `json:"items"`
		}
		r.decode(t, &page)
		require.Len(t, page.Items, 1)
		require.NotNil(t, page.Items[0].DeliveredAt)
		assert.Equal(t, t0.Add(time.Second), page.Items[0].DeliveredAt.UTC())
	})

	t.Run("errors", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.get("/v1/conversations/cv_missing", tn.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, h.get("/v1/conversations/cv_missing/events", tn.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, h.get("/v1/channels/ch_missing/conversations", tn.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, h.get("/v1/conversations/"+id+"/events?cursor=bogus", tn.Viewer), http.StatusBadRequest, aicc.EINVALID)
		requireError(t, h.get("/v1/channels/"+ch+"/conversations?cursor=bogus", tn.Viewer), http.StatusBadRequest, aicc.EINVALID)
		requireError(t, h.get("/v1/conversations/"+id+"?limit=0", tn.Viewer), http.StatusBadRequest, aicc.EINVALID)
		requireStatus(t, h.get("/v1/conversations/"+id, ""), http.StatusUnauthorized)
		requireError(t, h.get("/v1/conversations/"+id, h.token("", aicc.RoleSysadmin)), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}
