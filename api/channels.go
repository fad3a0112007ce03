package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// channelJSON is a channel as the API shows it. The secrets appear only as secretJSON: never their values.
type channelJSON struct {
	ID          string                  `json:"id"`
	Name        string                  `json:"name"`
	AppID       string                  `json:"appId"`
	Algorithm   aicc.SignatureAlgorithm `json:"algorithm"`
	Status      aicc.ChannelStatus      `json:"status"`
	Onboarding  onboardingJSON          `json:"onboarding"`
	AppSecret   secretJSON              `json:"appSecret"`
	VerifyToken secretJSON              `json:"verifyToken"`
	CallbackURL string                  `json:"callbackUrl"`
	Basic       aicc.BasicConfig        `json:"basic"`
	Robot       aicc.RobotConfig        `json:"robot"`
	Warnings    []string                `json:"warnings"`
	// TokenHealth is the worst token health of the channel's Pages; absent when it has none.
	TokenHealth aicc.TokenHealth `json:"tokenHealth,omitempty"`
	// RotationStatus is where the latest secret rotation is: none, pending or complete.
	RotationStatus string    `json:"rotationStatus"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// onboardingJSON is the onboarding state, as recorded with the channel or as queried live from the workflow.
type onboardingJSON struct {
	Status      aicc.ChannelStatus `json:"status"`
	Step        string             `json:"step"`
	ErrorCode   string             `json:"errorCode,omitempty"`
	StartedAt   *time.Time         `json:"startedAt,omitempty"`
	ExpiresAt   *time.Time         `json:"expiresAt,omitempty"`
	VerifiedAt  *time.Time         `json:"verifiedAt,omitempty"`
	ActivatedAt *time.Time         `json:"activatedAt,omitempty"`
	UpdatedAt   *time.Time         `json:"updatedAt,omitempty"`
}

// secretJSON is all the API shows of a secret.
type secretJSON struct {
	Set         bool       `json:"set"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	UpdatedAt   *time.Time `json:"updatedAt,omitempty"`
}

func toSecretJSON(s aicc.SecretInfo) secretJSON {
	return secretJSON{Set: s.Set, Fingerprint: s.Fingerprint, UpdatedAt: optTime(s.UpdatedAt)}
}

func toOnboardingJSON(o aicc.Onboarding) onboardingJSON {
	return onboardingJSON{
		Status: o.Status, Step: o.Step, ErrorCode: o.ErrorCode, VerifiedAt: optTime(o.VerifiedAt),
		ActivatedAt: optTime(o.ActivatedAt), UpdatedAt: optTime(o.UpdatedAt),
	}
}

func (s *Server) toChannelJSON(ch *aicc.Channel) channelJSON {
	basic := ch.Basic
	basic.TransferKeywords = nonNil(basic.TransferKeywords)
	basic.WorkTime.Workday = nonNil(basic.WorkTime.Workday)
	basic.WorkTime.NonWorkday = nonNil(basic.WorkTime.NonWorkday)
	basic.SessionTransfer.TargetSkillQueueIDs = nonNil(basic.SessionTransfer.TargetSkillQueueIDs)
	return channelJSON{
		ID: ch.ID, Name: ch.Name, AppID: ch.AppID, Algorithm: ch.Algorithm, Status: ch.Onboarding.Status,
		Onboarding: toOnboardingJSON(ch.Onboarding), AppSecret: toSecretJSON(ch.AppSecret),
		VerifyToken: toSecretJSON(ch.VerifyToken), CallbackURL: s.callbackURL(ch.ID), Basic: basic,
		Robot: ch.Robot, Warnings: nonNil(ch.Warnings()), TokenHealth: ch.TokenHealth,
		RotationStatus: rotationStatusJSON(ch.Rotation.Status), CreatedAt: ch.CreatedAt.UTC(), UpdatedAt: ch.UpdatedAt.UTC(),
	}
}

// metaSetupJSON is what the administrator pastes into Meta for Developers. The verify token is shown here,
// once, and never again.
type metaSetupJSON struct {
	CallbackURL string `json:"callbackUrl"`
	VerifyToken string `json:"verifyToken"`
}

func (s *Server) createChannel(c *gin.Context) error {
	// Decoded onto the defaults: an absent field keeps its default, an explicit one (even 0) is checked as sent.
	defaults := aicc.DefaultChannel()
	req := struct {
		Name      string                  `json:"name"`
		AppID     string                  `json:"appId"`
		AppSecret string                  `json:"appSecret"`
		Algorithm aicc.SignatureAlgorithm `json:"algorithm"`
		Basic     aicc.BasicConfig        `json:"basic"`
		Robot     aicc.RobotConfig        `json:"robot"`
	}{Algorithm: defaults.Algorithm, Basic: defaults.Basic, Robot: defaults.Robot}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx, now := c.Request.Context(), s.now()
	ch := &aicc.Channel{
		ID: aicc.NewID(aicc.PrefixChannel), TenantID: principalOf(c).TenantID, Name: req.Name, AppID: req.AppID,
		Algorithm: req.Algorithm, Basic: req.Basic, Robot: req.Robot, CreatedAt: now, UpdatedAt: now,
		Onboarding: aicc.Onboarding{Status: aicc.StatusPending, Step: workflows.StepCheckPrerequisites, UpdatedAt: now},
	}
	if err := s.validateChannel(ctx, ch, aicc.ValidateAppSecret(req.AppSecret)); err != nil {
		return err
	}

	verifyToken := newVerifyToken()
	secrets := aicc.ChannelSecrets{
		AppSecret:   s.Keyring.Seal(req.AppSecret, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), now),
		VerifyToken: s.Keyring.Seal(verifyToken, aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), now),
	}
	ch.AppSecret, ch.VerifyToken = secrets.AppSecret.Info(), secrets.VerifyToken.Info()
	entry := s.audit(c, aicc.AuditChannelCreate, aicc.AuditTarget{Type: aicc.TargetChannel, ID: ch.ID}, ch.ID,
		map[string]string{
			aicc.DetailName: ch.Name, aicc.DetailAppID: ch.AppID, aicc.DetailAlgorithm: string(ch.Algorithm),
			aicc.DetailAppSecretFingerprint:   secrets.AppSecret.Fingerprint,
			aicc.DetailVerifyTokenFingerprint: secrets.VerifyToken.Fingerprint,
		})
	if err := s.audited(c, entry, func(ctx context.Context) error { return s.Store.CreateChannel(ctx, ch, secrets) }); err != nil {
		return err
	}
	// The channel is stored, pending: complete whether or not its onboarding starts now. When Temporal does not
	// answer, the worker's resumer starts the onboarding of every channel left pending.
	if _, err := s.startOnboardingWorkflow(c, ch); err != nil {
		s.log(c).Warn("onboarding not started yet; the worker's resumer will start it",
			slog.String("channel_id", ch.ID), slog.String("code", aicc.ErrorCode(err)))
	} else if recorded, err := s.Store.GetChannel(ctx, ch.TenantID, ch.ID); err != nil {
		// The channel exists and the verify token is shown only here: answer it as stored, pending.
		s.log(c).Warn("reading the created channel back", slog.String("channel_id", ch.ID), slog.String("error", err.Error()))
	} else {
		ch = recorded
	}
	s.metrics.channelsCreated.WithLabelValues(string(ch.Algorithm)).Inc()
	s.log(c).Info("channel created", slog.String("channel_id", ch.ID), slog.String("algorithm", string(ch.Algorithm)))
	c.JSON(http.StatusCreated, struct {
		Channel   channelJSON   `json:"channel"`
		MetaSetup metaSetupJSON `json:"metaSetup"`
	}{s.toChannelJSON(ch), metaSetupJSON{CallbackURL: s.callbackURL(ch.ID), VerifyToken: verifyToken}})
	return nil
}

// newVerifyToken returns 256 random bits in hex: Meta echoes the verify token back, so it only has to be
// unguessable and URL-safe.
func newVerifyToken() string { return hex.EncodeToString(aicc.RandomBytes(32)) }

// rotateVerifyToken replaces the channel's verify token and shows the new one, once, for an administrator who
// lost it or wants the old one retired. Meta verifies with the new one from then on.
func (s *Server) rotateVerifyToken(c *gin.Context) error {
	ctx := c.Request.Context()
	ch, err := s.Store.GetChannel(ctx, principalOf(c).TenantID, c.Param("channelID"))
	if err != nil {
		return err
	}
	token := newVerifyToken()
	sealed := s.Keyring.Seal(token, aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), s.now())
	entry := s.audit(c, aicc.AuditVerifyTokenReplace, aicc.AuditTarget{Type: aicc.TargetChannel, ID: ch.ID}, ch.ID,
		map[string]string{
			aicc.DetailVerifyTokenFingerprint: sealed.Fingerprint, aicc.DetailPreviousFingerprint: ch.VerifyToken.Fingerprint,
		})
	err = s.audited(c, entry, func(ctx context.Context) error {
		return s.Store.SetChannelSecret(ctx, ch.ID, aicc.SecretVerifyToken, sealed)
	})
	if err != nil {
		return err
	}
	s.log(c).Info("verify token replaced", slog.String("channel_id", ch.ID))
	c.JSON(http.StatusOK, metaSetupJSON{CallbackURL: s.callbackURL(ch.ID), VerifyToken: token})
	return nil
}

// validateChannel loads the directory resources the channel refers to, from its own tenant, one query per kind,
// and reports every broken rule at once, together with the errors of fields checked elsewhere (extra).
func (s *Server) validateChannel(ctx context.Context, ch *aicc.Channel, extra ...error) error {
	ouIDs, queueIDs, calendarIDs := ch.References()
	refs, err := s.Store.GetRefs(ctx, ch.TenantID, ouIDs, queueIDs, calendarIDs)
	if err != nil {
		return err
	}
	return aicc.JoinInvalid(append([]error{ch.Validate(refs)}, extra...)...)
}

func (s *Server) listChannels(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	f := aicc.ChannelFilter{ListOptions: opt, Status: aicc.ChannelStatus(c.Query("status")), Name: c.Query("name")}
	if f.Status != "" && !f.Status.Valid() {
		names := make([]string, len(aicc.ChannelStatuses))
		for i, st := range aicc.ChannelStatuses {
			names[i] = string(st)
		}
		return invalid("status", "must be one of "+strings.Join(names, ", "))
	}
	items, next, err := s.Store.ListChannels(c.Request.Context(), principalOf(c).TenantID, f)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, s.toChannelJSON))
	return nil
}

func (s *Server) getChannel(c *gin.Context) error {
	return getScoped(c, s.Store.GetChannel, c.Param("channelID"), s.toChannelJSON)
}

// channelForChange returns the tenant's channel the route names, unless it is being deleted: a change that goes
// through Temporal rather than the store is refused here, where the store refuses its own changes itself.
func (s *Server) channelForChange(c *gin.Context) (*aicc.Channel, error) {
	ch, err := s.Store.GetChannel(c.Request.Context(), principalOf(c).TenantID, c.Param("channelID"))
	if err != nil {
		return nil, err
	}
	if ch.Onboarding.Status == aicc.StatusDeleting {
		return nil, aicc.Errorf(aicc.ECHANNELDELETING, "The channel is being deleted; it accepts no other change.")
	}
	return ch, nil
}

// updateChannel merges the body into the channel's name and basic and robot configuration (a field present
// replaces the stored one, an array is replaced whole, an absent field is kept) and validates the whole channel
// again, because a rule may span sections (transfer keywords and the robot). The merge is onto the channel as
// stored when it is written: when another change was written since it was read, it is read and merged again.
func (s *Server) updateChannel(c *gin.Context) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.mergeChannel(c, body)
		if aicc.ErrorCode(err) != aicc.ECONFLICT || attempt == maxMergeAttempts {
			return err
		}
	}
}

// maxMergeAttempts bounds how often a channel change is merged again because another one came in between.
const maxMergeAttempts = 5

// mergeChannel is one attempt of updateChannel: it reads the channel, merges body into it and writes it if no
// other change came in between (else CONFLICT), with its audit entry.
func (s *Server) mergeChannel(c *gin.Context, body []byte) error {
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	ch, err := s.Store.GetChannel(ctx, tenant, c.Param("channelID"))
	if err != nil {
		return err
	}
	req := struct {
		Name  string           `json:"name"`
		Basic aicc.BasicConfig `json:"basic"`
		Robot aicc.RobotConfig `json:"robot"`
		// AppSecret is refused, whatever its value (null included): a new app secret is a rotation, with an
		// overlap window.
		AppSecret json.RawMessage `json:"appSecret"`
	}{Name: ch.Name, Basic: ch.Basic, Robot: ch.Robot}
	if err := decodeBody(body, &req); err != nil {
		return err
	}
	if len(req.AppSecret) > 0 {
		return invalid("appSecret", "is changed with PUT /v1/channels/"+ch.ID+"/app-secret, which keeps the previous "+
			"secret accepted for an overlap window while Meta switches over")
	}
	before := *ch
	ch.Name, ch.Basic, ch.Robot = req.Name, req.Basic, req.Robot
	if err := s.validateChannel(ctx, ch); err != nil {
		return err
	}
	ch.UpdatedAt = s.now()
	entry := s.audit(c, aicc.AuditChannelUpdate, aicc.AuditTarget{Type: aicc.TargetChannel, ID: ch.ID}, ch.ID,
		map[string]string{aicc.DetailChangedFields: changedFields(&before, ch)})
	write := func(ctx context.Context) error { return s.Store.UpdateChannel(ctx, ch, before.UpdatedAt) }
	if err := s.audited(c, entry, write); err != nil {
		return err
	}
	s.log(c).Info("channel updated", slog.String("channel_id", ch.ID))
	return getScoped(c, s.Store.GetChannel, ch.ID, s.toChannelJSON)
}

// deleteChannel starts the channel's deletion, or joins the one that runs, and answers 202 with the channel
// once the workflow has recorded it as deleting; the workflow disconnects its Pages from Meta and deletes it.
// A DELETE during the deletion gets the same answer.
func (s *Server) deleteChannel(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	ch, err := s.Store.GetChannel(ctx, tenant, c.Param("channelID"))
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.workflowWait())
	defer cancel()
	st, err := workflows.DeleteChannel(wctx, s.Temporal, workflows.ChannelDeleteInput{TenantID: tenant, ChannelID: ch.ID})
	switch {
	case err != nil:
		return s.temporalError(c, err)
	case st.Gone:
		return aicc.Errorf(aicc.ENOTFOUND, "The channel does not exist.")
	}
	// The deletion is the workflow's: the entry records the request Temporal accepted (see the audit log's
	// comment in audit.go).
	entry := s.audit(c, aicc.AuditChannelDeleteRequested, aicc.AuditTarget{Type: aicc.TargetChannel, ID: ch.ID}, ch.ID,
		map[string]string{aicc.DetailName: ch.Name})
	if err := s.audited(c, entry, nil); err != nil {
		return err
	}
	// The channel as it was, in the status the workflow recorded: the deletion may be over by now.
	ch.Onboarding.Status = aicc.StatusDeleting
	s.log(c).Info("channel deleting", slog.String("channel_id", ch.ID))
	c.JSON(http.StatusAccepted, s.toChannelJSON(ch))
	return nil
}
