package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// The second fake Page of the deletion tests.
const secondPageID = "1000000002"

// channelWithTwoPages makes a verified channel of the fake app with two subscribed Pages and returns its ID and
// the second Page's token, a canary.
func (s *stack) channelWithTwoPages(name, pageToken string) (string, string) {
	s.t.Helper()
	secondToken := canary(s.t, "-second-page-token")
	s.meta.AddPage(secondPageID, "Second Page", secondToken)
	s.uploadCertificate()
	id, verifyToken, _ := s.createChannel(name)
	if code, _ := s.verify(id, verifyToken, "7"); code != http.StatusOK {
		s.t.Fatalf("verification = %d, want 200", code)
	}
	s.waitStatus(id, aicc.StatusVerified)
	for pageID, token := range map[string]string{fakePageID: pageToken, secondPageID: secondToken} {
		page := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels/"+id+"/pages", map[string]any{
			"pageId": pageID, "tokenSecret": token,
		})
		if page["status"] != string(aicc.PageSubscribed) || len(s.meta.Subscription(pageID)) == 0 {
			s.t.Fatalf("add page %s answered %v, want subscribed", pageID, page)
		}
	}
	return id, secondToken
}

// waitGone polls the channel until it answers 404, for at most limit.
func (s *stack) waitGone(channelID string, limit time.Duration) {
	s.t.Helper()
	eventually(s.t, limit, "channel "+channelID+" deleted", func() bool {
		got, _, _ := s.call(http.MethodGet, "/v1/channels/"+channelID, nil)
		return got == http.StatusNotFound
	})
}

// restartWorker stops the stack's worker, waits for pause, and starts a new one, as a redeployment does.
func (s *stack) restartWorker(pause time.Duration) {
	s.t.Helper()
	s.worker.Stop()
	time.Sleep(pause)
	w := worker.New(s.temporal, s.activities, sdkworker.Options{})
	if err := w.Start(); err != nil {
		s.t.Fatalf("worker restart: %v", err)
	}
	s.t.Cleanup(w.Stop)
	s.worker = w
}

// TestChannelDeleteEndToEnd deletes a channel with two subscribed Pages while Meta fails the first
// unsubscribe: the answer is deleting at once, a second DELETE gets the same, nothing else may change the
// channel meanwhile, and the deletion ends with both Pages unsubscribed at Meta and the channel gone.
func TestChannelDeleteEndToEnd(t *testing.T) {
	s, pageToken := newStack(t)
	ctx := context.Background()
	id, secondToken := s.channelWithTwoPages("fb_delete", pageToken)

	// The Graph client tries a failing call three times; six failures make two attempts of the first
	// unsubscribe fail, which the workflow retries after one and then two seconds.
	s.meta.FailNext(6, metatest.FailServerError)
	first := s.mustCall(http.StatusAccepted, http.MethodDelete, "/v1/channels/"+id, nil)
	if first["status"] != string(aicc.StatusDeleting) || first["id"] != id {
		t.Fatalf("DELETE answered %v, want the channel deleting", first)
	}
	second := s.mustCall(http.StatusAccepted, http.MethodDelete, "/v1/channels/"+id, nil)
	if second["status"] != string(aicc.StatusDeleting) {
		t.Errorf("second DELETE answered %v, want the channel deleting", second)
	}
	s.wantError(http.StatusConflict, aicc.ECHANNELDELETING, http.MethodPatch, "/v1/channels/"+id, map[string]any{"name": "renamed"})
	if got := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id, nil); got["status"] != string(aicc.StatusDeleting) {
		t.Errorf("during the deletion the channel is %v, want deleting", got["status"])
	}

	s.waitGone(id, 20*time.Second)
	for _, pageID := range []string{fakePageID, secondPageID} {
		if got := s.meta.Subscription(pageID); len(got) != 0 {
			t.Errorf("fake Meta still has the app subscribed to Page %s: %v", pageID, got)
		}
	}
	s.waitWorkflowClosed(ctx, workflows.ChannelDeleteWorkflowID(id))
	s.recordHistory(ctx, workflows.ChannelDeleteWorkflowID(id), "channel-delete-two-pages")
	s.checkNoSecrets(ctx, map[string]string{
		"app secret": s.appSecret, "page token": pageToken, "second page token": secondToken,
	}, map[string]string{workflows.ChannelDeleteWorkflowID(id): secondPageID})
	// The deletion cancelled the onboarding, which was waiting for the administrator's confirmation.
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, workflows.OnboardingWorkflowID(id), "")
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("onboarding workflow status = %v, want canceled", st)
	}
	// The Page IDs are free again: another channel may connect them.
	if _, err := s.store.GetPage(ctx, s.tenantID, id, fakePageID); aicc.ErrorCode(err) != aicc.ENOTFOUND {
		t.Errorf("Page of the deleted channel: %v, want NOT_FOUND", err)
	}
}

// TestChannelDeleteSurvivesWorkerRestart stops the worker while the deletion waits out a Meta outage and
// starts a new one: the deletion goes on where it was and completes.
func TestChannelDeleteSurvivesWorkerRestart(t *testing.T) {
	s, pageToken := newStack(t)
	id, _ := s.channelWithTwoPages("fb_restart", pageToken)

	s.meta.FailNext(9, metatest.FailServerError)
	s.mustCall(http.StatusAccepted, http.MethodDelete, "/v1/channels/"+id, nil)
	s.restartWorker(2 * time.Second)
	if got := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id, nil); got["status"] != string(aicc.StatusDeleting) {
		t.Fatalf("after the worker restart the channel is %v, want still deleting", got["status"])
	}

	s.waitGone(id, 30*time.Second)
	for _, pageID := range []string{fakePageID, secondPageID} {
		if got := s.meta.Subscription(pageID); len(got) != 0 {
			t.Errorf("fake Meta still has the app subscribed to Page %s: %v", pageID, got)
		}
	}
}
