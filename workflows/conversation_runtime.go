package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// The conversation runtime (ConversationRevision): who has the conversation, and what the channel's timers do.
//
//   - A customer message of a session that has no stage yet goes, in this order: to the customer's last agent
//     (last agent mode, within its window, in working time), offered for the skill queue's max wait; to the
//     intelligent robot when it is enabled; else to the channel's skill queue.
//   - With the robot, the messages of one batch are checked for the transfer keywords (whole words, any case):
//     one hands the conversation to the queue. Otherwise the robot is asked about the latest of them, its
//     answers are sent, and the conversation goes to the queue when the robot says so or cannot be reached.
//   - A conversation that goes to the queue (or is with it or an agent when the customer writes) outside the
//     agents' working time gets the non-working time notification, once per non-working period.
//   - With the queue or an agent, a customer message no agent has answered starts the no-agent-reply timer:
//     when it fires the conversation goes to the channel's target queue with its notice (once: not from the
//     target queue itself). An agent's reply, through the API or from the Page (an echo), stops it. From
//     inboxAwareTransferRevision on, the transfer waits while the inbox holds events of the conversation the
//     run has not applied, as the no-customer-reply end does: an echo among them is such a reply.
//   - An offer to the last agent lapses after the queue's max wait, or the agent declines it: the conversation
//     goes to the queue.
//   - Agents assign, reply, transfer (to the channel's session-transfer targets), close and decline an offer
//     through Updates. From agentsFirstRevision on, an agent who takes or closes the conversation while the robot
//     is asked keeps it (the robot's answer is dropped), and a reply leaves the customer waiting when they wrote
//     while it went out.
//   - Every message the workflow sends goes through SendConversationMessage, once per OutboundID.
//   - From workPlanRevision on, the agents' working time comes from the settings activity as an aicc.WorkPlan
//     of two weeks, read again when less than workPlanLookahead of it is left: the workflow loads no time zone.

// Why a conversation went to a queue, the label of aicc_conversation_transfers_total.
const (
	transferNew           = "new"               // robot off: a new session goes to the queue
	transferKeyword       = "keyword"           // the customer wrote a transfer keyword
	transferRobot         = "robot"             // the robot handed it over
	transferRobotDown     = "robot_unavailable" // the robot did not answer
	transferOfferLapsed   = "offer_lapsed"      // the last agent did not take it within the queue's max wait
	transferOfferDeclined = "offer_declined"    // the last agent declined it
	transferNoAgentReply  = "no_agent_reply"    // session transfer due to no agent reply
	transferAgent         = "agent"             // an agent transferred it
)

// runtime reports whether the run follows the conversation runtime.
func (wf *conversationImpl) runtime() bool { return wf.in.Revision >= runtimeRevision }

// planned reports whether the run takes the agents' working time from the settings (aicc.WorkPlan).
func (wf *conversationImpl) planned() bool { return wf.in.Revision >= workPlanRevision }

// registerUpdates registers the agents' Updates before the run's first blocking call, so that an
// Update-with-start finds them. Until the conversation and its settings are loaded (wf.ready) a validator checks
// the request alone, and the handler waits and checks the state then; a run begun before the runtime refuses
// them.
func (wf *conversationImpl) registerUpdates(ctx workflow.Context) error {
	wf.wake = workflow.NewBufferedChannel(ctx, 1)
	updates := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdateAssign, wf.assign, func(r AgentRequest) error { return wf.checkAgent(r.AgentID, nil) }},
		{UpdateClose, wf.close, func(r AgentRequest) error { return wf.checkAgent(r.AgentID, nil) }},
		{UpdateDecline, wf.decline, func(r AgentRequest) error { return wf.checkAgent(r.AgentID, wf.offeredTo(r.AgentID)) }},
		{UpdateTransfer, wf.transfer, func(r TransferRequest) error { return wf.checkAgent(r.AgentID, wf.transferAllowed(r)) }},
		{UpdateAgentMessage, wf.agentMessage, func(r AgentMessageRequest) error {
			return wf.checkAgent(r.AgentID, wf.assignedTo(r.AgentID))
		}},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler, workflow.UpdateHandlerOptions{Validator: u.validator}); err != nil {
			return err
		}
	}
	return nil
}

// checkAgent checks an agent's request: that the run follows the runtime, the agent's ID, then, once the
// conversation is loaded, that it is open and what state reports (nil: nothing more).
func (wf *conversationImpl) checkAgent(agentID string, state func() error) error {
	switch {
	case !wf.runtime():
		return refusal(aicc.ECONFLICT, "The conversation's workflow predates the conversation runtime; "+
			"agents can take it once its current run ends, after a day without events.")
	case agentID == "" || len(agentID) > maxAgentIDLen:
		return refusal(aicc.EINVALID, fmt.Sprintf("agentId must have 1 to %d characters.", maxAgentIDLen))
	case !wf.ready:
		return nil
	case wf.state.Conversation.Status != aicc.ConversationOpen:
		return refusal(aicc.ECONVERSATIONENDED, "The conversation is ended; the customer's next message opens it.")
	case state != nil:
		return state()
	}
	return nil
}

// transferAllowed says whether the request's queue is one of the channel's session-transfer targets.
func (wf *conversationImpl) transferAllowed(r TransferRequest) func() error {
	return func() error {
		if !slices.Contains(wf.settings.TransferTargets, r.QueueID) {
			return refusal(aicc.ETRANSFERNOTALLOWED, "Session transfer to that skill queue is not allowed on the channel.")
		}
		return nil
	}
}

// assignedTo says whether the conversation is assigned to the agent.
func (wf *conversationImpl) assignedTo(agentID string) func() error {
	return func() error {
		if c := wf.state.Conversation; c.Stage != aicc.StageAssigned || c.AgentID != agentID {
			return refusal(aicc.ENOTASSIGNED, "The conversation is not assigned to the agent.")
		}
		return nil
	}
}

// offeredTo says whether the conversation is offered to the agent, its customer's last agent.
func (wf *conversationImpl) offeredTo(agentID string) func() error {
	return func() error {
		if c := wf.state.Conversation; c.Stage != aicc.StageOffered || c.AgentID != agentID {
			return refusal(aicc.ENOTOFFERED, "The conversation is not offered to the agent.")
		}
		return nil
	}
}

// accept waits until the conversation is loaded, then checks the agent's request against it: an Update that
// came with the run's start was validated on the request alone.
func (wf *conversationImpl) accept(ctx workflow.Context, agentID string, state func() error) error {
	if err := workflow.Await(ctx, func() bool { return wf.ready }); err != nil {
		return err
	}
	return wf.checkAgent(agentID, state)
}

// refusal is the error an Update refuses a request with: an ApplicationError typed with code, which
// DomainError turns back into an *aicc.Error for the API.
func refusal(code, message string) error { return temporal.NewApplicationError(message, code) }

// buildSchedule takes the work plan of the settings, or on runs begun before plans builds the work schedule;
// agents count as always working when there is none.
func (wf *conversationImpl) buildSchedule() {
	if wf.planned() {
		wf.plan = wf.settings.WorkPlan
		return
	}
	loc, err := aicc.CalendarLocation(wf.settings.Calendar)
	if err == nil {
		wf.schedule, err = aicc.NewWorkSchedule(wf.settings.WorkTime, wf.settings.Calendar, loc)
	}
	if err != nil {
		wf.schedule = nil
		wf.logger.Warn("The channel's work time or calendar zone is invalid; agents count as always working", "Error", err)
	}
}

// settingsMaxAge is how old the channel's settings may be when a new session of the conversation starts: older
// ones are read again, so that a change to the channel reaches the next session of a run that goes on.
const settingsMaxAge = time.Minute

// refreshSettings reads the channel's settings again when they are older than settingsMaxAge. When they cannot
// be read (the channel is being deleted, the store refuses), the run keeps those it has.
func (wf *conversationImpl) refreshSettings(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	if now.Sub(wf.settingsAt) < settingsMaxAge {
		return nil
	}
	return wf.loadSettings(ctx, now)
}

// loadSettings reads the channel's settings again, with the work plan from now (or from a pending timer's
// start, when earlier). When the store refuses, the run keeps those it has, and tries again no sooner than
// settingsMaxAge later; when the channel no longer exists, a run that takes plans turns its timers off.
func (wf *conversationImpl) loadSettings(ctx workflow.Context, now time.Time) error {
	var a *activities.Activities
	var settings activities.ConversationSettings
	switch err := wf.database(ctx, a.LoadConversationSettings, wf.settingsInput(now)).Get(ctx, &settings); {
	case temporal.IsCanceledError(err):
		return err
	case wf.planned() && applicationErrorType(err) == aicc.ENOTFOUND:
		// As at the run's start: the channel is being deleted, and no timer of its acts any more (a provisional
		// deadline would otherwise wait for a plan that never comes).
		wf.logger.Warn("The conversation's channel does not exist any more; its timers are off")
		wf.settings, wf.plan = activities.ConversationSettings{}, nil
	case err != nil:
		wf.logger.Warn("The channel's settings could not be read again; the session follows those read before", "Error", err)
	default:
		wf.settings = settings
		wf.buildSchedule()
	}
	wf.settingsAt = now
	return nil
}

// settingsInput asks for the channel's settings, on runs that take plans with a work plan from now to
// activities.WorkPlanSpan later: from the start of the no-customer-reply timeout of an open conversation when
// that is earlier, so that the plan counts the working time since, but from workPlanLookback before now at the
// earliest.
func (wf *conversationImpl) settingsInput(now time.Time) activities.ConversationSettingsInput {
	in := activities.ConversationSettingsInput{TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID}
	if wf.planned() {
		in.PlanFrom, in.PlanTo = now, now.Add(activities.WorkPlanSpan)
		if from := wf.endFrom(); !from.IsZero() && from.Before(now) && wf.state.Conversation.Status != aicc.ConversationEnded {
			in.PlanFrom = later(from, now.Add(-workPlanLookback))
		}
	}
	return in
}

// Work plan bounds. The run reads a new plan when less than workPlanLookahead of it is left, so that a
// deadline of working time up to that far is found in it. A timeout's working time longer ago than
// workPlanLookback is not counted: it bounds the plan's size (a few intervals a day), and a no-customer-reply
// timeout (an hour of working time at most) still running after a month falls in a rest longer than that.
const (
	workPlanLookahead = 7 * 24 * time.Hour
	workPlanLookback  = 31 * 24 * time.Hour
)

// refreshPlan reads the settings again, for their work plan, when less than workPlanLookahead of the plan is
// left (and the last read was settingsMaxAge ago at least).
func (wf *conversationImpl) refreshPlan(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	if !wf.planStale(now) || now.Sub(wf.settingsAt) < settingsMaxAge {
		return nil
	}
	wf.logger.Info("The work plan runs out; reading the channel's settings again", "Through", wf.plan.Through)
	if err := wf.loadSettings(ctx, now); err != nil {
		return err
	}
	// A deadline the old plan could not place may be known now: the read model shows the timers as they are.
	if slices.Equal(wf.timers(), wf.state.Conversation.Timers) {
		return nil
	}
	wf.changed = true
	return wf.save(ctx)
}

// planStale reports whether less than workPlanLookahead of the work plan is left at now.
func (wf *conversationImpl) planStale(now time.Time) bool {
	return wf.plan != nil && !now.Add(workPlanLookahead).Before(wf.plan.Through)
}

// robotAttempts bounds the questions to the robot about one message: its adapter retries within its own
// timeout already, and the customer goes to the queue when they fail.
const robotAttempts = 3

// maxAgentIDLen bounds an agent's ID, which the contact centre's agent directory chooses.
const maxAgentIDLen = 128

// route routes the customer messages applied since the last call (wf.unrouted), in order.
func (wf *conversationImpl) route(ctx workflow.Context) error {
	texts := wf.unrouted
	wf.unrouted = nil
	c := &wf.state.Conversation
	if len(texts) == 0 || c.Status != aicc.ConversationOpen {
		return nil
	}
	now := workflow.Now(ctx)
	if c.Stage == "" {
		if err := wf.refreshSettings(ctx); err != nil {
			return err
		}
		working, _ := wf.working(now)
		switch {
		case wf.settings.LastAgentWindow > 0 && c.LastAgentID != "" && working &&
			now.Before(c.LastAgentAt.Add(wf.settings.LastAgentWindow)):
			c.Stage, c.AgentID, c.QueueID = aicc.StageOffered, c.LastAgentID, wf.settings.QueueID
			wf.state.OfferedAt, wf.changed = now, true
			wf.logger.Info("The returning customer is offered to their last agent", "AgentID", c.AgentID)
		case wf.settings.Robot:
			c.Stage, wf.changed = aicc.StageRobot, true
		default:
			return wf.queue(ctx, wf.settings.QueueID, transferNew)
		}
	}
	if c.Stage != aicc.StageRobot {
		if wf.state.WaitingSince.IsZero() {
			wf.state.WaitingSince = now
		}
		return wf.noticeOutsideWorkTime(ctx)
	}
	for _, text := range texts {
		if kw := aicc.MatchTransferKeyword(text, wf.settings.TransferKeywords); kw != "" {
			wf.logger.Info("The customer asked for an agent", "Keyword", kw)
			return wf.queue(ctx, wf.settings.QueueID, transferKeyword)
		}
	}
	return wf.askRobot(ctx, texts[len(texts)-1])
}

// askRobot asks the robot about the customer's message and sends its answers.
func (wf *conversationImpl) askRobot(ctx workflow.Context, text string) error {
	var a *activities.Activities
	in := activities.AskRobotInput{RobotQuestion: aicc.RobotQuestion{
		TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, ConversationID: wf.state.Conversation.ID,
		AccessCode: wf.settings.RobotAccessCode, PSID: wf.in.PSID, Text: text,
	}}
	var answer aicc.RobotAnswer
	err := workflow.ExecuteActivity(withFewAttempts(ctx, robotAttempts, 5*time.Second), a.AskRobot, in).Get(ctx, &answer)
	c := &wf.state.Conversation
	switch {
	case temporal.IsCanceledError(err):
		return err
	case wf.in.Revision >= agentsFirstRevision && (c.Status != aicc.ConversationOpen || c.Stage != aicc.StageRobot):
		wf.logger.Info("An agent took the conversation while the robot was asked; the robot's answer is dropped",
			"Stage", c.Stage, "Status", c.Status)
		return nil
	case err != nil:
		wf.logger.Warn("The robot did not answer; the conversation goes to the queue", "Error", err)
		return wf.queue(ctx, wf.settings.QueueID, transferRobotDown)
	}
	for _, t := range answer.Texts {
		if err := wf.sendOwn(ctx, aicc.PurposeRobot, t); err != nil {
			return err
		}
	}
	wf.counter(ctx, "aicc_robot_answers_total", nil).Inc(int64(len(answer.Texts)))
	if answer.Transfer {
		return wf.queue(ctx, wf.settings.QueueID, transferRobot)
	}
	return nil
}

// queue puts the conversation in the skill queue queueID for the reason given, and tells a customer queued
// outside working time so.
func (wf *conversationImpl) queue(ctx workflow.Context, queueID, reason string) error {
	c := &wf.state.Conversation
	c.Stage, c.QueueID, c.AgentID = aicc.StageQueued, queueID, ""
	wf.state.OfferedAt, wf.changed = time.Time{}, true
	if wf.state.WaitingSince.IsZero() {
		wf.state.WaitingSince = workflow.Now(ctx)
	}
	wf.counter(ctx, "aicc_conversation_transfers_total", map[string]string{"reason": reason}).Inc(1)
	wf.logger.Info("The conversation is queued", "QueueID", queueID, "Reason", reason)
	return wf.noticeOutsideWorkTime(ctx)
}

// noticeOutsideWorkTime sends the non-working time notification when agents do not work now and the customer
// has not had it in this non-working period.
func (wf *conversationImpl) noticeOutsideWorkTime(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	working, until := wf.working(now)
	if working || wf.settings.NonWorkingNotice == "" || now.Before(wf.state.NoticeUntil) {
		return nil
	}
	if until.IsZero() { // the non-working period outlasts the schedule's horizon
		until = now.Add(aicc.MaxWorkTimeHorizon)
	}
	wf.state.NoticeUntil = until
	return wf.sendOwn(ctx, aicc.PurposeNotice, wf.settings.NonWorkingNotice)
}

// working reports whether agents work at t, and until when; always working without a schedule or plan, or
// when the plan does not reach t (it could not be read again).
func (wf *conversationImpl) working(t time.Time) (bool, time.Time) {
	switch {
	case wf.plan != nil && wf.plan.Covers(t):
		return wf.plan.At(t)
	case wf.schedule != nil:
		return wf.schedule.At(t)
	}
	return true, time.Time{}
}

// noAgentReplyDeadline returns when a waiting customer is transferred for want of an agent reply.
func (wf *conversationImpl) noAgentReplyDeadline() (time.Time, bool) {
	c, s := wf.state.Conversation, wf.settings
	if s.NoAgentReplyTimeout <= 0 || wf.state.WaitingSince.IsZero() || c.Status != aicc.ConversationOpen ||
		c.Stage == aicc.StageRobot || c.QueueID == s.NoAgentReplyQueueID {
		return time.Time{}, false
	}
	due := wf.state.WaitingSince.Add(s.NoAgentReplyTimeout)
	if wf.transferHeld.since.Equal(wf.state.WaitingSince) {
		due = later(due, wf.transferHeld.until)
	}
	return due, true
}

// offerDeadline returns when the offer to the last agent lapses.
func (wf *conversationImpl) offerDeadline() (time.Time, bool) {
	if wf.state.Conversation.Stage != aicc.StageOffered {
		return time.Time{}, false
	}
	return wf.state.OfferedAt.Add(wf.settings.QueueMaxWait), true
}

// fire does what the timer of kind does when it is due.
func (wf *conversationImpl) fire(ctx workflow.Context, kind aicc.TimerKind) error {
	switch kind {
	case aicc.TimerNoAgentReply:
		if wf.in.Revision >= inboxAwareTransferRevision && wf.inboxHolds(ctx) {
			if !wf.transferHeld.since.Equal(wf.state.WaitingSince) {
				wf.logger.Info("The no-agent-reply transfer waits: the inbox holds events of the conversation not yet applied")
			}
			wf.transferHeld.since, wf.transferHeld.until = wf.state.WaitingSince, workflow.Now(ctx).Add(inboxRecheck)
			return nil
		}
		if err := wf.queue(ctx, wf.settings.NoAgentReplyQueueID, transferNoAgentReply); err != nil {
			return err
		}
		if text := wf.settings.NoAgentReplyNotice; text != "" {
			return wf.sendOwn(ctx, aicc.PurposeNoAgentNotice, text)
		}
		return nil
	case aicc.TimerOffer:
		wf.logger.Info("The last agent did not take the conversation in time", "AgentID", wf.state.Conversation.AgentID)
		return wf.queue(ctx, wf.settings.QueueID, transferOfferLapsed)
	}
	if _, _, final := wf.endDue(); !final {
		return nil // the deadline lies past the work plan: the loop reads a new one and looks again
	}
	if wf.inboxHolds(ctx) {
		if wf.heldUntil.IsZero() {
			wf.logger.Info("The session's end waits: the inbox holds events of the conversation not yet applied")
		}
		wf.heldUntil = workflow.Now(ctx).Add(inboxRecheck)
		return nil
	}
	return wf.end(ctx, aicc.EndNoCustomerReply)
}

// assign assigns the conversation to the agent: they serve the customer from now on.
func (wf *conversationImpl) assign(ctx workflow.Context, r AgentRequest) (aicc.Conversation, error) {
	if err := wf.accept(ctx, r.AgentID, nil); err != nil {
		return aicc.Conversation{}, err
	}
	c := &wf.state.Conversation
	c.Stage, c.AgentID = aicc.StageAssigned, r.AgentID
	wf.servedBy(ctx, r.AgentID)
	wf.logger.Info("The conversation is assigned", "AgentID", r.AgentID)
	return wf.commit(ctx)
}

// agentMessage sends the agent's reply to the customer, as RESPONSE within 24 hours of the customer's last
// message and with the HUMAN_AGENT tag within 7 days.
func (wf *conversationImpl) agentMessage(ctx workflow.Context, r AgentMessageRequest) (AgentMessageResult, error) {
	if err := wf.accept(ctx, r.AgentID, wf.assignedTo(r.AgentID)); err != nil {
		return AgentMessageResult{}, err
	}
	c := &wf.state.Conversation
	typ, tag, err := aicc.MessagingFor(c.LastCustomerMessageAt, workflow.Now(ctx))
	if e := (*aicc.Error)(nil); errors.As(err, &e) {
		return AgentMessageResult{}, refusal(e.Code, e.Message)
	}
	sending := workflow.Now(ctx)
	res, err := wf.send(ctx, aicc.PurposeAgent, wf.outboundID("agent/"+r.RequestID), r.Text, typ, tag)
	if err != nil {
		return AgentMessageResult{}, err
	}
	now := workflow.Now(ctx)
	c.LastAgentMessage, c.LastAgentMessageAt = r.Text, now
	switch seen := wf.state.LastCustomerSeenAt; {
	case wf.in.Revision >= agentsFirstRevision && seen.After(sending):
		// The customer wrote while the reply went out: that message waits for an answer, from when it came.
		wf.state.WaitingSince = seen
	default:
		wf.state.WaitingSince = time.Time{}
	}
	wf.servedBy(ctx, r.AgentID)
	saved, err := wf.commit(ctx)
	return AgentMessageResult{MessageID: res.MessageID, Type: typ, Tag: tag, Conversation: saved}, err
}

// transfer moves the conversation to another skill queue, at an agent's request.
func (wf *conversationImpl) transfer(ctx workflow.Context, r TransferRequest) (aicc.Conversation, error) {
	if err := wf.accept(ctx, r.AgentID, wf.transferAllowed(r)); err != nil {
		return aicc.Conversation{}, err
	}
	if err := wf.queue(ctx, r.QueueID, transferAgent); err != nil {
		return aicc.Conversation{}, err
	}
	return wf.commit(ctx)
}

// decline declines the offer of the conversation to the customer's last agent: it goes to the queue at once.
func (wf *conversationImpl) decline(ctx workflow.Context, r AgentRequest) (aicc.Conversation, error) {
	if err := wf.accept(ctx, r.AgentID, wf.offeredTo(r.AgentID)); err != nil {
		return aicc.Conversation{}, err
	}
	wf.logger.Info("The last agent declined the conversation", "AgentID", r.AgentID)
	if err := wf.queue(ctx, wf.settings.QueueID, transferOfferDeclined); err != nil {
		return aicc.Conversation{}, err
	}
	return wf.commit(ctx)
}

// close ends the conversation at the agent's request.
func (wf *conversationImpl) close(ctx workflow.Context, r AgentRequest) (aicc.Conversation, error) {
	if err := wf.accept(ctx, r.AgentID, nil); err != nil {
		return aicc.Conversation{}, err
	}
	wf.servedBy(ctx, r.AgentID)
	if err := wf.end(ctx, aicc.EndClosed); err != nil {
		return aicc.Conversation{}, err
	}
	return wf.commit(ctx)
}

// servedBy records that agentID serves the customer now.
func (wf *conversationImpl) servedBy(ctx workflow.Context, agentID string) {
	c := &wf.state.Conversation
	c.LastAgentID, c.LastAgentAt = agentID, workflow.Now(ctx)
	wf.state.OfferedAt, wf.changed = time.Time{}, true
}

// commit saves the conversation as an Update handler left it, wakes the main loop to rearm its timer, and
// returns the conversation as saved.
func (wf *conversationImpl) commit(ctx workflow.Context) (aicc.Conversation, error) {
	wf.changed, wf.lastEventAt = true, workflow.Now(ctx) // an agent's request keeps the run from ending idle
	wf.wake.SendAsync(struct{}{})
	if err := wf.save(ctx); err != nil {
		return aicc.Conversation{}, err
	}
	return wf.state.Conversation, nil
}

// sendOwn sends text, a message of the workflow's own accord (the robot's answer, a notice, the end message), as
// a reply (RESPONSE) named by nextOutboundID. One that is not sent is logged by send and the conversation goes
// on without it: the error returned is the workflow's cancellation only.
func (wf *conversationImpl) sendOwn(ctx workflow.Context, purpose, text string) error {
	if _, err := wf.send(ctx, purpose, wf.nextOutboundID(ctx), text, aicc.MessagingResponse, ""); temporal.IsCanceledError(err) {
		return err
	}
	return nil
}

// nextOutboundID names the next message the workflow sends of its own accord: by the run's start time (in
// base 36 ns) and the run's count of them. The count goes on across continue-as-new but starts again in a run
// restored from the read model, which does not keep it; the start time tells those runs apart, one at a time
// as they run, where a count alone would name a returning customer's messages as the last run's, which the
// store then takes for sent.
func (wf *conversationImpl) nextOutboundID(ctx workflow.Context) string {
	wf.state.Sent++
	started := workflow.GetInfo(ctx).WorkflowStartTime.UnixNano()
	return wf.outboundID(strconv.FormatInt(started, 36) + "/" + strconv.Itoa(wf.state.Sent))
}

// outboundID is the OutboundID of the conversation's message named name.
func (wf *conversationImpl) outboundID(name string) string {
	return wf.state.Conversation.ID + "/" + name
}

// send sends text to the customer once (SendConversationMessage) and counts it. A failure is logged and
// returned; callers other than an agent's reply go on without the message.
func (wf *conversationImpl) send(ctx workflow.Context, purpose, outboundID, text string, typ aicc.MessagingType, tag string) (aicc.SendResult, error) {
	var a *activities.Activities
	in := activities.SendConversationMessageInput{
		PageInput:  activities.PageInput{TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: wf.in.PageID},
		PSID:       wf.in.PSID,
		OutboundID: outboundID,
		Purpose:    purpose,
		Text:       text,
		Type:       typ,
		Tag:        tag,
	}
	var res aicc.SendResult
	if err := workflow.ExecuteActivity(withFewAttempts(ctx, endMessageAttempts, 10*time.Second), a.SendConversationMessage, in).Get(ctx, &res); err != nil {
		wf.logger.Warn("A message to the customer was not sent", "Purpose", purpose, "OutboundID", outboundID, "Error", err)
		return res, err
	}
	c := &wf.state.Conversation
	c.MessageCount++
	wf.state.LastSentAt, wf.changed = workflow.Now(ctx), true
	return res, nil
}

// counter is the workflow's counter name with tags; it counts nothing while the workflow replays.
func (wf *conversationImpl) counter(ctx workflow.Context, name string, tags map[string]string) interface{ Inc(int64) } {
	h := workflow.GetMetricsHandler(ctx)
	if tags != nil {
		h = h.WithTags(tags)
	}
	return h.Counter(name)
}

// deadline is a kind of timer and when it is due, if it is pending.
type deadline struct {
	kind aicc.TimerKind
	due  func() (time.Time, bool)
}

// timers returns the conversation's pending timers, soonest first.
func (wf *conversationImpl) timers() []aicc.ConversationTimer {
	deadlines := []deadline{{aicc.TimerNoCustomerReply, wf.endDeadline}}
	if wf.runtime() {
		deadlines = append(deadlines, deadline{aicc.TimerNoAgentReply, wf.noAgentReplyDeadline},
			deadline{aicc.TimerOffer, wf.offerDeadline})
	}
	var out []aicc.ConversationTimer
	for _, d := range deadlines {
		if at, ok := d.due(); ok {
			out = append(out, aicc.ConversationTimer{Kind: d.kind, At: at})
		}
	}
	slices.SortFunc(out, func(a, b aicc.ConversationTimer) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(string(a.Kind), string(b.Kind))
	})
	return out
}
