package main

// The end-to-end test of the conversation runtime: Meta's signed webhooks → inbox → dispatcher → the
// Conversation workflow, which routes to the built-in robot, the queue and agents, with the agents' requests
// through the API and every message to the customer through the fake Meta's Send API.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/robot"
	"github.com/aiccfb/aicc/workflows"
)

// Customers of the runtime test, each on the fake Page, and what the channel sends them.
const (
	rtAlice = "7002000000000001" // the robot, a keyword, an agent, the end after no reply, her return
	rtBob   = "7002000000000002" // no agent reply: transferred to the backup queue
	rtCarol = "7002000000000003" // writes outside working time
	rtDave  = "7002000000000004" // an agent transfers him, then closes

	rtNotice     = "Our agents are resting; one answers you from 09:00."
	rtEndMessage = "We have not heard from you, so this chat is closed."
	rtBackupNote = "Sorry for the wait: another team takes over."
	rtAgentReply = "Hello Alice, I'm Ann from support."
)

// TestConversationRuntimeEndToEnd walks the runtime on a real Temporal: the robot answers, a keyword hands the
// customer to the queue, an agent takes the conversation and replies through the API (the fake Page receives
// it), no agent reply transfers, no customer reply ends the session with the end message, and the returning
// customer is offered to her last agent; outside working time the customer gets the notification. The
// no-customer-reply end takes a minute of real time, its shortest setting.
func TestConversationRuntimeEndToEnd(t *testing.T) {
	s, pageToken := newStack(t)
	s.uploadCertificate()
	ou := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/ous", map[string]any{"name": "Support"})
	queue := func(name, code string) string {
		q := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/skill-queues", map[string]any{
			"name": name, "accessCode": code, "ouId": ou["id"], "maxWaitSeconds": 30,
		})
		return q["id"].(string)
	}
	mainQueue, backupQueue := queue("Facebook", "2001"), queue("Backup", "2002")
	s.basic = map[string]any{
		"ouId": ou["id"], "skillQueueId": mainQueue, "transferKeywords": []string{"agent"},
		"nonWorkingTimeNotice": rtNotice,
		"lastAgentMode":        map[string]any{"enabled": true, "windowMinutes": 60},
		"noCustomerReplyEnd":   map[string]any{"enabled": true, "timeoutMinutes": 1, "endMessage": rtEndMessage},
		"noAgentReplyTransfer": map[string]any{
			"enabled": true, "timeoutSeconds": 10, "targetSkillQueueId": backupQueue, "notice": rtBackupNote,
		},
		"sessionTransfer": map[string]any{"enabled": true, "targetSkillQueueIds": []string{backupQueue}},
	}
	channelID, _ := s.activeChannel("fb_runtime", pageToken)
	allDay := []any{map[string]any{"start": "00:00", "end": "24:00"}}
	s.mustCall(http.StatusOK, http.MethodPatch, "/v1/channels/"+channelID, map[string]any{"robot": map[string]any{
		"intelligentRobot": map[string]any{"enabled": true, "accessCode": robot.BuiltinAccessCode, "name": "Robin", "avatar": 1, "gender": "female"},
	}})
	s.startDispatcher("runtime")
	sender := &metatest.WebhookSender{URL: s.webhooks + "/webhooks/facebook/" + channelID, AppSecret: s.appSecret}
	ts := time.Now().UnixMilli()
	say := func(psid, mid, text string) {
		t.Helper()
		ts++
		s.post(sender, expectations{}, channelID, metatest.NewEntry(fakePageID, metatest.Text(fakePageID, psid, mid, text, ts)))
	}
	conv := func(psid string) string {
		return "/v1/conversations/" + aicc.ConversationID(channelID, fakePageID, psid)
	}

	// Alice: the robot answers; "agent" hands her to the queue.
	say(rtAlice, "m_a1", "hello")
	s.waitSent(rtAlice, robot.TextGreeting)
	s.waitConversation(conv(rtAlice), `stage robot`, func(c map[string]any) bool { return c["stage"] == "robot" })
	say(rtAlice, "m_a2", "I want an agent please")
	s.waitConversation(conv(rtAlice), "queued in the main queue", func(c map[string]any) bool {
		return c["stage"] == "queued" && c["queueId"] == mainQueue
	})

	// An agent takes Alice and replies through the API, within the 10 s of the no-agent-reply transfer: the fake
	// Page sends it, as RESPONSE.
	s.mustCall(http.StatusOK, http.MethodPost, conv(rtAlice)+"/assign", map[string]any{"agentId": "ann"})
	out := s.mustCall(http.StatusOK, http.MethodPost, conv(rtAlice)+"/messages", map[string]any{
		"agentId": "ann", "text": rtAgentReply, "requestId": "reply-1",
	})
	if out["messagingType"] != "RESPONSE" || out["messageId"] == "" {
		t.Fatalf("agent message answered %v, want a RESPONSE with Meta's message ID", out)
	}
	s.mustCall(http.StatusOK, http.MethodPost, conv(rtAlice)+"/messages", map[string]any{
		"agentId": "ann", "text": rtAgentReply, "requestId": "reply-1",
	}) // the same request again: sent once
	s.waitSent(rtAlice, rtAgentReply)
	s.wantError(http.StatusConflict, aicc.ENOTASSIGNED, http.MethodPost, conv(rtAlice)+"/messages",
		map[string]any{"agentId": "bob-the-agent", "text": "hi"})

	// Bob is handed over too, and nobody answers him within 10 s: the backup queue takes him, with its notice.
	say(rtBob, "m_b1", "agent")
	s.waitConversation(conv(rtBob), "transferred for want of an agent reply", func(c map[string]any) bool {
		return c["stage"] == "queued" && c["queueId"] == backupQueue
	})
	s.waitSent(rtBob, rtBackupNote)

	// Dave: an agent takes him, transfers him to the backup queue, and closes the session.
	say(rtDave, "m_d1", "agent")
	s.waitConversation(conv(rtDave), "queued", func(c map[string]any) bool { return c["stage"] == "queued" })
	s.mustCall(http.StatusOK, http.MethodPost, conv(rtDave)+"/assign", map[string]any{"agentId": "ben"})
	s.wantError(http.StatusConflict, aicc.ETRANSFERNOTALLOWED, http.MethodPost, conv(rtDave)+"/transfer",
		map[string]any{"agentId": "ben", "queueId": mainQueue})
	moved := s.mustCall(http.StatusOK, http.MethodPost, conv(rtDave)+"/transfer", map[string]any{"agentId": "ben", "queueId": backupQueue})
	if moved["stage"] != "queued" || moved["queueId"] != backupQueue {
		t.Fatalf("transfer answered %v, want queued in the backup queue", moved)
	}
	closed := s.mustCall(http.StatusOK, http.MethodPost, conv(rtDave)+"/close", map[string]any{"agentId": "ben"})
	if closed["status"] != "ended" || closed["endReason"] != "closed" {
		t.Fatalf("close answered %v, want ended, closed", closed)
	}

	// Carol writes while the channel's agents never work: the notification, once, and the queue.
	s.mustCall(http.StatusOK, http.MethodPatch, "/v1/channels/"+channelID, map[string]any{"basic": map[string]any{
		"workTime": map[string]any{"workday": []any{}, "nonWorkday": []any{}},
	}})
	say(rtCarol, "m_c1", "agent")
	say(rtCarol, "m_c2", "anyone?")
	s.waitSent(rtCarol, rtNotice)
	s.waitConversation(conv(rtCarol), "queued", func(c map[string]any) bool { return c["stage"] == "queued" })
	s.mustCall(http.StatusOK, http.MethodPatch, "/v1/channels/"+channelID, map[string]any{"basic": map[string]any{
		"workTime": map[string]any{"workday": allDay, "nonWorkday": allDay},
	}}) // working again: Alice's next session reads it

	// Alice does not reply to her agent for a minute: the session ends with the end message.
	ended := s.waitConversationFor(90*time.Second, conv(rtAlice), "ended for want of a customer reply", func(c map[string]any) bool {
		return c["status"] == "ended" && c["endReason"] == "no_customer_reply"
	})
	if ended["lastAgentId"] != "ann" {
		t.Errorf("ended conversation = %v, want lastAgentId ann", ended)
	}
	s.waitSent(rtAlice, rtEndMessage)

	// She comes back: offered to Ann, her last agent, not the robot (in working time: the channel's settings as
	// they are when her new session starts).
	say(rtAlice, "m_a3", "hello again")
	s.waitConversation(conv(rtAlice), "offered to her last agent", func(c map[string]any) bool {
		return c["status"] == "open" && c["stage"] == "offered" && c["agentId"] == "ann"
	})

	for psid, want := range map[string][]string{
		rtAlice: {robot.TextGreeting, rtAgentReply, rtEndMessage},
		rtBob:   {rtBackupNote},
		rtCarol: {rtNotice, rtBackupNote}, // the notice once; nobody answered her either
	} {
		if got := s.sentTo(psid); !slices.Equal(got, want) {
			t.Errorf("sent to %s = %q, want %q: each message once, in order", psid, got, want)
		}
	}
	for _, m := range s.meta.Sent() {
		if m.RecipientID == rtAlice && m.Text == rtAgentReply && m.MessagingType != "RESPONSE" {
			t.Errorf("the agent's reply went as %s, want RESPONSE", m.MessagingType)
		}
	}
	// The metrics: transfers by reason (from the workflows), conversations by state (the API's gauges).
	eventually(t, 10*time.Second, "the runtime's metrics", func() bool {
		return s.metricSum("aicc_conversation_transfers_total", `reason="keyword"`) >= 4 &&
			s.metricSum("aicc_conversation_transfers_total", `reason="no_agent_reply"`) >= 2 &&
			s.metricSum("aicc_robot_answers_total", "") >= 1 &&
			s.metricSum("aicc_conversations", `state="offered"`) == 1 &&
			s.metricSum("aicc_conversations", `state="ended"`) == 1
	})
	s.recordOpenHistory(context.Background(), workflows.ConversationWorkflowID(channelID, fakePageID, rtAlice), "conversation-runtime")
	s.recordOpenHistory(context.Background(), workflows.ConversationWorkflowID(channelID, fakePageID, rtBob),
		"conversation-runtime-no-agent-reply")
}

// metricSum sums the series of the metric name in /metrics whose labels contain labels.
func (s *stack) metricSum(name, labels string) float64 {
	s.t.Helper()
	_, _, body := s.call(http.MethodGet, "/metrics", nil)
	sum := 0.0
	for line := range strings.SplitSeq(string(body), "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(series, name+"{") && series != name || !strings.Contains(series, labels) {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			sum += v
		}
	}
	return sum
}

// sentTo returns the texts the fake Page sent the customer psid, in order.
func (s *stack) sentTo(psid string) []string {
	var out []string
	for _, m := range s.meta.Sent() {
		if m.RecipientID == psid {
			out = append(out, m.Text)
		}
	}
	return out
}

// waitSent waits until the fake Page has sent text to psid.
func (s *stack) waitSent(psid, text string) {
	s.t.Helper()
	eventually(s.t, 20*time.Second, fmt.Sprintf("%q sent to %s", text, psid), func() bool {
		return slices.Contains(s.sentTo(psid), text)
	})
}

// waitConversation waits, for at most 20 s, until the conversation at path satisfies cond, and returns it.
func (s *stack) waitConversation(path, what string, cond func(map[string]any) bool) map[string]any {
	s.t.Helper()
	return s.waitConversationFor(20*time.Second, path, what, cond)
}

// waitConversationFor is waitConversation for at most d.
func (s *stack) waitConversationFor(d time.Duration, path, what string, cond func(map[string]any) bool) map[string]any {
	s.t.Helper()
	var last map[string]any
	eventually(s.t, d, path+": "+what, func() bool {
		code, c, _ := s.call(http.MethodGet, path, nil)
		last = c
		return code == http.StatusOK && cond(c)
	})
	return last
}
