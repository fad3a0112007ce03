package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

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

// addPage connects a Page to the channel. Its access token is sealed at once and never shown again. The Page
// is stored as connecting, and the ConnectPage workflow checks the token with Meta, subscribes the app and
// reads the subscription back; the answer waits for it, within PageConnectWait:
//   - subscribed or subscription_failed: 201 with the Page as the workflow recorded it;
//   - token_invalid: 422 META_TOKEN_INVALID or META_PERMISSION_DENIED on tokenSecret, and the Page is gone;
//   - still running: 202 with the Page connecting.
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
	if err := s.Store.AddPage(ctx, p, token); err != nil {
		return err
	}
	in := workflows.PageInput{TenantID: tenant, ChannelID: ch.ID, PageID: p.PageID}
	run, err := s.Temporal.ExecuteWorkflow(ctx, workflows.StartConnectPageOptions(in), workflows.ConnectPage, in)
	if err != nil {
		// A Page that nothing connects would stay connecting: take it back, even if the caller has gone.
		if derr := s.Store.RemovePage(context.WithoutCancel(ctx), tenant, ch.ID, p.PageID); derr != nil {
			s.log(c).Error("removing a Page whose connection did not start",
				slog.String("channel_id", ch.ID), slog.String("page_id", p.PageID), slog.String("error", derr.Error()))
		}
		return s.pageStartError(c, err, "The Page is being connected; try again when that is done.")
	}
	s.log(c).Info("page added", slog.String("channel_id", ch.ID), slog.String("page_id", p.PageID))
	return s.answerConnect(c, p, run, http.StatusCreated)
}

// reconnectPage connects a Page again whose subscription failed (or whose connection was left unfinished),
// with the same answers as addPage but 200 when the workflow ends in time.
func (s *Server) reconnectPage(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	p, err := s.Store.GetPage(ctx, tenant, c.Param("channelID"), c.Param("pageID"))
	if err != nil {
		return err
	}
	if p.State.Status == aicc.PageSubscribed {
		return aicc.Errorf(aicc.ECONFLICT, "The Page is subscribed already; there is nothing to retry.")
	}
	// Recorded before the start, so that the workflow's outcome is never overwritten by this write.
	prev, now := p.State, s.now()
	if err := s.Store.SetPageStatus(ctx, p.PageID, aicc.PageConnecting, "", now); err != nil {
		return err
	}
	p.State.Status, p.State.Reason, p.State.UpdatedAt = aicc.PageConnecting, "", now
	in := workflows.PageInput{TenantID: tenant, ChannelID: p.ChannelID, PageID: p.PageID}
	run, err := s.Temporal.ExecuteWorkflow(ctx, workflows.StartConnectPageOptions(in), workflows.ConnectPage, in)
	if err != nil {
		// A running connection records its own outcome; otherwise the Page is as it was.
		if !alreadyStarted(err) {
			if rerr := s.Store.SetPageStatus(context.WithoutCancel(ctx), p.PageID, prev.Status, prev.Reason, prev.UpdatedAt); rerr != nil {
				s.log(c).Error("restoring the status of a Page whose connection did not start",
					slog.String("page_id", p.PageID), slog.String("error", rerr.Error()))
			}
		}
		return s.pageStartError(c, err, "The Page is being connected; try again when that is done.")
	}
	s.log(c).Info("page reconnecting", slog.String("channel_id", p.ChannelID), slog.String("page_id", p.PageID))
	return s.answerConnect(c, p, run, http.StatusOK)
}

// startDisconnect starts the DisconnectPage workflow of p. A nil run means one is running already.
func (s *Server) startDisconnect(c *gin.Context, p *aicc.Page) (client.WorkflowRun, error) {
	in := workflows.PageInput{TenantID: p.TenantID, ChannelID: p.ChannelID, PageID: p.PageID}
	run, err := s.Temporal.ExecuteWorkflow(c.Request.Context(), workflows.StartDisconnectPageOptions(in),
		workflows.DisconnectPage, in)
	switch {
	case alreadyStarted(err):
		return nil, nil
	case err != nil:
		return nil, s.temporalError(c, err)
	}
	return run, nil
}

// disconnectPages disconnects every Page of ch from Meta, all at once, and waits for them within one
// PageConnectWait. It returns how many are still being disconnected; a disconnection that failed (Meta
// unavailable, say) is the error, and that Page is kept.
func (s *Server) disconnectPages(c *gin.Context, ch *aicc.Channel) (pending int, err error) {
	var runs []client.WorkflowRun
	err = s.eachPage(c.Request.Context(), ch, func(p *aicc.Page) error {
		run, err := s.startDisconnect(c, p)
		switch {
		case err != nil:
			return err
		case run == nil:
			pending++
		default:
			runs = append(runs, run)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(c.Request.Context(), s.pageConnectWait())
	defer cancel()
	for _, run := range runs {
		err := run.Get(wctx, nil)
		switch {
		case err != nil && wctx.Err() != nil && c.Request.Context().Err() == nil:
			pending++
		case err != nil:
			return 0, s.temporalError(c, err)
		}
	}
	return pending, nil
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

// answerConnect waits for a ConnectPage run and answers its outcome; p is the Page as it was when the run
// started.
func (s *Server) answerConnect(c *gin.Context, p *aicc.Page, run client.WorkflowRun, okStatus int) error {
	ctx := c.Request.Context()
	var res workflows.ConnectPageResult
	done, err := s.await(c, run, &res)
	switch {
	case err != nil:
		return s.temporalError(c, err)
	case !done:
		c.JSON(http.StatusAccepted, toPageJSON(p))
		return nil
	}
	switch res.Status {
	case aicc.PageSubscribed, aicc.PageSubscriptionFailed:
		got, err := s.Store.GetPage(ctx, p.TenantID, p.ChannelID, p.PageID)
		if err != nil {
			return err
		}
		// The workflow recorded its outcome before returning it; the result is what this request asked for.
		got.State.Status, got.State.Reason = res.Status, res.Reason
		s.log(c).Info("page connected", slog.String("page_id", p.PageID), slog.String("status", string(res.Status)),
			slog.String("reason", res.Reason))
		c.JSON(okStatus, toPageJSON(got))
		return nil
	case aicc.PageTokenInvalid:
		// The workflow has removed the Page; make sure of it, since a refused token must leave nothing behind.
		err := s.Store.RemovePage(context.WithoutCancel(ctx), p.TenantID, p.ChannelID, p.PageID)
		if err != nil && aicc.ErrorCode(err) != aicc.ENOTFOUND {
			s.log(c).Error("removing a Page whose token Meta refused",
				slog.String("page_id", p.PageID), slog.String("error", err.Error()))
		}
		s.log(c).Info("page token refused", slog.String("page_id", p.PageID), slog.String("reason", res.Reason))
		return tokenRefused(res)
	}
	return fmt.Errorf("connecting Page %s ended in the unknown status %q", p.PageID, res.Status)
}

// tokenRefused is the answer when Meta refused the Page's token: the workflow's code (META_TOKEN_INVALID or
// META_PERMISSION_DENIED), on the field the administrator must change.
func tokenRefused(res workflows.ConnectPageResult) error {
	code, field := res.Reason, "is invalid or has expired; paste a new Page access token"
	switch code {
	case aicc.EMETAPERMISSION:
		field = "lacks a permission or Page task the app needs; grant it and paste the new Page access token"
	case aicc.EMETATOKENINVALID:
	default:
		code = aicc.EMETATOKENINVALID
	}
	msg := res.Message
	if msg == "" {
		msg = "Meta refused the Page access token."
	}
	return &aicc.Error{Code: code, Message: msg, Fields: map[string]string{"tokenSecret": field}}
}

// await waits for run's result within PageConnectWait. done is false when the wait ended first; the workflow
// goes on.
func (s *Server) await(c *gin.Context, run client.WorkflowRun, result any) (done bool, err error) {
	ctx := c.Request.Context()
	wctx, cancel := context.WithTimeout(ctx, s.pageConnectWait())
	defer cancel()
	err = run.Get(wctx, result)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return false, nil
	}
	return true, err
}

// pageStartError maps a failed start of a Page workflow: one already running for the Page is a CONFLICT with
// msg, anything else as temporalError does.
func (s *Server) pageStartError(c *gin.Context, err error, msg string) error {
	if alreadyStarted(err) {
		return aicc.Errorf(aicc.ECONFLICT, "%s", msg)
	}
	return s.temporalError(c, err)
}

func alreadyStarted(err error) bool {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	return errors.As(err, &started)
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
// answer is 204 when it is done within PageConnectWait, else 202 (also when a disconnection already runs).
func (s *Server) removePage(c *gin.Context) error {
	ctx := c.Request.Context()
	p, err := s.Store.GetPage(ctx, principalOf(c).TenantID, c.Param("channelID"), c.Param("pageID"))
	if err != nil {
		return err
	}
	run, err := s.startDisconnect(c, p)
	if err != nil {
		return err
	}
	done := false // a disconnection already running is answered as still running
	if run != nil {
		if done, err = s.await(c, run, nil); err != nil {
			return s.temporalError(c, err)
		}
	}
	if !done {
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
// connection work end to end. The Page token and the app secret are unsealed for the call only, and the call's
// outcome updates the Page's token health.
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
	ctx := c.Request.Context()
	p, err := s.Store.GetPage(ctx, principalOf(c).TenantID, c.Param("channelID"), c.Param("pageID"))
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
	if s.Graph == nil {
		return aicc.Errorf(aicc.EUNAVAILABLE, "This server is not configured to call Meta.")
	}
	call, err := s.pageCall(ctx, p)
	if err != nil {
		return err
	}
	g, err := s.Graph.Graph(ctx)
	if err != nil {
		return err
	}
	res, err := aicc.TrackTokenHealth(g, s.Store, s.now).SendMessage(ctx, call, msg)
	if err != nil {
		s.logGraphError(c, "test message not sent", p.PageID, err)
		return err
	}
	if res.RecipientID == "" {
		res.RecipientID = msg.RecipientPSID
	}
	s.log(c).Info("test message sent", slog.String("channel_id", p.ChannelID), slog.String("page_id", p.PageID),
		slog.String("message_id", res.MessageID))
	c.JSON(http.StatusOK, testMessageJSON{RecipientID: res.RecipientID, MessageID: res.MessageID})
	return nil
}

// pageCall unseals what a Graph call as the Page needs: its access token and its channel's app secret.
func (s *Server) pageCall(ctx context.Context, p *aicc.Page) (aicc.PageCall, error) {
	sealed, err := s.Store.PageToken(ctx, p.PageID)
	if err != nil {
		return aicc.PageCall{}, err
	}
	token, err := s.Keyring.Open(sealed, aicc.PageTokenOwner(p.PageID))
	if err != nil {
		return aicc.PageCall{}, err
	}
	sealed, err = s.Store.ChannelSecret(ctx, p.ChannelID, aicc.SecretAppSecret)
	if err != nil {
		return aicc.PageCall{}, err
	}
	appSecret, err := s.Keyring.Open(sealed, aicc.ChannelSecretOwner(p.ChannelID, aicc.SecretAppSecret))
	if err != nil {
		return aicc.PageCall{}, err
	}
	return aicc.PageCall{PageID: p.PageID, AccessToken: token, AppSecret: appSecret}, nil
}

// logGraphError logs what Meta said about a failed call, for support: codes and the trace ID, never a secret.
func (s *Server) logGraphError(c *gin.Context, msg, pageID string, err error) {
	attrs := []slog.Attr{slog.String("page_id", pageID), slog.String("code", aicc.ErrorCode(err))}
	var ge *aicc.GraphError
	if errors.As(err, &ge) {
		attrs = append(attrs, slog.Int("http_status", ge.HTTPStatus), slog.Int("graph_code", ge.GraphCode),
			slog.Int("graph_subcode", ge.Subcode), slog.String("fbtrace_id", ge.FBTraceID),
			slog.String("graph_message", ge.GraphMessage))
	}
	s.log(c).LogAttrs(c.Request.Context(), slog.LevelWarn, msg, attrs...)
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
