package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/workflows"
)

// page is the Page JSON.
type page struct {
	PageID            string     `json:"pageId"`
	ChannelID         string     `json:"channelId"`
	Name              string     `json:"name"`
	TokenSecret       secretInfo `json:"tokenSecret"`
	Status            string     `json:"status"`
	StatusReason      string     `json:"statusReason"`
	TokenHealth       string     `json:"tokenHealth"`
	TokenHealthReason string     `json:"tokenHealthReason"`
	StateUpdatedAt    time.Time  `json:"stateUpdatedAt"`
}

func decodePage(tb testing.TB, r *response) page {
	tb.Helper()
	var p page
	r.decode(tb, &p)
	return p
}

func pagesPath(channelID string) string { return "/v1/channels/" + channelID + "/pages" }

// withPageWait shortens how long Page routes wait for their workflow.
func withPageWait(d time.Duration) harnessOption {
	return func(s *api.Server) { s.PageConnectWait = d }
}

// withGraph makes g the server's Graph provider.
func withGraph(g aicc.GraphProvider) harnessOption {
	return func(s *api.Server) { s.Graph = g }
}

// pageExists reports whether the store still has the Page.
func (h *harness) pageExists(tn tenant, channelID, pageID string) bool {
	h.t.Helper()
	_, err := h.store.GetPage(context.Background(), tn.ID, channelID, pageID)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		return false
	}
	require.NoError(h.t, err)
	return true
}

// failStarts makes the next ExecuteWorkflow fail with err; the default starts come back after it.
func (h *harness) failStarts(t *testing.T, err error) {
	h.startCall.Unset()
	h.temporal.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, err).Once()
	t.Cleanup(func() { h.startCall = h.defaultStarts() })
}

func TestAddPage(t *testing.T) {
	h := newHarness(t, withPageWait(200*time.Millisecond))
	tn := h.newTenant("A")
	ch := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID

	t.Run("subscribed", func(t *testing.T) {
		h := h.on(t)
		r := h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1001", "tokenSecret": "EAAB-1001", "name": "Shop"})
		requireStatus(t, r, http.StatusCreated)
		p := decodePage(t, r)
		assert.Equal(t, "subscribed", p.Status)
		assert.Empty(t, p.StatusReason)
		assert.Equal(t, "healthy", p.TokenHealth)
		assert.False(t, p.StateUpdatedAt.IsZero())

		// The workflow was started with IDs only, one per Page.
		h.temporal.AssertCalled(t, "ExecuteWorkflow", mock.Anything,
			mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == workflows.ConnectPageWorkflowID("1001") }),
			mock.Anything, workflows.PageInput{TenantID: tn.ID, ChannelID: ch, PageID: "1001"})

		r = h.get(pagesPath(ch)+"/1001", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		assert.Equal(t, "subscribed", decodePage(t, r).Status)
		r = h.get("/v1/channels/"+ch, tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		assert.Contains(t, string(r.Body), `"tokenHealth":"healthy"`)
	})

	t.Run("subscription failed", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(h.flows.outcome(workflows.ConnectPageResult{
			Status: aicc.PageSubscriptionFailed, Reason: aicc.EMETARATELIMITED, Message: "Meta limits the app.",
		}))
		defer h.flows.setConnect(nil)
		r := h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1002", "tokenSecret": "EAAB-1002"})
		requireStatus(t, r, http.StatusCreated)
		p := decodePage(t, r)
		assert.Equal(t, "subscription_failed", p.Status)
		assert.Equal(t, aicc.EMETARATELIMITED, p.StatusReason)

		r = h.get(pagesPath(ch)+"/1002", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		assert.Equal(t, aicc.EMETARATELIMITED, decodePage(t, r).StatusReason, "the Page keeps its outcome")
	})

	for _, reason := range []string{aicc.EMETATOKENINVALID, aicc.EMETAPERMISSION} {
		t.Run("token refused/"+reason, func(t *testing.T) {
			h := h.on(t)
			h.flows.setConnect(h.flows.outcome(workflows.ConnectPageResult{
				Status: aicc.PageTokenInvalid, Reason: reason, Message: "Meta refused the Page access token.",
			}))
			defer h.flows.setConnect(nil)
			r := h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1003", "tokenSecret": "EAAB-expired"})
			e := requireError(t, r, http.StatusUnprocessableEntity, reason)
			assert.Contains(t, e.Fields, "tokenSecret")
			assert.Equal(t, "Meta refused the Page access token.", e.Message)
			assert.False(t, h.pageExists(tn, ch, "1003"), "no broken Page is stored")
		})
	}

	t.Run("token refused, Page left behind by the workflow", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(func(context.Context, workflows.PageInput) (workflows.ConnectPageResult, error) {
			return workflows.ConnectPageResult{Status: aicc.PageTokenInvalid, Reason: aicc.EMETATOKENINVALID}, nil
		})
		defer h.flows.setConnect(nil)
		e := requireError(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1004", "tokenSecret": "x"}),
			http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
		assert.NotEmpty(t, e.Message)
		assert.False(t, h.pageExists(tn, ch, "1004"))
	})

	t.Run("slow", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(slowConnect)
		defer h.flows.setConnect(nil)
		start := time.Now()
		r := h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1005", "tokenSecret": "EAAB-1005"})
		requireStatus(t, r, http.StatusAccepted)
		assert.Less(t, time.Since(start), 5*time.Second)
		p := decodePage(t, r)
		assert.Equal(t, "connecting", p.Status)
		assert.Equal(t, "healthy", p.TokenHealth)
		r = h.get(pagesPath(ch)+"/1005", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		assert.Equal(t, "connecting", decodePage(t, r).Status, "the workflow goes on")
	})

	t.Run("start fails", func(t *testing.T) {
		h := h.on(t)
		h.failStarts(t, serviceerror.NewUnavailable("connection refused"))
		requireError(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1006", "tokenSecret": "t"}),
			http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		assert.False(t, h.pageExists(tn, ch, "1006"), "nothing stays when the workflow did not start")
	})

	t.Run("already being connected", func(t *testing.T) {
		h := h.on(t)
		h.failStarts(t, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", ""))
		e := requireError(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1007", "tokenSecret": "t"}),
			http.StatusConflict, aicc.ECONFLICT)
		assert.Contains(t, e.Message, "being connected")
		assert.False(t, h.pageExists(tn, ch, "1007"))
	})

	t.Run("workflow failed", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(func(context.Context, workflows.PageInput) (workflows.ConnectPageResult, error) {
			return workflows.ConnectPageResult{}, errors.New("workflow execution error: activity timed out")
		})
		defer h.flows.setConnect(nil)
		e := requireError(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1008", "tokenSecret": "t"}),
			http.StatusInternalServerError, aicc.EINTERNAL)
		assert.NotContains(t, e.Message, "activity")
	})

	t.Run("viewer", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.post(pagesPath(ch), tn.Viewer, map[string]any{"pageId": "1009", "tokenSecret": "t"}),
			http.StatusForbidden, aicc.EFORBIDDEN)
	})
}

func TestReconnectPage(t *testing.T) {
	h := newHarness(t, withPageWait(200*time.Millisecond))
	tn := h.newTenant("A")
	ch := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	failed := h.flows.outcome(workflows.ConnectPageResult{Status: aicc.PageSubscriptionFailed, Reason: aicc.EMETAUNAVAILABLE})
	h.flows.setConnect(failed)
	requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "2001", "tokenSecret": "EAAB"}), http.StatusCreated)
	h.flows.setConnect(nil)
	path := pagesPath(ch) + "/2001/connect"

	t.Run("slow", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(slowConnect)
		defer h.flows.setConnect(nil)
		r := h.post(path, tn.Admin, nil)
		requireStatus(t, r, http.StatusAccepted)
		assert.Equal(t, "connecting", decodePage(t, r).Status)
	})
	t.Run("being connected", func(t *testing.T) {
		h := h.on(t)
		h.failStarts(t, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", ""))
		requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.ECONFLICT)
	})
	t.Run("start fails", func(t *testing.T) {
		h := h.on(t)
		require.NoError(t, h.store.SetPageStatus(context.Background(), "2001", aicc.PageSubscriptionFailed, aicc.EMETAUNAVAILABLE, h.now()))
		h.failStarts(t, serviceerror.NewUnavailable("down"))
		requireError(t, h.post(path, tn.Admin, nil), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		r := h.get(pagesPath(ch)+"/2001", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		p := decodePage(t, r)
		assert.Equal(t, "subscription_failed", p.Status, "the Page is as it was")
		assert.Equal(t, aicc.EMETAUNAVAILABLE, p.StatusReason)
	})
	t.Run("subscribed", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(nil)
		r := h.post(path, tn.Admin, nil)
		requireStatus(t, r, http.StatusOK)
		p := decodePage(t, r)
		assert.Equal(t, "subscribed", p.Status)
		assert.Empty(t, p.StatusReason)

		e := requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.ECONFLICT)
		assert.Contains(t, e.Message, "subscribed already")
	})
	t.Run("token refused", func(t *testing.T) {
		h := h.on(t)
		require.NoError(t, h.store.SetPageStatus(context.Background(), "2001", aicc.PageSubscriptionFailed, aicc.EMETAERROR, h.now()))
		h.flows.setConnect(h.flows.outcome(workflows.ConnectPageResult{Status: aicc.PageTokenInvalid, Reason: aicc.EMETATOKENINVALID}))
		defer h.flows.setConnect(nil)
		e := requireError(t, h.post(path, tn.Admin, nil), http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
		assert.Contains(t, e.Fields, "tokenSecret")
		assert.False(t, h.pageExists(tn, ch, "2001"))
	})
	t.Run("missing", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.post(pagesPath(ch)+"/9999/connect", tn.Admin, nil), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, h.post(path, tn.Viewer, nil), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}

func TestRemovePage(t *testing.T) {
	h := newHarness(t, withPageWait(200*time.Millisecond))
	tn := h.newTenant("A")
	ch := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	add := func(id string) {
		t.Helper()
		requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": id, "tokenSecret": "EAAB"}), http.StatusCreated)
	}

	add("3001")
	requireStatus(t, h.delete(pagesPath(ch)+"/3001", tn.Admin), http.StatusNoContent)
	assert.False(t, h.pageExists(tn, ch, "3001"))
	h.temporal.AssertCalled(t, "ExecuteWorkflow", mock.Anything,
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == workflows.DisconnectPageWorkflowID("3001") }),
		mock.Anything, workflows.PageInput{TenantID: tn.ID, ChannelID: ch, PageID: "3001"})
	requireError(t, h.delete(pagesPath(ch)+"/3001", tn.Admin), http.StatusNotFound, aicc.ENOTFOUND)

	add("3002")
	h.flows.setDisconnect(func(ctx context.Context, _ workflows.PageInput) error {
		<-ctx.Done()
		return ctx.Err()
	})
	requireStatus(t, h.delete(pagesPath(ch)+"/3002", tn.Admin), http.StatusAccepted)
	assert.True(t, h.pageExists(tn, ch, "3002"), "the workflow goes on")
	h.flows.setDisconnect(nil)

	t.Run("already disconnecting", func(t *testing.T) {
		h := h.on(t)
		h.failStarts(t, serviceerror.NewWorkflowExecutionAlreadyStarted("already started", "", ""))
		requireStatus(t, h.delete(pagesPath(ch)+"/3002", tn.Admin), http.StatusAccepted)
	})
	t.Run("meta fails", func(t *testing.T) {
		h := h.on(t)
		h.flows.setDisconnect(func(context.Context, workflows.PageInput) error {
			return temporal.NewNonRetryableApplicationError("Meta did not answer.", aicc.EMETAUNAVAILABLE, nil)
		})
		defer h.flows.setDisconnect(nil)
		e := requireError(t, h.delete(pagesPath(ch)+"/3002", tn.Admin), http.StatusBadGateway, aicc.EMETAUNAVAILABLE)
		assert.Equal(t, "Meta did not answer.", e.Message)
		assert.True(t, h.pageExists(tn, ch, "3002"), "kept, so that the removal can be retried")
	})
	t.Run("temporal down", func(t *testing.T) {
		h := h.on(t)
		h.failStarts(t, serviceerror.NewUnavailable("down"))
		requireError(t, h.delete(pagesPath(ch)+"/3002", tn.Admin), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		assert.True(t, h.pageExists(tn, ch, "3002"))
	})
	t.Run("viewer", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.delete(pagesPath(ch)+"/3002", tn.Viewer), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}

// fakeGraph is a GraphProvider whose Graph records the messages it is asked to send.
type fakeGraph struct {
	mu          sync.Mutex
	sent        []sent
	sendErr     error // the next SendMessage fails with it
	providerErr error // Graph fails with it
}

type sent struct {
	call aicc.PageCall
	msg  aicc.OutboundMessage
}

func (f *fakeGraph) Graph(context.Context) (aicc.Graph, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.providerErr != nil {
		return nil, f.providerErr
	}
	return f, nil
}

func (f *fakeGraph) failNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sendErr = err
}

func (f *fakeGraph) calls() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.sent...)
}

var errNotFaked = errors.New("not faked")

func (f *fakeGraph) CheckPageToken(context.Context, aicc.PageCall) (aicc.PageInfo, error) {
	return aicc.PageInfo{}, errNotFaked
}
func (f *fakeGraph) SubscribeApp(context.Context, aicc.PageCall) error { return errNotFaked }
func (f *fakeGraph) SubscribedApps(context.Context, aicc.PageCall) ([]aicc.SubscribedApp, error) {
	return nil, errNotFaked
}
func (f *fakeGraph) UnsubscribeApp(context.Context, aicc.PageCall) error { return errNotFaked }

func (f *fakeGraph) SendMessage(_ context.Context, call aicc.PageCall, msg aicc.OutboundMessage) (aicc.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sent{call, msg})
	if err := f.sendErr; err != nil {
		f.sendErr = nil
		return aicc.SendResult{}, err
	}
	return aicc.SendResult{RecipientID: msg.RecipientPSID, MessageID: fmt.Sprintf("m_%d", len(f.sent))}, nil
}

// graphError is what the Graph client returns for a Graph error body.
func graphError(code string, status, graphCode, subcode int) *aicc.GraphError {
	return &aicc.GraphError{
		Code: code, Message: "Meta refused the call.", HTTPStatus: status, GraphCode: graphCode, Subcode: subcode,
		Type: "OAuthException", FBTraceID: "AbCdEf123", GraphMessage: "Error validating access token",
		Retryable: code == aicc.EMETARATELIMITED || code == aicc.EMETAUNAVAILABLE,
	}
}

func TestSendTestMessage(t *testing.T) {
	graph := &fakeGraph{}
	h := newHarness(t, withGraph(graph))
	tn := h.newTenant("A")
	body := channelBody(tn, "fb_main")
	body["appSecret"] = "app-secret-for-send"
	ch := h.createChannel(tn, body).Channel.ID
	requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "4001", "tokenSecret": "EAAB-send"}),
		http.StatusCreated)
	path := pagesPath(ch) + "/4001/messages"
	msg := func(text string) map[string]any { return map[string]any{"recipientId": "24000001", "text": text} }

	t.Run("sent", func(t *testing.T) {
		h := h.on(t)
		r := h.post(path, tn.Admin, msg("Hello from aicc"))
		requireStatus(t, r, http.StatusOK)
		assert.JSONEq(t, `{"recipientId":"24000001","messageId":"m_1"}`, string(r.Body))

		calls := graph.calls()
		require.Len(t, calls, 1)
		assert.Equal(t, aicc.PageCall{PageID: "4001", AccessToken: "EAAB-send", AppSecret: "app-secret-for-send"}, calls[0].call,
			"the Page token and the channel's app secret are unsealed for the call")
		assert.Equal(t, aicc.OutboundMessage{RecipientPSID: "24000001", Text: "Hello from aicc", Type: aicc.MessagingResponse},
			calls[0].msg)
	})
	t.Run("human agent tag", func(t *testing.T) {
		h := h.on(t)
		b := msg("A human answers")
		b["messagingType"], b["tag"] = "MESSAGE_TAG", "HUMAN_AGENT"
		requireStatus(t, h.post(path, tn.Admin, b), http.StatusOK)
		calls := graph.calls()
		assert.Equal(t, aicc.MessagingMessageTag, calls[len(calls)-1].msg.Type)
		assert.Equal(t, aicc.TagHumanAgent, calls[len(calls)-1].msg.Tag)
	})
	t.Run("2,000 characters", func(t *testing.T) {
		h := h.on(t)
		requireStatus(t, h.post(path, tn.Admin, msg(strings.Repeat("é", 2000))), http.StatusOK)
	})

	t.Run("invalid", func(t *testing.T) {
		h := h.on(t)
		before := len(graph.calls())
		tagged := msg("hi")
		tagged["messagingType"] = "MESSAGE_TAG"
		for field, b := range map[string]map[string]any{
			"text":        msg(strings.Repeat("x", 2001)),
			"recipientId": {"recipientId": "someone", "text": "hi"},
			"tag":         tagged,
		} {
			e := requireError(t, h.post(path, tn.Admin, b), http.StatusBadRequest, aicc.EINVALID)
			assert.Contains(t, e.Fields, field)
		}
		assert.Len(t, graph.calls(), before, "nothing is sent")
	})

	t.Run("token invalid", func(t *testing.T) {
		h := h.on(t)
		graph.failNext(graphError(aicc.EMETATOKENINVALID, http.StatusBadRequest, 190, 463))
		e := requireError(t, h.post(path, tn.Admin, msg("hi")), http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
		assert.Equal(t, "Meta refused the call.", e.Message)
		assert.Contains(t, h.logs.String(), `"fbtrace_id":"AbCdEf123"`)

		r := h.get(pagesPath(ch)+"/4001", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		p := decodePage(t, r)
		assert.Equal(t, "reauth_required", p.TokenHealth)
		assert.Equal(t, aicc.EMETATOKENINVALID, p.TokenHealthReason)
		assert.Equal(t, "subscribed", p.Status, "the connection status is left as it is")
		r = h.get("/v1/channels/"+ch, tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		assert.Contains(t, string(r.Body), `"tokenHealth":"reauth_required"`)
		assert.Contains(t, string(h.get("/metrics", "").Body), `aicc_pages{token_health="reauth_required"} 1`)

		// A success makes it healthy again.
		requireStatus(t, h.post(path, tn.Admin, msg("hi again")), http.StatusOK)
		r = h.get(pagesPath(ch)+"/4001", tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		assert.Equal(t, "healthy", decodePage(t, r).TokenHealth)
	})
	t.Run("meta errors", func(t *testing.T) {
		for _, tt := range []struct {
			err    *aicc.GraphError
			status int
			health string
		}{
			{graphError(aicc.EMETARATELIMITED, http.StatusBadRequest, 613, 0), http.StatusTooManyRequests, "degraded"},
			{graphError(aicc.EMETAUNAVAILABLE, http.StatusServiceUnavailable, 2, 0), http.StatusBadGateway, "degraded"},
			{graphError(aicc.EMETAUSERUNAVAILABLE, http.StatusBadRequest, 551, 0), http.StatusUnprocessableEntity, "healthy"},
			{graphError(aicc.EMETAPERMISSION, http.StatusForbidden, 200, 0), http.StatusUnprocessableEntity, "reauth_required"},
		} {
			t.Run(tt.err.Code, func(t *testing.T) {
				h := h.on(t)
				require.NoError(t, h.store.SetPageTokenHealth(context.Background(), "4001", aicc.TokenHealthy, "", h.now()))
				graph.failNext(tt.err)
				requireError(t, h.post(path, tn.Admin, msg("hi")), tt.status, tt.err.Code)
				r := h.get(pagesPath(ch)+"/4001", tn.Viewer)
				requireStatus(t, r, http.StatusOK)
				assert.Equal(t, tt.health, decodePage(t, r).TokenHealth)
			})
		}
	})
	t.Run("no certificate", func(t *testing.T) {
		h := h.on(t)
		graph.mu.Lock()
		graph.providerErr = aicc.Errorf(aicc.ECERTMISSING, "No Facebook authentication certificate is uploaded.")
		graph.mu.Unlock()
		defer func() { graph.mu.Lock(); graph.providerErr = nil; graph.mu.Unlock() }()
		requireError(t, h.post(path, tn.Admin, msg("hi")), http.StatusConflict, aicc.ECERTMISSING)
	})

	t.Run("not subscribed", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(h.flows.outcome(workflows.ConnectPageResult{Status: aicc.PageSubscriptionFailed, Reason: aicc.EMETAERROR}))
		defer h.flows.setConnect(nil)
		requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "4002", "tokenSecret": "EAAB-2"}), http.StatusCreated)
		before := len(graph.calls())
		e := requireError(t, h.post(pagesPath(ch)+"/4002/messages", tn.Admin, msg("hi")), http.StatusConflict, aicc.ECONFLICT)
		assert.Contains(t, e.Message, "subscription_failed")
		assert.Len(t, graph.calls(), before)
	})
	t.Run("missing and viewer", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.post(pagesPath(ch)+"/4999/messages", tn.Admin, msg("hi")), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, h.post(path, tn.Viewer, msg("hi")), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}

func TestSendTestMessageWithoutGraph(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "5001", "tokenSecret": "t"}), http.StatusCreated)
	requireError(t, h.post(pagesPath(ch)+"/5001/messages", tn.Admin, map[string]any{"recipientId": "1", "text": "hi"}),
		http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
}
