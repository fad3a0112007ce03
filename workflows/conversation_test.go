package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

type ConversationSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	stored   *aicc.Conversation // what LoadConversation finds; nil for a new conversation
	loads    int
	saved    []aicc.Conversation
	settings activities.ConversationSettings
	// settingsErr is LoadConversationSettings' error, with its attempts counted in settingsCalls.
	settingsErr   error
	settingsCalls int
	sent          []activities.SendEndMessageInput
	sendErr       error
	inbox         *fakeInbox
}

func TestConversation(t *testing.T) { suite.Run(t, new(ConversationSuite)) }

var (
	convIn = workflows.ConversationInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "102030405060", PSID: "9988776655"}
	convID = aicc.ConversationID(convIn.ChannelID, convIn.PageID, convIn.PSID)
	// t0 is when every test workflow starts; Meta timestamps are given relative to it.
	t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

func (s *ConversationSuite) SetupTest() { s.setupEnv(0) }

// setupEnv starts a test whose SaveConversation takes saveDelay of virtual time.
func (s *ConversationSuite) setupEnv(saveDelay time.Duration) {
	s.stored, s.loads, s.saved, s.sent, s.sendErr, s.settingsErr, s.settingsCalls = nil, 0, nil, nil, nil, nil, 0
	s.inbox = new(fakeInbox)
	s.settings = activities.ConversationSettings{}
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetStartTime(t0)
	s.env.RegisterWorkflowWithOptions(workflows.Conversation, workflow.RegisterOptions{Name: workflows.ConversationWorkflowType})
	s.env.OnActivity(a.LoadConversation, mock.Anything, mock.Anything).Return(s.load).Maybe()
	s.env.OnActivity(a.SaveConversation, mock.Anything, mock.Anything).Return(s.save).After(saveDelay).Maybe()
	s.env.OnActivity(a.LoadConversationSettings, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ConversationSettingsInput) (activities.ConversationSettings, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.Equal("ten_1", in.TenantID)
			s.Equal("ch_1", in.ChannelID)
			s.settingsCalls++
			if s.settingsErr != nil {
				return activities.ConversationSettings{}, s.settingsErr
			}
			return s.settings, nil
		}).Maybe()
	s.env.OnActivity(a.SendEndMessage, mock.Anything, mock.Anything).Return(s.send).Maybe()
	// A run that continued as new follows the conversation runtime, which sends through SendConversationMessage.
	s.env.OnActivity(a.SendConversationMessage, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.SendConversationMessageInput) (aicc.SendResult, error) {
			return s.send(ctx, activities.SendEndMessageInput{PageInput: in.PageInput, PSID: in.PSID, Text: in.Text})
		}).Maybe()
	s.inbox.register(s.env)
}

// fakeInbox plays HasUnappliedInbox: whether the inbox holds events the conversation has not applied, and how
// often the workflow asked.
type fakeInbox struct {
	mu      sync.Mutex
	pending bool
	checks  int
}

func (f *fakeInbox) register(env *testsuite.TestWorkflowEnvironment) {
	var a *activities.Activities
	env.OnActivity(a.HasUnappliedInbox, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.UnappliedInboxInput) (bool, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.checks++
			return f.pending, nil
		}).Maybe()
}

// set says whether the inbox holds events the conversation has not applied.
func (f *fakeInbox) set(pending bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = pending
}

// setIn sets pending after d of virtual time of env.
func (f *fakeInbox) setIn(env *testsuite.TestWorkflowEnvironment, d time.Duration, pending bool) {
	env.RegisterDelayedCallback(func() { f.set(pending) }, d)
}

// timesChecked is how often the workflow asked.
func (f *fakeInbox) timesChecked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks
}

func (s *ConversationSuite) load(_ context.Context, key activities.ConversationKey) (aicc.Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Equal(activities.ConversationKey{TenantID: "ten_1", ChannelID: "ch_1", PageID: convIn.PageID, PSID: convIn.PSID}, key)
	s.loads++
	if s.stored != nil {
		return *s.stored, nil
	}
	return aicc.Conversation{ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: convIn.PageID, PSID: convIn.PSID,
		Status: aicc.ConversationOpen}, nil
}

func (s *ConversationSuite) save(_ context.Context, c aicc.Conversation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saved = append(s.saved, c)
	return nil
}

func (s *ConversationSuite) send(_ context.Context, in activities.SendEndMessageInput) (aicc.SendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, in)
	if s.sendErr != nil {
		return aicc.SendResult{}, s.sendErr
	}
	return aicc.SendResult{RecipientID: in.PSID, MessageID: "m_end"}, nil
}

// ev is an inbox event of kind with Meta timestamp t0+at.
func ev(id int64, kind aicc.EventKind, at time.Duration, text string) workflows.InboxEventSignal {
	ts := t0.Add(at)
	return workflows.InboxEventSignal{InboxID: id, Kind: kind, MID: "m_" + text, Timestamp: ts.UnixMilli(), Text: text, At: ts}
}

// deliver signals the events, in one signal as the dispatcher does, after d of virtual time.
func (s *ConversationSuite) deliver(d time.Duration, events ...workflows.InboxEventSignal) {
	deliverIn(s.env, d, events...)
}

// deliverIn signals the events to the workflow of env, in one signal as the dispatcher does, after d of virtual
// time.
func deliverIn(env *testsuite.TestWorkflowEnvironment, d time.Duration, events ...workflows.InboxEventSignal) {
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalInboxEvents, workflows.InboxEventsSignal{Events: events})
	}, d)
}

// run runs the workflow to its end and requires that it returned nil.
func (s *ConversationSuite) run(in workflows.ConversationInput) {
	s.T().Helper()
	s.env.ExecuteWorkflow(workflows.ConversationWorkflowType, in)
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
}

// last returns the conversation as last saved.
func (s *ConversationSuite) last() aicc.Conversation {
	s.T().Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Require().NotEmpty(s.saved)
	return s.saved[len(s.saved)-1]
}

func (s *ConversationSuite) query() workflows.ConversationState {
	s.T().Helper()
	v, err := s.env.QueryWorkflow(workflows.QueryConversation)
	s.Require().NoError(err)
	var st workflows.ConversationState
	s.Require().NoError(v.Get(&st))
	return st
}

// statuses returns the status of every save, in order, with its workflow time since t0.
func (s *ConversationSuite) statuses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var got []string
	for _, c := range s.saved {
		got = append(got, string(c.Status)+"@"+c.UpdatedAt.Sub(t0).String())
	}
	return got
}

func (s *ConversationSuite) TestEventsApplied() {
	s.deliver(time.Minute,
		ev(1, aicc.EventMessage, 50*time.Second, "hello"),
		ev(2, aicc.EventEcho, 55*time.Second, "hi, how can I help?"),
		ev(3, aicc.EventDelivery, 56*time.Second, ""),
		ev(4, aicc.EventRead, 57*time.Second, ""),
		ev(5, aicc.EventReaction, 58*time.Second, ""),
		ev(6, aicc.EventUnknown, 59*time.Second, ""),
	)
	s.deliver(2*time.Minute, ev(7, aicc.EventPostback, 2*time.Minute, "GET_STARTED"))

	s.run(convIn)

	s.Equal(1, s.loads)
	want := aicc.Conversation{
		ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: convIn.PageID, PSID: convIn.PSID,
		Status:                aicc.ConversationOpen,
		MessageCount:          3,
		LastCustomerMessage:   "GET_STARTED",
		LastCustomerMessageAt: t0.Add(2 * time.Minute),
		LastAgentMessage:      "hi, how can I help?",
		LastAgentMessageAt:    t0.Add(55 * time.Second),
		StartedAt:             t0.Add(50 * time.Second),
		UpdatedAt:             t0.Add(2 * time.Minute),
	}
	saved := want
	saved.AppliedInboxIDs = []int64{1, 2, 3, 4, 5, 6, 7}
	s.Equal(saved, s.last(), "saved with the inbox IDs applied")

	st := s.query()
	s.Equal([]int64{1, 2, 3, 4, 5, 6, 7}, st.Seen)
	s.Equal(t0.Add(2*time.Minute).UnixMilli(), st.LastTimestamp)
	s.Equal(want, st.Conversation)
}

// The signals that arrive while the read model is written are applied together and saved once.
func (s *ConversationSuite) TestSavesOncePerBatch() {
	s.setupEnv(10 * time.Second)
	s.deliver(time.Minute, ev(1, aicc.EventMessage, time.Minute, "one"))
	s.deliver(time.Minute+2*time.Second, ev(2, aicc.EventMessage, time.Minute+time.Second, "two"))
	s.deliver(time.Minute+4*time.Second,
		ev(3, aicc.EventEcho, time.Minute+2*time.Second, "three"),
		ev(4, aicc.EventRead, time.Minute+3*time.Second, ""),
		ev(5, aicc.EventMessage, time.Minute+4*time.Second, "five"))

	s.run(convIn)

	s.Equal([]string{"open@1m0s", "open@1m10s"}, s.statuses(), "the second save has every event that came during the first")
	s.Equal(4, s.last().MessageCount)
	s.Equal("five", s.last().LastCustomerMessage)
}

// A redelivered event (the dispatcher crashed between signal and mark) changes nothing, and is not saved again.
func (s *ConversationSuite) TestDuplicateIgnored() {
	first := ev(1, aicc.EventMessage, 0, "hello")
	s.deliver(time.Minute, first, ev(2, aicc.EventEcho, 10*time.Second, "hi"))
	s.deliver(2*time.Minute, first)
	s.deliver(3*time.Minute, first, ev(1, aicc.EventMessage, time.Minute, "not even with other content"))

	s.run(convIn)

	s.Equal([]string{"open@1m0s"}, s.statuses(), "nothing saved for the redeliveries")
	got := s.last()
	s.Equal(2, got.MessageCount)
	s.Equal("hello", got.LastCustomerMessage)
	s.Equal([]int64{1, 2}, s.query().Seen)
}

// finalState runs a fresh workflow that receives the batches one minute apart and returns the last saved
// conversation and the final state.
func (s *ConversationSuite) finalState(batches ...[]workflows.InboxEventSignal) (aicc.Conversation, workflows.ConversationState) {
	s.T().Helper()
	s.SetupTest()
	for i, b := range batches {
		s.deliver(time.Duration(i+1)*time.Minute, b...)
	}
	s.run(convIn)
	return s.last(), s.query()
}

// Events that arrive out of Meta timestamp order end in the state of applying them in order.
func (s *ConversationSuite) TestOutOfOrderSameAsInOrder() {
	e1 := ev(1, aicc.EventMessage, 10*time.Second, "first")
	e2 := ev(2, aicc.EventEcho, 20*time.Second, "agent first")
	e3 := ev(3, aicc.EventMessage, 30*time.Second, "second")
	e4 := ev(4, aicc.EventEcho, 40*time.Second, "agent second")
	e5 := ev(5, aicc.EventRead, 50*time.Second, "")

	inOrder, inOrderState := s.finalState([]workflows.InboxEventSignal{e1}, []workflows.InboxEventSignal{e2},
		[]workflows.InboxEventSignal{e3}, []workflows.InboxEventSignal{e4, e5})
	for name, batches := range map[string][][]workflows.InboxEventSignal{
		"reversed":      {{e5}, {e4}, {e3}, {e2}, {e1}},
		"newest first":  {{e4}, {e3}, {e1}, {e5}, {e2}},
		"one batch":     {{e3, e1, e4, e2, e5}},
		"late customer": {{e2, e3}, {e4}, {e5}, {e1}},
	} {
		s.Run(name, func() {
			got, state := s.finalState(batches...)
			want := inOrder
			want.UpdatedAt = got.UpdatedAt // when the last batch came
			s.ElementsMatch(want.AppliedInboxIDs, got.AppliedInboxIDs)
			want.AppliedInboxIDs = got.AppliedInboxIDs // in the order they came
			s.Equal(want, got)
			s.Equal(inOrderState.LastTimestamp, state.LastTimestamp)
			s.ElementsMatch(inOrderState.Seen, state.Seen)
		})
	}
	s.Equal(4, inOrder.MessageCount)
	s.Equal("second", inOrder.LastCustomerMessage)
	s.Equal("agent second", inOrder.LastAgentMessage)
	s.Equal(t0.Add(10*time.Second), inOrder.StartedAt)
}

// An echo is the Page's message: it updates the agent's fields only, and only forward.
func (s *ConversationSuite) TestEchoUpdatesAgentFields() {
	s.deliver(time.Minute, ev(1, aicc.EventEcho, 30*time.Second, "we are open 9 to 5"))
	s.deliver(2*time.Minute, ev(2, aicc.EventEcho, 20*time.Second, "older, came late"))

	s.run(convIn)

	got := s.last()
	s.Equal(2, got.MessageCount)
	s.Equal("we are open 9 to 5", got.LastAgentMessage)
	s.Equal(t0.Add(30*time.Second), got.LastAgentMessageAt)
	s.Empty(got.LastCustomerMessage)
	s.True(got.LastCustomerMessageAt.IsZero())
	s.Equal(t0.Add(20*time.Second), got.StartedAt)
}

func (s *ConversationSuite) noCustomerReply(enabled bool, endMessage string) {
	s.settings = activities.ConversationSettings{
		NoCustomerReplyEnabled: enabled, NoCustomerReplyTimeout: 20 * time.Minute, EndMessage: endMessage,
	}
}

func (s *ConversationSuite) TestNoCustomerReplyEndsTheSession() {
	s.noCustomerReply(true, "Thanks for contacting us. The session has ended.")
	s.deliver(time.Minute, ev(1, aicc.EventMessage, 50*time.Second, "hello"))
	// An agent message does not count as a customer reply.
	s.deliver(5*time.Minute, ev(2, aicc.EventEcho, 5*time.Minute, "anything else?"))

	s.run(convIn)

	s.Equal([]string{"open@1m0s", "open@5m0s", "ended@21m0s"}, s.statuses())
	s.Equal([]activities.SendEndMessageInput{{
		PageInput: activities.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: convIn.PageID},
		PSID:      convIn.PSID,
		Text:      "Thanks for contacting us. The session has ended.",
	}}, s.sent)
	got := s.last()
	s.Equal(aicc.ConversationEnded, got.Status)
	s.Equal(t0.Add(21*time.Minute), got.EndedAt)
	s.Equal("hello", got.LastCustomerMessage)
}

func (s *ConversationSuite) TestCustomerMessagePostponesTheEnd() {
	s.noCustomerReply(true, "Bye")
	s.deliver(time.Minute, ev(1, aicc.EventMessage, time.Minute, "hello"))
	s.deliver(16*time.Minute, ev(2, aicc.EventMessage, 16*time.Minute, "still there?"))

	s.run(convIn)

	s.Equal([]string{"open@1m0s", "open@16m0s", "ended@36m0s"}, s.statuses())
	s.Len(s.sent, 1)
}

// The timeout counts from when the workflow saw the message, not from Meta's timestamp: a message that reaches
// the workflow late does not end the session at once.
func (s *ConversationSuite) TestTimeoutCountsFromDelivery() {
	s.noCustomerReply(true, "")
	s.deliver(time.Hour, ev(1, aicc.EventMessage, 0, "sent an hour ago"))

	s.run(convIn)

	s.Equal([]string{"open@1h0m0s", "ended@1h20m0s"}, s.statuses())
	s.Empty(s.sent, "no end message configured")
}

func (s *ConversationSuite) TestNoCustomerReplyDisabledNeverEnds() {
	s.noCustomerReply(false, "Bye")
	s.deliver(time.Minute, ev(1, aicc.EventMessage, time.Minute, "hello"))
	s.deliver(3*time.Hour, ev(2, aicc.EventEcho, 3*time.Hour, "sorry for the wait"))

	s.run(convIn)

	s.Equal([]string{"open@1m0s", "open@3h0m0s"}, s.statuses())
	s.Empty(s.sent)
	// With nothing pending, the run ends after a day without events.
	s.Equal(t0.Add(27*time.Hour), s.env.Now().UTC())
}

func (s *ConversationSuite) TestEndMessageFailureStillEnds() {
	s.noCustomerReply(true, "Bye")
	s.sendErr = temporal.NewNonRetryableApplicationError("The person cannot be reached.", aicc.EMETAUSERUNAVAILABLE, nil)
	s.deliver(time.Minute, ev(1, aicc.EventMessage, time.Minute, "hello"))

	s.run(convIn)

	s.Len(s.sent, 1)
	s.Equal([]string{"open@1m0s", "ended@21m0s"}, s.statuses())
}

// A customer who writes after the session ended opens it again, and the timer runs again; a late message from
// before the end does not reopen it.
func (s *ConversationSuite) TestCustomerMessageAfterEndReopens() {
	s.noCustomerReply(true, "Bye")
	s.deliver(time.Minute, ev(1, aicc.EventMessage, time.Minute, "hello"))
	s.deliver(25*time.Minute, ev(2, aicc.EventEcho, 21*time.Minute, "Bye"))            // the end message's echo
	s.deliver(26*time.Minute, ev(3, aicc.EventMessage, 30*time.Second, "older, late")) // from before the end
	s.deliver(30*time.Minute, ev(4, aicc.EventMessage, 30*time.Minute, "one more question"))

	s.run(convIn)

	s.Equal([]string{"open@1m0s", "ended@21m0s", "ended@25m0s", "ended@26m0s", "open@30m0s", "ended@50m0s"}, s.statuses())
	s.Len(s.sent, 2)
	got := s.last()
	s.Equal(4, got.MessageCount)
	s.Equal("one more question", got.LastCustomerMessage)
	s.Equal(t0.Add(30*time.Minute), got.StartedAt, "the new session starts with the message that opened it")
	s.Equal(t0.Add(50*time.Minute), got.EndedAt)
}

// A new run of an ended conversation (its last run ended idle) restores the read model and reopens it.
func (s *ConversationSuite) TestRestoredFromReadModel() {
	s.noCustomerReply(true, "")
	s.stored = &aicc.Conversation{
		ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: convIn.PageID, PSID: convIn.PSID,
		Status: aicc.ConversationEnded, MessageCount: 7, LastCustomerMessage: "old", LastCustomerMessageAt: t0.Add(-48 * time.Hour),
		StartedAt: t0.Add(-49 * time.Hour), EndedAt: t0.Add(-47 * time.Hour),
	}
	s.deliver(0, ev(20, aicc.EventMessage, 0, "back again"))

	s.run(convIn)

	s.Equal([]string{"open@0s", "ended@20m0s"}, s.statuses())
	got := s.saved[0]
	s.Equal(8, got.MessageCount)
	s.Equal("back again", got.LastCustomerMessage)
	s.Equal(t0, got.StartedAt)
	s.True(got.EndedAt.IsZero())
}

// At its history limit the workflow applies what is pending, saves it, and continues as new with its state; the
// next run starts from that state without reading the read model, and still ignores what it has seen.
func (s *ConversationSuite) TestContinueAsNewCarriesState() {
	s.noCustomerReply(true, "Bye")
	in := convIn
	in.HistoryLimit = 2
	s.deliver(time.Minute, ev(1, aicc.EventMessage, time.Minute, "one"), ev(2, aicc.EventEcho, time.Minute, "two"))
	s.deliver(2*time.Minute, ev(3, aicc.EventMessage, 2*time.Minute, "three"), ev(4, aicc.EventMessage, 2*time.Minute+time.Second, "four"))

	s.env.ExecuteWorkflow(workflows.ConversationWorkflowType, in)

	s.Require().True(s.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	s.Require().ErrorAs(s.env.GetWorkflowError(), &can)
	s.Equal(workflows.ConversationWorkflowType, can.WorkflowType.Name)
	var next workflows.ConversationInput
	s.Require().NoError(converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	s.Require().NotNil(next.State)
	s.Equal(2, next.HistoryLimit)
	s.Equal([]int64{1, 2, 3, 4}, next.State.Seen, "every pending signal is applied before continuing")
	s.Equal(4, next.State.Conversation.MessageCount)
	s.Equal("four", next.State.Conversation.LastCustomerMessage)
	s.Equal(t0.Add(2*time.Minute), next.State.LastCustomerSeenAt)
	saved := next.State.Conversation
	saved.AppliedInboxIDs = next.State.Seen
	s.Equal(saved, s.last(), "saved before continuing")

	// The next run: a redelivered event is still ignored, and the timer still counts from the last message.
	s.SetupTest()
	s.noCustomerReply(true, "Bye")
	s.deliver(time.Minute, ev(4, aicc.EventMessage, 2*time.Minute+time.Second, "four"))
	s.run(next) // one signal: under the limit
	s.Zero(s.loads, "the state comes with the input")
	s.Equal([]string{"ended@22m0s"}, s.statuses(), "20 minutes after the previous run saw the last customer message")
	s.Equal(5, s.last().MessageCount, "the next run follows the runtime, which counts the end message it sent")
}

// The end waits while the inbox holds the conversation's events: the dispatcher was held back past the timeout,
// and the customer's reply, waiting in the inbox, keeps the session going once it is delivered.
func (s *ConversationSuite) TestEndWaitsForUndeliveredInbox() {
	s.noCustomerReply(true, "Bye")
	s.deliver(time.Minute, ev(1, aicc.EventMessage, time.Minute, "hello"))
	s.inbox.setIn(s.env, 5*time.Minute, true) // the reply reaches the inbox; the dispatcher is down
	s.env.RegisterDelayedCallback(func() {
		s.inbox.set(false)
		s.env.SignalWorkflow(workflows.SignalInboxEvents, workflows.InboxEventsSignal{Events: []workflows.InboxEventSignal{
			ev(2, aicc.EventMessage, 5*time.Minute, "still here"),
		}})
	}, 30*time.Minute+10*time.Second)

	s.run(convIn)

	s.Equal([]string{"open@1m0s", "open@30m10s", "ended@50m10s"}, s.statuses(),
		"not ended at 21m: the reply was in the inbox; 20 minutes after it was delivered")
	s.Equal("still here", s.last().LastCustomerMessage)
	s.Len(s.sent, 1)
	s.Greater(s.inbox.timesChecked(), 10, "it looked again every 30 seconds while it waited")
}

// Events applied after a later one are counted; the dispatcher's order makes that only late arrivals.
func (s *ConversationSuite) TestLateEventsCounted() {
	s.deliver(time.Minute, ev(1, aicc.EventMessage, 10*time.Second, "a"), ev(2, aicc.EventMessage, 20*time.Second, "b"))
	s.deliver(2*time.Minute, ev(3, aicc.EventMessage, 15*time.Second, "late"), ev(4, aicc.EventRead, 30*time.Second, ""))
	s.run(convIn)
	s.Equal(1, s.query().LateEvents)
	s.Equal("b", s.last().LastCustomerMessage)
}

// Runs started before events were batched may still get one event per signal; they are applied alike.
func (s *ConversationSuite) TestSingleEventSignal() {
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(workflows.SignalInboxEvent, ev(1, aicc.EventMessage, time.Minute, "one"))
	}, time.Minute)
	s.deliver(2*time.Minute, ev(2, aicc.EventMessage, 2*time.Minute, "two"), ev(1, aicc.EventMessage, time.Minute, "one"))
	s.run(convIn)
	s.Equal(2, s.last().MessageCount)
	s.Equal([]int64{1, 2}, s.query().Seen)
}

// A worker killed during the first workflow task of a run may have saved the read model already (the save is a
// local activity); the task's retry restarts from that read model and must not apply its events twice.
func (s *ConversationSuite) TestRestartAfterLostWorkflowTask() {
	s.noCustomerReply(true, "")
	s.stored = &aicc.Conversation{
		ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: convIn.PageID, PSID: convIn.PSID,
		Status: aicc.ConversationOpen, MessageCount: 2, LastCustomerMessage: "two", LastCustomerMessageAt: t0.Add(2 * time.Second),
		StartedAt: t0.Add(time.Second), UpdatedAt: t0, AppliedInboxIDs: []int64{1, 2},
	}
	s.deliver(0, ev(1, aicc.EventMessage, time.Second, "one"), ev(2, aicc.EventMessage, 2*time.Second, "two"))
	s.deliver(time.Minute, ev(3, aicc.EventMessage, time.Minute, "three"))

	s.run(convIn)

	s.Equal([]string{"open@1m0s", "ended@21m0s"}, s.statuses(),
		"nothing to save for the events applied already; the timer runs from the first signal")
	s.Equal(3, s.last().MessageCount)
	s.Equal([]int64{1, 2, 3}, s.last().AppliedInboxIDs)
}

// The no-reply timer of a run restored after a lost task starts with the signal that carried its last message.
func (s *ConversationSuite) TestRestoredRunTimesFromRedelivery() {
	s.noCustomerReply(true, "")
	s.stored = &aicc.Conversation{
		ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: convIn.PageID, PSID: convIn.PSID,
		Status: aicc.ConversationOpen, MessageCount: 1, LastCustomerMessage: "one", LastCustomerMessageAt: t0,
		StartedAt: t0, UpdatedAt: t0, AppliedInboxIDs: []int64{1},
	}
	s.deliver(time.Minute, ev(1, aicc.EventMessage, 0, "one"))

	s.run(convIn)

	s.Equal([]string{"ended@21m0s"}, s.statuses())
	s.Equal(1, s.last().MessageCount)
}

func (s *ConversationSuite) TestInvalidInput() {
	s.env.ExecuteWorkflow(workflows.ConversationWorkflowType, workflows.ConversationInput{TenantID: "ten_1", ChannelID: "ch_1"})

	s.Require().True(s.env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr))
	s.Equal(aicc.EINVALID, appErr.Type())
	s.True(appErr.NonRetryable())
	s.Contains(appErr.Message(), "pageId is required")
	s.Contains(appErr.Message(), "psid is required")
}

// A channel that is gone leaves the end off; events are still applied.
func (s *ConversationSuite) TestChannelGone() {
	s.noCustomerReply(true, "Bye")
	s.settingsErr = temporal.NewApplicationError("The channel does not exist.", aicc.ENOTFOUND)
	s.deliver(time.Minute, ev(1, aicc.EventMessage, time.Minute, "hello"))

	s.run(convIn)

	s.Equal(1, s.settingsCalls, "NOT_FOUND is not retried")
	s.Equal([]string{"open@1m0s"}, s.statuses())
	s.Empty(s.sent)
}

func TestStartConversationOptions(t *testing.T) {
	got := workflows.StartConversationOptions("ten_1", "ch_1")

	assert.Empty(t, got.ID, "DeliverInboxEvents passes the conversation's ID")
	assert.Equal(t, workflows.TaskQueue, got.TaskQueue)
	assert.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, got.WorkflowIDReusePolicy, "a run that ended is started again")
	assert.Equal(t, enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING, got.WorkflowIDConflictPolicy, "a running one gets the signal")
	assert.False(t, got.WorkflowExecutionErrorWhenAlreadyStarted)
	tenant, ok := got.TypedSearchAttributes.GetKeyword(workflows.SearchAttributeTenantID)
	assert.True(t, ok)
	assert.Equal(t, "ten_1", tenant)
	channel, ok := got.TypedSearchAttributes.GetKeyword(workflows.SearchAttributeChannelID)
	assert.True(t, ok)
	assert.Equal(t, "ch_1", channel)
}
