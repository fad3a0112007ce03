package activities_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// cvConversations is a fake aicc.ConversationStore keyed by tenant and ID.
type cvConversations struct {
	aicc.ConversationStore
	mu    sync.Mutex
	byKey map[string]aicc.Conversation
	saves int
	err   error
}

func (s *cvConversations) GetConversation(_ context.Context, tenantID, id string) (*aicc.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	c, ok := s.byKey[tenantID+"/"+id]
	if !ok {
		return nil, notFound("conversation")
	}
	return &c, nil
}

func (s *cvConversations) SaveConversation(_ context.Context, c *aicc.Conversation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.byKey == nil {
		s.byKey = map[string]aicc.Conversation{}
	}
	s.byKey[c.TenantID+"/"+c.ID] = *c
	s.saves++
	return nil
}

// cvChannels adds GetChannel to the Page fixture's store.
type cvChannels struct {
	*pageStore
}

func (s cvChannels) GetChannel(_ context.Context, tenantID, id string) (*aicc.Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[id]
	if !ok || ch.TenantID != tenantID {
		return nil, notFound("channel")
	}
	return ch, nil
}

// cvGraph is a fake aicc.Graph that records the messages sent, and fails with err when it is set.
type cvGraph struct {
	graph
	msgs []aicc.OutboundMessage
	err  error
	// noRecipient leaves the recipient out of the answer, as Meta does for some messages.
	noRecipient bool
}

func (g *cvGraph) SendMessage(ctx context.Context, call aicc.PageCall, msg aicc.OutboundMessage) (aicc.SendResult, error) {
	g.mu.Lock()
	g.msgs = append(g.msgs, msg)
	g.mu.Unlock()
	if err := g.called("SendMessage", call); err != nil {
		return aicc.SendResult{}, err
	}
	if g.err != nil {
		return aicc.SendResult{}, g.err
	}
	if g.noRecipient {
		return aicc.SendResult{MessageID: "m_1"}, nil
	}
	return aicc.SendResult{RecipientID: msg.RecipientPSID, MessageID: "m_1"}, nil
}

const psid = "9988776655"

func newConversationFixture(t *testing.T) (*pageFixture, *cvConversations, *cvGraph) {
	t.Helper()
	f := newPageFixture(t)
	convs := &cvConversations{}
	g := &cvGraph{}
	f.acts.Channels = cvChannels{f.store}
	f.acts.Conversations = convs
	f.acts.Graph = provider{g: g}
	return f, convs, g
}

var convKey = activities.ConversationKey{TenantID: "ten_1", ChannelID: "ch_1", PageID: pageID, PSID: psid}

func TestLoadConversation(t *testing.T) {
	id := aicc.ConversationID("ch_1", pageID, psid)

	t.Run("new", func(t *testing.T) {
		f, _, _ := newConversationFixture(t)
		v, err := f.env.ExecuteActivity(f.acts.LoadConversation, convKey)
		require.NoError(t, err)
		var got aicc.Conversation
		require.NoError(t, v.Get(&got))
		want := aicc.Conversation{ID: id, TenantID: "ten_1", ChannelID: "ch_1", PageID: pageID, PSID: psid, Status: aicc.ConversationOpen}
		assert.Equal(t, want, got)
	})

	t.Run("existing", func(t *testing.T) {
		f, convs, _ := newConversationFixture(t)
		stored := aicc.Conversation{ID: id, TenantID: "ten_1", ChannelID: "ch_1", PageID: pageID, PSID: psid,
			Status: aicc.ConversationEnded, MessageCount: 3, LastCustomerMessage: "bye", EndedAt: testNow, UpdatedAt: testNow}
		convs.byKey = map[string]aicc.Conversation{"ten_1/" + id: stored}
		v, err := f.env.ExecuteActivity(f.acts.LoadConversation, convKey)
		require.NoError(t, err)
		var got aicc.Conversation
		require.NoError(t, v.Get(&got))
		assert.Equal(t, stored.MessageCount, got.MessageCount)
		assert.Equal(t, stored.Status, got.Status)
		assert.True(t, stored.EndedAt.Equal(got.EndedAt))
	})

	t.Run("database down", func(t *testing.T) {
		f, convs, _ := newConversationFixture(t)
		convs.err = errors.New("connection refused")
		_, err := f.env.ExecuteActivity(f.acts.LoadConversation, convKey)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "connection refused")
	})

	t.Run("invalid", func(t *testing.T) {
		f, _, _ := newConversationFixture(t)
		_, err := f.env.ExecuteActivity(f.acts.LoadConversation, activities.ConversationKey{TenantID: "ten_1", ChannelID: "ch_1"})
		appError(t, err, aicc.EINVALID, true)
	})
}

func TestSaveConversation(t *testing.T) {
	f, convs, _ := newConversationFixture(t)
	c := aicc.Conversation{ID: aicc.ConversationID("ch_1", pageID, psid), TenantID: "ten_1", ChannelID: "ch_1",
		PageID: pageID, PSID: psid, Status: aicc.ConversationOpen, MessageCount: 1, UpdatedAt: testNow}

	for range 2 { // idempotent
		_, err := f.env.ExecuteActivity(f.acts.SaveConversation, c)
		require.NoError(t, err)
	}
	assert.Len(t, convs.byKey, 1)
	assert.Equal(t, 2, convs.saves)

	convs.err = aicc.Errorf(aicc.EINVALID, "The conversation is invalid.")
	_, err := f.env.ExecuteActivity(f.acts.SaveConversation, c)
	appError(t, err, aicc.EINVALID, false) // the workflow's call site stops on it
}

func TestLoadConversationSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  aicc.NoCustomerReplyEnd
		want activities.ConversationSettings
	}{
		{"enabled", aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 30, EndMessage: "Bye"},
			activities.ConversationSettings{NoCustomerReplyEnabled: true, NoCustomerReplyTimeout: 30 * time.Minute, EndMessage: "Bye"}},
		{"disabled", aicc.NoCustomerReplyEnd{TimeoutMinutes: 20, EndMessage: "Bye"},
			activities.ConversationSettings{NoCustomerReplyTimeout: 20 * time.Minute, EndMessage: "Bye"}},
		{"no timeout", aicc.NoCustomerReplyEnd{Enabled: true},
			activities.ConversationSettings{NoCustomerReplyEnabled: true, NoCustomerReplyTimeout: aicc.DefaultNoCustomerReplyMinutes * time.Minute}},
		{"work time only", aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 30, EndMessage: "Bye", WorkTimeOnly: true},
			activities.ConversationSettings{NoCustomerReplyEnabled: true, NoCustomerReplyTimeout: 30 * time.Minute, EndMessage: "Bye",
				NoCustomerReplyWorkTimeOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _, _ := newConversationFixture(t)
			f.store.channels["ch_1"].Basic.NoCustomerReply = tc.end
			v, err := f.env.ExecuteActivity(f.acts.LoadConversationSettings, activities.ConversationSettingsInput{TenantID: "ten_1", ChannelID: "ch_1"})
			require.NoError(t, err)
			var got activities.ConversationSettings
			require.NoError(t, v.Get(&got))
			assert.Equal(t, tc.want, got)
		})
	}

	// Asked for a plan, the activity resolves the work time from PlanFrom to PlanTo (WorkPlanSpan without one).
	t.Run("work plan", func(t *testing.T) {
		f, _, _ := newConversationFixture(t)
		f.store.channels["ch_1"].Basic.WorkTime = aicc.WorkTime{Workday: []aicc.TimeSegment{{Start: "09:00", End: "17:00"}}}
		from := time.Date(2026, time.May, 1, 12, 0, 0, 0, time.UTC)
		for _, to := range []time.Time{{}, from.Add(24 * time.Hour)} {
			v, err := f.env.ExecuteActivity(f.acts.LoadConversationSettings,
				activities.ConversationSettingsInput{TenantID: "ten_1", ChannelID: "ch_1", PlanFrom: from, PlanTo: to})
			require.NoError(t, err)
			var got activities.ConversationSettings
			require.NoError(t, v.Get(&got))
			require.NotNil(t, got.WorkPlan)
			want := to
			if want.IsZero() {
				want = from.Add(activities.WorkPlanSpan)
			}
			assert.True(t, got.WorkPlan.From.Equal(from))
			assert.True(t, got.WorkPlan.Through.Equal(want.Add(5*time.Hour)), "through %s", got.WorkPlan.Through) // 17:00
			assert.Equal(t, aicc.Interval{Start: from, End: from.Add(5 * time.Hour)}, got.WorkPlan.Working[0])
		}
	})

	t.Run("channel gone", func(t *testing.T) {
		f, _, _ := newConversationFixture(t)
		_, err := f.env.ExecuteActivity(f.acts.LoadConversationSettings, activities.ConversationSettingsInput{TenantID: "ten_2", ChannelID: "ch_1"})
		appError(t, err, aicc.ENOTFOUND, false) // the workflow's call site stops on it
	})
}

var endIn = activities.SendEndMessageInput{PageInput: page, PSID: psid, Text: "Thanks for contacting us. The session has ended."}

func TestSendEndMessage(t *testing.T) {
	f, _, g := newConversationFixture(t)

	v, err := f.env.ExecuteActivity(f.acts.SendEndMessage, endIn)
	require.NoError(t, err)

	var res aicc.SendResult
	require.NoError(t, v.Get(&res))
	assert.Equal(t, aicc.SendResult{RecipientID: psid, MessageID: "m_1"}, res)
	assert.Equal(t, []aicc.OutboundMessage{{RecipientPSID: psid, Text: endIn.Text, Type: aicc.MessagingResponse}}, g.msgs)
	assert.Equal(t, []aicc.PageCall{{PageID: pageID, AccessToken: pageToken, AppSecret: appSecret}}, g.seen, "the secrets are unsealed for the call")
	assert.Equal(t, aicc.TokenHealthy, f.store.state(pageID).TokenHealth)
}

var testMsg = activities.SendTestMessageInput{
	PageInput: page,
	Message:   aicc.OutboundMessage{RecipientPSID: psid, Text: "Is this thing on?", Type: aicc.MessagingMessageTag, Tag: aicc.TagHumanAgent},
}

// The administrator's message is sent as written, from the Page, with its unsealed token.
func TestSendTestMessage(t *testing.T) {
	for _, noRecipient := range []bool{false, true} {
		t.Run(fmt.Sprintf("meta names the recipient: %v", !noRecipient), func(t *testing.T) {
			f, _, g := newConversationFixture(t)
			g.noRecipient = noRecipient

			v, err := f.env.ExecuteActivity(f.acts.SendTestMessage, testMsg)
			require.NoError(t, err)

			var res aicc.SendResult
			require.NoError(t, v.Get(&res))
			assert.Equal(t, aicc.SendResult{RecipientID: psid, MessageID: "m_1"}, res, "the recipient is the one the message was sent to")
			assert.Equal(t, []aicc.OutboundMessage{testMsg.Message}, g.msgs)
			assert.Equal(t, []aicc.PageCall{{PageID: pageID, AccessToken: pageToken, AppSecret: appSecret}}, g.seen)
			assert.Equal(t, aicc.TokenHealthy, f.store.state(pageID).TokenHealth)
		})
	}
}

// TestSendErrors checks the error contract of the two activities that send through the Send API.
func TestSendErrors(t *testing.T) {
	leaky := fmt.Sprintf("token %s secret %s", pageToken, appSecret)
	sends := []struct {
		name     string
		activity func(*activities.Activities) any
		in       any
	}{
		{"SendEndMessage", func(a *activities.Activities) any { return a.SendEndMessage }, endIn},
		{"SendTestMessage", func(a *activities.Activities) any { return a.SendTestMessage }, testMsg},
	}
	for _, send := range sends {
		t.Run(send.name, func(t *testing.T) {
			for _, tc := range []struct {
				name         string
				err          error
				code         string
				nonRetryable bool
				health       aicc.TokenHealth
			}{
				{"token invalid", &aicc.GraphError{Code: aicc.EMETATOKENINVALID, Message: "The token is invalid: " + leaky, GraphCode: 190, GraphMessage: leaky},
					aicc.EMETATOKENINVALID, true, aicc.TokenReauthRequired},
				{"outside the window", &aicc.GraphError{Code: aicc.EMETAUSERUNAVAILABLE, Message: "The person cannot be reached.", GraphCode: 10, Subcode: 2018278},
					aicc.EMETAUSERUNAVAILABLE, true, aicc.TokenHealthy},
				{"unavailable", &aicc.GraphError{Code: aicc.EMETAUNAVAILABLE, Message: "Meta is unavailable.", Retryable: true, Err: errors.New(leaky)},
					aicc.EMETAUNAVAILABLE, false, aicc.TokenDegraded},
			} {
				t.Run(tc.name, func(t *testing.T) {
					f, _, g := newConversationFixture(t)
					g.err = tc.err

					_, err := f.env.ExecuteActivity(send.activity(f.acts), send.in)

					appError(t, err, tc.code, tc.nonRetryable)
					assert.Equal(t, tc.health, f.store.state(pageID).TokenHealth)
					for _, secret := range []string{pageToken, appSecret} {
						assert.NotContains(t, err.Error(), secret)
						assert.NotContains(t, f.logs.String(), secret)
					}
				})
			}

			t.Run("page gone", func(t *testing.T) {
				f, _, g := newConversationFixture(t)
				delete(f.store.tokens, pageID)
				_, err := f.env.ExecuteActivity(send.activity(f.acts), send.in)
				appError(t, err, aicc.ENOTFOUND, true)
				assert.Empty(t, g.msgs, "nothing sent")
			})
		})
	}
}
