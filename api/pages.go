package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// maxPageNameLen bounds the display name an administrator gives a Page.
const maxPageNameLen = 100

// pageJSON is a Page as the API shows it: its token only as secretJSON, its connection status and the health
// of its token as last recorded.
type pageJSON struct {
	PageID            string           `json:"pageId"`
	ChannelID         string           `json:"channelId"`
	Name              string           `json:"name"`
	TokenSecret       secretJSON       `json:"tokenSecret"`
	Status            aicc.PageStatus  `json:"status"`
	StatusReason      string           `json:"statusReason,omitempty"`
	TokenHealth       aicc.TokenHealth `json:"tokenHealth"`
	TokenHealthReason string           `json:"tokenHealthReason,omitempty"`
	StateUpdatedAt    time.Time        `json:"stateUpdatedAt"`
	CreatedAt         time.Time        `json:"createdAt"`
}

func toPageJSON(p *aicc.Page) pageJSON {
	return pageJSON{
		PageID: p.PageID, ChannelID: p.ChannelID, Name: p.Name, TokenSecret: toSecretJSON(p.Token),
		Status: p.State.Status, StatusReason: p.State.Reason,
		TokenHealth: p.State.TokenHealth, TokenHealthReason: p.State.TokenHealthReason,
		StateUpdatedAt: p.State.UpdatedAt.UTC(), CreatedAt: p.CreatedAt.UTC(),
	}
}

// addPage adds a Page to the channel. Its access token is sealed at once and never shown again. The Page is
// stored as connecting and claims nothing yet: the ConnectPage workflow checks with Meta that the token is this
// Page's, only then claims the Page for the channel, subscribes the app and reads the subscription back; the
// answer waits for it, within WorkflowWait:
//   - subscribed or subscription_failed: 201 with the Page as the workflow recorded it;
//   - token_invalid: 422 META_TOKEN_INVALID or META_PERMISSION_DENIED on tokenSecret, and the workflow has
//     removed the Page;
//   - already_connected: 409 PAGE_ALREADY_CONNECTED, in the same words whichever channel claimed the Page, and
//     the workflow has removed the Page;
//   - still running, or Temporal unavailable: 202 with the Page connecting (the worker's resumer starts the
//     connection of a Page left connecting).
func (s *Server) addPage(c *gin.Context) error {
	var req struct {
		PageID      string `json:"pageId"`
		TokenSecret string `json:"tokenSecret"`
		Name        string `json:"name"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx, tenant, now := c.Request.Context(), principalOf(c).TenantID, s.now()
	ch, err := s.Store.GetChannel(ctx, tenant, c.Param("channelID"))
	if err != nil {
		return err
	}
	if ch.AppClaimedAt.IsZero() {
		return aicc.Errorf(aicc.ECONFLICT, aicc.MsgAppNotClaimed)
	}
	var nameErr error
	if len([]rune(req.Name)) > maxPageNameLen {
		nameErr = invalid("name", "must have at most 100 characters")
	}
	if err := aicc.JoinInvalid(aicc.ValidatePage(req.PageID, req.TokenSecret), nameErr); err != nil {
		return err
	}
	token := s.Keyring.Seal(req.TokenSecret, aicc.PageTokenOwner(req.PageID), now)
	p := &aicc.Page{
		PageID: req.PageID, ChannelID: ch.ID, TenantID: tenant, Name: req.Name, Token: token.Info(), CreatedAt: now,
		State: aicc.PageState{Status: aicc.PageConnecting, TokenHealth: aicc.TokenHealthy, UpdatedAt: now},
	}
	entry := s.audit(c, aicc.AuditPageAdd, aicc.AuditTarget{Type: aicc.TargetPage, ID: p.PageID}, ch.ID,
		map[string]string{aicc.DetailName: p.Name, aicc.DetailTokenSecretFingerprint: token.Fingerprint})
	if err := s.audited(c, entry, func(ctx context.Context) error { return s.Store.AddPage(ctx, p, token) }); err != nil {
		return err
	}
	s.log(c).Info("page added", slog.String("channel_id", ch.ID), slog.String("page_id", p.PageID))
	return s.connect(c, p, http.StatusCreated)
}

// reconnectPage connects a Page again whose subscription failed (or whose connection was left unfinished),
// with the same answers as addPage but 200 when the workflow ends in time.
func (s *Server) reconnectPage(c *gin.Context) error {
	ch, err := s.channelForChange(c)
	if err != nil {
		return err
	}
	p, err := s.Store.GetPage(c.Request.Context(), ch.TenantID, ch.ID, c.Param("pageID"))
	switch {
	case err != nil:
		return err
	case p.State.Status == aicc.PageSubscribed:
		return aicc.Errorf(aicc.ECONFLICT, "The Page is subscribed already; there is nothing to retry.")
	case ch.AppClaimedAt.IsZero():
		return aicc.Errorf(aicc.ECONFLICT, aicc.MsgAppNotClaimed)
	}
	s.log(c).Info("page reconnecting", slog.String("channel_id", p.ChannelID), slog.String("page_id", p.PageID))
	return s.connect(c, p, http.StatusOK)
}

// pageForChange returns the Page the route names, unless its channel is being deleted.
func (s *Server) pageForChange(c *gin.Context) (*aicc.Page, error) {
	ch, err := s.channelForChange(c)
	if err != nil {
		return nil, err
	}
	return s.Store.GetPage(c.Request.Context(), ch.TenantID, ch.ID, c.Param("pageID"))
}

// eachPage calls fn for every Page of ch, a list page at a time, and stops at the first error.
func (s *Server) eachPage(ctx context.Context, ch *aicc.Channel, fn func(*aicc.Page) error) error {
	opt := aicc.ListOptions{Limit: aicc.MaxListLimit}
	for {
		pages, next, err := s.Store.ListPages(ctx, ch.TenantID, ch.ID, opt)
		if err != nil {
			return err
		}
		for _, p := range pages {
			if err := fn(p); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		opt.Cursor = next
	}
}

// connect starts ConnectPage for p and answers its outcome, okStatus when it ended in time, 202 with the Page
// connecting when it did not. p is the Page as it was before the start. A Page stored connecting whose start
// Temporal did not take is answered 202 too: the worker's resumer connects it later.
func (s *Server) connect(c *gin.Context, p *aicc.Page, okStatus int) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.workflowWait())
	defer cancel()
	in := workflows.PageInput{TenantID: p.TenantID, ChannelID: p.ChannelID, PageID: p.PageID}
	run, err := workflows.StartConnectPage(ctx, s.Temporal, in)
	if err != nil {
		err = s.temporalError(c, err)
		if p.State.Status == aicc.PageConnecting && aicc.ErrorCode(err) == aicc.EUNAVAILABLE {
			c.JSON(http.StatusAccepted, toPageJSON(p))
			return nil
		}
		return err
	}
	var res workflows.ConnectPageResult
	err = run.Get(ctx, &res)
	switch {
	case err != nil && ctx.Err() != nil && c.Request.Context().Err() == nil:
		p.State.Status, p.State.Reason = aicc.PageConnecting, ""
		c.JSON(http.StatusAccepted, toPageJSON(p))
		return nil
	case err != nil:
		return s.temporalError(c, err)
	case res.Status == aicc.PageTokenInvalid:
		s.log(c).Info("page token refused", slog.String("page_id", p.PageID), slog.String("reason", res.Reason))
		return tokenRefused(res.Reason, res.Message)
	case res.Status == aicc.PageAlreadyConnected:
		s.log(c).Info("page claimed by another channel", slog.String("page_id", p.PageID))
		return &aicc.Error{Code: aicc.EPAGECONNECTED, Message: aicc.MsgPageConnected,
			Fields: map[string]string{"pageId": "is already connected to another channel"}}
	}
	got, err := s.Store.GetPage(c.Request.Context(), p.TenantID, p.ChannelID, p.PageID)
	if err != nil {
		return err
	}
	s.log(c).Info("page connected", slog.String("page_id", p.PageID), slog.String("status", string(got.State.Status)),
		slog.String("reason", got.State.Reason))
	c.JSON(okStatus, toPageJSON(got))
	return nil
}

// tokenRefused is the answer when Meta refused the Page's token: the workflow's code (META_TOKEN_INVALID or
// META_PERMISSION_DENIED) and message, on the field the administrator must change.
func tokenRefused(code, msg string) error {
	field := "is invalid or has expired; paste a new Page access token"
	switch code {
	case aicc.EMETAPERMISSION:
		field = "lacks a permission or Page task the app needs; grant it and paste the new Page access token"
	case aicc.EMETATOKENINVALID:
	default:
		code = aicc.EMETATOKENINVALID
	}
	if msg == "" {
		msg = "Meta refused the Page access token."
	}
	return &aicc.Error{Code: code, Message: msg, Fields: map[string]string{"tokenSecret": field}}
}

func (s *Server) listPages(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	// The store answers NOT_FOUND for a channel of another tenant, rather than an empty list.
	items, next, err := s.Store.ListPages(c.Request.Context(), principalOf(c).TenantID, c.Param("channelID"), opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toPageJSON))
	return nil
}

func (s *Server) getPage(c *gin.Context) error {
	p, err := s.Store.GetPage(c.Request.Context(), principalOf(c).TenantID, c.Param("channelID"), c.Param("pageID"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toPageJSON(p))
	return nil
}

// removePage disconnects a Page: the DisconnectPage workflow unsubscribes the app and removes the Page. The
// answer is 204 when it is done within WorkflowWait, else 202 (also when a disconnection already runs). A Page
// still connecting is PAGE_CONNECTING: its subscription could land after the disconnection's unsubscribe and
// outlive the Page.
func (s *Server) removePage(c *gin.Context) error {
	p, err := s.pageForChange(c)
	if err != nil {
		return err
	}
	if p.State.Status == aicc.PageConnecting {
		return aicc.Errorf(aicc.EPAGECONNECTING, "The Page is being connected; remove it when that is done.")
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.workflowWait())
	defer cancel()
	in := workflows.PageInput{TenantID: p.TenantID, ChannelID: p.ChannelID, PageID: p.PageID}
	run, err := workflows.StartDisconnectPage(ctx, s.Temporal, in)
	if err == nil {
		err = run.Get(ctx, nil)
	}
	running := aicc.ErrorCode(err) == aicc.EPAGEDISCONNECTING || err != nil && ctx.Err() != nil && c.Request.Context().Err() == nil
	if err != nil && !running {
		return s.temporalError(c, err)
	}
	// The removal is the workflow's: the entry records the request Temporal accepted (see the audit log's
	// comment in audit.go).
	entry := s.audit(c, aicc.AuditPageRemoveRequested, aicc.AuditTarget{Type: aicc.TargetPage, ID: p.PageID}, p.ChannelID,
		map[string]string{aicc.DetailTokenSecretFingerprint: p.Token.Fingerprint})
	if err := s.audited(c, entry, nil); err != nil {
		return err
	}
	if running {
		s.log(c).Info("page disconnecting", slog.String("channel_id", p.ChannelID), slog.String("page_id", p.PageID))
		c.Status(http.StatusAccepted)
		return nil
	}
	s.log(c).Info("page removed", slog.String("channel_id", p.ChannelID), slog.String("page_id", p.PageID))
	c.Status(http.StatusNoContent)
	return nil
}

// testMessageJSON is the Send API's answer to a test message.
type testMessageJSON struct {
	RecipientID string `json:"recipientId"`
	MessageID   string `json:"messageId"`
}

// sendTestMessage sends a text message from a subscribed Page to a person, so that the administrator sees the
// connection work end to end. The SendTestMessage workflow sends it once, through an activity that unseals the
// Page token and the app secret for the call only and records the token's health.
func (s *Server) sendTestMessage(c *gin.Context) error {
	req := struct {
		RecipientID   string             `json:"recipientId"`
		Text          string             `json:"text"`
		MessagingType aicc.MessagingType `json:"messagingType"`
		Tag           string             `json:"tag"`
	}{MessagingType: aicc.MessagingResponse}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p, err := s.pageForChange(c)
	if err != nil {
		return err
	}
	msg := aicc.OutboundMessage{RecipientPSID: req.RecipientID, Text: req.Text, Type: req.MessagingType, Tag: req.Tag}
	if err := renameFields(msg.Validate(), map[string]string{"recipientPsid": "recipientId"}); err != nil {
		return err
	}
	if p.State.Status != aicc.PageSubscribed {
		return aicc.Errorf(aicc.ECONFLICT, "The Page is %s, not subscribed; connect it before sending.", p.State.Status)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.workflowWait())
	defer cancel()
	in := workflows.TestMessageInput{
		PageInput: workflows.PageInput{TenantID: p.TenantID, ChannelID: p.ChannelID, PageID: p.PageID}, Message: msg,
	}
	var res aicc.SendResult
	run, err := workflows.StartSendTestMessage(ctx, s.Temporal, in)
	if err == nil {
		err = run.Get(ctx, &res)
	}
	if err = s.temporalError(c, err); err != nil {
		s.log(c).Warn("test message not sent", slog.String("page_id", p.PageID), slog.String("code", aicc.ErrorCode(err)))
		return err
	}
	s.log(c).Info("test message sent", slog.String("channel_id", p.ChannelID), slog.String("page_id", p.PageID),
		slog.String("message_id", res.MessageID))
	c.JSON(http.StatusOK, testMessageJSON{RecipientID: res.RecipientID, MessageID: res.MessageID})
	return nil
}

// renameFields renames the fields of an EINVALID error from the domain's names to the request's.
func renameFields(err error, names map[string]string) error {
	var e *aicc.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	fields := make(map[string]string, len(e.Fields))
	for k, v := range e.Fields {
		if n, ok := names[k]; ok {
			k = n
		}
		fields[k] = v
	}
	return &aicc.Error{Code: e.Code, Message: e.Message, Fields: fields}
}
