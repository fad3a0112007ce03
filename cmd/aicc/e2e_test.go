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
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/proxy"
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
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/internal/codec"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// stack is one running aicc: Temporal, worker and API, with their log output captured, calling a fake Meta
// over TLS whose certificate no system trusts. Tests start dispatchers on it as they need them.
type stack struct {
	t          *testing.T
	temporal   client.Client
	worker     sdkworker.Worker // the running worker; restartWorker replaces it
	activities *activities.Activities
	store      *db.Store
	exports    *export.Storage // export files, in a temporary directory
	keyring    *aicc.Keyring
	logger     *slog.Logger
	url        string // the admin listener's base URL: /v1, /metrics
	webhooks   string // the public listener's base URL: Meta's webhooks
	token      string // a tenant-admin bearer token
	sysToken   string // a sysadmin bearer token
	tenantID   string
	logs       *syncBuffer
	codec      *codec.Codec // encrypts the payloads of every workflow, as aicc api and worker do
	meta       *metatest.GraphServer
	// appSecret is the fake Meta app's secret, canary-shaped: channels of this app must be created with it.
	appSecret string

	mu        sync.Mutex
	responses []string // every API answer, for the canary checks
	basic     map[string]any
}

// publicURL is what callback URLs start with; Meta would reach the API there.
const publicURL = "https://aicc.example.test"

// historyCodecKey is the master key the stack's Temporal payloads are encrypted under (every other secret of the
// stack is sealed under a random key). It is fixed so that the histories the tests record replay:
// workflows/replay_test.go decodes them with the same key.
var historyCodecKey = bytes.Repeat([]byte{0xa1}, aicc.MasterKeySize)

// The fake Page of the end-to-end tests, and a person to message.
const (
	fakePageID = "1000000001"
	fakePSID   = "7001000000000001"
)

// newStack starts a Temporal test server with the version check off (no traffic leaves the machine), a
// worker, the API (webhooks included) over a fresh SQLite store and a TLS fake Meta with one Page, wired as
// aicc dev wires them but for the dispatcher, which tests start with startDispatcher; and creates a tenant
// with a tenant-admin token and a sysadmin token. No certificate is uploaded yet. It returns the stack and the
// fake Page's token, a canary.
func newStack(t *testing.T) (*stack, string) {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	appSecret, pageToken := canary(t, "-app-secret"), canary(t, "-page-token")
	fake := metatest.NewTLSGraphServer(t, appSecret)
	fake.AddPage(fakePageID, "Fake Page", pageToken)
	fake.AcceptUnknownApps = true // the tests' other apps are their own; the fake's own app checks its secret

	ts := temporaltest.NewServer(temporaltest.WithT(t),
		// The last WithDynamicConfigClient wins, so devDynamicConfig repeats temporaltest's own key.
		temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(devDynamicConfig())))
	reg := newRegistry()
	metricsHandler, closeMetrics := temporalMetrics(reg, logger)
	t.Cleanup(func() { _ = closeMetrics.Close() })
	pc, err := codec.New(historyCodecKey)
	if err != nil {
		t.Fatal(err)
	}
	tc := ts.NewClientWithOptions(client.Options{
		Logger: sdklog.NewStructuredLogger(logger), MetricsHandler: metricsHandler,
		DataConverter: pc.DataConverter(), FailureConverter: pc.FailureConverter(),
	})
	if err := worker.RegisterSearchAttributes(ctx, tc, ts.GetDefaultNamespace()); err != nil {
		t.Fatalf("RegisterSearchAttributes: %v", err)
	}

	store := dbtest.SQLite(t)
	keyring, err := aicc.NewKeyring(aicc.RandomBytes(aicc.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromEnv(env(map[string]string{"AICC_GRAPH_BASE_URL": fake.URL, "AICC_GRAPH_TIMEOUT": "5s"}))
	if err != nil {
		t.Fatal(err)
	}
	graph := cfg.GraphProvider(store)
	exports, err := export.OpenStorage(ctx, "file://"+filepath.ToSlash(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exports.Close() })
	acts := newActivities(store, keyring, graph, exports, reg)
	if acts.Robots, err = newRobots(cfg, true); err != nil { // the built-in robot, as aicc dev has it
		t.Fatal(err)
	}
	w := worker.New(tc, acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		t.Fatalf("worker start: %v", err)
	}
	t.Cleanup(w.Stop)

	srv := &api.Server{
		Store: store, Keyring: keyring, Temporal: tc, Logger: logger, Metrics: reg,
		Webhooks: meta.Codec{}, PublicURL: publicURL, VerificationTTL: time.Hour, ExportFiles: exports,
		GaugeInterval: 50 * time.Millisecond, // the gauges of /metrics follow the tests closely
	}
	gaugesCtx, stopGauges := context.WithCancel(ctx)
	gaugesDone := make(chan struct{})
	go func() { defer close(gaugesDone); srv.RunGauges(gaugesCtx) }()
	t.Cleanup(func() { stopGauges(); <-gaugesDone })
	hs := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(hs.Close)
	public := httptest.NewServer(srv.PublicHandler())
	t.Cleanup(public.Close)

	now := time.Now().UTC()
	tenant := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: "e2e", CreatedAt: now}
	if err := store.CreateTenant(ctx, tenant); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	token, rec := aicc.NewAPIToken(tenant.ID, aicc.RoleTenantAdmin, "e2e", now)
	if err := store.CreateToken(ctx, rec); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	sysToken, sysRec := aicc.NewAPIToken("", aicc.RoleSysadmin, "e2e sysadmin", now)
	if err := store.CreateToken(ctx, sysRec); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return &stack{
		t: t, temporal: tc, worker: w, activities: acts, store: store, exports: exports, codec: pc, keyring: keyring, logger: logger, url: hs.URL, webhooks: public.URL, token: token,
		sysToken: sysToken, tenantID: tenant.ID, logs: logs, meta: fake, appSecret: appSecret,
	}, pageToken
}

// call sends a request to the API as the tenant admin and returns the status and the decoded JSON body (nil
// when the body is not JSON).
func (s *stack) call(method, path string, body any) (int, map[string]any, []byte) {
	s.t.Helper()
	return s.callAs(s.token, method, path, body)
}

// callAs is call with another bearer token. Every answer is kept for the canary checks.
func (s *stack) callAs(token, method, path string, body any) (int, map[string]any, []byte) {
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
	req.Header.Set("Authorization", "Bearer "+token)
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
	s.mu.Lock()
	s.responses = append(s.responses, string(raw))
	s.mu.Unlock()
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

// callback is the channel's callback URL on the stack's public listener.
func (s *stack) callback(channelID string) string {
	return s.webhooks + "/webhooks/facebook/" + channelID
}

// verify sends Meta's verification request for a channel and returns the status and body.
func (s *stack) verify(channelID, token, challenge string) (int, string) {
	s.t.Helper()
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {token}, "hub.challenge": {challenge}}
	resp, err := http.Get(s.callback(channelID) + "?" + q.Encode())
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

// canary returns a unique secret-shaped value that must never show up in a history, a log or an answer.
func canary(t *testing.T, kind string) string {
	t.Helper()
	return "CANARY-" + kind + "-" + hex.EncodeToString(aicc.RandomBytes(8))
}

// uploadCertificate uploads the fake Meta's certificate as the sysadmin does.
func (s *stack) uploadCertificate() {
	s.t.Helper()
	got, m, raw := s.callAs(s.sysToken, http.MethodPost, "/v1/system/certificates", map[string]any{"pem": string(s.meta.CertPEM)})
	if got != http.StatusCreated || m["expired"] != false {
		s.t.Fatalf("upload certificate = %d %s, want 201 and not expired", got, raw)
	}
}

// channelBasic returns a basic configuration, creating its OU and skill queue on the first call.
func (s *stack) channelBasic() map[string]any {
	s.t.Helper()
	if s.basic == nil {
		ou := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/ous", map[string]any{"name": "Sales"})
		queue := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/skill-queues", map[string]any{
			"name": "Facebook", "accessCode": "1001", "ouId": ou["id"],
		})
		s.basic = map[string]any{"ouId": ou["id"], "skillQueueId": queue["id"]}
	}
	return s.basic
}

// createChannel creates a channel of the fake Meta's app and returns its ID, its verify token and the answer.
func (s *stack) createChannel(name string) (string, string, map[string]any) {
	s.t.Helper()
	created := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels", map[string]any{
		"name": name, "appId": metatest.DefaultAppID, "appSecret": s.appSecret, "algorithm": "sha256",
		"basic": s.channelBasic(),
	})
	ch, _ := created["channel"].(map[string]any)
	setup, _ := created["metaSetup"].(map[string]any)
	if ch == nil || setup == nil {
		s.t.Fatalf("create channel answered %v, want channel and metaSetup", created)
	}
	id, _ := ch["id"].(string)
	verifyToken, _ := setup["verifyToken"].(string)
	if id == "" || verifyToken == "" {
		s.t.Fatalf("create channel answered %v, want an ID and a verify token", created)
	}
	return id, verifyToken, created
}

// waitChannel polls the channel until cond holds, for at most ten seconds, and returns it.
func (s *stack) waitChannel(channelID, what string, cond func(ch map[string]any) bool) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last map[string]any
	for time.Now().Before(deadline) {
		if last = s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+channelID, nil); cond(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("channel %s: %s not true after 10s; channel = %v", channelID, what, last)
	return nil
}

// checkNoSecrets fails the test if any of secrets appears in the histories (workflow ID → a value its history
// must contain, the positive control that the search works), in the logs or in any API answer.
func (s *stack) checkNoSecrets(ctx context.Context, secrets, histories map[string]string) {
	s.t.Helper()
	for wid, mustContain := range histories {
		events := s.history(ctx, wid)
		if len(events) < 3 || !strings.Contains(events.String(), mustContain) {
			s.t.Errorf("history of %s has %d events without %s, want the whole workflow", wid, len(events), mustContain)
		}
		for name, secret := range secrets {
			if strings.Contains(events.String(), secret) {
				s.t.Errorf("the %s appears in the history of %s", name, wid)
			}
		}
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "channel created") {
		s.t.Errorf("the API's logs were not captured:\n%s", logs)
	}
	s.mu.Lock()
	answers := slices.Clone(s.responses)
	s.mu.Unlock()
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			s.t.Errorf("the %s appears in the logs", name)
		}
		for _, a := range answers {
			// The create answer shows the verify token, once, by design: it is pasted into Meta.
			if strings.Contains(a, secret) && !(strings.HasPrefix(name, "verify token") && strings.Contains(a, `"metaSetup"`)) {
				s.t.Errorf("the %s appears in an API answer", name)
			}
		}
	}
}

// TestOnboardingEndToEnd walks the whole onboarding against the fake Meta over TLS: upload the certificate,
// create the channel, Meta's verification, add a Page (subscribed, and read back), confirm, send a message.
func TestOnboardingEndToEnd(t *testing.T) {
	start := time.Now()
	s, pageToken := newStack(t)
	t.Logf("stack up in %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	s.uploadCertificate()
	id, verifyToken, created := s.createChannel("fb_main")
	ch := created["channel"].(map[string]any)
	wantCallback := publicURL + "/webhooks/facebook/" + id
	if created["metaSetup"].(map[string]any)["callbackUrl"] != wantCallback || ch["callbackUrl"] != wantCallback {
		t.Errorf("callback URLs = %v, %v, want %s", created["metaSetup"], ch["callbackUrl"], wantCallback)
	}
	if ch["status"] != string(aicc.StatusAwaitingVerification) {
		t.Fatalf("status %v, want awaiting_verification", ch["status"])
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

	// Confirm needs a subscribed Page.
	s.wantError(http.StatusConflict, aicc.ENOSUBSCRIBEDPAGE, http.MethodPost, "/v1/channels/"+id+"/onboarding/confirm", nil)

	// Adding the Page checks its token with Meta, subscribes the app and reads the subscription back.
	page := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels/"+id+"/pages", map[string]any{
		"pageId": fakePageID, "tokenSecret": pageToken, "name": "Support",
	})
	if page["pageId"] != fakePageID || page["status"] != string(aicc.PageSubscribed) {
		t.Errorf("add page answered %v, want page %s subscribed", page, fakePageID)
	}
	if got := s.meta.Subscription(fakePageID); !slices.Equal(got, aicc.SubscribedFields) {
		t.Errorf("fake Meta's subscription of the app = %v, want %v", got, aicc.SubscribedFields)
	}
	listed := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id+"/pages", nil)
	if items, _ := listed["items"].([]any); len(items) != 1 || items[0].(map[string]any)["status"] != string(aicc.PageSubscribed) {
		t.Errorf("pages = %v, want the one subscribed Page", listed)
	}
	s.recordHistory(ctx, workflows.ConnectPageWorkflowID(id, fakePageID), "connect-page-subscribed")

	active := s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+id+"/onboarding/confirm", nil)
	if active["status"] != string(aicc.StatusActive) {
		t.Errorf("after confirm status = %v, want active (Successful access)", active["status"])
	}
	s.waitWorkflowClosed(ctx, wfID)
	s.recordHistory(ctx, wfID, "onboarding-active")

	// A test message reaches the fake Page through the Send API.
	sent := s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+id+"/pages/"+fakePageID+"/messages", map[string]any{
		"recipientId": fakePSID, "text": "Hello from aicc",
	})
	msgs := s.meta.Sent()
	if len(msgs) != 1 || msgs[0].PageID != fakePageID || msgs[0].RecipientID != fakePSID || msgs[0].Text != "Hello from aicc" {
		t.Fatalf("fake Meta received %+v, want the one test message", msgs)
	}
	if sent["recipientId"] != fakePSID || sent["messageId"] != msgs[0].MessageID {
		t.Errorf("send answered %v, want recipientId %s and messageId %s", sent, fakePSID, msgs[0].MessageID)
	}
	// It went out through the SendTestMessage workflow, like every other Graph call.
	var testMessageID string
	eventually(t, 10*time.Second, "a SendTestMessage workflow in visibility", func() bool {
		resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s' AND ChannelId = '%s'", workflows.SendTestMessageWorkflowType, id),
		})
		if err != nil || len(resp.GetExecutions()) != 1 {
			return false
		}
		testMessageID = resp.GetExecutions()[0].GetExecution().GetWorkflowId()
		return true
	})
	s.recordHistory(ctx, testMessageID, "send-test-message")
	// Every Graph call carried the appsecret_proof of this app, or the fake would have refused it.
	for _, r := range s.meta.Requests() {
		if r.Status != http.StatusOK {
			t.Errorf("fake Meta answered %s %s with %d", r.Method, r.Path, r.Status)
		}
	}

	// Removing the Page unsubscribes the app from it and forgets the Page; a second removal finds nothing.
	if got, _, raw := s.call(http.MethodDelete, "/v1/channels/"+id+"/pages/"+fakePageID, nil); got != http.StatusNoContent {
		t.Fatalf("remove page = %d %s, want 204", got, raw)
	}
	if got := s.meta.Subscription(fakePageID); got != nil {
		t.Errorf("fake Meta's subscription after removing the Page = %v, want none", got)
	}
	listed = s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id+"/pages", nil)
	if items, _ := listed["items"].([]any); len(items) != 0 {
		t.Errorf("pages after removing the Page = %v, want none", listed)
	}
	s.wantError(http.StatusNotFound, aicc.ENOTFOUND, http.MethodDelete, "/v1/channels/"+id+"/pages/"+fakePageID, nil)
	s.recordHistory(ctx, workflows.DisconnectPageWorkflowID(id, fakePageID), "disconnect-page")

	// A second channel (another app): confirm before Meta verified is a conflict, so is a second start;
	// cancel ends it.
	appSecret2 := canary(t, "app-secret-2")
	created2 := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels", map[string]any{
		"name": "fb_second", "appId": "100200300401", "appSecret": appSecret2, "basic": s.channelBasic(),
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
	s.recordHistory(ctx, workflows.OnboardingWorkflowID(id2), "onboarding-cancelled")

	// No secret reaches Temporal's history, the logs or an answer: not the app secrets, not the Page token,
	// not the verify tokens (beyond the create answers, which show them once).
	s.checkNoSecrets(ctx, map[string]string{
		"app secret": s.appSecret, "app secret 2": appSecret2, "page token": pageToken,
		"verify token": verifyToken, "verify token 2": verifyToken2,
	}, map[string]string{
		wfID: id, workflows.OnboardingWorkflowID(id2): id2, workflows.ConnectPageWorkflowID(id, fakePageID): fakePageID,
		workflows.DisconnectPageWorkflowID(id, fakePageID): fakePageID, testMessageID: fakePSID,
	})
	t.Logf("walk done in %s", time.Since(start).Round(time.Millisecond))
}

// TestAddPageWithExpiredTokenEndToEnd: Meta refuses the Page token, so adding the Page is a clear 422, the
// Page is not kept and the app is not subscribed.
func TestAddPageWithExpiredTokenEndToEnd(t *testing.T) {
	s, pageToken := newStack(t)
	ctx := context.Background()
	s.uploadCertificate()
	id, verifyToken, _ := s.createChannel("fb_expired")
	if code, _ := s.verify(id, verifyToken, "42"); code != http.StatusOK {
		t.Fatalf("verification = %d, want 200", code)
	}
	s.waitStatus(id, aicc.StatusVerified)

	s.meta.ExpireToken(fakePageID)
	s.wantError(http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID, http.MethodPost, "/v1/channels/"+id+"/pages",
		map[string]any{"pageId": fakePageID, "tokenSecret": pageToken})
	listed := s.mustCall(http.StatusOK, http.MethodGet, "/v1/channels/"+id+"/pages", nil)
	if items, _ := listed["items"].([]any); len(items) != 0 {
		t.Errorf("pages = %v, want none: a refused token is not stored", listed)
	}
	if got := s.meta.Subscription(fakePageID); got != nil {
		t.Errorf("fake Meta's subscription = %v, want none", got)
	}
	for _, r := range s.meta.Requests() {
		if strings.HasSuffix(r.Path, "/subscribed_apps") && r.Method == http.MethodPost {
			t.Errorf("the app was subscribed with a refused token: %+v", r)
		}
	}
	s.wantError(http.StatusConflict, aicc.ENOSUBSCRIBEDPAGE, http.MethodPost, "/v1/channels/"+id+"/onboarding/confirm", nil)
	s.recordHistory(ctx, workflows.ConnectPageWorkflowID(id, fakePageID), "connect-page-token-refused")
	s.checkNoSecrets(ctx, map[string]string{"app secret": s.appSecret, "page token": pageToken},
		map[string]string{workflows.ConnectPageWorkflowID(id, fakePageID): fakePageID})
}

// TestOnboardingWithoutCertificateEndToEnd: without an uploaded certificate onboarding fails at its first
// step, and starts again once the sysadmin uploads one.
func TestOnboardingWithoutCertificateEndToEnd(t *testing.T) {
	s, _ := newStack(t)
	ctx := context.Background()
	id, verifyToken, _ := s.createChannel("fb_nocert")
	failed := s.waitChannel(id, "status failed", func(ch map[string]any) bool { return ch["status"] == string(aicc.StatusFailed) })
	if o, _ := failed["onboarding"].(map[string]any); o["errorCode"] != aicc.ECERTMISSING {
		t.Errorf("onboarding = %v, want errorCode %s", failed["onboarding"], aicc.ECERTMISSING)
	}
	s.waitWorkflowClosed(ctx, workflows.OnboardingWorkflowID(id))
	s.recordHistory(ctx, workflows.OnboardingWorkflowID(id), "onboarding-no-certificate") // before the restart

	s.uploadCertificate()
	restarted := s.mustCall(http.StatusAccepted, http.MethodPost, "/v1/channels/"+id+"/onboarding", nil)
	if restarted["status"] != string(aicc.StatusAwaitingVerification) {
		t.Errorf("restart answered status %v, want awaiting_verification", restarted["status"])
	}
	// The workflow gets past the prerequisite this time: Meta's verification moves it on.
	s.waitChannel(id, "awaiting verification without an error", func(ch map[string]any) bool {
		o, _ := ch["onboarding"].(map[string]any)
		return ch["status"] == string(aicc.StatusAwaitingVerification) && o["errorCode"] == nil
	})
	if code, _ := s.verify(id, verifyToken, "42"); code != http.StatusOK {
		t.Fatalf("verification after the restart = %d, want 200", code)
	}
	s.waitStatus(id, aicc.StatusVerified)
	s.checkNoSecrets(ctx, map[string]string{"app secret": s.appSecret, "verify token": verifyToken},
		map[string]string{workflows.OnboardingWorkflowID(id): id})
}

// history is a workflow's whole history, as protobuf binary and as JSON, for searching.
type history []string

func (h history) String() string { return strings.Join(h, "\n") }

// history returns the workflow's history with its payloads decrypted, as an operator with the codec sees it:
// what must not be in it must not be there even then.
func (s *stack) history(ctx context.Context, workflowID string) history {
	s.t.Helper()
	return s.readHistory(ctx, workflowID, true)
}

// rawHistory returns the workflow's history as Temporal keeps and serves it, payloads encrypted.
func (s *stack) rawHistory(ctx context.Context, workflowID string) history {
	s.t.Helper()
	return s.readHistory(ctx, workflowID, false)
}

func (s *stack) readHistory(ctx context.Context, workflowID string, decode bool) history {
	s.t.Helper()
	var h history
	it := s.temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatalf("history of %s: %v", workflowID, err)
		}
		if decode {
			err := proxy.VisitPayloads(ctx, ev, proxy.VisitPayloadsOptions{
				Visitor: func(_ *proxy.VisitPayloadsContext, p []*commonpb.Payload) ([]*commonpb.Payload, error) {
					return s.codec.Decode(p)
				},
			})
			if err != nil {
				s.t.Fatalf("decode the history of %s: %v", workflowID, err)
			}
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
