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
// signals it when it runs, with signal-with-start (SignalInboxEvent), once per inbox event.
//
//   - Events are applied as they come, and the result is the same as applying them in Meta timestamp order: a
//     message or postback is a customer message, an echo an agent message; each counts in MessageCount, and
//     becomes the last customer or agent message only when it is not older than the one there (an event that
//     arrives late is counted but never replaces a newer one). Deliveries, reads, reactions and unknown kinds
//     change nothing but are remembered as seen. An event whose inbox ID was applied already (the dispatcher
//     redelivers what it signalled but could not mark delivered) is ignored.
//   - The read model is written through SaveConversation once per batch of events, not once per event.
//   - When the channel's "session end due to no customer reply" is enabled, an open conversation ends when no
//     customer message has come for its timeout, counted from when the workflow applied the last one: the end
//     message is sent when there is one (a failure to send it is logged and the session ends all the same), and
//     the conversation is recorded as ended. A newer customer message opens it again.
//   - It continues as new when Temporal suggests it or its history reaches ConversationInput.HistoryLimit,
//     after applying every pending signal, and carries its state over.
//   - It never ends on its own while a no-customer-reply end is pending. Otherwise (the conversation is ended,
//     or the end is disabled) it returns nil after conversationIdleTimeout without any event: a later event
//     starts a new run through signal-with-start, which restores the read model with LoadConversation. The
//     channel's settings are read when a run starts, so a change reaches a conversation at its next run.
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
)

// conversationImpl is the state of one Conversation run.
type conversationImpl struct {
	in       ConversationInput
	limit    int // history length that makes the run continue as new
	logger   log.Logger
	settings activities.ConversationSettings
	signals  workflow.ReceiveChannel

	state   ConversationState
	seen    map[int64]struct{} // state.Seen as a set
	changed bool               // the conversation differs from the read model last saved

	received    int       // signals this run received: each is one event of its history
	lastEventAt time.Time // workflow time of the last signal, or of the start of the run

	timer       workflow.Future // the pending timer, nil when there is none
	timerAt     time.Time       // when it fires
	cancelTimer workflow.CancelFunc
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
	wf.signals = workflow.GetSignalChannel(ctx, SignalInboxEvent)
	if err := workflow.SetQueryHandler(ctx, QueryConversation, func() (ConversationState, error) {
		return wf.state, nil
	}); err != nil {
		return err
	}

	var a *activities.Activities
	if in.State != nil {
		wf.state = *in.State
	} else {
		key := activities.ConversationKey{TenantID: in.TenantID, ChannelID: in.ChannelID, PageID: in.PageID, PSID: in.PSID}
		if err := workflow.ExecuteActivity(withDatabase(ctx), a.LoadConversation, key).Get(ctx, &wf.state.Conversation); err != nil {
			return err
		}
	}
	if wf.state.Conversation.Status == "" {
		wf.state.Conversation.Status = aicc.ConversationOpen
	}
	wf.seen = make(map[int64]struct{}, len(wf.state.Seen))
	for _, id := range wf.state.Seen {
		wf.seen[id] = struct{}{}
	}

	settingsIn := activities.ConversationSettingsInput{TenantID: in.TenantID, ChannelID: in.ChannelID}
	err := workflow.ExecuteActivity(withDatabase(ctx), a.LoadConversationSettings, settingsIn).Get(ctx, &wf.settings)
	switch {
	case applicationErrorType(err) == aicc.ENOTFOUND:
		// The channel is being deleted; its events are still applied, but no session is ended by a timer.
		wf.logger.Warn("The conversation's channel does not exist; the no-customer-reply end is off")
		wf.settings = activities.ConversationSettings{}
	case err != nil:
		return err
	}
	wf.lastEventAt = workflow.Now(ctx)
	return nil
}

func (wf *conversationImpl) run(ctx workflow.Context) error {
	for {
		wf.drain(ctx)
		if err := wf.save(ctx); err != nil {
			return err
		}
		if wf.signals.Len() > 0 {
			continue // they came while the read model was written: apply them before deciding anything
		}
		if wf.historyFull(ctx) {
			return wf.continueAsNew(ctx)
		}

		now := workflow.Now(ctx)
		end, ending := wf.endDeadline()
		switch {
		case ending && !now.Before(end):
			if err := wf.end(ctx); err != nil {
				return err
			}
			continue
		case !ending && !now.Before(wf.lastEventAt.Add(conversationIdleTimeout)):
			wf.logger.Info("The conversation is idle; the run ends until its next event", "Status", wf.state.Conversation.Status)
			return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		case !ending:
			end = wf.lastEventAt.Add(conversationIdleTimeout)
		}
		wf.armTimer(ctx, end, ending)

		sel := workflow.NewSelector(ctx)
		sel.AddReceive(wf.signals, func(c workflow.ReceiveChannel, _ bool) {
			var s InboxEventSignal
			c.Receive(ctx, &s)
			wf.apply(ctx, s)
		})
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
		var s InboxEventSignal
		if !wf.signals.ReceiveAsync(&s) {
			return
		}
		wf.apply(ctx, s)
	}
}

// apply applies one inbox event to the state.
func (wf *conversationImpl) apply(ctx workflow.Context, s InboxEventSignal) {
	wf.received++
	wf.lastEventAt = workflow.Now(ctx)
	if _, ok := wf.seen[s.InboxID]; ok {
		wf.logger.Debug("Ignoring an inbox event applied already", "InboxID", s.InboxID)
		return
	}
	wf.remember(s.InboxID)
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
			wf.logger.Info("The customer wrote again; the conversation is open again", "InboxID", s.InboxID)
		}
	case aicc.EventEcho:
		wf.countMessage(at)
		if !at.Before(c.LastAgentMessageAt) {
			c.LastAgentMessage, c.LastAgentMessageAt = s.Text, at
		}
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
// message (a run restored from the read model waits for the next one rather than end a session at once).
func (wf *conversationImpl) endDeadline() (time.Time, bool) {
	from := wf.state.LastCustomerSeenAt
	if !wf.settings.NoCustomerReplyEnabled || wf.settings.NoCustomerReplyTimeout <= 0 ||
		wf.state.Conversation.Status != aicc.ConversationOpen || from.IsZero() {
		return time.Time{}, false
	}
	return from.Add(wf.settings.NoCustomerReplyTimeout), true
}

// armTimer makes sure a timer fires at or before at. A pending timer that fires no later is kept, and the loop
// arms the next one when it fires: a customer message that postpones the end then costs no timer command.
func (wf *conversationImpl) armTimer(ctx workflow.Context, at time.Time, ending bool) {
	if wf.timer != nil {
		if !at.Before(wf.timerAt) {
			return
		}
		wf.cancelTimer()
	}
	summary := "idle"
	if ending {
		summary = "no customer reply"
	}
	tctx, cancel := workflow.WithCancel(ctx)
	wf.timer = workflow.NewTimerWithOptions(tctx, at.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: summary})
	wf.timerAt, wf.cancelTimer = at, cancel
}

// end ends the session for want of a customer reply: it sends the end message, when there is one, and records
// the conversation as ended; the loop saves it.
func (wf *conversationImpl) end(ctx workflow.Context) error {
	if text := wf.settings.EndMessage; text != "" {
		var a *activities.Activities
		in := activities.SendEndMessageInput{
			PageInput: activities.PageInput{TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: wf.in.PageID},
			PSID:      wf.in.PSID,
			Text:      text,
		}
		var res aicc.SendResult
		err := workflow.ExecuteActivity(withSend(ctx), a.SendEndMessage, in).Get(ctx, &res)
		switch {
		case temporal.IsCanceledError(err):
			return err
		case err != nil:
			wf.logger.Warn("The end message could not be sent; the session ends all the same", "Error", err)
		default:
			wf.logger.Info("The end message was sent", "MID", res.MessageID)
		}
	}
	c := &wf.state.Conversation
	c.Status, c.EndedAt = aicc.ConversationEnded, workflow.Now(ctx)
	wf.changed = true
	wf.logger.Info("The session ended: the customer did not reply in time", "Timeout", wf.settings.NoCustomerReplyTimeout)
	return nil
}

// save writes the read model when the conversation changed. A write the store refuses (only those end the
// retries) is logged, not fatal: the next change writes the whole conversation again.
func (wf *conversationImpl) save(ctx workflow.Context) error {
	if !wf.changed {
		return nil
	}
	wf.state.Conversation.UpdatedAt = workflow.Now(ctx)
	var a *activities.Activities
	err := workflow.ExecuteActivity(withDatabase(ctx), a.SaveConversation, wf.state.Conversation).Get(ctx, nil)
	wf.changed = false
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
// handlers, and continues as new with the state.
func (wf *conversationImpl) continueAsNew(ctx workflow.Context) error {
	for {
		wf.drain(ctx)
		if err := wf.save(ctx); err != nil {
			return err
		}
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return err
		}
		if wf.signals.Len() == 0 {
			break
		}
	}
	wf.logger.Info("Continuing as new", "HistoryLength", workflow.GetInfo(ctx).GetCurrentHistoryLength(), "Signals", wf.received)
	state := wf.state
	next := ConversationInput{
		TenantID: wf.in.TenantID, ChannelID: wf.in.ChannelID, PageID: wf.in.PageID, PSID: wf.in.PSID,
		State: &state, HistoryLimit: wf.in.HistoryLimit,
	}
	return workflow.NewContinueAsNewError(ctx, ConversationWorkflowType, next)
}

// withSend sets the options of the end message: a few attempts with backoff for a rate limit or Meta being
// unavailable. Meta's refusals come back non-retryable from the activity already.
func withSend(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    endMessageAttempts,
		},
	})
}
