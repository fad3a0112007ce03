package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

// RuntimeSuite runs the conversation runtime (ConversationRevision) in virtual time, with its activities faked.
type RuntimeSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	stored   *aicc.Conversation
	saved    []aicc.Conversation
	settings activities.ConversationSettings
	// settingsReads are the inputs of every LoadConversationSettings, which fails with settingsErr when set.
	settingsReads []activities.ConversationSettingsInput
	settingsErr   error
	asked         []string // the texts the robot was asked about
	answer        aicc.RobotAnswer
	robotErr      error
	sent          []activities.SendConversationMessageInput
	inbox         *fakeInbox
	sendDelay     time.Duration // how long the next SendConversationMessage takes, in workflow time
	robotDelay    time.Duration // how long AskRobot takes, in workflow time
}

func TestConversationRuntime(t *testing.T) { suite.Run(t, new(RuntimeSuite)) }

var rtIn = workflows.ConversationInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "102030405060", PSID: "9988776655",
	Revision: workflows.ConversationRevision}

// Skill queues of the tests' channel.
const (
	queueMain    = "sq_main"
	queueExperts = "sq_experts"
	queueBackup  = "sq_backup"
)

func (s *RuntimeSuite) SetupTest() {
	s.stored, s.saved, s.asked, s.sent, s.robotErr, s.settingsReads, s.settingsErr = nil, nil, nil, nil, nil, nil, nil
	s.inbox, s.sendDelay, s.robotDelay = new(fakeInbox), 0, 0
	s.answer = aicc.RobotAnswer{Texts: []string{"Hello! How can I help?"}}
	s.settings = activities.ConversationSettings{
		Robot: true, RobotAccessCode: "builtin", TransferKeywords: []string{"agent", "人工"},
		QueueID: queueMain, QueueMaxWait: 2 * time.Minute,
		WorkTime: aicc.WorkTime{Workday: []aicc.TimeSegment{{Start: "00:00", End: "24:00"}}},
	}
	s.newEnv(t0)
}

// newEnv starts a test environment at start whose activities are the suite's fakes.
func (s *RuntimeSuite) newEnv(start time.Time) {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetStartTime(start)
	s.env.RegisterWorkflowWithOptions(workflows.Conversation, workflow.RegisterOptions{Name: workflows.ConversationWorkflowType})
	s.env.OnActivity(a.LoadConversation, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.ConversationKey) (aicc.Conversation, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.stored != nil {
				return *s.stored, nil
			}
			return aicc.Conversation{ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: rtIn.PageID, PSID: rtIn.PSID,
				Status: aicc.ConversationOpen}, nil
		}).Maybe()
	s.env.OnActivity(a.SaveConversation, mock.Anything, mock.Anything).Return(func(_ context.Context, c aicc.Conversation) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.saved = append(s.saved, c)
		return nil
	}).Maybe()
	s.env.OnActivity(a.LoadConversationSettings, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ConversationSettingsInput) (activities.ConversationSettings, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.settingsReads = append(s.settingsReads, in)
			if s.settingsErr != nil {
				return activities.ConversationSettings{}, s.settingsErr
			}
			settings := s.settings
			if !in.PlanFrom.IsZero() { // as the activity resolves the work time
				loc, err := aicc.CalendarLocation(settings.Calendar)
				s.Require().NoError(err)
				schedule, err := aicc.NewWorkSchedule(settings.WorkTime, settings.Calendar, loc)
				s.Require().NoError(err)
				plan := schedule.Plan(in.PlanFrom, in.PlanTo)
				settings.WorkPlan = &plan
			}
			return settings, nil
		}).Maybe()
	s.inbox.register(s.env)
	s.env.OnActivity(a.AskRobot, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AskRobotInput) (aicc.RobotAnswer, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.Equal("builtin", in.AccessCode)
			s.asked = append(s.asked, in.Text)
			return s.answer, s.robotErr
		}).AfterFn(func() time.Duration {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.robotDelay
	}).Maybe()
	s.env.OnActivity(a.SendConversationMessage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SendConversationMessageInput) (aicc.SendResult, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.sendDelay = 0
			res := aicc.SendResult{RecipientID: in.PSID, MessageID: "m_" + in.OutboundID}
			if slices.ContainsFunc(s.sent, func(m activities.SendConversationMessageInput) bool { return m.OutboundID == in.OutboundID }) {
				return res, nil // as the outbound store answers a message sent already: not sent again
			}
			s.sent = append(s.sent, in)
			return res, nil
		}).AfterFn(func() time.Duration {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sendDelay
	}).Maybe()
}

// customer delivers a customer message written at t0+at, signalled at the same virtual time.
func (s *RuntimeSuite) customer(id int64, at time.Duration, text string) {
	s.deliver(at, ev(id, aicc.EventMessage, at, text))
}

// deliver signals the events, in one signal as the dispatcher does, after d of virtual time.
func (s *RuntimeSuite) deliver(d time.Duration, events ...workflows.InboxEventSignal) {
	deliverIn(s.env, d, events...)
}

// update sends the Update name with req at t0+at; result receives its outcome.
func (s *RuntimeSuite) update(at time.Duration, name string, req any, result *updateResult) {
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { result.err = err },
			OnComplete: func(v any, err error) {
				result.value, result.err, result.done = v, err, true
			},
		}, req)
	}, at)
}

type updateResult struct {
	value any
	err   error
	done  bool
}

// code is the aicc code of the Update's error, "" when it succeeded.
func (r *updateResult) code() string {
	return aicc.ErrorCode(workflows.DomainError(r.err))
}

func (s *RuntimeSuite) run(in workflows.ConversationInput) {
	s.T().Helper()
	s.env.ExecuteWorkflow(workflows.ConversationWorkflowType, in)
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
}

// at returns the conversation as saved at t0+d or last before it.
func (s *RuntimeSuite) at(d time.Duration) aicc.Conversation {
	s.T().Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *aicc.Conversation
	for i := range s.saved {
		if !s.saved[i].UpdatedAt.After(t0.Add(d)) {
			c = &s.saved[i]
		}
	}
	s.Require().NotNil(c, "nothing saved by %s", d)
	return *c
}

func (s *RuntimeSuite) last() aicc.Conversation { return s.at(1000 * time.Hour) }

// sentTexts returns purpose:text of every message sent, in order.
func (s *RuntimeSuite) sentTexts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.sent {
		out = append(out, m.Purpose+":"+m.Text)
	}
	return out
}

func (s *RuntimeSuite) TestRobotAnswersFirst() {
	s.customer(1, time.Minute, "hello")
	s.run(rtIn)

	s.Equal([]string{"hello"}, s.asked)
	s.Equal([]string{"robot:Hello! How can I help?"}, s.sentTexts())
	s.Equal(aicc.MessagingResponse, s.sent[0].Type)
	s.Equal(convID+"/"+strconv.FormatInt(t0.UnixNano(), 36)+"/1", s.sent[0].OutboundID)
	c := s.at(time.Minute)
	s.Equal(aicc.StageRobot, c.Stage)
	s.Equal(2, c.MessageCount, "the customer's message and the robot's answer")
}

// A customer who returns after the run ended idle gets the robot's answer: the run restored from the read model
// names its messages apart from the last run's, which the outbound store would take for sent.
func (s *RuntimeSuite) TestRestoredRunSendsAnew() {
	s.customer(1, time.Minute, "hello")
	s.run(rtIn)
	first := s.last()
	s.mu.Lock()
	s.stored = &first
	s.mu.Unlock()

	s.newEnv(t0.Add(48 * time.Hour))
	s.deliver(time.Minute, ev(2, aicc.EventMessage, 48*time.Hour+time.Minute, "hello again"))
	s.run(rtIn)

	s.Equal([]string{"hello", "hello again"}, s.asked)
	s.Equal([]string{"robot:Hello! How can I help?", "robot:Hello! How can I help?"}, s.sentTexts())
}

func (s *RuntimeSuite) TestTransferKeywordQueues() {
	s.customer(1, time.Minute, "hello")
	s.customer(2, 2*time.Minute, "I want an AGENT, please")
	s.customer(3, 3*time.Minute, "still there?")
	s.run(rtIn)

	s.Equal([]string{"hello"}, s.asked, "the keyword hands over before the robot is asked")
	c := s.at(2 * time.Minute)
	s.Equal(aicc.StageQueued, c.Stage)
	s.Equal(queueMain, c.QueueID)
	s.Equal(aicc.StageQueued, s.last().Stage, "later messages wait in the queue")
	s.Len(s.asked, 1)
}

func (s *RuntimeSuite) TestKeywordIsAWholeWord() {
	s.customer(1, time.Minute, "my agentur has a question")
	s.customer(2, 2*time.Minute, "转人工")
	s.run(rtIn)

	s.Equal([]string{"my agentur has a question"}, s.asked)
	s.Equal(aicc.StageRobot, s.at(time.Minute).Stage)
	s.Equal(aicc.StageQueued, s.at(2*time.Minute).Stage, "a keyword in a script without spaces matches inside the text")
}

func (s *RuntimeSuite) TestRobotHandsOver() {
	s.answer = aicc.RobotAnswer{Texts: []string{"Let me find someone."}, Transfer: true}
	s.customer(1, time.Minute, "complicated question")
	s.run(rtIn)

	s.Equal([]string{"robot:Let me find someone."}, s.sentTexts())
	s.Equal(aicc.StageQueued, s.last().Stage)
}

func (s *RuntimeSuite) TestRobotUnavailableQueues() {
	s.robotErr = temporal.NewNonRetryableApplicationError("no robot", "ROBOT_UNAVAILABLE", nil)
	s.customer(1, time.Minute, "hello")
	s.run(rtIn)

	s.Empty(s.sent)
	s.Equal(aicc.StageQueued, s.last().Stage)
	s.Equal(queueMain, s.last().QueueID)
}

func (s *RuntimeSuite) TestRobotOffGoesToTheQueue() {
	s.settings.Robot = false
	s.customer(1, time.Minute, "hello")
	s.run(rtIn)

	s.Empty(s.asked)
	s.Equal(aicc.StageQueued, s.last().Stage)
}

// Outside working time the customer gets the notice once per non-working period, and waits in the queue.
func (s *RuntimeSuite) TestNonWorkingTimeNotice() {
	s.settings.Robot = false
	s.settings.NonWorkingNotice = "We are closed; an agent answers from 9:00."
	// t0 is Friday 2026-05-01 12:00 UTC: working until 17:00, then not until Monday 09:00.
	s.settings.WorkTime = aicc.WorkTime{Workday: []aicc.TimeSegment{{Start: "09:00", End: "17:00"}}}
	s.settings.Calendar = &aicc.ServiceCalendar{TimeZone: "UTC", WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday}}
	s.customer(1, time.Hour, "during work time") // Friday 13:00
	s.customer(2, 6*time.Hour, "after hours")    // Friday 18:00
	s.customer(3, 24*time.Hour, "Saturday")      // the same non-working period
	s.customer(4, 47*time.Hour, "Sunday")        // still the same
	s.customer(5, 70*time.Hour, "Monday 10:00")  // working
	s.customer(6, 78*time.Hour, "Monday 18:00")  // the next non-working period
	s.run(rtIn)

	s.Equal([]string{
		"notice:We are closed; an agent answers from 9:00.",
		"notice:We are closed; an agent answers from 9:00.",
	}, s.sentTexts())
	s.Equal(aicc.StageQueued, s.last().Stage)
}

// A channel whose agents never work sends its notice once, not with every message.
func (s *RuntimeSuite) TestNeverWorkingNoticeOnce() {
	s.settings.Robot = false
	s.settings.NonWorkingNotice = "Nobody works here."
	s.settings.WorkTime = aicc.WorkTime{}
	s.customer(1, time.Minute, "hello")
	s.customer(2, time.Hour, "anyone?")
	s.run(rtIn)

	s.Equal([]string{"notice:Nobody works here."}, s.sentTexts())
}

func (s *RuntimeSuite) TestAgentAssignsAndReplies() {
	s.settings.Robot = false
	s.customer(1, time.Minute, "hello")
	var assigned, replied, again, wrongAgent updateResult
	s.update(2*time.Minute, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.update(3*time.Minute, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_9", RequestID: "r0", Text: "x"}, &wrongAgent)
	s.update(4*time.Minute, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r1", Text: "Hi, I'm Ann."}, &replied)
	s.update(5*time.Minute, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r2", Text: "Anything else?"}, &again)
	s.run(rtIn)

	s.Require().NoError(assigned.err)
	c := assigned.value.(aicc.Conversation)
	s.Equal(aicc.StageAssigned, c.Stage)
	s.Equal("agent_7", c.AgentID)
	s.Equal(aicc.ENOTASSIGNED, wrongAgent.code())
	s.Require().NoError(replied.err)
	r := replied.value.(workflows.AgentMessageResult)
	s.Equal(aicc.MessagingResponse, r.Type)
	s.Empty(r.Tag)
	s.Equal("Hi, I'm Ann.", r.Conversation.LastAgentMessage)
	s.Require().NoError(again.err)
	s.Equal([]string{"agent:Hi, I'm Ann.", "agent:Anything else?"}, s.sentTexts())
	s.Equal(convID+"/agent/r1", s.sent[0].OutboundID, "the request ID names the message: a retry sends it once")
	s.Equal("agent_7", s.last().LastAgentID)
	s.Equal(3, s.last().MessageCount, "the customer's message and the two replies")
}

// assignedSince restores an assigned conversation whose customer last wrote age before t0.
func (s *RuntimeSuite) assignedSince(age time.Duration) {
	s.stored = &aicc.Conversation{ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: rtIn.PageID, PSID: rtIn.PSID,
		Status: aicc.ConversationOpen, Stage: aicc.StageAssigned, QueueID: queueMain, AgentID: "agent_7",
		LastCustomerMessage: "hello", LastCustomerMessageAt: t0.Add(-age)}
}

// Meta's windows: RESPONSE within 24 hours of the customer's last message, the HUMAN_AGENT tag within 7 days.
func (s *RuntimeSuite) TestReplyAfterADayIsTagged() {
	s.assignedSince(25 * time.Hour)
	var replied updateResult
	s.update(time.Minute, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r1", Text: "Sorry for the wait"}, &replied)
	s.run(rtIn)

	s.Require().NoError(replied.err)
	r := replied.value.(workflows.AgentMessageResult)
	s.Equal(aicc.MessagingMessageTag, r.Type)
	s.Equal(aicc.TagHumanAgent, r.Tag)
	s.Equal(aicc.MessagingMessageTag, s.sent[0].Type)
	s.Equal(aicc.TagHumanAgent, s.sent[0].Tag)
}

func (s *RuntimeSuite) TestReplyAfterSevenDaysRefused() {
	s.assignedSince(7*24*time.Hour + time.Minute)
	var replied updateResult
	s.update(time.Minute, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r1", Text: "Sorry"}, &replied)
	s.run(rtIn)

	s.Equal(aicc.EOUTSIDEWINDOW, replied.code())
	s.Empty(s.sent)
}

// Session transfer due to no agent reply: once, to the target queue, with its notice; an agent's reply in time
// stops the timer.
func (s *RuntimeSuite) TestNoAgentReplyTransfers() {
	s.settings.Robot = false
	s.settings.NoAgentReplyTimeout, s.settings.NoAgentReplyQueueID = time.Minute, queueBackup
	s.settings.NoAgentReplyNotice = "Moving you to another team."
	s.customer(1, time.Minute, "hello")
	var assigned updateResult
	s.update(90*time.Second, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.run(rtIn)

	c := s.at(90 * time.Second)
	s.Equal(aicc.StageAssigned, c.Stage)
	s.Equal([]aicc.ConversationTimer{{Kind: aicc.TimerNoAgentReply, At: t0.Add(2 * time.Minute)}}, c.Timers,
		"the read model shows the pending timer")
	c = s.at(2 * time.Minute)
	s.Equal(aicc.StageQueued, c.Stage)
	s.Equal(queueBackup, c.QueueID)
	s.Empty(c.AgentID)
	s.Equal([]string{"no_agent_notice:Moving you to another team."}, s.sentTexts(), "transferred once")
}

// The no-agent-reply transfer waits while the inbox holds events of the conversation not yet applied: the
// agent's reply from the Page among them stops it.
func (s *RuntimeSuite) TestNoAgentReplyWaitsForTheInbox() {
	s.settings.Robot = false
	s.settings.NoAgentReplyTimeout, s.settings.NoAgentReplyQueueID = time.Minute, queueBackup
	s.settings.NoAgentReplyNotice = "Moving you to another team."
	s.customer(1, time.Minute, "hello")
	s.inbox.setIn(s.env, 100*time.Second, true) // the dispatcher lags behind the Page's echo of the agent's reply
	s.inbox.setIn(s.env, 140*time.Second, false)
	s.deliver(140*time.Second, ev(2, aicc.EventEcho, 110*time.Second, "answered from the Page inbox"))
	s.run(rtIn)

	s.Equal(queueMain, s.at(130*time.Second).QueueID, "held at the transfer's deadline")
	c := s.last()
	s.Equal(queueMain, c.QueueID, "no transfer: the customer got an answer")
	s.Equal("answered from the Page inbox", c.LastAgentMessage)
	s.Empty(s.sentTexts())
}

// A customer message that comes while the run, at its history limit, waits for an agent's reply to go out is
// carried to the next run; the reply does not answer the messages that came while it went out.
func (s *RuntimeSuite) TestContinueAsNewCarriesUnroutedMessages() {
	s.settings.Robot = false
	s.settings.NoAgentReplyTimeout, s.settings.NoAgentReplyQueueID = 10*time.Minute, queueBackup
	in := rtIn
	in.HistoryLimit = 3
	s.customer(1, 30*time.Second, "hello") // queued
	var assigned, replied updateResult
	s.update(40*time.Second, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.env.RegisterDelayedCallback(func() {
		s.mu.Lock()
		s.sendDelay = time.Minute // Meta is slow: the reply goes out at 1:50
		s.mu.Unlock()
	}, 45*time.Second)
	s.update(50*time.Second, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r1", Text: "Hi"}, &replied)
	s.customer(2, time.Minute, "are you there")
	s.customer(3, 70*time.Second, "hello?") // the third signal: the run continues as new once the reply is out
	s.customer(4, 80*time.Second, "still waiting")
	s.env.ExecuteWorkflow(workflows.ConversationWorkflowType, in)

	var can *workflow.ContinueAsNewError
	s.Require().ErrorAs(s.env.GetWorkflowError(), &can)
	var next workflows.ConversationInput
	s.Require().NoError(converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	s.Require().NotNil(next.State)
	s.Equal([]int64{1, 2, 3, 4}, next.State.Seen)
	s.Equal([]string{"still waiting"}, next.State.Unrouted, "applied while the run waited for the reply")
	s.Require().NoError(replied.err)
	s.Equal(t0.Add(70*time.Second), next.State.WaitingSince, "the customer wrote again while the reply went out")

	s.newEnv(t0.Add(2 * time.Minute))
	s.run(next)
	c := s.last()
	s.Equal(queueBackup, c.QueueID, "the customer waited 10 minutes for an agent")
	s.Equal(t0.Add(11*time.Minute+10*time.Second), c.UpdatedAt)
}

// A run routes the customer messages its previous run carried over: the robot answers them.
func (s *RuntimeSuite) TestCarriedMessagesAreRouted() {
	in := rtIn
	in.State = &workflows.ConversationState{
		Conversation: aicc.Conversation{ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: rtIn.PageID,
			PSID: rtIn.PSID, Status: aicc.ConversationOpen, Stage: aicc.StageRobot},
		Seen: []int64{1}, Unrouted: []string{"hello"},
	}
	s.run(in)

	s.Equal([]string{"hello"}, s.asked)
	s.Equal([]string{"robot:Hello! How can I help?"}, s.sentTexts())
}

// An agent who takes the conversation while the robot is asked keeps it: the robot's answer is not sent, and
// its hand-over does not queue the conversation.
func (s *RuntimeSuite) TestAgentWinsOverTheRobot() {
	s.answer.Transfer = true
	s.mu.Lock()
	s.robotDelay = 30 * time.Second
	s.mu.Unlock()
	s.customer(1, time.Minute, "hello")
	var assigned updateResult
	s.update(70*time.Second, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.run(rtIn)

	s.Require().NoError(assigned.err)
	s.Equal([]string{"hello"}, s.asked)
	s.Empty(s.sentTexts())
	c := s.last()
	s.Equal(aicc.StageAssigned, c.Stage)
	s.Equal("agent_7", c.AgentID)
}

// A hold belongs to the wait it held: the customer's next wait gets its own full timeout, not the old hold.
func (s *RuntimeSuite) TestNoAgentReplyHoldIsForOneWait() {
	s.settings.Robot = false
	s.settings.NoAgentReplyTimeout, s.settings.NoAgentReplyQueueID = 10*time.Second, queueBackup
	s.customer(1, time.Minute, "hello")
	s.inbox.setIn(s.env, 65*time.Second, true) // held at 1:10 until 1:40
	s.inbox.setIn(s.env, 75*time.Second, false)
	s.deliver(75*time.Second, ev(2, aicc.EventEcho, 72*time.Second, "answered from the Page inbox"))
	s.customer(3, 80*time.Second, "one more thing") // waits again: due at 1:30
	s.run(rtIn)

	s.Equal(queueMain, s.at(89*time.Second).QueueID)
	s.Equal(queueBackup, s.at(90*time.Second).QueueID, "transferred 10 s into the new wait")
}

// Events that are no reply only delay the transfer; a run of an earlier revision transfers at once.
func (s *RuntimeSuite) TestNoAgentReplyTransfersOnceTheInboxIsApplied() {
	for _, rev := range []int{workflows.ConversationRevision, 2} {
		s.Run(fmt.Sprint("revision ", rev), func() {
			s.SetupTest()
			s.settings.Robot = false
			s.settings.NoAgentReplyTimeout, s.settings.NoAgentReplyQueueID = time.Minute, queueBackup
			s.customer(1, time.Minute, "hello")
			s.inbox.setIn(s.env, 100*time.Second, true)
			s.inbox.setIn(s.env, 160*time.Second, false) // a read receipt, say, delivered and applied
			in := rtIn
			in.Revision = rev
			s.run(in)

			transferredAt := 2 * time.Minute
			if rev == workflows.ConversationRevision {
				transferredAt = 3 * time.Minute // held at 2:00 and 2:30
				s.Equal(queueMain, s.at(transferredAt-time.Second).QueueID)
			}
			c := s.at(transferredAt)
			s.Equal(aicc.StageQueued, c.Stage)
			s.Equal(queueBackup, c.QueueID)
		})
	}
}

func (s *RuntimeSuite) TestAgentReplyStopsTheNoAgentReplyTimer() {
	s.settings.Robot = false
	s.settings.NoAgentReplyTimeout, s.settings.NoAgentReplyQueueID = time.Minute, queueBackup
	s.customer(1, time.Minute, "hello")
	var assigned, replied updateResult
	s.update(80*time.Second, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.update(100*time.Second, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r1", Text: "Hi"}, &replied)
	s.run(rtIn)

	s.Require().NoError(replied.err)
	c := s.last()
	s.Equal(aicc.StageAssigned, c.Stage)
	s.Equal(queueMain, c.QueueID)
	s.Equal([]string{"agent:Hi"}, s.sentTexts())
}

// An agent's reply from the Page itself (an echo) counts as a reply; the echo of the service's own message does
// not count twice.
func (s *RuntimeSuite) TestEchoes() {
	s.settings.Robot = false
	s.settings.NoAgentReplyTimeout, s.settings.NoAgentReplyQueueID = time.Minute, queueBackup
	s.customer(1, time.Minute, "hello")
	s.deliver(91*time.Second, ev(2, aicc.EventEcho, 90*time.Second, "answered from the Page inbox"),
		ev(3, aicc.EventOwnEcho, 91*time.Second, "an echo of ours"))
	s.run(rtIn)

	c := s.last()
	s.Equal(queueMain, c.QueueID, "no transfer: the customer got an answer")
	s.Equal(2, c.MessageCount)
	s.Equal("answered from the Page inbox", c.LastAgentMessage)
}

// Last agent mode: a returning customer is offered to their last agent; the offer lapses after the queue's max
// wait, or the agent takes it.
func (s *RuntimeSuite) TestLastAgentOffer() {
	s.settings.Robot = false
	s.settings.LastAgentWindow = 24 * time.Hour
	s.stored = &aicc.Conversation{ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: rtIn.PageID, PSID: rtIn.PSID,
		Status: aicc.ConversationEnded, EndReason: aicc.EndClosed, LastAgentID: "agent_7", LastAgentAt: t0.Add(-time.Hour)}
	s.customer(1, time.Minute, "back again")
	s.run(rtIn)

	c := s.at(time.Minute)
	s.Equal(aicc.StageOffered, c.Stage)
	s.Equal("agent_7", c.AgentID)
	s.Equal([]aicc.ConversationTimer{{Kind: aicc.TimerOffer, At: t0.Add(3 * time.Minute)}}, c.Timers)
	c = s.at(3 * time.Minute)
	s.Equal(aicc.StageQueued, c.Stage, "the offer lapsed after the queue's max wait")
	s.Empty(c.AgentID)
}

func (s *RuntimeSuite) TestLastAgentTakesTheOffer() {
	s.settings.Robot = false
	s.settings.LastAgentWindow = 24 * time.Hour
	s.stored = &aicc.Conversation{ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: rtIn.PageID, PSID: rtIn.PSID,
		Status: aicc.ConversationEnded, LastAgentID: "agent_7", LastAgentAt: t0.Add(-time.Hour)}
	s.customer(1, time.Minute, "back again")
	var assigned updateResult
	s.update(2*time.Minute, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.run(rtIn)

	s.Require().NoError(assigned.err)
	s.Equal(aicc.StageAssigned, s.last().Stage)
	s.Equal("agent_7", s.last().AgentID)
}

// The last agent, and only they, can decline the offer: the conversation goes to the queue at once, and the
// offer's timer is gone.
func (s *RuntimeSuite) TestLastAgentDeclinesTheOffer() {
	s.settings.Robot = false
	s.settings.LastAgentWindow = 24 * time.Hour
	s.stored = &aicc.Conversation{ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: rtIn.PageID, PSID: rtIn.PSID,
		Status: aicc.ConversationEnded, LastAgentID: "agent_7", LastAgentAt: t0.Add(-time.Hour)}
	var early, otherAgent, declined, again updateResult
	s.update(30*time.Second, workflows.UpdateDecline, workflows.AgentRequest{AgentID: "agent_7"}, &early)
	s.customer(1, time.Minute, "back again")
	s.update(90*time.Second, workflows.UpdateDecline, workflows.AgentRequest{AgentID: "agent_9"}, &otherAgent)
	s.update(2*time.Minute, workflows.UpdateDecline, workflows.AgentRequest{AgentID: "agent_7"}, &declined)
	s.update(150*time.Second, workflows.UpdateDecline, workflows.AgentRequest{AgentID: "agent_7"}, &again)
	s.run(rtIn)

	s.Equal(aicc.ECONVERSATIONENDED, early.code(), "nothing to decline before the customer came back")
	s.Equal(aicc.ENOTOFFERED, otherAgent.code())
	s.Require().NoError(declined.err)
	c := declined.value.(aicc.Conversation)
	s.Equal(aicc.StageQueued, c.Stage)
	s.Equal(queueMain, c.QueueID)
	s.Empty(c.AgentID)
	s.Empty(c.Timers, "the offer's timer is gone")
	s.Equal(aicc.ENOTOFFERED, again.code(), "the offer was declined already")
	s.Equal(aicc.StageQueued, s.last().Stage)
}

func (s *RuntimeSuite) TestLastAgentWindowOver() {
	s.settings.Robot = false
	s.settings.LastAgentWindow = time.Hour
	s.stored = &aicc.Conversation{ID: convID, TenantID: "ten_1", ChannelID: "ch_1", PageID: rtIn.PageID, PSID: rtIn.PSID,
		Status: aicc.ConversationEnded, LastAgentID: "agent_7", LastAgentAt: t0.Add(-2 * time.Hour)}
	s.customer(1, time.Minute, "back again")
	s.run(rtIn)

	s.Equal(aicc.StageQueued, s.last().Stage)
	s.Empty(s.last().AgentID)
}

func (s *RuntimeSuite) TestTransferOnlyToTargets() {
	s.settings.Robot = false
	s.settings.TransferTargets = []string{queueExperts}
	s.customer(1, time.Minute, "hello")
	var assigned, refused, moved updateResult
	s.update(2*time.Minute, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.update(3*time.Minute, workflows.UpdateTransfer, workflows.TransferRequest{AgentID: "agent_7", QueueID: queueBackup}, &refused)
	s.update(4*time.Minute, workflows.UpdateTransfer, workflows.TransferRequest{AgentID: "agent_7", QueueID: queueExperts}, &moved)
	s.run(rtIn)

	s.Equal(aicc.ETRANSFERNOTALLOWED, refused.code())
	s.Require().NoError(moved.err)
	c := moved.value.(aicc.Conversation)
	s.Equal(aicc.StageQueued, c.Stage)
	s.Equal(queueExperts, c.QueueID)
	s.Empty(c.AgentID)
}

func (s *RuntimeSuite) TestCloseEndsTheSession() {
	s.settings.Robot = false
	s.customer(1, time.Minute, "hello")
	var assigned, closed, after updateResult
	s.update(2*time.Minute, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.update(3*time.Minute, workflows.UpdateClose, workflows.AgentRequest{AgentID: "agent_7"}, &closed)
	s.update(4*time.Minute, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r1", Text: "?"}, &after)
	s.customer(2, 5*time.Minute, "one more thing")
	s.run(rtIn)

	s.Require().NoError(closed.err)
	c := closed.value.(aicc.Conversation)
	s.Equal(aicc.ConversationEnded, c.Status)
	s.Equal(aicc.EndClosed, c.EndReason)
	s.Equal("agent_7", c.LastAgentID)
	s.Equal(aicc.ECONVERSATIONENDED, after.code())
	c = s.last()
	s.Equal(aicc.ConversationOpen, c.Status, "the customer's next message opens a new session")
	s.Equal(aicc.StageQueued, c.Stage)
}

// No customer reply: the session ends after the timeout counted from the agent's reply, with the end message;
// a customer waiting for an agent is never ended for not replying.
func (s *RuntimeSuite) TestNoCustomerReplyEndsAfterTheAgentsReply() {
	s.settings.Robot = false
	s.settings.NoCustomerReplyEnabled, s.settings.NoCustomerReplyTimeout = true, 10*time.Minute
	s.settings.EndMessage = "Goodbye!"
	s.customer(1, time.Minute, "hello")
	var assigned, replied updateResult
	s.update(20*time.Minute, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.update(30*time.Minute, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r1", Text: "Hi"}, &replied)
	s.run(rtIn)

	s.Equal(aicc.ConversationOpen, s.at(29*time.Minute).Status, "the customer waited 28 minutes for an agent")
	c := s.at(40 * time.Minute)
	s.Equal(aicc.ConversationEnded, c.Status)
	s.Equal(aicc.EndNoCustomerReply, c.EndReason)
	s.Equal(t0.Add(40*time.Minute), c.EndedAt)
	s.Equal(t0.Add(40*time.Minute), c.LastAgentAt, "the last agent's window counts from the session's end")
	s.Equal([]string{"agent:Hi", "end:Goodbye!"}, s.sentTexts())
}

// A run of a conversation begun before the runtime refuses agents' Updates with a clear code.
func (s *RuntimeSuite) TestLegacyRunRefusesUpdates() {
	in := rtIn
	in.Revision = 0
	s.customer(1, time.Minute, "hello")
	var assigned updateResult
	s.update(2*time.Minute, workflows.UpdateAssign, workflows.AgentRequest{AgentID: "agent_7"}, &assigned)
	s.run(in)

	s.Equal(aicc.ECONFLICT, assigned.code())
	s.Empty(s.asked)
	s.True(strings.Contains(assigned.err.Error(), "predates"))
}

// A change to the channel reaches the conversation's next session, although its run goes on.
func (s *RuntimeSuite) TestNewSessionReadsTheSettingsAgain() {
	s.settings.Robot = false
	s.customer(1, time.Minute, "hello")
	var closed updateResult
	s.update(2*time.Minute, workflows.UpdateClose, workflows.AgentRequest{AgentID: "agent_7"}, &closed)
	s.env.RegisterDelayedCallback(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.settings.Robot = true
	}, 3*time.Minute)
	s.customer(2, 5*time.Minute, "hello again")
	s.run(rtIn)

	s.Require().NoError(closed.err)
	s.Equal(aicc.StageQueued, s.at(time.Minute).Stage)
	s.Equal([]string{"hello again"}, s.asked, "the new session follows the robot setting")
	s.Equal(aicc.StageRobot, s.last().Stage)
}

// An Update that comes with the run's start (Update-with-start on a conversation whose run ended) waits for the
// conversation to be loaded, and is checked against it.
func (s *RuntimeSuite) TestUpdateWithTheStart() {
	s.assignedSince(time.Hour)
	var replied, wrongAgent updateResult
	s.update(0, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_9", RequestID: "r0", Text: "x"}, &wrongAgent)
	s.update(0, workflows.UpdateAgentMessage, workflows.AgentMessageRequest{AgentID: "agent_7", RequestID: "r1", Text: "Back to you"}, &replied)
	s.run(rtIn)

	s.Equal(aicc.ENOTASSIGNED, wrongAgent.code())
	s.Require().NoError(replied.err)
	s.Equal([]string{"agent:Back to you"}, s.sentTexts())
}

// With the work-time-only option the no-customer-reply timeout counts working time alone: a timer started a
// quarter of an hour before the end of Friday's working day fires on Monday morning once the rest has passed,
// not during the night or the weekend, and the read model shows that deadline.
func (s *RuntimeSuite) TestNoCustomerReplyCountsWorkTimeOnly() {
	s.settings.NoCustomerReplyEnabled, s.settings.NoCustomerReplyTimeout = true, 30*time.Minute
	s.settings.NoCustomerReplyWorkTimeOnly, s.settings.EndMessage = true, "Goodbye!"
	// t0 is Friday 2026-05-01 12:00 UTC; agents work 09:00-17:00 on weekdays.
	s.settings.WorkTime = aicc.WorkTime{Workday: []aicc.TimeSegment{{Start: "09:00", End: "17:00"}}}
	s.settings.Calendar = &aicc.ServiceCalendar{TimeZone: "UTC", WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday}}
	s.customer(1, 4*time.Hour+45*time.Minute, "hello") // Friday 16:45: the robot answers at once
	s.run(rtIn)

	monday := time.Date(2026, time.May, 4, 9, 15, 0, 0, time.UTC) // 15 minutes on Friday, 15 on Monday
	c := s.at(5 * time.Hour)
	s.Equal(aicc.ConversationOpen, c.Status)
	s.Equal([]aicc.ConversationTimer{{Kind: aicc.TimerNoCustomerReply, At: monday}}, c.Timers)
	s.Equal(aicc.ConversationOpen, s.at(monday.Sub(t0)-time.Second).Status, "not ended at night or on the weekend")
	c = s.last()
	s.Equal(aicc.ConversationEnded, c.Status)
	s.Equal(aicc.EndNoCustomerReply, c.EndReason)
	s.Equal(monday, c.EndedAt)
	s.Equal([]string{"robot:Hello! How can I help?", "end:Goodbye!"}, s.sentTexts())
}

// Without the option the same timer counts real time and ends the session in the evening.
func (s *RuntimeSuite) TestNoCustomerReplyCountsRealTime() {
	s.settings.NoCustomerReplyEnabled, s.settings.NoCustomerReplyTimeout = true, 30*time.Minute
	s.settings.WorkTime = aicc.WorkTime{Workday: []aicc.TimeSegment{{Start: "09:00", End: "17:00"}}}
	s.settings.Calendar = &aicc.ServiceCalendar{TimeZone: "UTC", WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday}}
	s.customer(1, 4*time.Hour+45*time.Minute, "hello")
	s.run(rtIn)

	s.Equal(t0.Add(5*time.Hour+15*time.Minute), s.last().EndedAt)
}

// A run of the current revision takes the agents' working time from the settings activity, as a plan from the
// workflow's time two weeks ahead: it loads no time zone.
func (s *RuntimeSuite) TestWorkPlanFromTheSettings() {
	s.customer(1, time.Minute, "hello")
	s.run(rtIn)

	s.Require().NotEmpty(s.settingsReads)
	s.Equal(t0, s.settingsReads[0].PlanFrom)
	s.Equal(t0.Add(activities.WorkPlanSpan), s.settingsReads[0].PlanTo)
}

// A run begun before the plans (revision 1) asks for none and builds its schedule from the settings, as its
// history recorded: outside working time its customer still gets the notice.
func (s *RuntimeSuite) TestRevisionOneBuildsItsSchedule() {
	s.settings.Robot = false
	s.settings.NonWorkingNotice = "We are closed."
	s.settings.WorkTime = aicc.WorkTime{Workday: []aicc.TimeSegment{{Start: "09:00", End: "11:00"}}}
	s.settings.Calendar = &aicc.ServiceCalendar{TimeZone: "Europe/Berlin"} // 11:00 CEST is 09:00 UTC: closed at 12:00 UTC
	in := rtIn
	in.Revision = 1
	s.customer(1, time.Minute, "hello")
	s.run(in)

	for _, read := range s.settingsReads {
		s.True(read.PlanFrom.IsZero(), "a revision 1 run asks for no plan")
	}
	s.Equal([]string{"notice:We are closed."}, s.sentTexts())
}

// A work-time-only timeout that runs past the work plan (a three-week rest between ten-minute working
// intervals) waits for the instant the run reads a new plan, reads it from the timeout's start, and ends the
// session once the timeout's working time has passed: not at the provisional instant.
func (s *RuntimeSuite) TestWorkPlanReadAgainWhenItRunsOut() {
	// t0 is Friday 2026-05-01 12:00 UTC; agents work 09:00-09:10 on weekdays, and not from May 5 to May 24.
	s.settings.NoCustomerReplyEnabled, s.settings.NoCustomerReplyTimeout = true, 30*time.Minute
	s.settings.NoCustomerReplyWorkTimeOnly = true
	s.settings.WorkTime = aicc.WorkTime{Workday: []aicc.TimeSegment{{Start: "09:00", End: "09:10"}}}
	cal := &aicc.ServiceCalendar{TimeZone: "UTC", WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday}}
	for d := 5; d <= 24; d++ {
		cal.RestDates = append(cal.RestDates, time.Date(2026, time.May, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
	}
	s.settings.Calendar = cal
	s.customer(1, 2*time.Minute, "hello") // the robot answers: 10 minutes on May 4, then none until May 25
	s.run(rtIn)

	provisional := time.Date(2026, time.May, 18, 9, 10, 0, 0, time.UTC) // a week before the plan's end, May 25 09:10
	s.Equal([]aicc.ConversationTimer{{Kind: aicc.TimerNoCustomerReply, At: provisional}}, s.at(3*time.Minute).Timers)
	ended := time.Date(2026, time.May, 26, 9, 10, 0, 0, time.UTC) // 10 + 10 + 10 minutes of working time
	c := s.at(provisional.Sub(t0) + time.Hour)
	s.Equal(aicc.ConversationOpen, c.Status, "the provisional instant ends nothing")
	s.Equal([]aicc.ConversationTimer{{Kind: aicc.TimerNoCustomerReply, At: ended}}, c.Timers, "the new plan places the deadline")
	// Read at the run's start, the session's start, and at the provisional instant (then again, a week before
	// the end of that plan).
	s.Require().GreaterOrEqual(len(s.settingsReads), 3)
	s.Equal(provisional.Add(activities.WorkPlanSpan), s.settingsReads[2].PlanTo)
	s.Equal(t0.Add(2*time.Minute), s.settingsReads[2].PlanFrom, "the new plan counts from the timeout's start")
	c = s.last()
	s.Equal(aicc.ConversationEnded, c.Status)
	s.Equal(ended, c.EndedAt)
}

// A channel deleted while a work-time-only deadline waits for the next plan turns the conversation's timers
// off: the run does not wait for a plan that never comes, and ends idle with the session open.
func (s *RuntimeSuite) TestWorkPlanOfADeletedChannel() {
	s.settings.NoCustomerReplyEnabled, s.settings.NoCustomerReplyTimeout = true, 30*time.Minute
	s.settings.NoCustomerReplyWorkTimeOnly, s.settings.EndMessage = true, "Goodbye!"
	s.settings.WorkTime = aicc.WorkTime{Workday: []aicc.TimeSegment{{Start: "09:00", End: "09:10"}}}
	cal := &aicc.ServiceCalendar{TimeZone: "UTC", WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday}}
	for d := 5; d <= 24; d++ {
		cal.RestDates = append(cal.RestDates, time.Date(2026, time.May, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly))
	}
	s.settings.Calendar = cal
	s.customer(1, 2*time.Minute, "hello")
	s.env.RegisterDelayedCallback(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.settingsErr = temporal.NewNonRetryableApplicationError("The channel does not exist.", aicc.ENOTFOUND, nil)
	}, 10*24*time.Hour)
	s.run(rtIn)

	c := s.last()
	s.Equal(aicc.ConversationOpen, c.Status)
	s.Empty(c.Timers)
	s.Equal([]string{"robot:Hello! How can I help?"}, s.sentTexts(), "no end message")
	s.Len(s.settingsReads, 3, "read once at the provisional instant, not again")
}
