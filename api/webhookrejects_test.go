package api_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/meta/metatest"
)

// webhookRejectJSON is a webhook reject as the API shows it.
type webhookRejectJSON struct {
	ID            int64           `json:"id"`
	ChannelID     string          `json:"channelId"`
	Kind          string          `json:"kind"`
	Location      string          `json:"location"`
	Reason        string          `json:"reason"`
	ReceivedAt    time.Time       `json:"receivedAt"`
	Payload       json.RawMessage `json:"payload"`
	PayloadBase64 []byte          `json:"payloadBase64"`
}

// webhookRejects lists every webhook reject token may read, through query (e.g. "channelId=…"), page by page.
func (h *harness) webhookRejects(token, query string) []webhookRejectJSON {
	h.t.Helper()
	var all []webhookRejectJSON
	cursor := ""
	for {
		path := "/v1/webhook-rejects?limit=2&" + query
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := h.get(path, token)
		requireStatus(h.t, r, http.StatusOK)
		var page struct {
			Items      []webhookRejectJSON `json:"items"`
			NextCursor string              `json:"nextCursor"`
		}
		r.decode(h.t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}

// itemJSON is a messaging item as Meta sends it.
func itemJSON(tb testing.TB, item metatest.Item) string {
	tb.Helper()
	b, err := json.Marshal(item)
	require.NoError(tb, err)
	return string(b)
}

// postSigned posts body to the channel's callback URL signed as Meta signs it.
func (h *harness) postSigned(channelID, body string) *response {
	h.t.Helper()
	return h.postWebhook(channelID, []byte(body), signedBy(aicc.AlgorithmSHA256, appSecret, []byte(body)))
}

// TestWebhookPartialBatch is issue 13's acceptance: a batch of 3 good items and 1 malformed item is answered 200,
// the 3 are stored, the 1 is counted and kept for operators.
func TestWebhookPartialBatch(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")

	bad := `{"sender":"9001","recipient":{"id":"101"},"timestamp":1772445600003,"message":{"mid":"m_bad","text":"lost?"}}`
	body := `{"object":"page","entry":[{"id":"101","time":1772445600004,"messaging":[` +
		itemJSON(t, metatest.Text("101", "9001", "m_1", "one", ts0+1)) + `,` +
		itemJSON(t, metatest.Text("101", "9001", "m_2", "two", ts0+2)) + `,` + bad + `,` +
		itemJSON(t, metatest.Text("101", "9001", "m_3", "three", ts0+4)) + `]}]}`
	requireReceived(t, h.postSigned(ch, body))

	assert.Equal(t, 3, h.undelivered())
	var texts []string
	for _, e := range h.events(tn.ID, ch, "101", "9001") {
		texts = append(texts, e.Text)
	}
	assert.Equal(t, []string{"one", "two", "three"}, texts)
	m := h.scrape()
	assert.Equal(t, float64(3), h.metric(m, `aicc_webhook_events_total{result="stored"}`))
	assert.Equal(t, float64(1), h.metric(m, `aicc_webhook_events_total{result="malformed"}`))
	assert.Zero(t, h.metric(m, `aicc_webhook_events_total{result="unstorable"}`))

	got := h.webhookRejects(tn.Viewer, "")
	require.Len(t, got, 1, "a viewer reads them, as it reads the dead letters")
	r := got[0]
	assert.Positive(t, r.ID)
	assert.Equal(t, ch, r.ChannelID)
	assert.Equal(t, "malformed_item", r.Kind)
	assert.Equal(t, "entry[0].messaging[2]", r.Location)
	assert.Equal(t, "sender: a string, want an object", r.Reason)
	assert.Equal(t, h.now(), r.ReceivedAt.UTC())
	assert.JSONEq(t, bad, string(r.Payload), "the item as Meta sent it")
	assert.Empty(t, r.PayloadBase64)
	assert.NotContains(t, h.logs.String(), "lost?", "the item is not logged")
}

func TestWebhookEntryWithoutID(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	orphan := itemJSON(t, metatest.Text("101", "9002", "m_2", "whose?", ts0+2))
	body := `{"object":"page","entry":[{"time":1772445600002,"messaging":[` + orphan + `]},{"id":"101","time":1772445600001,"messaging":[` +
		itemJSON(t, metatest.Text("101", "9001", "m_1", "mine", ts0+1)) + `]},null]}`
	requireReceived(t, h.postSigned(ch, body))
	assert.Equal(t, 1, h.undelivered(), "the good entry's event is stored")
	assert.Len(t, h.events(tn.ID, ch, "101", "9001"), 1)

	got := h.webhookRejects(tn.Admin, "")
	require.Len(t, got, 2)
	assert.Equal(t, "entry[2]", got[0].Location)
	assert.Equal(t, "null, want an object", got[0].Reason)
	assert.Equal(t, "null", string(got[0].Payload))
	assert.Equal(t, "entry[0].messaging[0]", got[1].Location)
	assert.Equal(t, "the entry has no id", got[1].Reason)
	assert.JSONEq(t, orphan, string(got[1].Payload))
	assert.Equal(t, float64(2), h.metric(h.scrape(), `aicc_webhook_events_total{result="malformed"}`))

	// Only malformed items: nothing to store but them, still 200.
	requireReceived(t, h.postSigned(ch, `{"object":"page","entry":[{"id":"101","messaging":[42]}]}`))
	assert.Len(t, h.webhookRejects(tn.Admin, ""), 3)
	assert.Equal(t, 1, h.undelivered())
}

func TestWebhookNotANotification(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	for _, body := range []string{
		`{"object":"page","entry":{"id":"101","messaging":[42]}}`,
		`{"object":"instagram","entry":[{"id":"101","messaging":[42]}]}`,
		`{"object":"page","entry":[{"id":"101","messaging":[42,]}]}`,
	} {
		requireError(t, h.postSigned(ch, body), http.StatusBadRequest, aicc.EINVALID)
	}
	assert.Empty(t, h.webhookRejects(tn.Admin, ""), "nothing of a body that is no notification is kept")
	assert.Equal(t, float64(3), h.metric(h.scrape(), `aicc_webhook_events_total{result="malformed"}`))
}

// TestWebhookUpdateLimit: a POST of Meta's maximum, 1000 updates, is stored; one update more, counted over
// every entry's lists, and nothing of the body is stored: it is kept aside whole, answered 200 and counted.
func TestWebhookUpdateLimit(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	mid := 0
	// body has one entry per element of perEntry, each with that many messaging items and one standby item.
	body := func(text string, perEntry ...int) string {
		entries := make([]string, len(perEntry))
		for i, n := range perEntry {
			items := make([]string, n)
			for j := range items {
				mid++
				items[j] = itemJSON(t, metatest.Text("101", "9001", fmt.Sprint("m_", mid), text, ts0+int64(mid)))
			}
			mid++
			standby := itemJSON(t, metatest.Text("101", "9002", fmt.Sprint("m_", mid), text, ts0+int64(mid)))
			entries[i] = `{"id":"101","time":1772445600000,"messaging":[` + strings.Join(items, ",") + `],"standby":[` + standby + `]}`
		}
		return `{"object":"page","entry":[` + strings.Join(entries, ",") + `]}`
	}

	requireReceived(t, h.postSigned(ch, body("fits", 249, 249, 249, 249)))
	assert.Equal(t, aicc.MaxWebhookUpdates, h.undelivered(), "4 entries of 250 updates: all stored")

	message := "CANARY-customer-message-" + hex.EncodeToString(aicc.RandomBytes(8))
	over := body(message, 142, 142, 142, 142, 142, 142, 142)
	requireReceived(t, h.postSigned(ch, over))
	assert.Equal(t, aicc.MaxWebhookUpdates, h.undelivered(), "7 entries of 143 updates: none stored")
	got := h.webhookRejects(tn.Admin, "")
	require.Len(t, got, 1)
	assert.Equal(t, "oversized_body", got[0].Kind)
	assert.Empty(t, got[0].Location)
	assert.Equal(t, "more than 1000 updates, Meta's maximum for one webhook POST", got[0].Reason)
	assert.Equal(t, over, string(got[0].Payload), "the body as it came")
	m := h.scrape()
	assert.Equal(t, float64(1), h.metric(m, `aicc_webhook_events_total{result="oversized"}`))
	assert.Equal(t, float64(aicc.MaxWebhookUpdates), h.metric(m, `aicc_webhook_events_total{result="stored"}`))
	assert.Zero(t, h.metric(m, `aicc_webhook_events_total{result="malformed"}`))
	assert.NotContains(t, h.logs.String(), message, "the body is not logged")

	// Sent again, it is kept again: nothing tells a retry from a new body that no event of it was stored.
	requireReceived(t, h.postSigned(ch, over))
	assert.Len(t, h.webhookRejects(tn.Admin, ""), 2)
	assert.Equal(t, aicc.MaxWebhookUpdates, h.undelivered())
}

// keylessStore stores events without their dedup key, as a codec that gave none would have them stored: the
// database refuses them (a CHECK constraint), an error no retry fixes, on both databases.
type keylessStore struct{ aicc.Store }

func (s keylessStore) StoreWebhook(ctx context.Context, events []aicc.InboxEvent, rejects []aicc.WebhookReject) (int, error) {
	events = slices.Clone(events)
	for i := range events {
		events[i].DedupKey = ""
	}
	return s.Store.StoreWebhook(ctx, events, rejects)
}

func TestWebhookUnstorableBody(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.Store = keylessStore{s.Store} }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	message := "CANARY-customer-message-" + hex.EncodeToString(aicc.RandomBytes(8))
	body := `{"object":"page","entry":[{"id":"101","messaging":[` + itemJSON(t, metatest.Text("101", "9001", "m_1", message, ts0+1)) +
		`,` + itemJSON(t, metatest.Text("101", "9001", "m_2", "two", ts0+2)) + `,7]}]}`
	requireReceived(t, h.postSigned(ch, body))

	assert.Zero(t, h.undelivered())
	got := h.webhookRejects(tn.Admin, "")
	require.Len(t, got, 1, "the body alone: its malformed item is in it")
	r := got[0]
	assert.Equal(t, "unstorable_body", r.Kind)
	assert.Empty(t, r.Location)
	class := map[string]string{db.Postgres: "SQLSTATE 23514 (integrity constraint violation) on inbox_dedup_key_check",
		db.SQLite: "SQLITE_CONSTRAINT_CHECK"}[h.store.(*db.Store).Dialect()]
	assert.Equal(t, class, r.Reason)
	assert.Equal(t, body, string(r.Payload), "the body as Meta sent it")
	m := h.scrape()
	assert.Equal(t, float64(2), h.metric(m, `aicc_webhook_events_total{result="unstorable"}`))
	assert.Equal(t, float64(1), h.metric(m, `aicc_webhook_events_total{result="malformed"}`))
	assert.Zero(t, h.metric(m, `aicc_webhook_events_total{result="stored"}`))
	logs := h.logs.String()
	assert.Contains(t, logs, class, "the error's class is logged")
	assert.NotContains(t, logs, message, "the customer's text is not")
}

// TestWebhookOversizedKey sends what Postgres cannot store whatever the retry: a message ID too large for the
// unique index of the inbox's dedup key (a btree entry holds at most 2704 bytes, and random text does not
// compress). SQLite has no such limit: the event is stored.
func TestWebhookOversizedKey(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	mid := make([]byte, 4000)
	for i := range mid {
		mid[i] = letters[rand.IntN(len(letters))]
	}
	r, body := h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", string(mid), "hi", ts0))))
	requireReceived(t, r)
	got := h.webhookRejects(tn.Admin, "")
	if h.store.(*db.Store).Dialect() == db.SQLite {
		assert.Empty(t, got)
		assert.Equal(t, 1, h.undelivered())
		return
	}
	require.Len(t, got, 1)
	assert.Equal(t, "unstorable_body", got[0].Kind)
	assert.Equal(t, "SQLSTATE 54000 (program limit exceeded) on inbox_page_dedup_key", got[0].Reason)
	assert.JSONEq(t, string(body), string(got[0].Payload))
	assert.Zero(t, h.undelivered())

	// Meta would have sent it again for ever; answered 200, it sends the next POSTs, which are stored.
	r, _ = h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", "m_2", "next", ts0+1))))
	requireReceived(t, r)
	assert.Equal(t, 1, h.undelivered())
}

// refusingStore refuses every event as unstorable, and has its database down for anything else it stores.
type refusingStore struct{ aicc.Store }

func (refusingStore) StoreWebhook(_ context.Context, events []aicc.InboxEvent, _ []aicc.WebhookReject) (int, error) {
	if len(events) > 0 {
		return 0, &aicc.UnstorableError{Class: "SQLSTATE 22021 (data exception)", Err: errors.New(`invalid byte sequence in "secret text"`)}
	}
	return 0, errDown
}

func TestWebhookUnstorableBodyNotKept(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.Store = refusingStore{s.Store} }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	r, _ := h.sendWebhook(ch, metatest.NewPayload(metatest.NewEntry("101", metatest.Text("101", "9001", "m_1", "hi", ts0))))
	requireError(t, r, http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	assert.Empty(t, h.webhookRejects(tn.Admin, ""))
	assert.Zero(t, h.metric(h.scrape(), `aicc_webhook_events_total{result="unstorable"}`))
	logs := h.logs.String()
	assert.Contains(t, logs, "SQLSTATE 22021 (data exception)")
	assert.Contains(t, logs, "connection refused", "why the body could not be kept either")
	assert.NotContains(t, logs, "secret text", "the driver's message is not logged")
}

// A body with too many updates that cannot be kept aside either is a 503: Meta sends it again.
func TestWebhookOversizedBodyNotKept(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.Store = refusingStore{s.Store} }))
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	body := `{"object":"page","entry":[` + strings.Repeat(`{"id":"101"},`, aicc.MaxWebhookUpdates) + `{"id":"101"}]}`
	requireError(t, h.postSigned(ch, body), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	assert.Zero(t, h.metric(h.scrape(), `aicc_webhook_events_total{result="oversized"}`))
	assert.Contains(t, h.logs.String(), "keeping aside a webhook body with too many updates")
}

func TestWebhookRejectsList(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	appSecretCanary := "CANARY-app-secret-" + hex.EncodeToString(aicc.RandomBytes(8))
	pageTokenCanary := "CANARY-page-token-" + hex.EncodeToString(aicc.RandomBytes(8))
	body := channelBody(a, "fb_canary")
	body["appSecret"] = appSecretCanary
	chA := h.createChannel(a, body).Channel.ID
	requireStatus(t, h.post("/v1/channels/"+chA+"/pages", a.Admin, map[string]any{"pageId": "101", "tokenSecret": pageTokenCanary}),
		http.StatusCreated)
	chA2 := h.webhookChannel(a, "fb_second", aicc.AlgorithmSHA256, "102")
	chB := h.webhookChannel(b, "fb_b", aicc.AlgorithmSHA256, "201")

	post := func(ch, secret, page string, items ...string) {
		t.Helper()
		body := []byte(`{"object":"page","entry":[{"id":"` + page + `","messaging":[` + strings.Join(items, ",") + `]}]}`)
		requireReceived(t, h.postWebhook(ch, body, signedBy(aicc.AlgorithmSHA256, secret, body)))
	}
	post(chA, appSecretCanary, "101", "1", "2", "3")
	post(chA2, appSecret, "102", "4")
	post(chB, appSecret, "201", "5")

	payloads := func(rejects []webhookRejectJSON) []string {
		var out []string
		for _, r := range rejects {
			out = append(out, string(r.Payload))
		}
		return out
	}
	assert.Equal(t, []string{"4", "3", "2", "1"}, payloads(h.webhookRejects(a.Viewer, "")), "the latest first, page by page")
	assert.Equal(t, []string{"3", "2", "1"}, payloads(h.webhookRejects(a.Admin, "channelId="+chA)))
	assert.Equal(t, []string{"5"}, payloads(h.webhookRejects(b.Admin, "")))
	assert.Empty(t, h.webhookRejects(b.Viewer, "channelId="+chA), "another tenant's channel has none for this tenant")
	assert.Empty(t, h.webhookRejects(a.Admin, "channelId=ch_unknown"))

	requireError(t, h.get("/v1/webhook-rejects", h.token("", aicc.RoleSysadmin)), http.StatusForbidden, aicc.EFORBIDDEN)
	requireError(t, h.get("/v1/webhook-rejects", ""), http.StatusUnauthorized, aicc.EUNAUTH)
	requireError(t, h.get("/v1/webhook-rejects?cursor=eyJkIjo1fQ", a.Admin), http.StatusBadRequest, aicc.EINVALID)
	requireError(t, h.get("/v1/webhook-rejects?limit=0", a.Admin), http.StatusBadRequest, aicc.EINVALID)

	for _, b := range h.rec.bodies {
		assert.NotContains(t, b, appSecretCanary)
		assert.NotContains(t, b, pageTokenCanary)
	}
	logs := h.logs.String()
	assert.NotContains(t, logs, appSecretCanary)
	assert.NotContains(t, logs, pageTokenCanary)
}

// A payload that is not JSON in UTF-8 comes as its bytes in base64.
func TestWebhookRejectPayloadBytes(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "101")
	item := "{\"sender\":\"\xff\"}"
	requireReceived(t, h.postSigned(ch, `{"object":"page","entry":[{"id":"101","messaging":[`+item+`]}]}`))
	got := h.webhookRejects(tn.Admin, "")
	require.Len(t, got, 1)
	assert.Empty(t, got[0].Payload)
	assert.Equal(t, []byte(item), got[0].PayloadBase64)
}
