package activities_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/meta/metatest"
)

// outboundStore is a fake aicc.OutboundStore with the store's semantics (db/outbound.go).
type outboundStore struct {
	mu      sync.Mutex
	records map[string]aicc.OutboundRecord
	err     error // returned by every method when set
}

func (s *outboundStore) BeginOutbound(_ context.Context, r *aicc.OutboundRecord) (*aicc.OutboundRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if s.records == nil {
		s.records = map[string]aicc.OutboundRecord{}
	}
	old, ok := s.records[r.ID]
	switch {
	case !ok:
		r.Status, r.Attempts, r.UpdatedAt = aicc.OutboundSending, 1, r.CreatedAt
		s.records[r.ID] = *r
		return nil, nil
	case old.TenantID != r.TenantID:
		return nil, aicc.Errorf(aicc.ECONFLICT, "another tenant's")
	case old.Status == aicc.OutboundFailed:
		old.Status, old.Attempts, old.UpdatedAt = aicc.OutboundSending, old.Attempts+1, r.CreatedAt
		s.records[r.ID], *r = old, old
		return nil, nil
	}
	return &old, nil
}

func (s *outboundStore) FinishOutbound(_ context.Context, id string, status aicc.OutboundStatus, mid, errText string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	r, ok := s.records[id]
	if !ok {
		return aicc.Errorf(aicc.ENOTFOUND, "no such outbound message")
	}
	if r.Status == aicc.OutboundSending || r.Status == aicc.OutboundAmbiguous {
		r.Status, r.MID, r.Error, r.UpdatedAt = status, mid, errText, at
		s.records[id] = r
	}
	return nil
}

func (s *outboundStore) ListOutbound(context.Context, string, string, aicc.ListOptions) ([]*aicc.OutboundRecord, string, error) {
	panic("not used by the activities")
}

func (s *outboundStore) record(id string) aicc.OutboundRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[id]
}

func (s *outboundStore) seed(r aicc.OutboundRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.records == nil {
		s.records = map[string]aicc.OutboundRecord{}
	}
	s.records[r.ID] = r
}

func (s *outboundStore) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// sendGraph is a fake aicc.Graph's Send API: it records what it is given and answers with answer.
type sendGraph struct {
	aicc.Graph // the other methods: not used
	mu         sync.Mutex
	msgs       []aicc.OutboundMessage
	answer     func(n int) (aicc.SendResult, error) // n counts the calls from 1; nil: m_<n>
}

func (g *sendGraph) SendMessage(_ context.Context, _ aicc.PageCall, msg aicc.OutboundMessage) (aicc.SendResult, error) {
	g.mu.Lock()
	g.msgs = append(g.msgs, msg)
	n, answer := len(g.msgs), g.answer
	g.mu.Unlock()
	if answer != nil {
		return answer(n)
	}
	return aicc.SendResult{RecipientID: msg.RecipientPSID, MessageID: fmt.Sprint("m_", n)}, nil
}

func (g *sendGraph) calls() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.msgs)
}

const sendPSID = "7001000000000042"

// sendInput is message seq of the conversation, from an agent.
func sendInput(seq int) activities.SendConversationMessageInput {
	id := aicc.ConversationID("ch_1", pageID, sendPSID)
	return activities.SendConversationMessageInput{
		PageInput: page, PSID: sendPSID, OutboundID: fmt.Sprintf("%s/%d", id, seq), Purpose: aicc.PurposeAgent,
		Text: fmt.Sprint("Reply ", seq), Type: aicc.MessagingMessageTag, Tag: aicc.TagHumanAgent,
	}
}

// sendFixture is the activities over the page fakes, an outbound store, a pacer on a fake clock and metrics.
type sendFixture struct {
	*pageFixture
	outbound *outboundStore
	clock    *fakeClock
	reg      *prometheus.Registry
}

func newSendFixture(t *testing.T, pf *pageFixture) *sendFixture {
	t.Helper()
	f := &sendFixture{pageFixture: pf, outbound: &outboundStore{}, clock: newFakeClock(), reg: prometheus.NewRegistry()}
	f.acts.Outbound = f.outbound
	f.acts.Pacer = pacerOn(f.clock, activities.DefaultSendRate)
	f.acts.OutboundMetrics = activities.NewOutboundMetrics(f.reg)
	return f
}

// withGraph is a send fixture whose Graph is g.
func withGraph(t *testing.T, g *sendGraph) *sendFixture {
	t.Helper()
	f := newSendFixture(t, newPageFixture(t))
	f.acts.Graph = provider{g: g}
	return f
}

func (f *sendFixture) send(in activities.SendConversationMessageInput) (aicc.SendResult, error) {
	v, err := f.env.ExecuteActivity(f.acts.SendConversationMessage, in)
	if err != nil {
		return aicc.SendResult{}, err
	}
	var res aicc.SendResult
	if err := v.Get(&res); err != nil {
		return aicc.SendResult{}, err
	}
	return res, nil
}

// counted returns aicc_outbound_messages_total of the purpose and result.
func (f *sendFixture) counted(t *testing.T, purpose, result string) float64 {
	t.Helper()
	families, err := f.reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() != "aicc_outbound_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["purpose"] == purpose && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no aicc_outbound_messages_total{purpose=%q,result=%q}", purpose, result)
	return 0
}

// The first send goes to Meta with the outbound ID in its metadata; a retry after the success does not call
// Meta again and answers the same MID.
func TestSendConversationMessage(t *testing.T) {
	f, hf := newHTTPSendFixture(t)
	in := sendInput(1)

	res, err := f.send(in)
	require.NoError(t, err)
	require.NotEmpty(t, res.MessageID)
	assert.Equal(t, sendPSID, res.RecipientID)
	sent := hf.Sent()
	require.Len(t, sent, 1)
	assert.Equal(t, metatest.SentMessage{
		PageID: pageID, RecipientID: sendPSID, MessagingType: "MESSAGE_TAG", Tag: aicc.TagHumanAgent,
		Text: "Reply 1", MessageID: res.MessageID, Metadata: "aicc:" + in.OutboundID, At: sent[0].At,
	}, sent[0])
	rec := f.outbound.record(in.OutboundID)
	assert.Equal(t, aicc.OutboundSent, rec.Status)
	assert.Equal(t, res.MessageID, rec.MID)
	assert.Equal(t, aicc.ConversationID("ch_1", pageID, sendPSID), rec.ConversationID)
	assert.Equal(t, aicc.PurposeAgent, rec.Purpose)
	assert.Equal(t, aicc.TokenHealthy, f.store.state(pageID).TokenHealth, "the token's health is recorded")

	// The activity's completion got lost: Temporal runs it again.
	requests := len(hf.Requests())
	again, err := f.send(in)
	require.NoError(t, err)
	assert.Equal(t, res, again)
	assert.Len(t, hf.Sent(), 1, "not sent twice")
	assert.Len(t, hf.Requests(), requests, "Meta not called at all")

	assert.EqualValues(t, 1, f.counted(t, aicc.PurposeAgent, "sent"))
	assert.EqualValues(t, 1, f.counted(t, aicc.PurposeAgent, "duplicate"))
	assert.EqualValues(t, 0, f.counted(t, aicc.PurposeRobot, "sent"), "every series is there from the start")
}

// newHTTPSendFixture is a send fixture over real HTTPS to the fake Meta.
func newHTTPSendFixture(t *testing.T) (*sendFixture, *metatest.GraphServer) {
	t.Helper()
	hf := newHTTPFixture(t, true, false)
	f := newSendFixture(t, hf.pageFixture)
	return f, hf.srv
}

// A call that ends without Meta's answer, after Meta took the message, is ambiguous: not retried, and a retry
// Temporal makes anyway does not send it again.
func TestSendConversationMessageTimeout(t *testing.T) {
	f, srv := newHTTPSendFixture(t)
	srv.SlowDelay = 2 * httpTimeout // the client gives up first; the fake then sends it all the same
	srv.FailNext(1, metatest.FailSlow)
	in := sendInput(1)

	_, err := f.send(in)
	appErr := appError(t, err, aicc.EAMBIGUOUSSEND, true)
	assert.NotContains(t, appErr.Message(), pageToken)
	assert.Eventually(t, func() bool { return len(srv.Sent()) == 1 }, 5*time.Second, 10*time.Millisecond,
		"Meta carried the message out after the client gave up")
	rec := f.outbound.record(in.OutboundID)
	assert.Equal(t, aicc.OutboundAmbiguous, rec.Status)
	assert.Contains(t, rec.Error, aicc.EMETAUNAVAILABLE)

	requests := len(srv.Requests())
	_, err = f.send(in)
	appError(t, err, aicc.EAMBIGUOUSSEND, true)
	assert.Len(t, srv.Requests(), requests, "not sent again")
	assert.Len(t, srv.Sent(), 1)
	assert.EqualValues(t, 2, f.counted(t, aicc.PurposeAgent, "ambiguous"))
}

// Outcomes that do not say Meta refused the message leave it ambiguous, never sent again: the activity's
// context ending while Meta's answer is on its way, a gateway's 5xx without Graph's error body, and a 2xx
// whose body could not be read.
func TestSendConversationMessageWithoutMetaRefusal(t *testing.T) {
	for name, answer := range map[string]*aicc.GraphError{
		"cancelled after accepted": {Code: aicc.EMETAUNAVAILABLE, Message: "Meta could not be reached; retry later.",
			Retryable: true, Err: context.Canceled},
		"gateway 502":    {Code: aicc.EMETAUNAVAILABLE, Message: "Meta is unavailable; retry later.", HTTPStatus: 502, Retryable: true},
		"unreadable 200": {Code: aicc.EMETAERROR, Message: "Meta answered with a body that is not the expected JSON.", HTTPStatus: 200},
	} {
		t.Run(name, func(t *testing.T) {
			g := &sendGraph{answer: func(int) (aicc.SendResult, error) { return aicc.SendResult{}, answer }}
			f := withGraph(t, g)
			in := sendInput(1)

			_, err := f.send(in)
			appError(t, err, aicc.EAMBIGUOUSSEND, true)
			assert.Equal(t, aicc.OutboundAmbiguous, f.outbound.record(in.OutboundID).Status)
			_, err = f.send(in)
			appError(t, err, aicc.EAMBIGUOUSSEND, true)
			assert.Equal(t, 1, g.calls(), "Meta was called once")
		})
	}
}

// A worker that died in the middle of the call left the message "sending": the next attempt cannot know
// whether Meta has it, marks it ambiguous and does not call Meta.
func TestSendConversationMessageAfterCrash(t *testing.T) {
	g := &sendGraph{}
	f := withGraph(t, g)
	in := sendInput(1)
	f.outbound.seed(aicc.OutboundRecord{ID: in.OutboundID, TenantID: "ten_1", ChannelID: "ch_1", PageID: pageID,
		PSID: sendPSID, Purpose: aicc.PurposeAgent, Status: aicc.OutboundSending, Attempts: 1, CreatedAt: testNow})

	_, err := f.send(in)
	appErr := appError(t, err, aicc.EAMBIGUOUSSEND, true)
	assert.Equal(t, temporal.ApplicationErrorCategoryBenign, appErr.Category(), "an expected outcome, not a crash")
	rec := f.outbound.record(in.OutboundID)
	assert.Equal(t, aicc.OutboundAmbiguous, rec.Status)
	assert.Contains(t, rec.Error, aicc.EAMBIGUOUSSEND)
	assert.Zero(t, g.calls())
}

// Meta's rate limit with its estimate: retryable after the estimate, the Page held meanwhile (its next
// message waits without calling Meta), and the message sent once the limit is over.
func TestSendConversationMessageRateLimited(t *testing.T) {
	const regain = time.Minute // Meta's estimates are whole minutes: the shortest, which is waited out
	f, srv := newHTTPSendFixture(t)
	srv.RegainAccess = regain
	srv.FailNext(1, metatest.FailPageRateLimit)
	in := sendInput(1)

	_, err := f.send(in)
	appErr := appError(t, err, aicc.EMETARATELIMITED, false)
	assert.Equal(t, regain, appErr.NextRetryDelay(), "Temporal retries after Meta's estimate")
	rec := f.outbound.record(in.OutboundID)
	assert.Equal(t, aicc.OutboundFailed, rec.Status, "nothing of it is at Meta")
	assert.Contains(t, rec.Error, aicc.EMETARATELIMITED)
	assert.Equal(t, aicc.TokenDegraded, f.store.state(pageID).TokenHealth)
	requests := len(srv.Requests())

	// Another message of the Page while the limit lasts: not even tried.
	_, err = f.send(sendInput(2))
	appErr = appError(t, err, aicc.EMETARATELIMITED, false)
	assert.Equal(t, regain, appErr.NextRetryDelay())
	assert.Len(t, srv.Requests(), requests)
	assert.Empty(t, f.outbound.record(sendInput(2).OutboundID).Status, "not claimed")

	// Temporal's retry after the estimate.
	f.clock.advance(regain)
	res, err := f.send(in)
	require.NoError(t, err)
	rec = f.outbound.record(in.OutboundID)
	assert.Equal(t, aicc.OutboundSent, rec.Status)
	assert.Equal(t, res.MessageID, rec.MID)
	assert.Empty(t, rec.Error)
	assert.Equal(t, 2, rec.Attempts)
	assert.Len(t, srv.Sent(), 1)
	assert.Equal(t, aicc.TokenHealthy, f.store.state(pageID).TokenHealth)
	assert.EqualValues(t, 2, f.counted(t, aicc.PurposeAgent, "rate_limited"))
	assert.EqualValues(t, 1, f.counted(t, aicc.PurposeAgent, "sent"))
}

// A rate limit Meta says lasts longer than a minute is not waited out: the conversation waits for its send.
// The message fails now, and the Page's next message too, without calling Meta.
func TestSendConversationMessageRateLimitedForLong(t *testing.T) {
	f, srv := newHTTPSendFixture(t)
	srv.RegainAccess = 30 * time.Minute
	srv.FailNext(1, metatest.FailPageRateLimit)
	in := sendInput(1)

	_, err := f.send(in)
	appError(t, err, aicc.EMETARATELIMITED, true)
	assert.Equal(t, aicc.OutboundFailed, f.outbound.record(in.OutboundID).Status)
	requests := len(srv.Requests())
	_, err = f.send(sendInput(2))
	appError(t, err, aicc.EMETARATELIMITED, true)
	assert.Len(t, srv.Requests(), requests, "the Page is held")
	assert.Empty(t, srv.Sent())
}

// A rate limit without an estimate (613 answered to every one of the client's own tries) is retryable with
// Temporal's backoff.
func TestSendConversationMessageRateLimitedWithoutEstimate(t *testing.T) {
	f, srv := newHTTPSendFixture(t)
	srv.FailNext(1+httpRetries, metatest.FailRateLimit)
	in := sendInput(1)

	_, err := f.send(in)
	appErr := appError(t, err, aicc.EMETARATELIMITED, false)
	assert.Zero(t, appErr.NextRetryDelay())
	assert.Equal(t, aicc.OutboundFailed, f.outbound.record(in.OutboundID).Status)

	_, err = f.send(in)
	require.NoError(t, err)
	assert.Len(t, srv.Sent(), 1)
}

// Meta's refusals are answers: not retried, nothing sent, the message failed.
func TestSendConversationMessageRefused(t *testing.T) {
	for _, tt := range []struct {
		failure metatest.Failure
		code    string
	}{
		{metatest.FailUserUnavailable, aicc.EMETAUSERUNAVAILABLE},
		{metatest.FailPermission, aicc.EMETAPERMISSION},
		{metatest.FailInvalidParam, aicc.EMETAINVALIDPARAM},
	} {
		t.Run(string(tt.failure), func(t *testing.T) {
			f, srv := newHTTPSendFixture(t)
			srv.FailNext(1, tt.failure)
			in := sendInput(1)
			_, err := f.send(in)
			appError(t, err, tt.code, true)
			assert.Empty(t, srv.Sent())
			rec := f.outbound.record(in.OutboundID)
			assert.Equal(t, aicc.OutboundFailed, rec.Status)
			assert.Contains(t, rec.Error, tt.code)
			assert.EqualValues(t, 1, f.counted(t, aicc.PurposeAgent, "failed"))
		})
	}
}

// Meta unavailable (a 5xx after the client's own tries, or no connection at all) never took the message: it
// is retried and sent.
func TestSendConversationMessageUnavailable(t *testing.T) {
	t.Run("5xx", func(t *testing.T) {
		f, srv := newHTTPSendFixture(t)
		srv.FailNext(1+httpRetries, metatest.FailServerError)
		in := sendInput(1)
		_, err := f.send(in)
		appError(t, err, aicc.EMETAUNAVAILABLE, false)
		assert.Equal(t, aicc.OutboundFailed, f.outbound.record(in.OutboundID).Status)
		_, err = f.send(in)
		require.NoError(t, err)
		assert.Len(t, srv.Sent(), 1)
		assert.EqualValues(t, 1, f.counted(t, aicc.PurposeAgent, "retried"))
	})
	t.Run("connection refused", func(t *testing.T) {
		f, srv := newHTTPSendFixture(t)
		srv.Server.Close()
		in := sendInput(1)
		_, err := f.send(in)
		appError(t, err, aicc.EMETAUNAVAILABLE, false)
		assert.Equal(t, aicc.OutboundFailed, f.outbound.record(in.OutboundID).Status, "the request never left")
	})
}

// A message that breaks a rule is refused before anything is recorded or sent.
func TestSendConversationMessageInvalid(t *testing.T) {
	g := &sendGraph{}
	f := withGraph(t, g)
	for name, change := range map[string]func(*activities.SendConversationMessageInput){
		"no outbound ID":    func(in *activities.SendConversationMessageInput) { in.OutboundID = "" },
		"unknown purpose":   func(in *activities.SendConversationMessageInput) { in.Purpose = "marketing" },
		"no text":           func(in *activities.SendConversationMessageInput) { in.Text = "" },
		"tag without type":  func(in *activities.SendConversationMessageInput) { in.Type = aicc.MessagingResponse },
		"not a PSID":        func(in *activities.SendConversationMessageInput) { in.PSID = "someone" },
		"retired tag":       func(in *activities.SendConversationMessageInput) { in.Tag = "ACCOUNT_UPDATE" },
		"no messaging type": func(in *activities.SendConversationMessageInput) { in.Type, in.Tag = "", "" },
	} {
		t.Run(name, func(t *testing.T) {
			in := sendInput(1)
			change(&in)
			_, err := f.send(in)
			appError(t, err, aicc.EINVALID, true)
		})
	}
	assert.Zero(t, g.calls())
	assert.Empty(t, f.outbound.records)
	assert.EqualValues(t, 1, f.counted(t, "invalid", "failed"))
}

// The store not answering: retried, and Meta not called.
func TestSendConversationMessageStoreDown(t *testing.T) {
	g := &sendGraph{}
	f := withGraph(t, g)
	f.outbound.fail(errors.New("database is down"))
	_, err := f.send(sendInput(1))
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		assert.False(t, appErr.NonRetryable())
	}
	assert.Zero(t, g.calls())
}

// Calls of one Page are paced: at 2 a second, the third message of a burst waits half a second of the pacer's
// clock, and so on; another Page has its own budget.
func TestSendConversationMessagePaced(t *testing.T) {
	g := &sendGraph{}
	f := withGraph(t, g)
	f.acts.Pacer = pacerOn(f.clock, 2)
	start := f.clock.Now()
	for seq := range 6 {
		_, err := f.send(sendInput(seq))
		require.NoError(t, err)
	}
	assert.Equal(t, 6, g.calls())
	assert.Len(t, f.clock.slept, 4, "a burst of 2, then 2 a second")
	assert.InDelta(t, 2*time.Second, f.clock.Now().Sub(start), float64(time.Millisecond))
}
