package activities

import (
	"context"
	"time"

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
}

// ConversationSettings are the parts of a channel's configuration a conversation's workflow acts on.
type ConversationSettings struct {
	// NoCustomerReplyEnabled ends a session when the customer has not written for NoCustomerReplyTimeout.
	NoCustomerReplyEnabled bool
	NoCustomerReplyTimeout time.Duration
	// EndMessage is sent to the customer when the session ends that way; "" sends nothing.
	EndMessage string
}

// LoadConversationSettings reads the channel's "session end due to no customer reply" setting. An enabled end
// without a timeout gets aicc.DefaultNoCustomerReplyMinutes. A channel that no longer exists is an
// ApplicationError typed NOT_FOUND.
func (a *Activities) LoadConversationSettings(ctx context.Context, in ConversationSettingsInput) (ConversationSettings, error) {
	ch, err := a.Channels.GetChannel(ctx, in.TenantID, in.ChannelID)
	if err != nil {
		return ConversationSettings{}, domainError(err)
	}
	end := ch.Basic.NoCustomerReply
	minutes := end.TimeoutMinutes
	if minutes <= 0 {
		minutes = aicc.DefaultNoCustomerReplyMinutes
	}
	return ConversationSettings{
		NoCustomerReplyEnabled: end.Enabled,
		NoCustomerReplyTimeout: time.Duration(minutes) * time.Minute,
		EndMessage:             end.EndMessage,
	}, nil
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
