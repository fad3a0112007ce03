package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// Conversation keeps the state of the conversation between a Page and a customer. The dispatcher starts it, or
// signals it when it runs, with signal-with-start (SignalInboxEvents), once per claim with every event of the
// conversation it claimed, in Meta timestamp order.
//
//   - Events are applied as they come, and the result is the same as applying them in Meta timestamp order: a
//     message or postback is a customer message, an echo an agent message; each counts in MessageCount, and
//     becomes the last customer or agent message only when it is not older than the one there (an event that
//     arrives late is counted but never replaces a newer one). Deliveries, reads, reactions and unknown kinds
//     change nothing but are remembered as seen. An event whose inbox ID was applied already (the dispatcher
//     redelivers what it signalled but could not mark delivered) is ignored.
//     Events applied after one with a later timestamp are counted in LateEvents.
//   - The read model is written through SaveConversation once per batch of signals, not once per event. The
//     database activities are local activities: a signal costs one workflow task and no activity task.
//   - When the channel's "session end due to no customer reply" is enabled, an open conversation ends when no
//     customer message has come for its timeout (of the agents' working time alone, with the channel's
//     work-time-only option), counted from when the workflow applied the last one: the end
//     message is sent when there is one (a failure to send it is logged and the session ends all the same), and
//     the conversation is recorded as ended. A newer customer message opens it again. The end waits while the
//     inbox holds events of the conversation this run has not applied (the dispatcher lags, or was down): it
//     looks again every inboxRecheck, and the customer's reply among them keeps the session going.
//   - It continues as new when Temporal suggests it or its history reaches ConversationInput.HistoryLimit,
//     after applying every pending signal, and carries its state over, with the customer messages that came
//     while it waited for agents' Updates to finish: the next run routes them.
//   - It never ends on its own while a no-customer-reply end is pending. Otherwise (the conversation is ended,
//     or the end is disabled) it returns nil after conversationIdleTimeout without any event: a later event
//     starts a new run through signal-with-start, which restores the read model with LoadConversation. The
//     channel's settings are read when a run starts, so a change reaches a conversation at its next run.
//   - A run of ConversationRevision also routes the customer's messages to the robot, the queue and agents,
//     takes the agents' Updates and runs the channel's other timers: see conversation_runtime.go.
func Conversation(ctx workflow.Context, in ConversationInput) error {
	wf := new(conversationImpl)
	if err := wf.setup(ctx, in); err != nil {
		return err
	}
	return wf.run(ctx)
}

const (
	// seenLimit bounds the inbox IDs a conversation remembers. The dispatcher redelivers only events it signalled
	// but did not mark delivered, one lease (seconds) after the first delivery and at most one claimed batch of
	// them; the last 1,000 IDs cover that many times over and keep the state small.
	seenLimit = 1_000
	// conversationIdleTimeout is how long a conversation with nothing pending waits for an event before its run
	// ends. It is far longer than a dispatcher lease, so an event is never redelivered to a run that forgot it.
	conversationIdleTimeout = 24 * time.Hour
	// endMessageAttempts bounds the attempts to send the end message: the Send API has no idempotency key, so
	// every retry after a timeout risks a second copy, and a session ends all the same without it.
	endMessageAttempts = 3
	// inboxRecheck is how long a timer held back by undelivered inbox events waits before it looks again.
	inboxRecheck = 30 * time.Second
)

// Changes of Conversation that replay must tell apart (workflow.GetVersion).
const (
	// localDatabaseActivities runs the database activities as local activities.
	localDatabaseActivities = "local-database-activities"
	// inboxAwareEnd holds the no-customer-reply end while the inbox holds the conversation's events.
	inboxAwareEnd = "inbox-aware-end"
)

// conversationImpl is the state of one Conversation run.
type conversationImpl struct {
	in       ConversationInput
	limit    int // history length that makes the run continue as new
	logger   log.Logger
	settings activities.ConversationSettings
	signals  workflow.ReceiveChannel // SignalInboxEvents
	single   workflow.ReceiveChannel // SignalInboxEvent, of runs started before SignalInboxEvents
	local    bool                    // database activities run as local activities

	state   ConversationState
	seen    map[int64]struct{} // state.Seen as a set
	changed bool               // the conversation differs from the read model last saved
	saving  bool               // a save is under way

	received    int       // signals this run received: each is one event of its history
	lastEventAt time.Time // workflow time of the last signal, or of the start of the run
	heldUntil   time.Time // the end waits for undelivered inbox events until then
	// transferHeld is heldUntil of the no-agent-reply transfer (inboxAwareTransferRevision), for the customer
	// waiting since transferHeld.since.
	transferHeld struct{ since, until time.Time }

	timer       workflow.Future // the pending timer, nil when there is none
	timerAt     time.Time       // when it fires
	cancelTimer workflow.CancelFunc

	// The conversation runtime (ConversationRevision and later).
	schedule   *aicc.WorkSchedule // when agents work, on runs before workPlanRevision; nil: always
	plan       *aicc.WorkPlan     // when agents work, from workPlanRevision on; nil: always
	settingsAt time.Time          // when the settings were read
	ready      bool               // the conversation and its settings are loaded
	unrouted   []string           // the texts of customer messages applied and not routed yet
	wake       workflow.Channel   // an Update changed the state: the loop looks at its timers again
}

func (wf *conversationImpl) setup(ctx workflow.Context, in ConversationInput) error {
	if err := invalidInput("conversation",
		[]field{{"tenantId", in.TenantID}, {"channelId", in.ChannelID}, {"pageId", in.PageID}, {"psid", in.PSID}},
		when(in.HistoryLimit < 0, "historyLimit must not be negative")); err != nil {
		return err
	}

	wf.in = in
	wf.limit = in.HistoryLimit
	if wf.limit == 0 {
		wf.limit = DefaultConversationHistoryLimit
	}
	wf.logger = log.With(workflow.GetLogger(ctx), "TenantID", in.TenantID, "ChannelID", in.ChannelID,
		"PageID", in.PageID, "ConversationID", aicc.ConversationID(in.ChannelID, in.PageID, in.PSID))
	wf.signals = workflow.GetSignalChannel(ctx, SignalInboxEvents)
	wf.single = workflow.GetSignalChannel(ctx, SignalInboxEvent)
	wf.local = wf.runtime() || workflow.GetVersion(ctx, localDatabaseActivities, workflow.DefaultVersion, 1) == 1
	if err := workflow.SetQueryHandler(ctx, QueryConversation, func() (ConversationState, error) {
		return wf.state, nil
	}); err != nil {
		return err
	}
	if err := wf.registerUpdates(ctx); err != nil {
		return err
	}

	var a *activities.Activities
	var loaded workflow.Future
	if in.State != nil {
		wf.state = *in.State
		wf.unrouted, wf.state.Unrouted = wf.state.Unrouted, nil
	} else {
		loaded = wf.database(ctx, a.LoadConversation, wf.key())
	}
	if !wf.local && loaded != nil {
		// Runs begun before local activities read the conversation, then the settings.
		if err := loaded.Get(ctx, &wf.state.Conversation); err != nil {
			return err
		}
	}
	// A run that continues as new may carry a no-customer-reply timer started before it (settingsInput).
	settings := wf.database(ctx, a.LoadConversationSettings, wf.settingsInput(workflow.Now(ctx)))
	if wf.local && loaded != nil {
		if err := loaded.Get(ctx, &wf.state.Conversation); err != nil {
			return err
		}
		// The events the read model says were applied: a workflow task that saved it may have been lost.
		c := &wf.state.Conversation
		wf.state.Seen, c.AppliedInboxIDs = c.AppliedInboxIDs[max(len(c.AppliedInboxIDs)-seenLimit, 0):], nil
	}
	if wf.state.Conversation.Status == "" {
		wf.state.Conversation.Status = aicc.ConversationOpen
	}
	wf.seen = make(map[int64]struct{}, len(wf.state.Seen))
	for _, id := range wf.state.Seen {
		wf.seen[id] = struct{}{}
	}

	switch err := settings.Get(ctx, &wf.settings); {
	case applicationErrorType(err) == aicc.ENOTFOUND:
		// The channel is being deleted; its events are still applied, but no session is ended by a timer.
		wf.logger.Warn("The conversation's channel does not exist; the no-customer-reply end is off")
		wf.settings = activities.ConversationSettings{}
	case err != nil:
		return err
	}
	wf.lastEventAt = workflow.Now(ctx)
	wf.settingsAt = wf.lastEventAt
	if wf.runtime() {
		wf.buildSchedule()
	}
	wf.ready = true
	return nil
}

// key names the conversation for the activities.
func (wf *conversationImpl) key() activities.ConversationKey {
	return activities.ConversationKey{TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: wf.in.PageID, PSID: wf.in.PSID}
}

// database runs a database activity: a local activity, or on runs begun before those, an activity.
func (wf *conversationImpl) database(ctx workflow.Context, activity any, args ...any) workflow.Future {
	if wf.local {
		return workflow.ExecuteLocalActivity(withLocalDatabase(ctx), activity, args...)
	}
	return workflow.ExecuteActivity(withDatabase(ctx), activity, args...)
}

func (wf *conversationImpl) run(ctx workflow.Context) error {
	for {
		wf.drain(ctx)
		if err := wf.route(ctx); err != nil {
			return err
		}
		if err := wf.save(ctx); err != nil {
			return err
		}
		if wf.pending() {
			continue // they came while the read model was written: apply them before deciding anything
		}
		if wf.historyFull(ctx) {
			return wf.continueAsNew(ctx)
		}
		if err := wf.refreshPlan(ctx); err != nil {
			return err
		}

		now := workflow.Now(ctx)
		var next aicc.ConversationTimer
		timers := wf.timers()
		switch {
		case len(timers) > 0 && !now.Before(timers[0].At):
			if err := wf.fire(ctx, timers[0].Kind); err != nil {
				return err
			}
			continue
		case len(timers) > 0:
			next = timers[0]
		case !now.Before(wf.lastEventAt.Add(conversationIdleTimeout)):
			wf.logger.Info("The conversation is idle; the run ends until its next event", "Status", wf.state.Conversation.Status)
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			if wf.wake.Len() > 0 || wf.pending() {
				continue // an agent's Update or an event came meanwhile
			}
			return nil
		default:
			next.At = wf.lastEventAt.Add(conversationIdleTimeout)
		}
		wf.armTimer(ctx, next.At, next.Kind)

		sel := workflow.NewSelector(ctx)
		sel.AddReceive(wf.signals, func(c workflow.ReceiveChannel, _ bool) {
			var s InboxEventsSignal
			c.Receive(ctx, &s)
			wf.applyAll(ctx, s.Events)
		})
		sel.AddReceive(wf.single, func(c workflow.ReceiveChannel, _ bool) {
			var s InboxEventSignal
			c.Receive(ctx, &s)
			wf.applyAll(ctx, []InboxEventSignal{s})
		})
		sel.AddReceive(wf.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddFuture(wf.timer, func(workflow.Future) {
			// Fired, or cancelled with the workflow; either way the loop decides from the time and the state.
			wf.timer = nil
		})
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// drain applies every signal that has arrived.
func (wf *conversationImpl) drain(ctx workflow.Context) {
	for {
		var batch InboxEventsSignal
		var one InboxEventSignal
		switch {
		case wf.signals.ReceiveAsync(&batch):
			wf.applyAll(ctx, batch.Events)
		case wf.single.ReceiveAsync(&one):
			wf.applyAll(ctx, []InboxEventSignal{one})
		default:
			return
		}
	}
}

// pending reports whether signals wait to be applied.
func (wf *conversationImpl) pending() bool { return wf.signals.Len()+wf.single.Len() > 0 }

// applyAll applies the events of one signal.
func (wf *conversationImpl) applyAll(ctx workflow.Context, events []InboxEventSignal) {
	wf.received++
	wf.lastEventAt = workflow.Now(ctx)
	for _, e := range events {
		wf.apply(ctx, e)
	}
}

// apply applies one inbox event to the state.
func (wf *conversationImpl) apply(ctx workflow.Context, s InboxEventSignal) {
	if _, ok := wf.seen[s.InboxID]; ok {
		wf.logger.Debug("Ignoring an inbox event applied already", "InboxID", s.InboxID)
		// Applied by a lost workflow task whose save this run restarted from, or redelivered: the customer's
		// latest message still starts this run's no-reply timer.
		if wf.local && wf.state.LastCustomerSeenAt.IsZero() && (s.Kind == aicc.EventMessage || s.Kind == aicc.EventPostback) &&
			!eventTime(ctx, s).Before(wf.state.Conversation.LastCustomerMessageAt) {
			wf.state.LastCustomerSeenAt = workflow.Now(ctx)
		}
		return
	}
	wf.remember(s.InboxID)
	if s.Timestamp > 0 && s.Timestamp < wf.state.LastTimestamp {
		wf.state.LateEvents++
	}
	wf.state.LastTimestamp = max(wf.state.LastTimestamp, s.Timestamp)

	c := &wf.state.Conversation
	at := eventTime(ctx, s)
	switch s.Kind {
	case aicc.EventMessage, aicc.EventPostback:
		wf.countMessage(at)
		if at.Before(c.LastCustomerMessageAt) {
			return // an older message that came late
		}
		c.LastCustomerMessage, c.LastCustomerMessageAt = s.Text, at
		wf.state.LastCustomerSeenAt = workflow.Now(ctx)
		if c.Status == aicc.ConversationEnded {
			c.Status, c.EndedAt, c.StartedAt = aicc.ConversationOpen, time.Time{}, at
			c.EndReason, c.Stage = "", ""
			wf.logger.Info("The customer wrote again; the conversation is open again", "InboxID", s.InboxID)
		}
		if wf.runtime() {
			wf.unrouted = append(wf.unrouted, s.Text)
		}
	case aicc.EventEcho:
		wf.countMessage(at)
		if !at.Before(c.LastAgentMessageAt) {
			c.LastAgentMessage, c.LastAgentMessageAt = s.Text, at
		}
		if wf.runtime() && !at.Before(c.LastCustomerMessageAt) {
			// An agent answered from the Page itself: the customer is not waiting any more.
			wf.state.WaitingSince, wf.state.LastSentAt = time.Time{}, workflow.Now(ctx)
		}
	case aicc.EventOwnEcho:
		// The echo of a message this service sent: counted when it was sent.
	default:
		// Deliveries, reads, reactions and unknown kinds are only remembered as seen.
	}
}

// countMessage counts a customer or agent message sent at at.
func (wf *conversationImpl) countMessage(at time.Time) {
	c := &wf.state.Conversation
	c.MessageCount++
	if c.StartedAt.IsZero() || at.Before(c.StartedAt) {
		c.StartedAt = at
	}
	wf.changed = true
}

// remember adds id to the seen inbox IDs, forgetting the oldest beyond seenLimit.
func (wf *conversationImpl) remember(id int64) {
	wf.seen[id] = struct{}{}
	wf.state.Seen = append(wf.state.Seen, id)
	if n := len(wf.state.Seen) - seenLimit; n > 0 {
		for _, old := range wf.state.Seen[:n] {
			delete(wf.seen, old)
		}
		wf.state.Seen = slices.Delete(wf.state.Seen, 0, n)
	}
}

// eventTime is when Meta says the event happened, else when it reached the inbox, else now.
func eventTime(ctx workflow.Context, s InboxEventSignal) time.Time {
	switch {
	case s.Timestamp > 0:
		return time.UnixMilli(s.Timestamp).UTC()
	case !s.At.IsZero():
		return s.At
	}
	return workflow.Now(ctx)
}

// endDeadline returns when the session ends for want of a customer reply, and false when no such end is
// pending: the end is off, the conversation is ended, or this conversation's workflow has not seen a customer
// message (a run restored from the read model waits for the next one rather than end a session at once). With
// the channel's work-time-only option the timeout counts the agents' working time alone, and no end is pending
// while no working time lies ahead within the schedule's horizon.
func (wf *conversationImpl) endDeadline() (time.Time, bool) {
	at, pending, _ := wf.endDue()
	return at, pending
}

// endDue is endDeadline, and whether the deadline is final: not when the work-time-only timeout runs past the
// work plan, when the deadline is the instant the run reads a new plan (planStale) to look again.
func (wf *conversationImpl) endDue() (at time.Time, pending, final bool) {
	from := wf.endFrom()
	if wf.runtime() && !wf.state.WaitingSince.IsZero() {
		return time.Time{}, false, false // a customer waiting for an agent is not ended
	}
	if !wf.settings.NoCustomerReplyEnabled || wf.settings.NoCustomerReplyTimeout <= 0 ||
		wf.state.Conversation.Status != aicc.ConversationOpen || from.IsZero() {
		return time.Time{}, false, false
	}
	due, timeout := from.Add(wf.settings.NoCustomerReplyTimeout), wf.settings.NoCustomerReplyTimeout
	switch {
	case !wf.settings.NoCustomerReplyWorkTimeOnly:
	case wf.plan != nil:
		// The working time before the plan's start (workPlanLookback ago at the earliest) is not counted.
		var ok bool
		if due, ok = wf.plan.AddWorkingTime(later(from, wf.plan.From), timeout); !ok {
			return later(wf.plan.Through.Add(-workPlanLookahead), wf.settingsAt.Add(settingsMaxAge)), true, false
		}
	case wf.schedule != nil:
		var ok bool
		if due, ok = wf.schedule.AddWorkingTime(from, timeout); !ok {
			return time.Time{}, false, false // no working time ahead: nothing counts towards the end
		}
	}
	return later(due, wf.heldUntil), true, true
}

// endFrom is when the no-customer-reply timeout starts: when the workflow applied the customer's last message,
// or, in the runtime, sent the customer a message later (the customer has not replied to it).
func (wf *conversationImpl) endFrom() time.Time {
	if wf.runtime() {
		return later(wf.state.LastCustomerSeenAt, wf.state.LastSentAt)
	}
	return wf.state.LastCustomerSeenAt
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// inboxHolds reports whether the inbox holds events of the conversation this run has not applied, which hold
// its timers back: undelivered ones, and those delivered after the newest it applied (their signal may be on
// its way). When the store cannot tell, the timer acts as before.
func (wf *conversationImpl) inboxHolds(ctx workflow.Context) bool {
	if !wf.runtime() && workflow.GetVersion(ctx, inboxAwareEnd, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false
	}
	var a *activities.Activities
	in := activities.UnappliedInboxInput{ConversationKey: wf.key(), AppliedUpTo: slices.Max(append([]int64{0}, wf.state.Seen...))}
	var unapplied bool
	if err := wf.database(ctx, a.HasUnappliedInbox, in).Get(ctx, &unapplied); err != nil {
		wf.logger.Warn("Could not look for undelivered inbox events; the timer acts as if there were none", "Error", err)
		return false
	}
	return unapplied
}

// timerSummaries are the summaries the Web UI shows for the timers, by kind; "" is the idle timer.
var timerSummaries = map[aicc.TimerKind]string{
	"":                        "idle",
	aicc.TimerNoCustomerReply: "no customer reply",
	aicc.TimerNoAgentReply:    "no agent reply",
	aicc.TimerOffer:           "offer to the last agent",
}

// armTimer makes sure a timer fires at or before at. A pending timer that fires no later is kept, and the loop
// arms the next one when it fires: a customer message that postpones the end then costs no timer command.
func (wf *conversationImpl) armTimer(ctx workflow.Context, at time.Time, kind aicc.TimerKind) {
	if wf.timer != nil {
		if !at.Before(wf.timerAt) {
			return
		}
		wf.cancelTimer()
	}
	summary := timerSummaries[kind]
	tctx, cancel := workflow.WithCancel(ctx)
	wf.timer = workflow.NewTimerWithOptions(tctx, at.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: summary})
	wf.timerAt, wf.cancelTimer = at, cancel
}

// end ends the session for the reason given (no customer reply in time, or an agent closed it): it sends the
// end message of a session without customer reply, when there is one, and records the conversation as ended;
// the caller saves it.
func (wf *conversationImpl) end(ctx workflow.Context, reason aicc.EndReason) error {
	if err := wf.sendEndMessage(ctx, reason); err != nil {
		return err
	}
	c := &wf.state.Conversation
	c.Status, c.EndedAt = aicc.ConversationEnded, workflow.Now(ctx)
	if wf.runtime() {
		if c.Stage == aicc.StageAssigned {
			c.LastAgentAt = c.EndedAt // last agent mode's window counts from the end of the agent's session
		}
		c.EndReason, c.Stage, c.AgentID = reason, "", ""
		wf.state.WaitingSince, wf.state.OfferedAt = time.Time{}, time.Time{}
	}
	wf.changed = true
	wf.logger.Info("The session ended", "Reason", reason, "Timeout", wf.settings.NoCustomerReplyTimeout)
	return nil
}

// sendEndMessage sends the channel's end message, when it has one, to a session that ends for want of a
// customer reply. A failure to send it is logged, and the session ends all the same.
func (wf *conversationImpl) sendEndMessage(ctx workflow.Context, reason aicc.EndReason) error {
	text := wf.settings.EndMessage
	switch {
	case text == "" || reason != aicc.EndNoCustomerReply:
		return nil
	case wf.runtime():
		return wf.sendOwn(ctx, aicc.PurposeEnd, text)
	}
	var a *activities.Activities
	in := activities.SendEndMessageInput{
		PageInput: activities.PageInput{TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: wf.in.PageID},
		PSID:      wf.in.PSID,
		Text:      text,
	}
	var res aicc.SendResult
	err := workflow.ExecuteActivity(withFewAttempts(ctx, endMessageAttempts, 10*time.Second), a.SendEndMessage, in).Get(ctx, &res)
	switch {
	case temporal.IsCanceledError(err):
		return err
	case err != nil:
		wf.logger.Warn("The end message could not be sent; the session ends all the same", "Error", err)
	default:
		wf.logger.Info("The end message was sent", "MID", res.MessageID)
	}
	return nil
}

// save writes the read model when the conversation changed. A write the store refuses (only those end the
// retries) is logged, not fatal: the next change writes the whole conversation again.
func (wf *conversationImpl) save(ctx workflow.Context) error {
	// One save at a time, so that an older state never lands after a newer one (Updates save too).
	if err := workflow.Await(ctx, func() bool { return !wf.saving }); err != nil {
		return err
	}
	if !wf.changed {
		return nil
	}
	wf.saving, wf.changed = true, false
	defer func() { wf.saving = false }()
	wf.state.Conversation.UpdatedAt = workflow.Now(ctx)
	var a *activities.Activities
	if wf.runtime() {
		wf.state.Conversation.Timers = wf.timers()
	}
	c := wf.state.Conversation
	// A copy: remember changes Seen in place, and a save can outlast a workflow task whose signals it applies.
	c.AppliedInboxIDs = slices.Clone(wf.state.Seen)
	err := wf.database(ctx, a.SaveConversation, c).Get(ctx, nil)
	switch {
	case temporal.IsCanceledError(err):
		return err
	case err != nil:
		wf.logger.Error("The store refused the conversation", "Error", err)
	}
	return nil
}

// historyFull reports whether the run should continue as new: Temporal suggests it, or the history reached the
// limit. The signals received count as well as the length the server reported, since each is one event of
// the history and the length is only known as of the last workflow task (and not at all in tests).
func (wf *conversationImpl) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || max(info.GetCurrentHistoryLength(), wf.received) >= wf.limit
}

// continueAsNew applies and saves every pending signal, so that none is lost with this run, waits for the
// handlers, and continues as new with the state, and the customer messages that came meanwhile for the next run
// to route.
func (wf *conversationImpl) continueAsNew(ctx workflow.Context) error {
	for {
		wf.drain(ctx)
		if err := wf.save(ctx); err != nil {
			return err
		}
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		if !wf.pending() {
			break
		}
	}
	wf.logger.Info("Continuing as new", "HistoryLength", workflow.GetInfo(ctx).GetCurrentHistoryLength(), "Signals", wf.received)
	state := wf.state
	state.Unrouted = wf.unrouted
	next := ConversationInput{
		TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: wf.in.PageID, PSID: wf.in.PSID,
		State: &state, HistoryLimit: wf.in.HistoryLimit, Revision: ConversationRevision,
	}
	return workflow.NewContinueAsNewError(ctx, ConversationWorkflowType, next)
}

// withFewAttempts sets the options of an activity the conversation goes on without when it fails (a message
// to the customer, a question to the robot): attempts tries, 1 s apart, doubling up to maxInterval, for a rate
// limit or a dependency being unavailable. Refusals come back non-retryable from the activities already.
func withFewAttempts(ctx workflow.Context, attempts int32, maxInterval time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    maxInterval,
			MaximumAttempts:    attempts,
		},
	})
}
