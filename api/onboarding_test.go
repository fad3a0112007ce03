package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

func updateOptions(channelID, name string) any {
	return mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool {
		return o.WorkflowID == onboardingID(channelID) && o.UpdateName == name &&
			o.WaitForStage == client.WorkflowUpdateStageCompleted
	})
}

func TestConfirmOnboarding(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	path := "/v1/channels/" + id + "/onboarding/confirm"

	t.Run("not verified", func(t *testing.T) {
		h := h.on(t)
		rejected := temporal.NewNonRetryableApplicationError("Meta has not verified the callback URL yet.", aicc.ENOTVERIFIED, nil)
		h.temporal.On("UpdateWorkflow", mock.Anything, updateOptions(id, workflows.UpdateConfirm)).
			Return(updateHandle(t, rejected), nil).Once()
		e := requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.ENOTVERIFIED)
		assert.Equal(t, "Meta has not verified the callback URL yet.", e.Message)
	})
	t.Run("no subscribed page", func(t *testing.T) {
		h := h.on(t)
		rejected := temporal.NewNonRetryableApplicationError("No Page of the channel is subscribed.", aicc.ENOSUBSCRIBEDPAGE, nil)
		h.temporal.On("UpdateWorkflow", mock.Anything, updateOptions(id, workflows.UpdateConfirm)).
			Return(updateHandle(t, rejected), nil).Once()
		e := requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.ENOSUBSCRIBEDPAGE)
		assert.Equal(t, "No Page of the channel is subscribed.", e.Message)
	})
	t.Run("finished", func(t *testing.T) {
		h := h.on(t)
		h.temporal.On("UpdateWorkflow", mock.Anything, updateOptions(id, workflows.UpdateConfirm)).
			Return(nil, serviceerror.NewNotFound("workflow not found")).Once()
		requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.EONBOARDINGFINISHED)
	})
	t.Run("no answer", func(t *testing.T) {
		// The SDK waits for the Update's outcome as long as its context lets it: the API's wait bounds it.
		h := h.on(t)
		h.temporal.On("UpdateWorkflow", mock.Anything, updateOptions(id, workflows.UpdateConfirm)).
			Run(func(args mock.Arguments) {
				_, bounded := args.Get(0).(context.Context).Deadline()
				assert.True(t, bounded, "the Update is sent with a deadline")
			}).
			Return(nil, context.DeadlineExceeded).Once()
		requireError(t, h.post(path, tn.Admin, nil), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	})
	t.Run("confirmed", func(t *testing.T) {
		h := h.on(t)
		h.temporal.On("UpdateWorkflow", mock.Anything, updateOptions(id, workflows.UpdateConfirm)).
			Run(func(mock.Arguments) {
				// The workflow records active before the update completes.
				require.NoError(t, h.store.SetOnboarding(context.Background(), id,
					aicc.Onboarding{Status: aicc.StatusActive, Step: workflows.StepDone, ActivatedAt: h.now(), UpdatedAt: h.now()}))
			}).
			Return(updateHandle(t, nil), nil).Once()
		var r *response
		e := h.audited("/v1/channels/"+id+"/audit", tn.Viewer, func() { r = h.post(path, tn.Admin, nil) })
		requireStatus(t, r, http.StatusOK)
		assert.Equal(t, "channel.onboarding.confirm", e.Action)
		var ch channel
		r.decode(t, &ch)
		assert.Equal(t, string(aicc.StatusActive), ch.Status)
		assert.NotEmpty(t, ch.Onboarding["activatedAt"])
	})
	t.Run("viewer", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.post(path, tn.Viewer, nil), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}

func TestCancelOnboarding(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	path := "/v1/channels/" + id + "/onboarding/cancel"

	channelLog := "/v1/channels/" + id + "/audit"

	// The cancellation the workflow accepted is in the audit log, with who asked; a refused one is not.
	h.temporal.On("UpdateWorkflow", mock.Anything, updateOptions(id, workflows.UpdateCancel)).
		Return(updateHandle(t, nil), nil).Once()
	e := h.audited(channelLog, tn.Viewer, func() { requireStatus(t, h.post(path, tn.Admin, nil), http.StatusOK) })
	assert.Equal(t, "channel.onboarding.cancel", e.Action)
	requireActor(t, e, h.tokenID(tn.Admin), "tenant-admin")
	assert.Equal(t, map[string]string{"name": "fb_main"}, e.Details)

	over := temporal.NewNonRetryableApplicationError("The onboarding is over.", aicc.EONBOARDINGFINISHED, nil)
	h.temporal.On("UpdateWorkflow", mock.Anything, updateOptions(id, workflows.UpdateCancel)).
		Return(updateHandle(t, over), nil).Once()
	h.temporal.On("UpdateWorkflow", mock.Anything, updateOptions(id, workflows.UpdateCancel)).
		Return(nil, serviceerror.NewUnavailable("no route to host")).Once()
	h.notAudited(channelLog, tn.Viewer, func() {
		requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.EONBOARDINGFINISHED)
		requireError(t, h.post(path, tn.Admin, nil), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	})
}

func TestStartOnboarding(t *testing.T) {
	h := newHarness(t, withoutCertificate())
	tn := h.newTenant("A")
	c := h.createChannel(tn, channelBody(tn, "fb_main"))
	id := c.Channel.ID
	path := "/v1/channels/" + id + "/onboarding"
	ctx := context.Background()
	setStatus := func(s aicc.ChannelStatus) {
		t.Helper()
		require.NoError(t, h.store.SetOnboarding(ctx, id, aicc.Onboarding{Status: s, Step: workflows.StepDone, UpdatedAt: h.now()}))
	}
	recorded := func() aicc.Onboarding {
		t.Helper()
		ch, err := h.store.GetChannel(ctx, tn.ID, id)
		require.NoError(t, err)
		return ch.Onboarding
	}
	sys := h.token("", aicc.RoleSysadmin)

	// The onboarding failed at its first step for want of a certificate; a restart before the sysadmin
	// uploads one fails the same way, with that code.
	assert.Equal(t, string(aicc.StatusFailed), c.Channel.Status)
	assert.Equal(t, aicc.ECERTMISSING, c.Channel.Onboarding["errorCode"])
	channelLog := "/v1/channels/" + id + "/audit"
	var e apiError
	h.notAudited(channelLog, tn.Viewer, func() {
		e = requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.ECERTMISSING)
	})
	assert.Contains(t, e.Message, "upload")
	assert.Equal(t, aicc.StatusFailed, recorded().Status)
	assert.Equal(t, aicc.ECERTMISSING, recorded().ErrorCode)

	// Once a certificate is uploaded, the failed onboarding restarts and the error code is gone.
	requireStatus(t, h.post("/v1/system/certificates", sys,
		map[string]any{"pem": selfSigned(t, h.now().Add(-time.Hour), h.now().Add(30*24*time.Hour))}), http.StatusCreated)
	var r *response
	started := h.audited(channelLog, tn.Viewer, func() { r = h.post(path, tn.Admin, nil) })
	requireStatus(t, r, http.StatusAccepted)
	assert.Equal(t, "channel.onboarding.start", started.Action)
	var restarted channel
	r.decode(t, &restarted)
	assert.Equal(t, string(aicc.StatusAwaitingVerification), restarted.Status)
	assert.Equal(t, workflows.StepAwaitVerification, restarted.Onboarding["step"])
	assert.NotContains(t, restarted.Onboarding, "errorCode")
	h.temporal.AssertCalled(t, "NewWithStartWorkflowOperation",
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == onboardingID(id) }),
		workflows.OnboardingWorkflowType,
		workflows.OnboardingInput{TenantID: tn.ID, ChannelID: id, VerificationTTL: workflows.DefaultVerificationTTL})

	t.Run("active", func(t *testing.T) {
		h := h.on(t)
		setStatus(aicc.StatusActive)
		calls := len(h.temporal.Calls)
		requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.EONBOARDINGFINISHED)
		assert.Len(t, h.temporal.Calls, calls, "nothing is started")
	})
	for _, running := range []aicc.ChannelStatus{aicc.StatusAwaitingVerification, aicc.StatusVerified} {
		t.Run("running/"+string(running), func(t *testing.T) {
			h := h.on(t)
			setStatus(running)
			requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.EONBOARDINGSTARTED)
			assert.Equal(t, running, recorded().Status, "a refused start changes nothing")
		})
	}
	for _, over := range []aicc.ChannelStatus{aicc.StatusVerificationExpired, aicc.StatusCancelled, aicc.StatusFailed, aicc.StatusPending} {
		t.Run("again after "+string(over), func(t *testing.T) {
			h := h.on(t)
			setStatus(over)
			r := h.post(path, tn.Admin, nil)
			requireStatus(t, r, http.StatusAccepted)
			var ch channel
			r.decode(t, &ch)
			assert.Equal(t, string(aicc.StatusAwaitingVerification), ch.Status, "the state the workflow recorded")
			assert.Equal(t, workflows.StepAwaitVerification, ch.Onboarding["step"])
			assert.Equal(t, aicc.StatusAwaitingVerification, recorded().Status)
		})
	}
	t.Run("temporal unavailable", func(t *testing.T) {
		h := h.on(t)
		setStatus(aicc.StatusVerificationExpired)
		h.flows.failNext("UpdateWithStartWorkflow", serviceerror.NewUnavailable("no route to host"))
		e := requireError(t, h.post(path, tn.Admin, nil), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		assert.NotContains(t, e.Message, "no route")
		assert.Equal(t, aicc.StatusVerificationExpired, recorded().Status, "no handler write")
	})
	t.Run("no answer in time", func(t *testing.T) {
		h := h.on(t)
		setStatus(aicc.StatusCancelled)
		h.flows.failNext("UpdateWithStartWorkflow", client.NewWorkflowUpdateServiceTimeoutOrCanceledError(context.DeadlineExceeded))
		requireError(t, h.post(path, tn.Admin, nil), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
		assert.Equal(t, aicc.StatusCancelled, recorded().Status, "no handler write")
	})
	t.Run("certificate expired", func(t *testing.T) {
		h := h.on(t)
		setStatus(aicc.StatusFailed)
		clock := h.now()
		defer func() { *h.clock = clock }()
		*h.clock = h.now().Add(31 * 24 * time.Hour)
		e := requireError(t, h.post(path, tn.Admin, nil), http.StatusConflict, aicc.ECERTEXPIRED)
		assert.Contains(t, e.Message, "expired")
		assert.Equal(t, aicc.ECERTEXPIRED, recorded().ErrorCode, "recorded by the workflow")
	})
	t.Run("viewer", func(t *testing.T) {
		h := h.on(t)
		requireError(t, h.post(path, tn.Viewer, nil), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}

func TestGetOnboarding(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	path := "/v1/channels/" + id + "/onboarding"

	t.Run("live", func(t *testing.T) {
		h := h.on(t)
		state := workflows.OnboardingState{
			Status: aicc.StatusVerified, Step: workflows.StepAwaitConfirmation,
			StartedAt: h.now(), ExpiresAt: h.now().Add(7 * 24 * time.Hour), VerifiedAt: h.now().Add(time.Hour),
		}
		value := mocks.NewEncodedValue(t)
		value.On("Get", mock.Anything).Run(func(args mock.Arguments) {
			*args.Get(0).(*workflows.OnboardingState) = state
		}).Return(nil).Once()
		h.temporal.On("QueryWorkflow", mock.Anything, onboardingID(id), "", workflows.QueryState).Return(value, nil).Once()

		r := h.get(path, tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		var got map[string]any
		r.decode(t, &got)
		assert.Equal(t, map[string]any{
			"status": "verified", "step": workflows.StepAwaitConfirmation,
			"startedAt": "2026-03-02T10:00:00Z", "expiresAt": "2026-03-09T10:00:00Z", "verifiedAt": "2026-03-02T11:00:00Z",
		}, got)
	})
	t.Run("workflow gone", func(t *testing.T) {
		h := h.on(t)
		h.temporal.On("QueryWorkflow", mock.Anything, onboardingID(id), "", workflows.QueryState).
			Return(nil, serviceerror.NewNotFound("not found")).Once()
		r := h.get(path, tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		var got map[string]any
		r.decode(t, &got)
		assert.Equal(t, "awaiting_verification", got["status"])
		assert.Equal(t, "2026-03-02T10:00:00Z", got["updatedAt"])
	})
}
