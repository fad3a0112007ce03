package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/workflows"
)

// rotationOverlap is the overlap window of the end-to-end rotation: short, so that the test sees it end.
const rotationOverlap = 3 * time.Second

// TestSecretRotationEndToEnd follows the seed's two steps after Meta reset the app secret: Edit (the new app
// secret, with an overlap window) then Configuration (the Page's new Token Secret). During the window webhooks
// signed with the old and the new secret are both accepted, and one event sent under both is stored once;
// after it only the new secret is. A token Meta refuses is a 422 and the old token still sends. The audit log
// holds fingerprints only, and no secret reaches an answer, a log line, /metrics or the rotation's history.
func TestSecretRotationEndToEnd(t *testing.T) {
	s, pageToken := newStack(t)
	ctx := context.Background()
	s.uploadCertificate()
	id, verifyToken := s.activeChannel("fb_rotation", pageToken)
	oldSecret := s.appSecret
	oldSender := &metatest.WebhookSender{URL: s.callback(id), AppSecret: oldSecret, Algorithm: aicc.AlgorithmSHA256}
	ts := time.Now().Add(-time.Minute).UnixMilli()
	s.post(oldSender, expectations{}, id, metatest.NewEntry(fakePageID, metatest.Text(fakePageID, fakePSID, "m_r0", "before", ts)))

	// Meta resets the app secret (the App Dashboard's hard cut-over); the administrator edits it.
	newSecret, newToken, refusedToken := canary(t, "app-secret-new"), canary(t, "page-token-new"), canary(t, "page-token-refused")
	s.meta.ResetAppSecret(newSecret)
	rot := s.mustCall(http.StatusOK, http.MethodPut, "/v1/channels/"+id+"/app-secret", map[string]any{
		"appSecret": newSecret, "overlapSeconds": int(rotationOverlap / time.Second),
	})
	changedAt := time.Now()
	if rot["status"] != string(aicc.RotationPending) || rot["pagesMissing"] != 1.0 ||
		!slices.Equal(toStrings(rot["missingPageIds"]), []string{fakePageID}) || rot["previousSecretAcceptedUntil"] == nil {
		t.Fatalf("app-secret change answered %v, want pending with the fake Page missing and a window", rot)
	}
	ch := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id, nil)
	if ch["rotationStatus"] != string(aicc.RotationPending) {
		t.Errorf("channel rotationStatus = %v, want pending", ch["rotationStatus"])
	}

	// During the window both secrets sign; an event sent under both is stored once.
	newSender := &metatest.WebhookSender{URL: s.callback(id), AppSecret: newSecret, Algorithm: aicc.AlgorithmSHA256}
	both := metatest.NewEntry(fakePageID, metatest.Text(fakePageID, fakePSID, "m_r1", "during the window", ts+1))
	previousBefore := s.counter("aicc_webhook_signature_matches_total", `secret="previous"`)
	storedBefore := s.counter("aicc_webhook_events_total", `result="stored"`)
	s.post(oldSender, expectations{}, id, both)
	s.post(newSender, expectations{}, id, both)
	if got := s.counter("aicc_webhook_events_total", `result="stored"`) - storedBefore; got != 1 {
		t.Errorf("events stored from one event signed with both secrets = %v, want 1", got)
	}
	if got := s.counter("aicc_webhook_signature_matches_total", `secret="previous"`) - previousBefore; got != 1 {
		t.Errorf("POSTs matched by the previous secret = %v, want 1", got)
	}

	// The Configuration step: a token Meta refuses is a 422 on tokenSecret, and the Page keeps its token,
	// which still sends (under the new app secret's appsecret_proof).
	s.wantError(http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID, http.MethodPut,
		"/v1/channels/"+id+"/pages/"+fakePageID+"/token-secret", map[string]any{"tokenSecret": refusedToken})
	s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+id+"/pages/"+fakePageID+"/messages", map[string]any{
		"recipientId": fakePSID, "text": "still reachable with the old token",
	})
	if sent := s.meta.Sent(); len(sent) != 1 || sent[0].Text != "still reachable with the old token" {
		t.Errorf("fake Meta received %+v, want the message sent with the old token", sent)
	}
	if r := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id+"/rotation", nil); r["status"] != string(aicc.RotationPending) {
		t.Errorf("rotation after a refused token = %v, want pending", r)
	}

	// Meta issues the Page a new token; with it the rotation is complete, and the Page stays subscribed.
	s.meta.AddPage(fakePageID, "Fake Page", newToken)
	page := s.mustCall(http.StatusOK, http.MethodPut, "/v1/channels/"+id+"/pages/"+fakePageID+"/token-secret",
		map[string]any{"tokenSecret": newToken})
	if page["status"] != string(aicc.PageSubscribed) || page["tokenHealth"] != string(aicc.TokenHealthy) {
		t.Errorf("token change answered %v, want the Page subscribed with a healthy token", page)
	}
	if got := s.meta.Subscription(fakePageID); !slices.Equal(got, aicc.SubscribedFields) {
		t.Errorf("fake Meta's subscription after the token change = %v, want it unchanged", got)
	}
	rot = s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id+"/rotation", nil)
	if rot["status"] != string(aicc.RotationComplete) || !slices.Equal(toStrings(rot["pagesDone"]), []string{fakePageID}) {
		t.Errorf("rotation after the new token = %v, want complete with the Page done", rot)
	}
	s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+id+"/pages/"+fakePageID+"/messages", map[string]any{
		"recipientId": fakePSID, "text": "sent with the new token",
	})

	// At the window's end the old secret is retired: its signatures are refused, the new one's accepted.
	time.Sleep(time.Until(changedAt.Add(rotationOverlap)))
	s.waitWorkflowClosed(ctx, workflows.SecretRotationWorkflowID(id))
	late := metatest.NewEntry(fakePageID, metatest.Text(fakePageID, fakePSID, "m_r2", "after the window", ts+2))
	if _, status, err := oldSender.SendPayload(ctx, metatest.NewPayload(late)); err != nil || status != http.StatusForbidden {
		t.Errorf("POST signed with the old secret after the window = %d %v, want 403", status, err)
	}
	s.post(newSender, expectations{}, id, late)
	rot = s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id+"/rotation", nil)
	if rot["status"] != string(aicc.RotationComplete) || rot["previousSecretAcceptedUntil"] != nil {
		t.Errorf("rotation after the window = %v, want complete with no previous secret accepted", rot)
	}
	// A gauge: read from the database on the API's interval, not at scrape time.
	eventually(t, 10*time.Second, "aicc_secret_rotations{status=complete} = 1", func() bool {
		return s.counter("aicc_secret_rotations", `status="complete"`) == 1
	})
	s.recordHistory(ctx, workflows.SecretRotationWorkflowID(id), "secret-rotation-complete")

	// The audit log tells who changed what, with fingerprints.
	audit := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id+"/audit", nil)
	var actions []string
	for _, it := range audit["items"].([]any) {
		e := it.(map[string]any)
		actions = append(actions, e["action"].(string))
		if d := e["details"].(map[string]any); e["action"] == string(aicc.AuditAppSecretChange) &&
			(d[aicc.DetailAppSecretFingerprint] == nil || d[aicc.DetailPreviousFingerprint] == nil) {
			t.Errorf("app secret entry %v, want both fingerprints", e)
		}
	}
	for _, want := range []aicc.AuditAction{aicc.AuditAppSecretChange, aicc.AuditPageTokenSecretChange} {
		if !slices.Contains(actions, string(want)) {
			t.Errorf("audit actions = %v, want %s", actions, want)
		}
	}
	metrics := s.metricsText()
	for name, secret := range map[string]string{"old app secret": oldSecret, "new app secret": newSecret,
		"new page token": newToken, "refused page token": refusedToken, "old page token": pageToken} {
		if strings.Contains(metrics, secret) {
			t.Errorf("the %s appears in /metrics", name)
		}
	}
	s.checkNoSecrets(ctx, map[string]string{
		"old app secret": oldSecret, "new app secret": newSecret, "old page token": pageToken,
		"new page token": newToken, "refused page token": refusedToken, "verify token": verifyToken,
	}, map[string]string{workflows.SecretRotationWorkflowID(id): fakePageID})
}

// metricsText returns the API's whole /metrics page.
func (s *stack) metricsText() string {
	s.t.Helper()
	_, _, raw := s.call(http.MethodGet, "/metrics", nil)
	return string(raw)
}

// toStrings returns a JSON array of strings as a slice, nil for anything else.
func toStrings(v any) []string {
	items, _ := v.([]any)
	var out []string
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
