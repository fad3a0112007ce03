package main

// The end-to-end test of onboarding: a real Temporal server (temporaltest, in memory), the real worker, the
// real API handler and a SQLite store, wired as aicc dev wires them. Every test that links the Temporal
// server lives in this package, so that only one ~200 MB test binary is built.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// stack is one running aicc: Temporal, worker and API, with their log output captured.
type stack struct {
	t        *testing.T
	temporal client.Client
	url      string // the API's base URL
	token    string // a tenant-admin bearer token
	tenantID string
	logs     *syncBuffer
}

// publicURL is what callback URLs start with; Meta would reach the API there.
const publicURL = "https://aicc.example.test"

// newStack starts a Temporal test server with the version check off (no traffic leaves the machine), a
// worker, and the API over a fresh SQLite store, and creates a tenant with a tenant-admin token.
func newStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ts := temporaltest.NewServer(temporaltest.WithT(t),
		// The last WithDynamicConfigClient wins, so devDynamicConfig repeats temporaltest's own key.
		temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(devDynamicConfig())))
	reg := newRegistry()
	metricsHandler, closeMetrics := temporalMetrics(reg, logger)
	t.Cleanup(func() { _ = closeMetrics.Close() })
	tc := ts.NewClientWithOptions(client.Options{
		Logger: sdklog.NewStructuredLogger(logger), MetricsHandler: metricsHandler,
	})
	if err := worker.RegisterSearchAttributes(ctx, tc, ts.GetDefaultNamespace()); err != nil {
		t.Fatalf("RegisterSearchAttributes: %v", err)
	}

	store := dbtest.SQLite(t)
	w := worker.New(tc, &activities.Activities{Channels: store, Now: time.Now}, sdkworker.Options{})
	if err := w.Start(); err != nil {
		t.Fatalf("worker start: %v", err)
	}
	t.Cleanup(w.Stop)

	keyring, err := aicc.NewKeyring(aicc.RandomBytes(aicc.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	srv := &api.Server{
		Store: store, Keyring: keyring, Temporal: tc, Logger: logger, Metrics: reg,
		PublicURL: publicURL, VerificationTTL: time.Hour,
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)

	now := time.Now().UTC()
	tenant := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: "e2e", CreatedAt: now}
	if err := store.CreateTenant(ctx, tenant); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	token, rec := aicc.NewAPIToken(tenant.ID, aicc.RoleTenantAdmin, "e2e", now)
	if err := store.CreateToken(ctx, rec); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return &stack{t: t, temporal: tc, url: hs.URL, token: token, tenantID: tenant.ID, logs: logs}
}

// call sends a request to the API as the tenant admin and returns the status and the decoded JSON body (nil
// when the body is not JSON).
func (s *stack) call(method, path string, body any) (int, map[string]any, []byte) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, raw
}

// mustCall is call that fails the test unless the status is want.
func (s *stack) mustCall(want int, method, path string, body any) map[string]any {
	s.t.Helper()
	got, m, raw := s.call(method, path, body)
	if got != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, got, raw, want)
	}
	return m
}

// wantError checks an error answer's status and code.
func (s *stack) wantError(wantStatus int, wantCode, method, path string, body any) {
	s.t.Helper()
	got, m, raw := s.call(method, path, body)
	e, _ := m["error"].(map[string]any)
	if got != wantStatus || e == nil || e["code"] != wantCode {
		s.t.Fatalf("%s %s = %d %s, want %d with code %s", method, path, got, raw, wantStatus, wantCode)
	}
}

// verify sends Meta's verification request for a channel and returns the status and body.
func (s *stack) verify(channelID, token, challenge string) (int, string) {
	s.t.Helper()
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {token}, "hub.challenge": {challenge}}
	resp, err := http.Get(s.url + "/webhooks/facebook/" + channelID + "?" + q.Encode())
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitStatus polls the channel until its status is want, for at most ten seconds.
func (s *stack) waitStatus(channelID string, want aicc.ChannelStatus) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last any
	for time.Now().Before(deadline) {
		m := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+channelID, nil)
		if last = m["status"]; last == string(want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("channel %s status = %v after 10s, want %s", channelID, last, want)
}

func canary(t *testing.T, suffix string) string {
	t.Helper()
	return "CANARY-e2e-" + hex.EncodeToString(aicc.RandomBytes(8)) + suffix
}

func TestOnboardingEndToEnd(t *testing.T) {
	start := time.Now()
	s := newStack(t)
	t.Logf("stack up in %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	ou := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/ous", map[string]any{"name": "Sales"})
	queue := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/skill-queues", map[string]any{
		"name": "Facebook", "accessCode": "1001", "ouId": ou["id"],
	})
	basic := map[string]any{"ouId": ou["id"], "skillQueueId": queue["id"]}

	appSecret := canary(t, "")
	created := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels", map[string]any{
		"name": "fb_main", "appId": "100200300400", "appSecret": appSecret, "algorithm": "sha256", "basic": basic,
	})
	ch, _ := created["channel"].(map[string]any)
	setup, _ := created["metaSetup"].(map[string]any)
	if ch == nil || setup == nil {
		t.Fatalf("create channel answered %v, want channel and metaSetup", created)
	}
	id, _ := ch["id"].(string)
	verifyToken, _ := setup["verifyToken"].(string)
	wantCallback := publicURL + "/webhooks/facebook/" + id
	if setup["callbackUrl"] != wantCallback || ch["callbackUrl"] != wantCallback {
		t.Errorf("callback URLs = %v, %v, want %s", setup["callbackUrl"], ch["callbackUrl"], wantCallback)
	}
	if verifyToken == "" || ch["status"] != string(aicc.StatusAwaitingVerification) {
		t.Fatalf("verify token %q, status %v; want a token and awaiting_verification", verifyToken, ch["status"])
	}
	if strings.Contains(mustJSON(t, created), appSecret) {
		t.Errorf("the create answer shows the app secret")
	}

	// The workflow runs, with the search attributes operators filter on in the Web UI.
	wfID := workflows.OnboardingWorkflowID(id)
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatalf("DescribeWorkflowExecution: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("workflow status = %v, want running", st)
	}
	fields := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	for name, want := range map[string]string{"TenantId": s.tenantID, "ChannelId": id} {
		var got string
		if p := fields[name]; p == nil {
			t.Errorf("search attribute %s missing", name)
		} else if err := converter.GetDefaultDataConverter().FromPayload(p, &got); err != nil || got != want {
			t.Errorf("search attribute %s = %q (%v), want %q", name, got, err, want)
		}
	}

	// Operators find it in the Web UI by tenant and channel (visibility is eventually consistent).
	query := fmt.Sprintf("TenantId = '%s' AND ChannelId = '%s'", s.tenantID, id)
	eventually(t, 10*time.Second, "visibility query "+query, func() bool {
		resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.GetExecutions()) == 1 && resp.GetExecutions()[0].GetExecution().GetWorkflowId() == wfID
	})

	// Meta's verification: a wrong token is refused without detail, the right one echoes the challenge.
	if code, body := s.verify(id, "wrong-"+verifyToken, "1158201444"); code != http.StatusForbidden || strings.Contains(body, "1158201444") {
		t.Errorf("verification with a wrong token = %d %q, want 403 without the challenge", code, body)
	}
	if code, body := s.verify(id, verifyToken, "1158201444"); code != http.StatusOK || body != "1158201444" {
		t.Fatalf("verification = %d %q, want 200 and the challenge", code, body)
	}
	s.waitStatus(id, aicc.StatusVerified)

	active := s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+id+"/onboarding/confirm", nil)
	if active["status"] != string(aicc.StatusActive) {
		t.Errorf("after confirm status = %v, want active (Successful access)", active["status"])
	}
	s.waitWorkflowClosed(ctx, wfID)

	// A second channel: confirm before Meta verified is a conflict, so is a second start; cancel ends it.
	appSecret2 := canary(t, "-2")
	created2 := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels", map[string]any{
		"name": "fb_second", "appId": "100200300401", "appSecret": appSecret2, "basic": basic,
	})
	id2 := created2["channel"].(map[string]any)["id"].(string)
	verifyToken2 := created2["metaSetup"].(map[string]any)["verifyToken"].(string)
	s.wantError(http.StatusConflict, aicc.ENOTVERIFIED, http.MethodPost, "/v1/channels/"+id2+"/onboarding/confirm", nil)
	s.wantError(http.StatusConflict, aicc.EONBOARDINGSTARTED, http.MethodPost, "/v1/channels/"+id2+"/onboarding", nil)
	cancelled := s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+id2+"/onboarding/cancel", nil)
	if cancelled["status"] != string(aicc.StatusCancelled) {
		t.Errorf("after cancel status = %v, want cancelled", cancelled["status"])
	}
	s.waitWorkflowClosed(ctx, workflows.OnboardingWorkflowID(id2))

	// No secret reaches Temporal's history or the logs: not the app secrets, not the verify tokens.
	secrets := map[string]string{
		"app secret": appSecret, "app secret 2": appSecret2, "verify token": verifyToken, "verify token 2": verifyToken2,
	}
	for _, c := range []struct{ wid, channelID string }{{wfID, id}, {workflows.OnboardingWorkflowID(id2), id2}} {
		wid := c.wid
		events := s.history(ctx, wid)
		// The positive control: the input's channel ID is found, so the search can find a secret too.
		if len(events) < 5 || !strings.Contains(events.String(), c.channelID) {
			t.Errorf("history of %s has %d events without the channel ID, want the whole onboarding", wid, len(events))
		}
		for name, secret := range secrets {
			if strings.Contains(events.String(), secret) {
				t.Errorf("the %s appears in the history of %s", name, wid)
			}
		}
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "channel created") {
		t.Errorf("the API's logs were not captured:\n%s", logs)
	}
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
	t.Logf("walk done in %s", time.Since(start).Round(time.Millisecond))
}

// history is a workflow's whole history, as protobuf binary and as JSON, for searching.
type history []string

func (h history) String() string { return strings.Join(h, "\n") }

func (s *stack) history(ctx context.Context, workflowID string) history {
	s.t.Helper()
	var h history
	it := s.temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatalf("history of %s: %v", workflowID, err)
		}
		// Payloads are bytes: the binary form holds them verbatim, the JSON form base64-encoded.
		bin, err := proto.Marshal(ev)
		if err != nil {
			s.t.Fatal(err)
		}
		js, err := protojson.Marshal(ev)
		if err != nil {
			s.t.Fatal(err)
		}
		plain, _ := json.Marshal(ev)
		h = append(h, string(bin), string(js), string(plain))
	}
	return h
}

// waitWorkflowClosed waits for the workflow to complete, for at most ten seconds.
func (s *stack) waitWorkflowClosed(ctx context.Context, workflowID string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var res workflows.OnboardingResult
	if err := s.temporal.GetWorkflow(ctx, workflowID, "").Get(ctx, &res); err != nil {
		s.t.Fatalf("workflow %s: %v", workflowID, err)
	}
}

// eventually fails the test unless cond becomes true within d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not true after %s", what, d)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of the API and the worker.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
