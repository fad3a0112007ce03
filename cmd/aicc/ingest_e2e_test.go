package main

// The end-to-end test of webhook ingest: signed POSTs → inbox → dispatcher → conversation workflows → the
// conversations API, on the stack of e2e_test.go.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/workflows"
)

// More people writing to the fake Page, and a second Page for the SHA-1 channel.
const (
	psidB       = "7001000000000002"
	psidC       = "7001000000000003"
	psidD       = "7001000000000004"
	sha1PageID  = "1000000002"
	sha1AppID   = "100200300402"
	ingestWait  = 15 * time.Second // how long the conversations may take to show every event
	testLease   = 2 * time.Second  // short, so a restarted dispatcher reclaims its predecessor's leases at once
	dispatchIdl = 20 * time.Millisecond
)

// TestWebhookIngestEndToEnd: Meta's signed POSTs (batched entries with several items for three customers, a
// retry of a whole POST, out-of-order timestamps for one customer) reach the conversation workflows through
// the inbox and the dispatcher, and the conversations API shows exactly what was sent: every event stored once
// and delivered once, though the dispatcher is stopped in the middle and another one takes over. A SHA-1
// channel's POSTs are accepted too, and no app secret reaches a history, a log or an answer.
func TestWebhookIngestEndToEnd(t *testing.T) {
	start := time.Now()
	s, pageToken := newStack(t)
	ctx := context.Background()
	s.uploadCertificate()
	id, verifyToken := s.activeChannel("fb_ingest", pageToken)
	sender := &metatest.WebhookSender{
		URL: s.callback(id), AppSecret: s.appSecret, Algorithm: aicc.AlgorithmSHA256,
	}
	want := expectations{}
	ts := time.Now().Add(-time.Hour).UnixMilli() // Meta's clock: every event an hour ago, a few ms apart
	at := func(ms int64) int64 { return ts + ms }
	read := metatest.Read(fakePageID, psidB, at(11)) // B read the Page's messages up to b1
	read.Timestamp = at(15)

	stopFirst := s.startDispatcher("e2e-dispatcher-1")
	// A batch as Meta sends it: two entries of the Page, several items each, for three customers, with an
	// echo of the agent's reply and a read receipt.
	first := s.post(sender, want, id,
		metatest.NewEntry(fakePageID,
			metatest.Text(fakePageID, fakePSID, "m_a1", "a: hello", at(10)),
			metatest.Text(fakePageID, psidB, "m_b1", "b: hello", at(11)),
			metatest.Echo(fakePageID, fakePSID, "m_a1e", "agent: hello a", at(12))),
		metatest.NewEntry(fakePageID,
			metatest.Text(fakePageID, psidC, "m_c1", "c: hello", at(13)),
			metatest.Text(fakePageID, fakePSID, "m_a2", "a: anyone there?", at(14)),
			read))
	s.post(sender, want, id, metatest.NewEntry(fakePageID,
		metatest.Text(fakePageID, psidB, "m_b2", "b: second", at(20)),
		metatest.Text(fakePageID, psidC, "m_c2", "c: second", at(21)),
		metatest.Text(fakePageID, fakePSID, "m_a3", "a: third and last", at(22))))
	s.resend(sender, first) // Meta's retry of the first POST: answered 200, stored once
	stopFirst()             // stopped wherever it is: some of these events may be delivered, some not

	// With no dispatcher running, more POSTs: customer B's messages out of Meta's order, within one POST
	// (newest first) and across POSTs (an old one arriving last), and their retry.
	outOfOrder := s.post(sender, want, id, metatest.NewEntry(fakePageID,
		metatest.Text(fakePageID, psidB, "m_b4", "b: newest of all", at(40)),
		metatest.Text(fakePageID, psidB, "m_b3", "b: third", at(30))))
	s.post(sender, want, id,
		metatest.NewEntry(fakePageID,
			metatest.Text(fakePageID, psidC, "m_c3", "c: last", at(41)),
			metatest.Echo(fakePageID, psidB, "m_b4e", "agent: hello b", at(42))),
		metatest.NewEntry(fakePageID, metatest.Text(fakePageID, psidB, "m_b0", "b: sent first, arrives last", at(5))))
	s.resend(sender, outOfOrder)
	stats, err := s.store.InboxStats(ctx)
	if err != nil {
		t.Fatalf("InboxStats: %v", err)
	}
	if stats.Undelivered < 5 || stats.Oldest.IsZero() {
		t.Errorf("inbox stats with no dispatcher = %+v, want the 5 new events undelivered at least", stats)
	}

	s.startDispatcher("e2e-dispatcher-2")
	s.waitConversations(id, want)
	if got := s.counter("aicc_webhook_events_total", `result="duplicate"`); got != 8 {
		t.Errorf("duplicate events counted = %v, want 8 (the two retried POSTs)", got)
	}

	// A SHA-1 channel (another app): Meta signs with X-Hub-Signature, and only that header is accepted.
	sha1Secret := canary(t, "app-secret-sha1")
	id1, verifyToken1 := s.activeSHA1Channel(sha1Secret)
	sha1Sender := &metatest.WebhookSender{
		URL: s.callback(id1), AppSecret: sha1Secret, Algorithm: aicc.AlgorithmSHA1,
	}
	item := metatest.Text(sha1PageID, psidD, "m_d1", "d: hello over sha1", at(50))
	if _, status, err := sha1Sender.SendPayload(ctx, metatest.NewPayload(metatest.NewEntry(sha1PageID, item)),
		metatest.WithAlgorithm(aicc.AlgorithmSHA256)); err != nil || status != http.StatusForbidden {
		t.Errorf("SHA-256 signed POST to a SHA-1 channel = %d %v, want 403", status, err)
	}
	sha1Want := expectations{}
	s.post(sha1Sender, sha1Want, id1, metatest.NewEntry(sha1PageID, item))
	s.waitConversations(id1, sha1Want)

	stats, err = s.store.InboxStats(ctx)
	if err != nil || stats.Undelivered != 0 {
		t.Errorf("inbox stats at the end = %+v, %v; want nothing undelivered", stats, err)
	}
	// B's conversation has the most to replay: messages, an echo, a read receipt, events out of Meta's order, and
	// two dispatchers. It waits for B's next message, so its history is recorded open.
	s.recordOpenHistory(ctx, workflows.ConversationWorkflowID(id, fakePageID, psidB), "conversation-messages")
	histories := map[string]string{}
	for _, cv := range want {
		histories[workflows.ConversationWorkflowID(id, cv.pageID, cv.psid)] = cv.psid
	}
	histories[workflows.ConversationWorkflowID(id1, sha1PageID, psidD)] = psidD
	s.checkNoSecrets(ctx, map[string]string{
		"app secret": s.appSecret, "sha1 app secret": sha1Secret, "page token": pageToken,
		"verify token": verifyToken, "verify token sha1": verifyToken1,
	}, histories)
	t.Logf("ingest walk done in %s", time.Since(start).Round(time.Millisecond))
}

// activeChannel walks a channel of the fake Meta's app to active with the fake Page subscribed, as
// TestOnboardingEndToEnd does step by step, and returns its ID and verify token. The certificate must be
// uploaded.
func (s *stack) activeChannel(name, pageToken string) (string, string) {
	s.t.Helper()
	id, verifyToken, _ := s.createChannel(name)
	if code, _ := s.verify(id, verifyToken, "42"); code != http.StatusOK {
		s.t.Fatalf("verification = %d, want 200", code)
	}
	s.waitStatus(id, aicc.StatusVerified)
	page := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels/"+id+"/pages", map[string]any{
		"pageId": fakePageID, "tokenSecret": pageToken,
	})
	if page["status"] != string(aicc.PageSubscribed) {
		s.t.Fatalf("add page answered %v, want subscribed", page)
	}
	s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+id+"/onboarding/confirm", nil)
	s.waitStatus(id, aicc.StatusActive)
	return id, verifyToken
}

// activeSHA1Channel makes an active SHA-1 channel of another app, whose Page the fake Meta (which knows one
// app) cannot subscribe: the Page is recorded as subscribed directly in the store, as the ConnectPage
// workflow would. It returns the channel's ID and verify token.
func (s *stack) activeSHA1Channel(appSecret string) (string, string) {
	s.t.Helper()
	created := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels", map[string]any{
		"name": "fb_sha1", "appId": sha1AppID, "appSecret": appSecret, "algorithm": "sha1", "basic": s.channelBasic(),
	})
	id := created["channel"].(map[string]any)["id"].(string)
	verifyToken := created["metaSetup"].(map[string]any)["verifyToken"].(string)
	if code, _ := s.verify(id, verifyToken, "43"); code != http.StatusOK {
		s.t.Fatalf("verification = %d, want 200", code)
	}
	s.waitStatus(id, aicc.StatusVerified)
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := &aicc.Page{
		PageID: sha1PageID, ChannelID: id, TenantID: s.tenantID, Name: "SHA-1 Page", CreatedAt: now,
		State: aicc.PageState{Status: aicc.PageSubscribed, TokenHealth: aicc.TokenHealthy, UpdatedAt: now},
	}
	token := s.keyring.Seal(canary(s.t, "page-token-sha1"), aicc.PageTokenOwner(sha1PageID), now)
	if err := s.store.AddPage(context.Background(), p, token); err != nil {
		s.t.Fatalf("AddPage: %v", err)
	}
	s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+id+"/onboarding/confirm", nil)
	s.waitStatus(id, aicc.StatusActive)
	return id, verifyToken
}

// startDispatcher starts a dispatcher as aicc worker does (newDispatcher), named owner, with a short lease
// and idle wait, and returns what stops it and waits for it; the test's end stops it too.
func (s *stack) startDispatcher(owner string) (stop func()) {
	s.t.Helper()
	d := newDispatcher(Config{}, s.store, s.temporal, s.logger, prometheus.NewRegistry())
	d.Owner, d.Lease, d.Idle = owner, testLease, dispatchIdl
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := stopped(<-done); err != nil {
			s.t.Errorf("dispatcher %s: %v", owner, err)
		}
	})
	s.t.Cleanup(stop)
	return stop
}

// post sends one signed POST of entries, fails the test unless it is answered 200, records its items in want
// and returns the body, for a retry.
func (s *stack) post(sender *metatest.WebhookSender, want expectations, channelID string, entries ...metatest.Entry) []byte {
	s.t.Helper()
	body, status, err := sender.SendPayload(context.Background(), metatest.NewPayload(entries...))
	if err != nil || status != http.StatusOK {
		s.t.Fatalf("webhook POST = %d %v, want 200", status, err)
	}
	for _, e := range entries {
		want.add(channelID, e.Messaging...)
	}
	return body
}

// resend sends body again, byte for byte, as Meta retries, and fails the test unless it is answered 200.
func (s *stack) resend(sender *metatest.WebhookSender, body []byte) {
	s.t.Helper()
	if status, err := sender.Send(context.Background(), body); err != nil || status != http.StatusOK {
		s.t.Fatalf("webhook retry = %d %v, want 200", status, err)
	}
}

// expectations are the conversations a test's POSTs must produce, by conversation ID.
type expectations map[string]*conversationWant

// conversationWant is what one conversation must show once every event is applied.
type conversationWant struct {
	pageID, psid   string
	events         map[string]bool // the distinct events, by Meta's identity
	messages       int             // messages and echoes
	lastCustomer   string
	lastCustomerTS int64
	lastAgent      string
	lastAgentTS    int64
}

// add records Meta's items; an item recorded already (a retry) changes nothing.
func (e expectations) add(channelID string, items ...metatest.Item) {
	for _, it := range items {
		echo := it.Message != nil && it.Message.IsEcho
		pageID, psid := it.Recipient.ID, it.Sender.ID
		if echo {
			pageID, psid = psid, pageID
		}
		id := aicc.ConversationID(channelID, pageID, psid)
		cv := e[id]
		if cv == nil {
			cv = &conversationWant{pageID: pageID, psid: psid, events: map[string]bool{}}
			e[id] = cv
		}
		var key string
		switch {
		case it.Message != nil:
			key = "mid:" + it.Message.MID
		case it.Read != nil:
			key = "read:" + strconv.FormatInt(it.Read.Watermark, 10)
		default:
			panic("expectations: add only messages and reads")
		}
		if cv.events[key] {
			continue
		}
		cv.events[key] = true
		if it.Message == nil {
			continue
		}
		cv.messages++
		switch {
		case echo && it.Timestamp > cv.lastAgentTS:
			cv.lastAgent, cv.lastAgentTS = it.Message.Text, it.Timestamp
		case !echo && it.Timestamp > cv.lastCustomerTS:
			cv.lastCustomer, cv.lastCustomerTS = it.Message.Text, it.Timestamp
		}
	}
}

// waitConversations polls the conversations API, for at most ingestWait, until the channel has exactly the
// conversations of want and each shows its message count, its last customer and agent messages (the newest
// by Meta's timestamp) and each of its events once, delivered. It then checks that the inbox holds no other
// row of the channel.
func (s *stack) waitConversations(channelID string, want expectations) {
	s.t.Helper()
	deadline := time.Now().Add(ingestWait)
	var problem string
	for {
		if problem = s.conversationsProblem(channelID, want); problem == "" {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("conversations of %s after %s: %s", channelID, ingestWait, problem)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantRows := 0
	for _, cv := range want {
		wantRows += len(cv.events)
	}
	rows, err := s.store.DB().NewSelect().Table("inbox").Where("channel_id = ?", channelID).Count(context.Background())
	if err != nil || int(rows) != wantRows {
		s.t.Errorf("inbox rows of %s = %d (%v), want %d: one per distinct event", channelID, rows, err, wantRows)
	}
}

// conversationsProblem is what the API shows differently from want, "" when nothing.
func (s *stack) conversationsProblem(channelID string, want expectations) string {
	list := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+channelID+"/conversations?limit=200", nil)
	items, _ := list["items"].([]any)
	if len(items) != len(want) {
		return fmt.Sprintf("%d conversations listed, want %d: %v", len(items), len(want), list)
	}
	for _, item := range items {
		if id, _ := item.(map[string]any)["id"].(string); want[id] == nil {
			return fmt.Sprintf("unexpected conversation %v", item)
		}
	}
	for id, w := range want {
		cv := s.mustCall(http.StatusOK, http.MethodGet, "/v1/conversations/"+id+"?limit=200", nil)
		if cv["pageId"] != w.pageID || cv["psid"] != w.psid || cv["channelId"] != channelID {
			return fmt.Sprintf("conversation %s = %v, want page %s, customer %s", id, cv, w.pageID, w.psid)
		}
		if n, _ := cv["messageCount"].(float64); int(n) != w.messages {
			return fmt.Sprintf("conversation of %s: messageCount %v, want %d", w.psid, cv["messageCount"], w.messages)
		}
		if cv["lastCustomerMessage"] != w.lastCustomer || cv["lastAgentMessage"] != w.lastAgent {
			return fmt.Sprintf("conversation of %s: last messages %q and %q, want %q and %q", w.psid,
				cv["lastCustomerMessage"], cv["lastAgentMessage"], w.lastCustomer, w.lastAgent)
		}
		events, _ := cv["events"].([]any)
		seen := map[string]bool{}
		for _, ev := range events {
			e := ev.(map[string]any)
			key := fmt.Sprintf("mid:%v", e["mid"])
			if e["kind"] == string(aicc.EventRead) {
				wm, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(e["watermark"]))
				key = "read:" + strconv.FormatInt(wm.UnixMilli(), 10)
			}
			if seen[key] || !w.events[key] {
				return fmt.Sprintf("conversation of %s: event %v repeated or not sent", w.psid, e)
			}
			seen[key] = true
			if e["deliveredAt"] == nil {
				return fmt.Sprintf("conversation of %s: event %v not delivered", w.psid, e)
			}
		}
		if len(seen) != len(w.events) {
			return fmt.Sprintf("conversation of %s: %d events, want %d", w.psid, len(seen), len(w.events))
		}
	}
	return ""
}

// counter reads the value of one series of a counter from the API's /metrics.
func (s *stack) counter(name, labels string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+"{"+labels+"}") + ` (\S+)$`)
	m := re.FindStringSubmatch(string(b))
	if m == nil {
		s.t.Fatalf("no %s{%s} in /metrics:\n%s", name, labels, grepLines(string(b), name))
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}

// grepLines returns the lines of text that contain substr.
func grepLines(text, substr string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
