package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/robot"
)

// assistantChannel creates a channel of the tenant whose robot assistant has the access code ("" leaves it off),
// with Page pageID.
func (h *harness) assistantChannel(tn tenant, name, pageID, accessCode string) string {
	h.t.Helper()
	body := channelBody(tn, name)
	if accessCode != "" {
		set(body, "robot.robotAssistant", map[string]any{
			"enabled": true, "accessCode": accessCode, "silentAgentSkillQueueId": tn.Queue,
		})
	}
	id := h.createChannel(tn, body).Channel.ID
	h.addPage(tn, id, pageID)
	return id
}

// saveConversation writes the read model of a conversation of the channel's Page whose customer last wrote
// text.
func (h *harness) saveConversation(tn tenant, channelID, pageID, psid, text string) string {
	h.t.Helper()
	cv := &aicc.Conversation{
		TenantID: tn.ID, ChannelID: channelID, PageID: pageID, PSID: psid, Status: aicc.ConversationOpen,
		StartedAt: h.now(), UpdatedAt: h.now(),
	}
	if text != "" {
		cv.MessageCount, cv.LastCustomerMessage, cv.LastCustomerMessageAt = 1, text, h.now()
	}
	require.NoError(h.t, h.store.SaveConversation(context.Background(), cv))
	return cv.ID
}

func TestSuggestions(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	robots := robot.NewRegistry(map[string]aicc.Robot{
		robot.BuiltinAccessCode: robot.Rules{},
		"r1":                    robot.NewHTTP("r1", down.URL+"/?key=s3cr3t", robot.HTTPOptions{Retries: -1}),
	})
	h := newHarness(t, withServer(func(s *api.Server) { s.Robots = robots }))
	tn := h.newTenant("A")
	builtin := h.assistantChannel(tn, "fb_builtin", "101", robot.BuiltinAccessCode)
	hours := h.saveConversation(tn, builtin, "101", "9001", "What are your opening hours?")

	type suggestions struct {
		Suggestions []string `json:"suggestions"`
	}
	get := func(t *testing.T, id, token string) *response {
		t.Helper()
		return h.on(t).get("/v1/conversations/"+id+"/suggestions", token)
	}

	t.Run("builtin", func(t *testing.T) {
		want, err := robot.Rules{}.Suggest(context.Background(), aicc.RobotQuestion{Text: "What are your opening hours?"})
		require.NoError(t, err)
		for _, token := range []string{tn.Admin, tn.Viewer} {
			r := get(t, hours, token)
			requireStatus(t, r, http.StatusOK)
			var got suggestions
			r.decode(t, &got)
			assert.Equal(t, want, got.Suggestions)
		}
	})

	t.Run("no customer message", func(t *testing.T) {
		id := h.on(t).saveConversation(tn, builtin, "101", "9002", "")
		r := get(t, id, tn.Admin)
		requireStatus(t, r, http.StatusOK)
		assert.JSONEq(t, `{"suggestions": []}`, string(r.Body))
	})

	t.Run("another tenant's conversation", func(t *testing.T) {
		other := h.on(t).newTenant("B")
		requireError(t, get(t, hours, other.Admin), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, get(t, "cv_missing", tn.Admin), http.StatusNotFound, aicc.ENOTFOUND)
	})

	t.Run("assistant disabled", func(t *testing.T) {
		h := h.on(t)
		off := h.assistantChannel(tn, "fb_off", "102", "")
		id := h.saveConversation(tn, off, "102", "9003", "hello")
		requireError(t, get(t, id, tn.Admin), http.StatusConflict, aicc.EASSISTANTDISABLED)
	})

	t.Run("unknown access code", func(t *testing.T) {
		h := h.on(t)
		ch := h.assistantChannel(tn, "fb_unknown", "103", "r9")
		id := h.saveConversation(tn, ch, "103", "9004", "hello")
		e := requireError(t, get(t, id, tn.Admin), http.StatusBadGateway, aicc.EROBOTUNAVAILABLE)
		assert.Equal(t, `No robot has the access code "r9".`, e.Message)
	})

	t.Run("robot down", func(t *testing.T) {
		h := h.on(t)
		ch := h.assistantChannel(tn, "fb_down", "104", "r1")
		id := h.saveConversation(tn, ch, "104", "9005", "hello")
		r := get(t, id, tn.Admin)
		e := requireError(t, r, http.StatusBadGateway, aicc.EROBOTUNAVAILABLE)
		assert.Equal(t, `The robot of access code "r1" did not answer.`, e.Message)
		assert.NotContains(t, string(r.Body), "s3cr3t")
		assert.NotContains(t, string(r.Body), "503", "the cause is for the logs")
		assert.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "HTTP 503") }, time.Second, 10*time.Millisecond)
	})
}

// A server without robots answers ROBOT_UNAVAILABLE, not an internal error.
func TestSuggestionsWithoutRobots(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	ch := h.assistantChannel(tn, "fb_main", "101", robot.BuiltinAccessCode)
	id := h.saveConversation(tn, ch, "101", "9001", "hello")
	e := requireError(t, h.get("/v1/conversations/"+id+"/suggestions", tn.Admin), http.StatusBadGateway, aicc.EROBOTUNAVAILABLE)
	assert.Equal(t, "No robot is configured.", e.Message)
}
