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

// rotationNone is the rotationStatus of a channel whose app secret never changed.
const rotationNone = "none"

// rotationJSON is a secret rotation as the API shows it: live from the workflow, or as recorded with the
// channel once the workflow is gone.
type rotationJSON struct {
	Status    string          `json:"status"`
	StartedAt *time.Time      `json:"startedAt,omitempty"`
	StartedBy *auditActorJSON `json:"startedBy,omitempty"`
	// PreviousUntil is when the previous app secret stops being accepted for webhook signatures; absent when
	// none is.
	PreviousUntil  *time.Time `json:"previousSecretAcceptedUntil,omitempty"`
	PagesDone      []string   `json:"pagesDone"`
	PagesMissing   int        `json:"pagesMissing"`
	MissingPageIDs []string   `json:"missingPageIds"`
	Reminders      int        `json:"reminders"`
	RemindedAt     *time.Time `json:"remindedAt,omitempty"`
}

func rotationStatusJSON(s aicc.RotationStatus) string {
	if s == "" {
		return rotationNone
	}
	return string(s)
}

func toRotationJSON(st workflows.RotationState) rotationJSON {
	r := rotationJSON{
		Status: rotationStatusJSON(st.Status), StartedAt: optTime(st.StartedAt), PreviousUntil: optTime(st.PreviousUntil),
		PagesDone: nonNil(st.PagesDone), PagesMissing: st.PagesMissing, MissingPageIDs: nonNil(st.MissingPageIDs),
		Reminders: st.Reminders, RemindedAt: optTime(st.RemindedAt),
	}
	if st.StartedBy.Type != "" {
		a := st.StartedBy
		r.StartedBy = &auditActorJSON{Type: a.Type, TokenID: a.TokenID, Role: a.Role, Command: a.Command}
	}
	return r
}

// storedRotationJSON is the rotation recorded with the channel, for a channel whose rotation workflow Temporal no
// longer knows.
func storedRotationJSON(r aicc.Rotation) rotationJSON {
	return rotationJSON{
		Status: rotationStatusJSON(r.Status), StartedAt: optTime(r.StartedAt), PreviousUntil: optTime(r.PreviousUntil),
		PagesDone: []string{}, PagesMissing: r.PagesMissing, MissingPageIDs: []string{}, RemindedAt: optTime(r.RemindedAt),
	}
}

// changeAppSecret is the seed's Edit step. The new secret is sealed into a secret version, which the channel's
// rotation workflow makes current; the previous secret stays accepted for overlapSeconds (default 24 h, 0 to
// 7 days). It answers the rotation's state once the change is made.
func (s *Server) changeAppSecret(c *gin.Context) error {
	var req struct {
		AppSecret      string `json:"appSecret"`
		OverlapSeconds *int64 `json:"overlapSeconds"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	overlap := aicc.DefaultRotationOverlap
	var overlapErr error
	if req.OverlapSeconds != nil {
		// Checked in seconds: a huge value multiplied into a Duration would wrap around into the range.
		if secs := *req.OverlapSeconds; secs < 0 || secs > int64(aicc.MaxRotationOverlap/time.Second) {
			overlapErr = invalid("overlapSeconds", "must be 0 to 604800 (7 days)")
		} else {
			overlap = time.Duration(secs) * time.Second
		}
	}
	if err := aicc.JoinInvalid(aicc.ValidateAppSecret(req.AppSecret), overlapErr); err != nil {
		return err
	}
	ch, err := s.channelForChange(c)
	if err != nil {
		return err
	}
	v, err := s.addSecretVersion(c, ch, aicc.SecretAppSecret, "", req.AppSecret)
	if err != nil {
		return err
	}
	st, err := s.withSecretVersion(c, v, func(ctx context.Context) (workflows.RotationState, error) {
		return workflows.SetAppSecret(ctx, s.Temporal, s.rotationInput(ch), workflows.SetAppSecretRequest{
			VersionID: v.ID, Overlap: overlap, Requester: s.requester(c),
		})
	})
	if aicc.ErrorCode(err) == aicc.EMETAAPPINVALID {
		return &aicc.Error{Code: aicc.EMETAAPPINVALID,
			Message: "Meta refused the App Secret for the channel's app: it is not the app's secret. " +
				"The channel keeps its App Secret.",
			Fields: map[string]string{"appSecret": "is not the secret of the app"}}
	}
	if err != nil {
		return err
	}
	s.webhookChannels.forget(ch.ID)
	s.log(c).Info("app secret changed", slog.String("channel_id", ch.ID), slog.Duration("overlap", overlap))
	c.JSON(http.StatusOK, toRotationJSON(st))
	return nil
}

// changeTokenSecret is the seed's Configuration step for one Page: the rotation workflow checks the new token
// with Meta under the channel's current app secret and replaces the Page's token, which stays subscribed. A
// refused token is a 422 with Meta's code, and the Page keeps its token. It answers the Page.
func (s *Server) changeTokenSecret(c *gin.Context) error {
	var req struct {
		TokenSecret string `json:"tokenSecret"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := aicc.ValidateTokenSecret(req.TokenSecret); err != nil {
		return err
	}
	ch, err := s.channelForChange(c)
	if err != nil {
		return err
	}
	p, err := s.Store.GetPage(c.Request.Context(), ch.TenantID, ch.ID, c.Param("pageID"))
	if err != nil {
		return err
	}
	v, err := s.addSecretVersion(c, ch, aicc.SecretPageToken, p.PageID, req.TokenSecret)
	if err != nil {
		return err
	}
	_, err = s.withSecretVersion(c, v, func(ctx context.Context) (workflows.RotationState, error) {
		return workflows.SetPageToken(ctx, s.Temporal, s.rotationInput(ch), workflows.SetPageTokenRequest{
			PageID: p.PageID, VersionID: v.ID, Requester: s.requester(c),
		})
	})
	var e *aicc.Error
	switch {
	case errors.As(err, &e) && (e.Code == aicc.EMETATOKENINVALID || e.Code == aicc.EMETAPERMISSION):
		s.log(c).Info("page token refused", slog.String("page_id", p.PageID), slog.String("reason", e.Code))
		return tokenRefused(e.Code, e.Message)
	case err != nil:
		return err
	}
	s.log(c).Info("page token changed", slog.String("channel_id", ch.ID), slog.String("page_id", p.PageID))
	return getScoped(c, func(ctx context.Context, tenantID, id string) (*aicc.Page, error) {
		return s.Store.GetPage(ctx, tenantID, ch.ID, id)
	}, p.PageID, toPageJSON)
}

// revokePreviousAppSecret ends the overlap window at once: from now on only the current app secret signs.
func (s *Server) revokePreviousAppSecret(c *gin.Context) error {
	ch, err := s.channelForChange(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.workflowWait())
	defer cancel()
	st, err := workflows.RevokePreviousAppSecret(ctx, s.Temporal, ch.ID, workflows.RevokePreviousRequest{Requester: s.requester(c)})
	if err != nil {
		return s.temporalError(c, err)
	}
	s.webhookChannels.forget(ch.ID)
	s.log(c).Info("previous app secret revoked", slog.String("channel_id", ch.ID))
	c.JSON(http.StatusOK, toRotationJSON(st))
	return nil
}

// getRotation answers the live state of the channel's latest rotation, or the state recorded with the channel
// when Temporal no longer knows its workflow, or when the workflow's latest run changed Page tokens only.
func (s *Server) getRotation(c *gin.Context) error {
	ctx := c.Request.Context()
	ch, err := s.Store.GetChannel(ctx, principalOf(c).TenantID, c.Param("channelID"))
	if err != nil {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, s.workflowWait())
	defer cancel()
	st, err := workflows.QuerySecretRotation(qctx, s.Temporal, ch.ID)
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND, err == nil && st.Status == "" && ch.Rotation.Status != "":
		c.JSON(http.StatusOK, storedRotationJSON(ch.Rotation))
		return nil
	case err != nil:
		return s.temporalError(c, err)
	}
	c.JSON(http.StatusOK, toRotationJSON(st))
	return nil
}

// addSecretVersion seals value into a new secret version of ch, which only the rotation workflow puts in use.
func (s *Server) addSecretVersion(c *gin.Context, ch *aicc.Channel, kind aicc.SecretKind, pageID, value string) (*aicc.SecretVersion, error) {
	now := s.now()
	v := &aicc.SecretVersion{ID: aicc.NewID("sv"), TenantID: ch.TenantID, ChannelID: ch.ID, Kind: kind, PageID: pageID, CreatedAt: now}
	v.Sealed = s.Keyring.Seal(value, aicc.SecretVersionOwner(v.ID), now)
	if err := s.Store.AddSecretVersion(c.Request.Context(), v); err != nil {
		return nil, err
	}
	return v, nil
}

// withSecretVersion runs the workflow call that puts v in use, within WorkflowWait. When it fails, v is
// removed: a version the workflow did not take is never used, and a workflow that takes it later finds it gone
// and changes nothing.
func (s *Server) withSecretVersion(c *gin.Context, v *aicc.SecretVersion,
	call func(ctx context.Context) (workflows.RotationState, error)) (workflows.RotationState, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.workflowWait())
	defer cancel()
	st, err := call(ctx)
	if err == nil {
		return st, nil
	}
	if derr := s.Store.DeleteSecretVersion(context.WithoutCancel(c.Request.Context()), v.ChannelID, v.ID); derr != nil {
		s.log(c).Warn("a secret version the rotation did not take is left behind", slog.String("version_id", v.ID),
			slog.String("error", derr.Error()))
	}
	return st, s.temporalError(c, err)
}

// rotationInput starts the rotation of ch.
func (s *Server) rotationInput(ch *aicc.Channel) workflows.SecretRotationInput {
	return workflows.SecretRotationInput{TenantID: ch.TenantID, ChannelID: ch.ID, ReminderInterval: s.RotationReminder}
}

// requester is who makes the request, for the audit entry of the change.
func (s *Server) requester(c *gin.Context) workflows.Requester {
	return workflows.Requester{Actor: aicc.TokenActor(principalOf(c)), RequestID: c.GetString(requestIDKey)}
}
