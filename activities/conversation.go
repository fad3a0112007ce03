package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/aiccfb/aicc"
)

// ConversationKey names the conversation between a Page of a channel and a customer.
type ConversationKey struct {
	TenantID  string
	ChannelID string
	PageID    string
	PSID      string
}

// LoadConversation returns the conversation's read model as last saved or, when there is none yet, a fresh open
// conversation with its ID (aicc.ConversationID) and keys set and everything else zero. It only reads.
func (a *Activities) LoadConversation(ctx context.Context, in ConversationKey) (aicc.Conversation, error) {
	if in.TenantID == "" || in.ChannelID == "" || in.PageID == "" || in.PSID == "" {
		return aicc.Conversation{}, NonRetryable(aicc.Errorf(aicc.EINVALID, "A conversation needs a tenant, a channel, a Page and a customer."))
	}
	id := aicc.ConversationID(in.ChannelID, in.PageID, in.PSID)
	c, err := a.Conversations.GetConversation(ctx, in.TenantID, id)
	switch {
	case err == nil:
		return *c, nil
	case aicc.ErrorCode(err) == aicc.ENOTFOUND:
		return aicc.Conversation{
			ID:        id,
			TenantID:  in.TenantID,
			ChannelID: in.ChannelID,
			PageID:    in.PageID,
			PSID:      in.PSID,
			Status:    aicc.ConversationOpen,
		}, nil
	}
	return aicc.Conversation{}, domainError(err)
}

// SaveConversation writes the conversation's read model. It is an idempotent overwrite; a domain error of the
// store comes back as an ApplicationError typed with its code.
func (a *Activities) SaveConversation(ctx context.Context, c aicc.Conversation) error {
	return domainError(a.Conversations.SaveConversation(ctx, &c))
}

// UnappliedInboxInput names a conversation and the newest inbox ID its workflow applied.
type UnappliedInboxInput struct {
	ConversationKey
	AppliedUpTo int64
}

// HasUnappliedInbox reports whether the inbox holds events of the conversation its workflow has not applied:
// undelivered ones, or delivered ones newer than in.AppliedUpTo, whose signal may still be on its way. Dead
// letters do not count. It only reads.
func (a *Activities) HasUnappliedInbox(ctx context.Context, in UnappliedInboxInput) (bool, error) {
	conv := aicc.ConversationKey{ChannelID: in.ChannelID, PageID: in.PageID, PSID: in.PSID}
	ok, err := a.Inbox.HasUnappliedEvents(ctx, in.TenantID, conv, in.AppliedUpTo)
	return ok, domainError(err)
}

// ConversationSettingsInput names the channel whose conversation settings to read.
type ConversationSettingsInput struct {
	TenantID  string
	ChannelID string
	// PlanFrom, when set, asks for the agents' working time from then to PlanTo (zero: WorkPlanSpan later) as a
	// WorkPlan, which the workflow reads without a time zone. Runs begun before the plans leave it zero and build
	// a schedule of their own.
	PlanFrom time.Time
	PlanTo   time.Time
}

// WorkPlanSpan is how far ahead of the workflow's time the settings' WorkPlan reaches at least.
const WorkPlanSpan = 14 * 24 * time.Hour

// ConversationSettings are the parts of a channel's configuration a conversation's workflow acts on.
type ConversationSettings struct {
	// NoCustomerReplyEnabled ends a session when the customer has not written for NoCustomerReplyTimeout; of
	// the agents' working time only, with NoCustomerReplyWorkTimeOnly.
	NoCustomerReplyEnabled      bool
	NoCustomerReplyTimeout      time.Duration
	NoCustomerReplyWorkTimeOnly bool
	// EndMessage is sent to the customer when the session ends that way; "" sends nothing.
	EndMessage string

	// Robot sends customer messages to the intelligent robot of RobotAccessCode first; TransferKeywords hand
	// the conversation from it to the queue.
	Robot            bool
	RobotAccessCode  string
	TransferKeywords []string
	// QueueID is the channel's skill queue, and QueueMaxWait how long an offer to the customer's last agent
	// waits before the conversation goes to it.
	QueueID      string
	QueueMaxWait time.Duration
	// WorkTime and Calendar say when agents work (aicc.NewWorkSchedule, in the calendar's zone; no calendar:
	// UTC, every day a workday); NonWorkingNotice is sent to a customer queued outside working time.
	WorkTime         aicc.WorkTime
	Calendar         *aicc.ServiceCalendar
	NonWorkingNotice string
	// WorkPlan is WorkTime on Calendar resolved in the calendar's zone from the input's PlanFrom to its PlanTo at
	// least; nil when it was not asked for, or when the work time or the zone is broken (agents then count as
	// always working).
	WorkPlan *aicc.WorkPlan
	// LastAgentWindow, when positive, offers a returning customer to their last agent within that time.
	LastAgentWindow time.Duration
	// NoAgentReplyTimeout, when positive, transfers a waiting customer to NoAgentReplyQueueID after that long
	// without an agent reply, and sends NoAgentReplyNotice.
	NoAgentReplyTimeout time.Duration
	NoAgentReplyQueueID string
	NoAgentReplyNotice  string
	// TransferTargets are the skill queues agents may transfer a session to; none when session transfer is off.
	TransferTargets []string
}

// LoadConversationSettings reads the channel's basic and robot configuration, its skill queue and its service
// calendar. An enabled end without a timeout gets aicc.DefaultNoCustomerReplyMinutes, an enabled no-agent-reply
// transfer without one aicc.DefaultNoAgentReplySeconds. A channel that no longer exists is an ApplicationError
// typed NOT_FOUND; a skill queue or calendar that no longer exists is left out (no offer wait, UTC every day).
func (a *Activities) LoadConversationSettings(ctx context.Context, in ConversationSettingsInput) (ConversationSettings, error) {
	ch, err := a.Channels.GetChannel(ctx, in.TenantID, in.ChannelID)
	if err != nil {
		return ConversationSettings{}, domainError(err)
	}
	b, r := ch.Basic, ch.Robot
	s := ConversationSettings{
		NoCustomerReplyEnabled:      b.NoCustomerReply.Enabled,
		NoCustomerReplyTimeout:      minutesOr(b.NoCustomerReply.TimeoutMinutes, aicc.DefaultNoCustomerReplyMinutes),
		EndMessage:                  b.NoCustomerReply.EndMessage,
		NoCustomerReplyWorkTimeOnly: b.NoCustomerReply.WorkTimeOnly,
		Robot:                       r.Robot.Enabled,
		RobotAccessCode:             r.Robot.AccessCode,
		TransferKeywords:            b.TransferKeywords,
		QueueID:                     b.SkillQueueID,
		WorkTime:                    b.WorkTime,
		NonWorkingNotice:            b.NonWorkingTimeNotice,
	}
	if b.LastAgent.Enabled {
		s.LastAgentWindow = minutesOr(b.LastAgent.WindowMinutes, aicc.DefaultLastAgentWindowMinutes)
	}
	if t := b.NoAgentReply; t.Enabled && t.TargetSkillQueueID != "" {
		seconds := t.TimeoutSeconds
		if seconds <= 0 {
			seconds = aicc.DefaultNoAgentReplySeconds
		}
		s.NoAgentReplyTimeout = time.Duration(seconds) * time.Second
		s.NoAgentReplyQueueID, s.NoAgentReplyNotice = t.TargetSkillQueueID, t.Notice
	}
	if b.SessionTransfer.Enabled {
		s.TransferTargets = b.SessionTransfer.TargetSkillQueueIDs
	}
	if b.SkillQueueID != "" {
		switch q, err := a.Directory.GetSkillQueue(ctx, in.TenantID, b.SkillQueueID); {
		case err == nil:
			s.QueueMaxWait = time.Duration(q.MaxWaitSeconds) * time.Second
		case aicc.ErrorCode(err) != aicc.ENOTFOUND:
			return ConversationSettings{}, domainError(err)
		}
	}
	if b.ServiceCalendarID != "" {
		switch cal, err := a.Directory.GetServiceCalendar(ctx, in.TenantID, b.ServiceCalendarID); {
		case err == nil:
			s.Calendar = cal
		case aicc.ErrorCode(err) != aicc.ENOTFOUND:
			return ConversationSettings{}, domainError(err)
		}
	}
	if !in.PlanFrom.IsZero() {
		to := in.PlanTo
		if to.IsZero() {
			to = in.PlanFrom.Add(WorkPlanSpan)
		}
		s.WorkPlan = workPlan(ctx, s.WorkTime, s.Calendar, in.PlanFrom, to)
	}
	return s, nil
}

// workPlan resolves the work time on the calendar from from to to at least: the one place a
// conversation's time zone is loaded, from this worker's zone database, and recorded in the workflow's history
// with the settings. A zone or work time that is broken is logged, and gives no plan.
func workPlan(ctx context.Context, wt aicc.WorkTime, cal *aicc.ServiceCalendar, from, to time.Time) *aicc.WorkPlan {
	loc, err := aicc.CalendarLocation(cal)
	var s *aicc.WorkSchedule
	if err == nil {
		s, err = aicc.NewWorkSchedule(wt, cal, loc)
	}
	if err != nil {
		activity.GetLogger(ctx).Warn("The channel's work time or calendar zone is invalid; agents count as always working", "Error", err)
		return nil
	}
	p := s.Plan(from, to)
	return &p
}

// minutesOr is minutes as a duration, or fallback minutes when minutes is not positive.
func minutesOr(minutes, fallback int) time.Duration {
	if minutes <= 0 {
		minutes = fallback
	}
	return time.Duration(minutes) * time.Minute
}

// SendEndMessageInput is the end-of-session message to send to a customer of a Page.
type SendEndMessageInput struct {
	PageInput
	PSID string
	Text string
}

// SendEndMessage sends the end-of-session message to the customer through the Send API, as a RESPONSE (the
// session ends within Meta's 24-hour window of the customer's last message). It unseals the Page token and the
// app secret like the Page activities and shares their error contract, and records the token's health. The
// Send API has no idempotency key: a retry after a timeout may send the message twice, so the caller keeps the
// attempts few.
func (a *Activities) SendEndMessage(ctx context.Context, in SendEndMessageInput) (aicc.SendResult, error) {
	msg := aicc.OutboundMessage{RecipientPSID: in.PSID, Text: in.Text, Type: aicc.MessagingResponse}
	return a.sendMessage(ctx, "SendEndMessage", in.PageInput, msg)
}

// SendTestMessageInput is a message an administrator sends from a Page to check the connection.
type SendTestMessageInput struct {
	PageInput
	Message aicc.OutboundMessage
}

// SendTestMessage sends the administrator's test message through the Send API, with the contract of
// SendEndMessage.
func (a *Activities) SendTestMessage(ctx context.Context, in SendTestMessageInput) (aicc.SendResult, error) {
	return a.sendMessage(ctx, "SendTestMessage", in.PageInput, in.Message)
}

// sendMessage sends msg from the Page of in, for the activity op.
func (a *Activities) sendMessage(ctx context.Context, op string, in PageInput, msg aicc.OutboundMessage) (aicc.SendResult, error) {
	g, call, err := a.pageGraph(ctx, in)
	if err != nil {
		return aicc.SendResult{}, metaError(ctx, op, call, err)
	}
	res, err := g.SendMessage(ctx, call, msg)
	if err != nil {
		return aicc.SendResult{}, metaError(ctx, op, call, err)
	}
	if res.RecipientID == "" {
		res.RecipientID = msg.RecipientPSID
	}
	return res, nil
}
