package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/meta/metatest"
)

// deadLetterJSON is a dead letter as the API shows it.
type deadLetterJSON struct {
	ID             int64      `json:"id"`
	ChannelID      string     `json:"channelId"`
	PageID         string     `json:"pageId"`
	ConversationID string     `json:"conversationId"`
	Kind           string     `json:"kind"`
	MID            string     `json:"mid"`
	Timestamp      time.Time  `json:"timestamp"`
	ReceivedAt     time.Time  `json:"receivedAt"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"lastError"`
	DeadAt         *time.Time `json:"deadAt"`
}

func TestDeadLetters(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	chA := h.webhookChannel(a, "fb_a", aicc.AlgorithmSHA256, "201")
	chB := h.webhookChannel(b, "fb_b", aicc.AlgorithmSHA256, "301")
	requireReceived(t, first(h.sendWebhook(chA, metatest.NewPayload(metatest.NewEntry("201",
		metatest.Text("201", "9001", "m_1", "first", ts0+1000),
		metatest.Text("201", "9002", "m_2", "second", ts0+2000),
		metatest.Text("201", "9001", "m_3", "third", ts0+3000),
	)))))
	requireReceived(t, first(h.sendWebhook(chB, metatest.NewPayload(metatest.NewEntry("301",
		metatest.Text("301", "9001", "m_9", "other tenant", ts0+500),
	)))))
	idsA, idsB := h.inboxIDs(a.ID), h.inboxIDs(b.ID)
	require.Len(t, idsA, 3)
	require.Len(t, idsB, 1)
	deadAt := h.now().Add(time.Minute)
	h.kill(idsA[0], 5, "signal-with-start: context deadline exceeded", deadAt)
	h.kill(idsA[2], 1, "the workflow refused the signal", deadAt)
	h.kill(idsB[0], 5, "boom", deadAt)

	list := func(h *harness, path, token string) ([]deadLetterJSON, string) {
		h.t.Helper()
		r := h.get(path, token)
		requireStatus(h.t, r, http.StatusOK)
		var page struct {
			Items      []deadLetterJSON `json:"items"`
			NextCursor string           `json:"nextCursor"`
		}
		r.decode(h.t, &page)
		return page.Items, page.NextCursor
	}

	t.Run("list", func(t *testing.T) {
		h := h.on(t)
		items, next := list(h, "/v1/dead-letters", a.Viewer)
		require.Len(t, items, 2)
		assert.Empty(t, next)
		assert.Equal(t, []int64{idsA[2], idsA[0]}, []int64{items[0].ID, items[1].ID}, "the latest first")
		got := items[0]
		assert.Equal(t, chA, got.ChannelID)
		assert.Equal(t, "201", got.PageID)
		assert.Equal(t, aicc.ConversationID(chA, "201", "9001"), got.ConversationID)
		assert.Equal(t, "message", got.Kind)
		assert.Equal(t, "m_3", got.MID)
		assert.Equal(t, time.UnixMilli(ts0+3000).UTC(), got.Timestamp.UTC())
		assert.Equal(t, h.now(), got.ReceivedAt.UTC())
		assert.Equal(t, 1, got.Attempts)
		assert.Equal(t, "the workflow refused the signal", got.LastError)
		require.NotNil(t, got.DeadAt)
		assert.Equal(t, deadAt, got.DeadAt.UTC())
		assert.Equal(t, 5, items[1].Attempts)

		// Only the fields of a dead letter: neither the customer's ID nor what they wrote.
		r := h.get("/v1/dead-letters", a.Viewer)
		var raw struct {
			Items []map[string]json.RawMessage `json:"items"`
		}
		r.decode(t, &raw)
		for _, k := range []string{"psid", "text", "payload", "tenantId", "dedupKey"} {
			assert.NotContains(t, raw.Items[0], k)
		}
		assert.NotContains(t, string(r.Body), "9001")
		assert.NotContains(t, string(r.Body), "third")

		// Page by page.
		page1, next := list(h, "/v1/dead-letters?limit=1", a.Admin)
		require.Len(t, page1, 1)
		require.NotEmpty(t, next)
		page2, next2 := list(h, "/v1/dead-letters?limit=1&cursor="+next, a.Admin)
		require.Len(t, page2, 1)
		assert.Empty(t, next2)
		assert.Equal(t, items, append(page1, page2...))

		// Each tenant sees its own.
		itemsB, _ := list(h, "/v1/dead-letters", b.Viewer)
		require.Len(t, itemsB, 1)
		assert.Equal(t, idsB[0], itemsB[0].ID)
		assert.Equal(t, chB, itemsB[0].ChannelID)
	})

	t.Run("retry", func(t *testing.T) {
		h := h.on(t)
		before := h.pending()
		path := "/v1/dead-letters/" + strconv.FormatInt(idsA[0], 10) + "/retry"
		requireError(t, h.post(path, a.Viewer, nil), http.StatusForbidden, aicc.EFORBIDDEN)

		var r *response
		e := h.audited("/v1/channels/"+chA+"/audit", a.Admin, func() { r = h.post(path, a.Admin, nil) })
		requireStatus(t, r, http.StatusAccepted)
		var got deadLetterJSON
		r.decode(t, &got)
		assert.Equal(t, idsA[0], got.ID)
		assert.Equal(t, aicc.ConversationID(chA, "201", "9001"), got.ConversationID)
		assert.Equal(t, "m_1", got.MID)
		assert.Zero(t, got.Attempts)
		assert.Empty(t, got.LastError)
		assert.Nil(t, got.DeadAt, "pending again")
		assert.Equal(t, before+1, h.pending(), "the dispatcher delivers it again")

		assert.Equal(t, "dead_letter.retry", e.Action)
		assert.Equal(t, "dead_letter", e.Target.Type)
		assert.Equal(t, strconv.FormatInt(idsA[0], 10), e.Target.ID)
		assert.Equal(t, chA, e.ChannelID)
		assert.Equal(t, map[string]string{"conversationId": got.ConversationID}, e.Details)
		requireActor(t, e, h.tokenID(a.Admin), "tenant-admin")

		items, _ := list(h, "/v1/dead-letters", a.Viewer)
		require.Len(t, items, 1)
		assert.Equal(t, idsA[2], items[0].ID, "a retried event leaves the list")

		h.notAudited("/v1/audit", a.Admin, func() {
			requireError(t, h.post(path, a.Admin, nil), http.StatusNotFound, aicc.ENOTFOUND)
		})
		assert.Equal(t, before+1, h.pending())
	})

	t.Run("not found", func(t *testing.T) {
		h := h.on(t)
		for _, id := range []int64{idsB[0], idsA[1], idsB[0] + 1000} { // another tenant's, pending, unknown
			h.notAudited("/v1/audit", a.Admin, func() {
				r := h.post("/v1/dead-letters/"+strconv.FormatInt(id, 10)+"/retry", a.Admin, nil)
				assert.Equal(t, "The dead letter does not exist.", requireError(t, r, http.StatusNotFound, aicc.ENOTFOUND).Message)
			})
		}
		itemsB, _ := list(h, "/v1/dead-letters", b.Viewer)
		require.Len(t, itemsB, 1, "another tenant's dead letter is untouched")
		assert.Equal(t, 5, itemsB[0].Attempts)
	})

	t.Run("errors", func(t *testing.T) {
		h := h.on(t)
		for _, id := range []string{"abc", "0", "-3", "1.5", "99999999999999999999"} {
			e := requireError(t, h.post("/v1/dead-letters/"+id+"/retry", a.Admin, nil), http.StatusBadRequest, aicc.EINVALID)
			assert.Contains(t, e.Fields, "eventID", id)
		}
		requireError(t, h.get("/v1/dead-letters?cursor=bogus", a.Viewer), http.StatusBadRequest, aicc.EINVALID)
		requireError(t, h.get("/v1/dead-letters?limit=0", a.Viewer), http.StatusBadRequest, aicc.EINVALID)
		requireStatus(t, h.get("/v1/dead-letters", ""), http.StatusUnauthorized)
		sysadmin := h.token("", aicc.RoleSysadmin)
		requireError(t, h.get("/v1/dead-letters", sysadmin), http.StatusForbidden, aicc.EFORBIDDEN)
		requireError(t, h.post("/v1/dead-letters/"+strconv.FormatInt(idsA[2], 10)+"/retry", sysadmin, nil),
			http.StatusForbidden, aicc.EFORBIDDEN)
	})
}

// first returns the first of two values.
func first[A, B any](a A, _ B) A { return a }

// inboxIDs returns the IDs of the tenant's inbox events, in the order they were stored.
func (h *harness) inboxIDs(tenantID string) []int64 {
	h.t.Helper()
	var ids []int64
	err := h.store.(*db.Store).DB().NewRaw("SELECT id FROM inbox WHERE tenant_id = ? ORDER BY id", tenantID).
		Scan(context.Background(), &ids)
	require.NoError(h.t, err)
	return ids
}

// kill makes the event a dead letter after attempts failed deliveries, as the dispatcher leaves it.
func (h *harness) kill(id int64, attempts int, lastError string, at time.Time) {
	h.t.Helper()
	_, err := h.store.(*db.Store).DB().NewRaw("UPDATE inbox SET attempts = ?, last_error = ?, dead_at = ? WHERE id = ?",
		attempts, lastError, at, id).Exec(context.Background())
	require.NoError(h.t, err)
}

// pending is how many events the dispatcher has to deliver.
func (h *harness) pending() int {
	h.t.Helper()
	st, err := h.store.InboxStats(context.Background())
	require.NoError(h.t, err)
	return st.Undelivered
}
