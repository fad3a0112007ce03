package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/workflows"
)

func seg(start, end string) map[string]any { return map[string]any{"start": start, "end": end} }

// TestCreateChannelFieldRules sends each seed rule's bad value through POST /v1/channels and checks the
// exact field reported, and the boundary values that pass.
func TestCreateChannelFieldRules(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	other := h.newTenant("B")
	slowQueue := h.createQueue(tn, map[string]any{"name": "Slow", "accessCode": "1002", "ouId": tn.OU, "maxWaitSeconds": 1800})
	robotOn := map[string]any{"enabled": true, "accessCode": "r1", "name": "Robbie"}
	ncr := func(minutes int) map[string]any {
		return map[string]any{"enabled": true, "timeoutMinutes": minutes, "endMessage": "Bye."}
	}

	tests := []struct {
		name  string
		path  string
		value any
		field string // "" means the channel is created
	}{
		{"name/bad first char", "name", "1channel", "name"},
		{"name/bad char", "name", "fb-channel", "name"},
		{"name/65 chars", "name", strings.Repeat("a", 65), "name"},
		{"name/64 chars", "name", strings.Repeat("b", 64), ""},
		{"name/underscore first", "name", "_fb", ""},
		{"appId/non-numeric", "appId", "app123", "appId"},
		{"appSecret/missing", "appSecret", deleted, "appSecret"},
		{"appSecret/with spaces", "appSecret", "a secret", "appSecret"},
		{"algorithm/md5", "algorithm", "md5", "algorithm"},
		{"ouId/missing", "basic.ouId", deleted, "basic.ouId"},
		{"ouId/unknown", "basic.ouId", "ou_unknown", "basic.ouId"},
		{"ouId/other tenant", "basic.ouId", other.OU, "basic.ouId"},
		{"skillQueueId/unknown", "basic.skillQueueId", "sq_unknown", "basic.skillQueueId"},
		{"skillQueueId/other tenant", "basic.skillQueueId", other.Queue, "basic.skillQueueId"},
		{"transferKeywords/missing with robot", "robot.intelligentRobot", robotOn, "basic.transferKeywords"},
		{"workday/5 segments", "basic.workTime.workday",
			[]any{seg("00:00", "01:00"), seg("02:00", "03:00"), seg("04:00", "05:00"), seg("06:00", "07:00"), seg("08:00", "09:00")},
			"basic.workTime.workday"},
		{"workday/4 segments", "basic.workTime.workday",
			[]any{seg("00:00", "01:00"), seg("02:00", "03:00"), seg("04:00", "05:00"), seg("06:00", "24:00")}, ""},
		{"workday/25:00", "basic.workTime.workday", []any{seg("25:00", "26:00")}, "basic.workTime.workday[0].start"},
		{"workday/09:60", "basic.workTime.workday", []any{seg("09:00", "09:60")}, "basic.workTime.workday[0].end"},
		{"workday/24:30", "basic.workTime.workday", []any{seg("09:00", "24:30")}, "basic.workTime.workday[0].end"},
		{"workday/start equals end", "basic.workTime.workday", []any{seg("09:00", "09:00")}, "basic.workTime.workday[0]"},
		{"workday/start after end", "basic.workTime.workday", []any{seg("18:00", "09:00")}, "basic.workTime.workday[0]"},
		{"workday/overlap", "basic.workTime.workday", []any{seg("09:00", "12:00"), seg("11:00", "13:00")},
			"basic.workTime.workday[1]"},
		{"workday/touching", "basic.workTime.workday", []any{seg("09:00", "12:00"), seg("12:00", "13:00")}, ""},
		{"nonWorkday/5 segments", "basic.workTime.nonWorkday",
			[]any{seg("00:00", "01:00"), seg("02:00", "03:00"), seg("04:00", "05:00"), seg("06:00", "07:00"), seg("08:00", "09:00")},
			"basic.workTime.nonWorkday"},
		{"nonWorkday/25:00", "basic.workTime.nonWorkday", []any{seg("25:00", "26:00")}, "basic.workTime.nonWorkday[0].start"},
		{"nonWorkday/09:60", "basic.workTime.nonWorkday", []any{seg("09:60", "10:00")}, "basic.workTime.nonWorkday[0].start"},
		{"nonWorkday/start after end", "basic.workTime.nonWorkday", []any{seg("12:00", "10:00")}, "basic.workTime.nonWorkday[0]"},
		{"nonWorkday/overlap", "basic.workTime.nonWorkday", []any{seg("10:00", "14:00"), seg("08:00", "11:00")},
			"basic.workTime.nonWorkday[1]"},
		{"noCustomerReplyEnd/0", "basic.noCustomerReplyEnd", ncr(0), "basic.noCustomerReplyEnd.timeoutMinutes"},
		{"noCustomerReplyEnd/61", "basic.noCustomerReplyEnd", ncr(61), "basic.noCustomerReplyEnd.timeoutMinutes"},
		{"noCustomerReplyEnd/60", "basic.noCustomerReplyEnd", ncr(60), ""},
		{"noCustomerReplyEnd/end message missing", "basic.noCustomerReplyEnd",
			map[string]any{"enabled": true, "timeoutMinutes": 30}, "basic.noCustomerReplyEnd.endMessage"},
		{"lastAgentMode/10081", "basic.lastAgentMode", map[string]any{"enabled": true, "windowMinutes": 10081},
			"basic.lastAgentMode.windowMinutes"},
		{"lastAgentMode/10080", "basic.lastAgentMode", map[string]any{"enabled": true, "windowMinutes": 10080}, ""},
		{"lastAgentMode/0", "basic.lastAgentMode", map[string]any{"enabled": true, "windowMinutes": 0},
			"basic.lastAgentMode.windowMinutes"},
		{"robotAssistant/no silent-agent queue", "robot.robotAssistant", map[string]any{"enabled": true, "accessCode": "a1"},
			"robot.robotAssistant.silentAgentSkillQueueId"},
		{"robotAssistant/silent-agent queue of other tenant", "robot.robotAssistant",
			map[string]any{"enabled": true, "accessCode": "a1", "silentAgentSkillQueueId": other.Queue},
			"robot.robotAssistant.silentAgentSkillQueueId"},
		{"robotAssistant/ok", "robot.robotAssistant",
			map[string]any{"enabled": true, "accessCode": "a1", "silentAgentSkillQueueId": tn.Queue}, ""},
		{"intelligentRobot/avatar 8", "robot.intelligentRobot.avatar", 8, "robot.intelligentRobot.avatar"},
		{"serviceCalendarId/unknown", "basic.serviceCalendarId", "cal_unknown", "basic.serviceCalendarId"},
		{"unknown field", "basic.colour", "blue", "colour"},
		{"wrong type", "basic.workTime.workday", "all day", "basic.workTime.workday"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			body := channelBody(tn, fmt.Sprintf("rule_%02d", i))
			set(body, tt.path, tt.value)
			r := h.post("/v1/channels", tn.Admin, body)
			if tt.field == "" {
				requireStatus(t, r, http.StatusCreated)
				return
			}
			e := requireError(t, r, http.StatusBadRequest, aicc.EINVALID)
			assert.Contains(t, e.Fields, tt.field, "fields: %v", e.Fields)
		})
	}

	t.Run("transferKeywords/with robot", func(t *testing.T) {
		h := h.on(t)
		body := channelBody(tn, "robot_ok")
		set(body, "robot.intelligentRobot", robotOn)
		set(body, "basic.transferKeywords", []any{"agent", "human"})
		requireStatus(t, h.post("/v1/channels", tn.Admin, body), http.StatusCreated)
	})

	t.Run("timeout must exceed queue max wait", func(t *testing.T) {
		h := h.on(t)
		body := channelBody(tn, "slow_20")
		set(body, "basic.skillQueueId", slowQueue) // max wait 1800 s = 30 min
		set(body, "basic.noCustomerReplyEnd", ncr(20))
		e := requireError(t, h.post("/v1/channels", tn.Admin, body), http.StatusBadRequest, aicc.EINVALID)
		assert.Contains(t, e.Fields, "basic.noCustomerReplyEnd.timeoutMinutes")

		set(body, "basic.noCustomerReplyEnd", ncr(30)) // 1800 s does not exceed 1800 s
		requireError(t, h.post("/v1/channels", tn.Admin, body), http.StatusBadRequest, aicc.EINVALID)

		set(body, "basic.noCustomerReplyEnd", ncr(31))
		requireStatus(t, h.post("/v1/channels", tn.Admin, body), http.StatusCreated)
	})
}

func TestCreateChannelReportsEveryErrorAtOnce(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	body := channelBody(tn, "9lives")
	body["appId"] = "not-a-number"
	delete(body, "appSecret")
	set(body, "basic.workTime.workday", []any{seg("25:00", "26:00")})
	set(body, "robot.robotAssistant", map[string]any{"enabled": true, "accessCode": "a"})
	set(body, "basic.lastAgentMode.windowMinutes", 10081)

	e := requireError(t, h.post("/v1/channels", tn.Admin, body), http.StatusBadRequest, aicc.EINVALID)
	for _, f := range []string{
		"name", "appId", "appSecret", "basic.workTime.workday[0].start",
		"robot.robotAssistant.silentAgentSkillQueueId", "basic.lastAgentMode.windowMinutes",
	} {
		assert.Contains(t, e.Fields, f)
	}
}

func TestCreateChannelConflicts(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	first := h.createChannel(a, channelBody(a, "facebook_main"))

	t.Run("name taken in tenant", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.post("/v1/channels", a.Admin, channelBody(a, "facebook_main")), http.StatusConflict, aicc.ECHANNELNAMETAKEN)
	})
	t.Run("same name in another tenant", func(t *testing.T) {
		h := h.on(t)
		requireStatus(t, h.post("/v1/channels", b.Admin, channelBody(b, "facebook_main")), http.StatusCreated)
	})
	// The app ID is public: the channel is stored whatever it says, and its onboarding proves the secret
	// before it claims the app (claims_test.go). With the app's secret, the claim of the first channel stands.
	t.Run("app claimed by a channel of another tenant", func(t *testing.T) {
		h := h.on(t)
		body := channelBody(b, "other_app")
		r := h.get("/v1/channels/"+first.Channel.ID, a.Admin)
		requireStatus(t, r, http.StatusOK)
		var ch struct {
			AppID string `json:"appId"`
		}
		r.decode(t, &ch)
		body["appId"] = ch.AppID
		c := h.createChannel(b, body)
		assert.Equal(t, string(aicc.StatusFailed), c.Channel.Status)
		assert.Equal(t, aicc.EAPPCONNECTED, c.Channel.Onboarding["errorCode"])
	})
}

func TestCreateChannel(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	body := channelBody(tn, "fb_sha1")
	body["algorithm"] = "sha1"
	c := h.createChannel(tn, body)

	assert.Equal(t, "sha1", c.Channel.Algorithm)
	assert.NotEmpty(t, c.Channel.Warnings, "sha1 is flagged")
	assert.Equal(t, string(aicc.StatusAwaitingVerification), c.Channel.Status)
	assert.Equal(t, workflows.StepAwaitVerification, c.Channel.Onboarding["step"])
	assert.Equal(t, publicURL+"/webhooks/facebook/"+c.Channel.ID, c.MetaSetup.CallbackURL)
	assert.Equal(t, c.MetaSetup.CallbackURL, c.Channel.CallbackURL)
	assert.Len(t, c.MetaSetup.VerifyToken, 64)
	assert.True(t, c.Channel.AppSecret.Set)
	assert.Equal(t, h.keyring.Fingerprint("app-secret-0123456789"), c.Channel.AppSecret.Fingerprint)
	assert.Equal(t, h.keyring.Fingerprint(c.MetaSetup.VerifyToken), c.Channel.VerifyToken.Fingerprint)

	// The defaults are applied and shown.
	assert.Equal(t, []any{seg("00:00", "24:00")}, c.Channel.Basic["workTime"].(map[string]any)["workday"])
	assert.EqualValues(t, aicc.DefaultNoCustomerReplyMinutes, c.Channel.Basic["noCustomerReplyEnd"].(map[string]any)["timeoutMinutes"])

	// The onboarding was started by its registered name with IDs only, and answered once it recorded its first
	// step.
	h.temporal.AssertCalled(t, "NewWithStartWorkflowOperation",
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
			return o.ID == onboardingID(c.Channel.ID) && o.TaskQueue == workflows.TaskQueue &&
				o.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
		}),
		workflows.OnboardingWorkflowType,
		workflows.OnboardingInput{TenantID: tn.ID, ChannelID: c.Channel.ID, VerificationTTL: workflows.DefaultVerificationTTL})
	h.temporal.AssertCalled(t, "UpdateWithStartWorkflow", mock.Anything, updateWithStart(workflows.UpdateStarted))

	// The verify token is stored sealed, for the webhook.
	sealed, err := h.store.ChannelSecret(context.Background(), c.Channel.ID, aicc.SecretVerifyToken)
	require.NoError(t, err)
	got, err := h.keyring.Open(sealed, aicc.ChannelSecretOwner(c.Channel.ID, aicc.SecretVerifyToken))
	require.NoError(t, err)
	assert.Equal(t, c.MetaSetup.VerifyToken, got)

	metrics := h.get("/metrics", "")
	assert.Contains(t, string(metrics.Body), `aicc_channels_created_total{algorithm="sha1"} 1`)
}

// updateWithStart matches the options of an Update-with-Start that waits for the Update named update.
func updateWithStart(update string) any {
	return mock.MatchedBy(func(o client.UpdateWithStartWorkflowOptions) bool {
		return o.UpdateOptions.UpdateName == update && o.UpdateOptions.WaitForStage == client.WorkflowUpdateStageCompleted
	})
}

// getChannel returns the tenant's channel as the API shows it.
func (h *harness) getChannel(tn tenant, id string) channel {
	h.t.Helper()
	r := h.get("/v1/channels/"+id, tn.Viewer)
	requireStatus(h.t, r, http.StatusOK)
	var ch channel
	r.decode(h.t, &ch)
	return ch
}

// TestCreateChannelWithoutCertificate checks that the onboarding's first step records its failure, which the
// answer shows.
func TestCreateChannelWithoutCertificate(t *testing.T) {
	h := newHarness(t, withoutCertificate())
	tn := h.newTenant("A")
	c := h.createChannel(tn, channelBody(tn, "fb_main"))
	assert.Equal(t, string(aicc.StatusFailed), c.Channel.Status)
	assert.Equal(t, aicc.ECERTMISSING, c.Channel.Onboarding["errorCode"])
	assert.Len(t, c.MetaSetup.VerifyToken, 64, "the channel is kept, and its setup shown")
}

// TestCreateChannelWhenTemporalFails checks that a channel whose onboarding cannot start now is kept, pending,
// for the worker's resumer: nothing is deleted.
func TestCreateChannelWhenTemporalFails(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	h.flows.failNext("UpdateWithStartWorkflow", serviceerror.NewUnavailable("connection refused"))

	r := h.post("/v1/channels", tn.Admin, channelBody(tn, "fb_main"))
	requireStatus(t, r, http.StatusCreated)
	assert.NotContains(t, string(r.Body), "connection refused")
	var c created
	r.decode(t, &c)
	assert.Equal(t, string(aicc.StatusPending), c.Channel.Status)
	assert.Equal(t, workflows.StepCheckPrerequisites, c.Channel.Onboarding["step"])
	assert.Len(t, c.MetaSetup.VerifyToken, 64)
	assert.Contains(t, h.logs.String(), "resumer")

	// Stored, pending, with its secrets.
	assert.Equal(t, string(aicc.StatusPending), h.getChannel(tn, c.Channel.ID).Status)
	_, err := h.store.ChannelSecret(context.Background(), c.Channel.ID, aicc.SecretAppSecret)
	require.NoError(t, err)
	r = h.get("/v1/channels?status=pending", tn.Viewer)
	requireStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.Body), c.Channel.ID)

	// The same when the start is not answered in time.
	h.flows.failNext("UpdateWithStartWorkflow", client.NewWorkflowUpdateServiceTimeoutOrCanceledError(context.DeadlineExceeded))
	assert.Equal(t, string(aicc.StatusPending), h.createChannel(tn, channelBody(tn, "fb_late")).Channel.Status)

	// It holds its name; its onboarding can be started by hand too.
	requireError(t, h.post("/v1/channels", tn.Admin, channelBody(tn, "fb_main")), http.StatusConflict, aicc.ECHANNELNAMETAKEN)
	r = h.post("/v1/channels/"+c.Channel.ID+"/onboarding", tn.Admin, nil)
	requireStatus(t, r, http.StatusAccepted)
	assert.Contains(t, string(r.Body), `"status":"awaiting_verification"`)
}

func TestListChannels(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	for _, name := range []string{"alpha_fb", "beta_fb", "gamma"} {
		h.createChannel(tn, channelBody(tn, name))
	}
	ctx := context.Background()
	items, _, err := h.store.ListChannels(ctx, tn.ID, aicc.ChannelFilter{ListOptions: aicc.ListOptions{Limit: 10}, Name: "gamma"})
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.NoError(t, h.store.SetOnboarding(ctx, items[0].ID, aicc.Onboarding{Status: aicc.StatusActive, Step: workflows.StepDone}))

	list := func(query string) (names []string, next string) {
		t.Helper()
		r := h.get("/v1/channels"+query, tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		var page struct {
			Items      []channel `json:"items"`
			NextCursor string    `json:"nextCursor"`
		}
		r.decode(t, &page)
		for _, c := range page.Items {
			names = append(names, c.Name)
		}
		return names, page.NextCursor
	}
	names, next := list("")
	assert.Equal(t, []string{"alpha_fb", "beta_fb", "gamma"}, names)
	assert.Empty(t, next)

	names, next = list("?limit=2")
	assert.Equal(t, []string{"alpha_fb", "beta_fb"}, names)
	require.NotEmpty(t, next)
	names, _ = list("?limit=2&cursor=" + next)
	assert.Equal(t, []string{"gamma"}, names)

	names, _ = list("?name=FB")
	assert.Equal(t, []string{"alpha_fb", "beta_fb"}, names)
	names, _ = list("?status=active")
	assert.Equal(t, []string{"gamma"}, names)
	require.NoError(t, h.store.MarkChannelDeleting(ctx, items[0].ID, h.now()))
	names, _ = list("?status=deleting")
	assert.Equal(t, []string{"gamma"}, names)
	names, _ = list("?status=pending")
	assert.Empty(t, names)

	for _, q := range []string{"?status=done", "?limit=0", "?limit=201", "?limit=ten"} {
		e := requireError(t, h.get("/v1/channels"+q, tn.Viewer), http.StatusBadRequest, aicc.EINVALID)
		assert.Len(t, e.Fields, 1, q)
	}
}

// interleavingStore runs between, once, right after the first channel read it is asked for: another change
// committed between a request's read of the channel and its write.
type interleavingStore struct {
	aicc.Store
	between func()
}

func (s *interleavingStore) GetChannel(ctx context.Context, tenantID, id string) (*aicc.Channel, error) {
	ch, err := s.Store.GetChannel(ctx, tenantID, id)
	if between := s.between; between != nil {
		s.between = nil
		between()
	}
	return ch, err
}

// Two changes at once both hold: the one whose read came before the other's write is merged again onto the
// channel as the other left it, instead of writing its stale copy over it.
func TestUpdateChannelConcurrently(t *testing.T) {
	interleave := &interleavingStore{}
	h := newHarness(t, withServer(func(s *api.Server) { interleave.Store = s.Store; s.Store = interleave }))
	tn := h.newTenant("A")
	id := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID

	interleave.between = func() {
		ch, err := h.store.GetChannel(context.Background(), tn.ID, id)
		require.NoError(t, err)
		readAt := ch.UpdatedAt
		ch.Basic.NonWorkingTimeNotice, ch.UpdatedAt = "Closed", h.now().Add(time.Second)
		require.NoError(t, h.store.UpdateChannel(context.Background(), ch, readAt))
	}
	r := h.patch("/v1/channels/"+id, tn.Admin, map[string]any{"basic": map[string]any{"transferKeywords": []string{"agent"}}})
	requireStatus(t, r, http.StatusOK)

	var got channel
	r.decode(t, &got)
	assert.Equal(t, []any{"agent"}, got.Basic["transferKeywords"])
	assert.Equal(t, "Closed", got.Basic["nonWorkingTimeNotice"], "the other change is kept")
}

func TestUpdateChannel(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	c := h.createChannel(tn, channelBody(tn, "fb_main"))
	h.createChannel(tn, channelBody(tn, "fb_other"))
	path := "/v1/channels/" + c.Channel.ID

	r := h.patch(path, tn.Admin, map[string]any{
		"name":  "fb_renamed",
		"basic": map[string]any{"ouId": tn.OU, "skillQueueId": tn.Queue, "transferKeywords": []string{"agent"}},
		"robot": map[string]any{"intelligentRobot": map[string]any{"enabled": true, "accessCode": "r", "name": "Robbie"}},
	})
	requireStatus(t, r, http.StatusOK)
	var got channel
	r.decode(t, &got)
	assert.Equal(t, "fb_renamed", got.Name)
	assert.Equal(t, []any{"agent"}, got.Basic["transferKeywords"])

	// Absent fields are kept: changing the notice keeps the keywords and the robot.
	r = h.patch(path, tn.Admin, map[string]any{"basic": map[string]any{"nonWorkingTimeNotice": "Back at 8"}})
	requireStatus(t, r, http.StatusOK)
	r.decode(t, &got)
	assert.Equal(t, "Back at 8", got.Basic["nonWorkingTimeNotice"])
	assert.Equal(t, []any{"agent"}, got.Basic["transferKeywords"])

	// The whole channel is validated again: dropping the keywords while the robot is on is refused.
	e := requireError(t, h.patch(path, tn.Admin, map[string]any{
		"basic": map[string]any{"transferKeywords": []string{}},
	}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "basic.transferKeywords")

	requireError(t, h.patch(path, tn.Admin, map[string]any{"name": "fb_other"}), http.StatusConflict, aicc.ECHANNELNAMETAKEN)
	e = requireError(t, h.patch(path, tn.Admin, map[string]any{"appId": "123"}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "appId", "the app cannot be changed by PATCH")
	requireError(t, h.patch("/v1/channels/ch_missing", tn.Admin, map[string]any{"name": "x"}), http.StatusNotFound, aicc.ENOTFOUND)
}

func TestDeleteChannel(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	c := h.createChannel(tn, channelBody(tn, "fb_main"))
	id := c.Channel.ID
	requireStatus(t, h.post(pagesPath(id), tn.Admin, map[string]any{"pageId": "4242", "tokenSecret": "page-token"}),
		http.StatusCreated)

	r := h.delete("/v1/channels/"+id, tn.Admin)
	requireStatus(t, r, http.StatusAccepted)
	var got channel
	r.decode(t, &got)
	assert.Equal(t, id, got.ID)
	assert.Equal(t, string(aicc.StatusDeleting), got.Status)
	assert.Equal(t, string(aicc.StatusDeleting), got.Onboarding["status"])

	// The deletion workflow was started by its registered name, joinable, with IDs only.
	h.temporal.AssertCalled(t, "NewWithStartWorkflowOperation",
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool {
			return o.ID == workflows.ChannelDeleteWorkflowID(id) && o.TaskQueue == workflows.TaskQueue &&
				o.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		}),
		workflows.ChannelDeleteWorkflowType, workflows.ChannelDeleteInput{TenantID: tn.ID, ChannelID: id})
	h.temporal.AssertCalled(t, "UpdateWithStartWorkflow", mock.Anything, updateWithStart(workflows.UpdateAwaitDeleting))

	// Recorded deleting by the workflow; the Page is the workflow's to disconnect, not the handler's.
	assert.Equal(t, string(aicc.StatusDeleting), h.getChannel(tn, id).Status)
	assert.True(t, h.pageExists(tn, id, "4242"))
	r2 := h.get("/v1/channels?status=deleting", tn.Viewer)
	requireStatus(t, r2, http.StatusOK)
	assert.Contains(t, string(r2.Body), id)

	// A second DELETE joins the deletion and gets the same answer.
	again := h.delete("/v1/channels/"+id, tn.Admin)
	requireStatus(t, again, http.StatusAccepted)
	assert.JSONEq(t, string(r.Body), string(again.Body))

	// Once the workflow has deleted it, the channel is gone.
	require.NoError(t, h.store.DeleteChannel(context.Background(), tn.ID, id))
	requireError(t, h.delete("/v1/channels/"+id, tn.Admin), http.StatusNotFound, aicc.ENOTFOUND)
	requireError(t, h.get("/v1/channels/"+id, tn.Admin), http.StatusNotFound, aicc.ENOTFOUND)

	// The Page is free again for another channel.
	other := h.createChannel(tn, channelBody(tn, "fb_next")).Channel.ID
	requireStatus(t, h.post(pagesPath(other), tn.Admin, map[string]any{"pageId": "4242", "tokenSecret": "page-token"}),
		http.StatusCreated)

	t.Run("temporal unavailable", func(t *testing.T) {
		h := h.on(t)
		h.flows.failNext("UpdateWithStartWorkflow", serviceerror.NewUnavailable("down"))
		e := requireError(t, h.delete("/v1/channels/"+other, tn.Admin), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		assert.NotContains(t, e.Message, "down")
		assert.Equal(t, string(aicc.StatusAwaitingVerification), h.getChannel(tn, other).Status, "nothing changed")
		assert.True(t, h.pageExists(tn, other, "4242"))
	})
	t.Run("viewer", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.delete("/v1/channels/"+other, tn.Viewer), http.StatusForbidden, aicc.EFORBIDDEN)
		requireError(t, h.delete("/v1/channels/ch_missing", tn.Admin), http.StatusNotFound, aicc.ENOTFOUND)
	})
}

// TestDeletingChannel checks that a channel being deleted refuses every change with CHANNEL_DELETING, without
// asking Temporal, while Meta's webhooks for it are still stored.
func TestDeletingChannel(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "5001", "5002")
	require.NoError(t, h.store.SetPageStatus(context.Background(), tn.ID, id, "5002", aicc.PageSubscriptionFailed, aicc.EMETAERROR, h.now()))
	sealed, err := h.store.ChannelSecret(context.Background(), id, aicc.SecretVerifyToken)
	require.NoError(t, err)
	requireStatus(t, h.delete("/v1/channels/"+id, tn.Admin), http.StatusAccepted)

	path := "/v1/channels/" + id
	calls := len(h.temporal.Calls)
	for _, rq := range []request{
		{method: http.MethodPatch, path: path, body: map[string]any{"name": "fb_renamed"}},
		{method: http.MethodPost, path: path + "/verify-token"},
		{method: http.MethodPost, path: path + "/onboarding"},
		{method: http.MethodPost, path: path + "/onboarding/confirm"},
		{method: http.MethodPost, path: path + "/onboarding/cancel"},
		{method: http.MethodPost, path: path + "/pages", body: map[string]any{"pageId": "5003", "tokenSecret": "t"}},
		{method: http.MethodPost, path: path + "/pages/5002/connect"},
		{method: http.MethodDelete, path: path + "/pages/5001"},
		{method: http.MethodPost, path: path + "/pages/5001/messages", body: map[string]any{"recipientId": "42", "text": "hi"}},
	} {
		t.Run(rq.method+" "+strings.Replace(rq.path, id, "{id}", 1), func(t *testing.T) {
			h := h.on(t)
			rq.token = tn.Admin
			e := requireError(t, h.do(rq), http.StatusConflict, aicc.ECHANNELDELETING)
			assert.NotEmpty(t, e.Message)
		})
	}
	assert.Len(t, h.temporal.Calls, calls, "a refused change starts nothing")

	// Nothing changed.
	ch := h.getChannel(tn, id)
	assert.Equal(t, "fb_main", ch.Name)
	assert.Equal(t, string(aicc.StatusDeleting), ch.Status)
	got, err := h.store.ChannelSecret(context.Background(), id, aicc.SecretVerifyToken)
	require.NoError(t, err)
	assert.Equal(t, sealed, got, "the verify token is the same")
	assert.False(t, h.pageExists(tn, id, "5003"))
	assert.True(t, h.pageExists(tn, id, "5001"))
	assert.Equal(t, aicc.PageSubscriptionFailed, h.pageState(tn, id, "5002").Status)
	requireStatus(t, h.get(pagesPath(id), tn.Viewer), http.StatusOK)

	// The onboarding's state is the recorded one, even while the onboarding has not seen its cancellation yet.
	value := mocks.NewEncodedValue(t)
	value.On("Get", mock.Anything).Run(func(args mock.Arguments) {
		*args.Get(0).(*workflows.OnboardingState) = workflows.OnboardingState{
			Status: aicc.StatusAwaitingVerification, Step: workflows.StepAwaitVerification,
		}
	}).Return(nil).Maybe()
	h.temporal.On("QueryWorkflow", mock.Anything, onboardingID(id), "", workflows.QueryState).Return(value, nil).Once()
	r := h.get(path+"/onboarding", tn.Viewer)
	requireStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.Body), `"status":"deleting"`)

	// Meta's webhooks for its Pages are still stored while the deletion disconnects them.
	r, _ = h.sendWebhook(id, metatest.NewPayload(metatest.NewEntry("5001", metatest.Text("5001", "9001", "m_1", "still here?", ts0))))
	requireReceived(t, r)
	assert.Equal(t, 1, h.undelivered())
}
