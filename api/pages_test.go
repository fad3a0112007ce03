package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
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

// startedWith matches ExecuteWorkflow's options by workflow ID.
func startedWith(id string) any {
	return mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == id && o.TaskQueue == workflows.TaskQueue })
}

// pageState returns the Page as stored.
func (h *harness) pageState(tn tenant, channelID, pageID string) aicc.PageState {
	h.t.Helper()
	p, err := h.store.GetPage(context.Background(), tn.ID, channelID, pageID)
	require.NoError(h.t, err)
	return p.State
}

func TestAddPage(t *testing.T) {
	h := newHarness(t, withWorkflowWait(200*time.Millisecond))
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

		// The workflow was started by its registered name with IDs only, one per Page.
		h.temporal.AssertCalled(t, "ExecuteWorkflow", mock.Anything, startedWith(workflows.ConnectPageWorkflowID(ch, "1001")),
			workflows.ConnectPageWorkflowType, workflows.PageInput{TenantID: tn.ID, ChannelID: ch, PageID: "1001"})

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
			assert.False(t, h.pageExists(tn, ch, "1003"), "the workflow removed the broken Page")
		})
	}

	t.Run("token refused, the handler removes nothing", func(t *testing.T) {
		h := h.on(t)
		// A workflow that answers token_invalid but has not removed the Page (yet): the handler answers, and
		// leaves the Page to the workflow.
		h.flows.setConnect(func(context.Context, workflows.PageInput) (workflows.ConnectPageResult, error) {
			return workflows.ConnectPageResult{Status: aicc.PageTokenInvalid, Reason: aicc.EMETATOKENINVALID}, nil
		})
		defer h.flows.setConnect(nil)
		e := requireError(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1004", "tokenSecret": "x"}),
			http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
		assert.NotEmpty(t, e.Message)
		assert.True(t, h.pageExists(tn, ch, "1004"), "only the workflow removes a Page")
		require.NoError(t, h.store.RemovePage(context.Background(), tn.ID, ch, "1004"))
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

	t.Run("temporal unavailable", func(t *testing.T) {
		h := h.on(t)
		h.flows.failNext("ExecuteWorkflow", serviceerror.NewUnavailable("connection refused"))
		r := h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1006", "tokenSecret": "t"})
		requireStatus(t, r, http.StatusAccepted)
		assert.Equal(t, "connecting", decodePage(t, r).Status)
		assert.NotContains(t, string(r.Body), "connection refused")
		// Stored connecting: the worker's resumer starts its connection.
		assert.Equal(t, aicc.PageConnecting, h.pageState(tn, ch, "1006").Status)
	})

	t.Run("already being connected", func(t *testing.T) {
		h := h.on(t)
		h.flows.failNext("ExecuteWorkflow", errAlreadyStarted())
		e := requireError(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "1007", "tokenSecret": "t"}),
			http.StatusConflict, aicc.EPAGECONNECTING)
		assert.Contains(t, e.Message, "being connected")
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
	h := newHarness(t, withWorkflowWait(200*time.Millisecond))
	tn := h.newTenant("A")
	ch := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	failed := h.flows.outcome(workflows.ConnectPageResult{Status: aicc.PageSubscriptionFailed, Reason: aicc.EMETAUNAVAILABLE})
	h.flows.setConnect(failed)
	requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "2001", "tokenSecret": "EAAB"}), http.StatusCreated)
	h.flows.setConnect(nil)
	path := pagesPath(ch) + "/2001/connect"
	subscriptionFailed := func(t *testing.T) {
		t.Helper()
		require.NoError(t, h.store.SetPageStatus(context.Background(), tn.ID, ch, "2001", aicc.PageSubscriptionFailed, aicc.EMETAUNAVAILABLE, h.now()))
	}

	t.Run("slow", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(slowConnect)
		defer h.flows.setConnect(nil)
		r := h.post(path, tn.Admin, nil)
		requireStatus(t, r, http.StatusAccepted)
		assert.Equal(t, "connecting", decodePage(t, r).Status)
		st := h.pageState(tn, ch, "2001")
		assert.Equal(t, aicc.PageConnecting, st.Status, "recorded by the workflow's first step")
		assert.Empty(t, st.Reason)
	})
	t.Run("being connected", func(t *testing.T) {
		h := h.on(t)
		subscriptionFailed(t)
		h.flows.failNext("ExecuteWorkflow", errAlreadyStarted())
		requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.EPAGECONNECTING)
		assert.Equal(t, aicc.PageSubscriptionFailed, h.pageState(tn, ch, "2001").Status, "a refused start changes nothing")
	})
	t.Run("temporal unavailable", func(t *testing.T) {
		h := h.on(t)
		subscriptionFailed(t)
		h.flows.failNext("ExecuteWorkflow", serviceerror.NewUnavailable("down"))
		r := h.post(path, tn.Admin, nil)
		assert.NotContains(t, string(r.Body), "down")
		// No handler write: with no workflow started the Page is as it was.
		st := h.pageState(tn, ch, "2001")
		assert.Equal(t, aicc.PageSubscriptionFailed, st.Status, "the Page is as it was")
		assert.Equal(t, aicc.EMETAUNAVAILABLE, st.Reason)
	})
	t.Run("temporal unavailable is answered", func(t *testing.T) {
		h := h.on(t)
		subscriptionFailed(t)
		h.flows.failNext("ExecuteWorkflow", serviceerror.NewUnavailable("down"))
		requireError(t, h.post(path, tn.Admin, nil), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	})
	t.Run("subscribed", func(t *testing.T) {
		h := h.on(t)
		subscriptionFailed(t)
		r := h.post(path, tn.Admin, nil)
		requireStatus(t, r, http.StatusOK)
		p := decodePage(t, r)
		assert.Equal(t, "subscribed", p.Status)
		assert.Empty(t, p.StatusReason)
		h.temporal.AssertCalled(t, "ExecuteWorkflow", mock.Anything, startedWith(workflows.ConnectPageWorkflowID(ch, "2001")),
			workflows.ConnectPageWorkflowType, workflows.PageInput{TenantID: tn.ID, ChannelID: ch, PageID: "2001"})

		e := requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.ECONFLICT)
		assert.Contains(t, e.Message, "subscribed already")
	})
	t.Run("token refused", func(t *testing.T) {
		h := h.on(t)
		subscriptionFailed(t)
		h.flows.setConnect(h.flows.outcome(workflows.ConnectPageResult{Status: aicc.PageTokenInvalid, Reason: aicc.EMETATOKENINVALID}))
		defer h.flows.setConnect(nil)
		e := requireError(t, h.post(path, tn.Admin, nil), http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
		assert.Contains(t, e.Fields, "tokenSecret")
		assert.False(t, h.pageExists(tn, ch, "2001"), "removed by the workflow")
	})
	t.Run("missing", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.post(pagesPath(ch)+"/9999/connect", tn.Admin, nil), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, h.post(path, tn.Viewer, nil), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}

func TestRemovePage(t *testing.T) {
	h := newHarness(t, withWorkflowWait(200*time.Millisecond))
	tn := h.newTenant("A")
	ch := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	add := func(id string) {
		t.Helper()
		requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": id, "tokenSecret": "EAAB"}), http.StatusCreated)
	}

	add("3001")
	requireStatus(t, h.delete(pagesPath(ch)+"/3001", tn.Admin), http.StatusNoContent)
	assert.False(t, h.pageExists(tn, ch, "3001"))
	h.temporal.AssertCalled(t, "ExecuteWorkflow", mock.Anything, startedWith(workflows.DisconnectPageWorkflowID(ch, "3001")),
		workflows.DisconnectPageWorkflowType, workflows.PageInput{TenantID: tn.ID, ChannelID: ch, PageID: "3001"})
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
		h.flows.failNext("ExecuteWorkflow", errAlreadyStarted())
		requireStatus(t, h.delete(pagesPath(ch)+"/3002", tn.Admin), http.StatusAccepted)
		assert.True(t, h.pageExists(tn, ch, "3002"), "the running disconnection removes it")
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
		h.flows.failNext("ExecuteWorkflow", serviceerror.NewUnavailable("down"))
		requireError(t, h.delete(pagesPath(ch)+"/3002", tn.Admin), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		assert.True(t, h.pageExists(tn, ch, "3002"))
	})
	t.Run("viewer", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.delete(pagesPath(ch)+"/3002", tn.Viewer), http.StatusForbidden, aicc.EFORBIDDEN)
	})
	t.Run("connecting", func(t *testing.T) {
		// Its subscription could land after the removal's unsubscribe and outlive the Page.
		h := h.on(t)
		require.NoError(t, h.store.SetPageStatus(context.Background(), tn.ID, ch, "3002", aicc.PageConnecting, "", h.now()))
		requireError(t, h.delete(pagesPath(ch)+"/3002", tn.Admin), http.StatusConflict, aicc.EPAGECONNECTING)
		assert.True(t, h.pageExists(tn, ch, "3002"))
	})
}

func TestSendTestMessage(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "4001", "tokenSecret": "EAAB-send"}),
		http.StatusCreated)
	path := pagesPath(ch) + "/4001/messages"
	msg := func(text string) map[string]any { return map[string]any{"recipientId": "24000001", "text": text} }
	page := workflows.PageInput{TenantID: tn.ID, ChannelID: ch, PageID: "4001"}
	last := func(t *testing.T) workflows.TestMessageInput {
		t.Helper()
		sent := h.flows.sentMessages()
		require.NotEmpty(t, sent)
		return sent[len(sent)-1]
	}

	t.Run("sent", func(t *testing.T) {
		h := h.on(t)
		r := h.post(path, tn.Admin, msg("Hello from aicc"))
		requireStatus(t, r, http.StatusOK)
		assert.JSONEq(t, `{"recipientId":"24000001","messageId":"m_1"}`, string(r.Body))

		// The workflow gets IDs and the message; its activity unseals the token and the app secret.
		want := workflows.TestMessageInput{PageInput: page,
			Message: aicc.OutboundMessage{RecipientPSID: "24000001", Text: "Hello from aicc", Type: aicc.MessagingResponse}}
		assert.Equal(t, want, last(t))
		h.temporal.AssertCalled(t, "ExecuteWorkflow", mock.Anything,
			mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
				return strings.HasPrefix(o.ID, workflows.TestMessageWorkflowID("4001", "")) && o.TaskQueue == workflows.TaskQueue
			}),
			workflows.SendTestMessageWorkflowType, want)
	})
	t.Run("every message its own workflow", func(t *testing.T) {
		h := h.on(t)
		requireStatus(t, h.post(path, tn.Admin, msg("one")), http.StatusOK)
		requireStatus(t, h.post(path, tn.Admin, msg("two")), http.StatusOK)
		starts, ids := 0, map[string]bool{}
		for _, c := range h.temporal.Calls {
			if c.Method == "ExecuteWorkflow" && c.Arguments.Get(2) == workflows.SendTestMessageWorkflowType {
				starts++
				ids[c.Arguments.Get(1).(client.StartWorkflowOptions).ID] = true
			}
		}
		assert.GreaterOrEqual(t, starts, 3)
		assert.Len(t, ids, starts, "each message is sent by a workflow of its own, never joined to another")
	})
	t.Run("human agent tag", func(t *testing.T) {
		h := h.on(t)
		b := msg("A human answers")
		b["messagingType"], b["tag"] = "MESSAGE_TAG", "HUMAN_AGENT"
		requireStatus(t, h.post(path, tn.Admin, b), http.StatusOK)
		assert.Equal(t, aicc.MessagingMessageTag, last(t).Message.Type)
		assert.Equal(t, aicc.TagHumanAgent, last(t).Message.Tag)
	})
	t.Run("2,000 characters", func(t *testing.T) {
		h := h.on(t)
		requireStatus(t, h.post(path, tn.Admin, msg(strings.Repeat("é", 2000))), http.StatusOK)
	})

	t.Run("invalid", func(t *testing.T) {
		h := h.on(t)
		before := len(h.flows.sentMessages())
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
		assert.Len(t, h.flows.sentMessages(), before, "nothing is sent")
	})

	t.Run("meta errors", func(t *testing.T) {
		for _, tt := range []struct {
			code   string
			status int
		}{
			{aicc.EMETATOKENINVALID, http.StatusUnprocessableEntity},
			{aicc.EMETAPERMISSION, http.StatusUnprocessableEntity},
			{aicc.EMETAINVALIDPARAM, http.StatusUnprocessableEntity},
			{aicc.EMETAUSERUNAVAILABLE, http.StatusUnprocessableEntity},
			{aicc.EMETARATELIMITED, http.StatusTooManyRequests},
			{aicc.EMETAUNAVAILABLE, http.StatusBadGateway},
			{aicc.EMETAERROR, http.StatusBadGateway},
			{aicc.ECERTMISSING, http.StatusConflict},
		} {
			t.Run(tt.code, func(t *testing.T) {
				h := h.on(t)
				h.flows.setTestMessage(func(context.Context, workflows.TestMessageInput) (aicc.SendResult, error) {
					return aicc.SendResult{}, metaRefusal(tt.code, "Meta refused the call.")
				})
				defer h.flows.setTestMessage(nil)
				e := requireError(t, h.post(path, tn.Admin, msg("hi")), tt.status, tt.code)
				assert.Equal(t, "Meta refused the call.", e.Message)
			})
		}
	})
	t.Run("workflow failed", func(t *testing.T) {
		h := h.on(t)
		h.flows.setTestMessage(func(context.Context, workflows.TestMessageInput) (aicc.SendResult, error) {
			return aicc.SendResult{}, errors.New("workflow execution error: activity StartToClose timeout")
		})
		defer h.flows.setTestMessage(nil)
		e := requireError(t, h.post(path, tn.Admin, msg("hi")), http.StatusInternalServerError, aicc.EINTERNAL)
		assert.NotContains(t, e.Message, "timeout")
	})
	t.Run("temporal unavailable", func(t *testing.T) {
		h := h.on(t)
		h.flows.failNext("ExecuteWorkflow", serviceerror.NewUnavailable("connection refused"))
		e := requireError(t, h.post(path, tn.Admin, msg("hi")), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		assert.NotContains(t, e.Message, "connection refused")
	})

	t.Run("not subscribed", func(t *testing.T) {
		h := h.on(t)
		h.flows.setConnect(h.flows.outcome(workflows.ConnectPageResult{Status: aicc.PageSubscriptionFailed, Reason: aicc.EMETAERROR}))
		defer h.flows.setConnect(nil)
		requireStatus(t, h.post(pagesPath(ch), tn.Admin, map[string]any{"pageId": "4002", "tokenSecret": "EAAB-2"}), http.StatusCreated)
		before := len(h.flows.sentMessages())
		e := requireError(t, h.post(pagesPath(ch)+"/4002/messages", tn.Admin, msg("hi")), http.StatusConflict, aicc.ECONFLICT)
		assert.Contains(t, e.Message, "subscription_failed")
		assert.Len(t, h.flows.sentMessages(), before, "nothing is sent")
	})
	t.Run("missing and viewer", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.post(pagesPath(ch)+"/4999/messages", tn.Admin, msg("hi")), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, h.post(path, tn.Viewer, msg("hi")), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}
