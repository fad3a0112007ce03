package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/workflows"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

const publicURL = "https://aicc.example.test"

// harness runs the real handler over a fresh store (SQLite, or Postgres with AICC_TEST_POSTGRES_URL) and a
// mocked Temporal client. Every request it sends and every response it gets is validated against
// api/openapi.yaml.
type harness struct {
	t        *testing.T
	store    aicc.Store
	keyring  *aicc.Keyring
	temporal *mocks.Client
	server   *api.Server
	handler  http.Handler // sends each request to public or admin, as the two listeners of a process do
	logs     *syncBuffer
	clock    *time.Time // what Server.Now returns; set *clock to move time

	// public and admin are the handlers of the server's two listeners.
	public, admin http.Handler

	doc    *openapi3.T
	router routers.Router

	rec *record
	// flows plays the workflows behind the mocked client's starts and Update-with-Starts.
	flows *flows
	// noCertificate leaves the store without the valid Facebook authentication certificate it gets by default.
	noCertificate bool
}

// record keeps what the test saw, for the secret canary.
type record struct {
	starts []string // the options, type and input of every workflow start, and the arguments of every Update
	bodies []string // every response body
}

// on returns the harness for the subtest t, so that its assertions fail t rather than the parent test.
func (h *harness) on(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// now is the server's current time.
func (h *harness) now() time.Time { return *h.clock }

// harnessOption changes the harness before its handler is built.
type harnessOption func(*harness)

// withServer changes the server before its handler is built.
func withServer(fn func(*api.Server)) harnessOption {
	return func(h *harness) { fn(h.server) }
}

// withWorkflowWait shortens how long routes wait for their workflow.
func withWorkflowWait(d time.Duration) harnessOption {
	return withServer(func(s *api.Server) { s.WorkflowWait = d })
}

// withoutCertificate leaves the store without a Facebook authentication certificate, so that the played
// onboarding fails at its first step.
func withoutCertificate() harnessOption {
	return func(h *harness) { h.noCertificate = true }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	keyring, err := aicc.NewKeyring(aicc.RandomBytes(aicc.MasterKeySize))
	require.NoError(t, err)
	h := &harness{
		t:        t,
		store:    harnessStore(t),
		keyring:  keyring,
		temporal: mocks.NewClient(t),
		logs:     &syncBuffer{},
		clock:    new(time.Time),
		rec:      &record{},
	}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	exportFiles, err := export.OpenStorage(context.Background(), "mem://")
	require.NoError(t, err)
	t.Cleanup(func() { _ = exportFiles.Close() })
	h.flows = newFlows(h.store, keyring, exportFiles, h.now, logger)
	*h.clock = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	h.server = &api.Server{
		Store:     h.store,
		Keyring:   keyring,
		Temporal:  h.temporal,
		Logger:    logger,
		Metrics:   prometheus.NewRegistry(),
		PublicURL: publicURL,
		Webhooks:  meta.Codec{},
		Now:       h.now,
		// The played exports' storage, in memory.
		ExportFiles: exportFiles,
	}
	for _, o := range opts {
		o(h)
	}
	h.public, h.admin = h.server.PublicHandler(), h.server.AdminHandler()
	h.handler = listeners{public: h.public, admin: h.admin}
	h.doc, h.router = loadSpec(t)
	if !h.noCertificate {
		h.storeCertificate(h.now().Add(-time.Hour), h.now().Add(365*24*time.Hour))
	}
	h.expectWorkflows()
	t.Cleanup(func() { h.flows.requireNoFailureLeft(t) })
	return h
}

// listeners sends the webhook routes' requests to public and every other request to admin.
type listeners struct{ public, admin http.Handler }

func (l listeners) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/webhooks/") {
		l.public.ServeHTTP(w, r)
		return
	}
	l.admin.ServeHTTP(w, r)
}

// harnessStore is a fresh migrated store: on Postgres when AICC_TEST_POSTGRES_URL names a database, else on
// SQLite.
func harnessStore(t *testing.T) *db.Store {
	if os.Getenv(dbtest.PostgresURLEnv) != "" {
		return dbtest.Postgres(t)
	}
	return dbtest.SQLite(t)
}

// storeCertificate stores a Facebook authentication certificate valid from notBefore to notAfter, as the
// sysadmin's upload does.
func (h *harness) storeCertificate(notBefore, notAfter time.Time) {
	h.t.Helper()
	cert, err := aicc.ParseCertificatePEM([]byte(selfSigned(h.t, notBefore, notAfter)), h.now())
	require.NoError(h.t, err)
	cert.ID, cert.CreatedAt = aicc.NewID(aicc.PrefixCert), h.now()
	require.NoError(h.t, h.store.AddCertificate(context.Background(), cert))
}

// expectWorkflows sets the mocked client's default expectations: every start and Update-with-Start, the
// secret rotation's Updates and queries and the exports' Updates, are played by h.flows, and recorded for the
// secret canary.
func (h *harness) expectWorkflows() {
	h.temporal.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).
		Run(func(args mock.Arguments) { h.recordStart(args[1:]) }).
		Return(h.flows.execute, nil).Maybe()
	h.temporal.On("NewWithStartWorkflowOperation", mock.Anything, mock.Anything, mock.Anything).
		Run(h.recordStart).
		Return(h.flows.withStart).Maybe()
	h.temporal.On("UpdateWithStartWorkflow", mock.Anything, mock.Anything).
		Run(func(args mock.Arguments) {
			h.recordUpdate(args.Get(1).(client.UpdateWithStartWorkflowOptions).UpdateOptions)
		}).
		Return(h.flows.updateWithStart, nil).Maybe()
	updatable := mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool {
		_, isRotation := rotationID(o.WorkflowID)
		return isRotation
	})
	h.temporal.On("UpdateWorkflow", mock.Anything, updatable).
		Run(func(args mock.Arguments) { h.recordUpdate(args.Get(1).(client.UpdateWorkflowOptions)) }).
		Return(h.flows.updateWorkflow, nil).Maybe()
	h.temporal.On("QueryWorkflow", mock.Anything, mock.MatchedBy(func(id string) bool {
		_, ok := rotationID(id)
		return ok
	}), "", workflows.QueryRotationState).Return(h.flows.queryWorkflow, nil).Maybe()
}

// recordStart records the options, the workflow type and the input of a start.
func (h *harness) recordStart(args mock.Arguments) {
	in, err := json.Marshal(args[2:])
	require.NoError(h.t, err)
	h.rec.starts = append(h.rec.starts, fmt.Sprintf("%+v %v %s", args.Get(0), args.Get(1), in))
}

// recordUpdate records the name and the arguments of an Update, with the starts.
func (h *harness) recordUpdate(o client.UpdateWorkflowOptions) {
	args, err := json.Marshal(o.Args)
	require.NoError(h.t, err)
	h.rec.starts = append(h.rec.starts, fmt.Sprintf("update %s %s %s", o.WorkflowID, o.UpdateName, args))
}

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

// loadSpec loads and validates api/openapi.yaml once per test binary.
func loadSpec(tb testing.TB) (*openapi3.T, routers.Router) {
	tb.Helper()
	specOnce.Do(func() {
		data, err := os.ReadFile("openapi.yaml")
		if err != nil {
			specErr = err
			return
		}
		loader := openapi3.NewLoader()
		if specDoc, specErr = loader.LoadFromData(data); specErr != nil {
			return
		}
		if specErr = specDoc.Validate(loader.Context); specErr != nil {
			return
		}
		specRouter, specErr = gorillamux.NewRouter(specDoc)
	})
	require.NoError(tb, specErr, "api/openapi.yaml")
	return specDoc, specRouter
}

// response is what the handler answered.
type response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into v.
func (r *response) decode(tb testing.TB, v any) {
	tb.Helper()
	require.NoError(tb, json.Unmarshal(r.Body, v), "body: %s", r.Body)
}

// apiError is the error shape of every error response.
type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

// err decodes an error response.
func (r *response) err(tb testing.TB) apiError {
	tb.Helper()
	var body struct {
		Error apiError `json:"error"`
	}
	r.decode(tb, &body)
	return body.Error
}

// requireError asserts the status and error code of a response.
func requireError(tb testing.TB, r *response, status int, code string) apiError {
	tb.Helper()
	require.Equal(tb, status, r.Code, "body: %s", r.Body)
	e := r.err(tb)
	require.Equal(tb, code, e.Code, "body: %s", r.Body)
	return e
}

// requireStatus asserts the status of a response.
func requireStatus(tb testing.TB, r *response, status int) {
	tb.Helper()
	require.Equal(tb, status, r.Code, "body: %s", r.Body)
}

// request describes one call; body is JSON-encoded unless it is a string or []byte (sent as is).
type request struct {
	method, path, token string
	body                any
	header              map[string]string
	chunked             bool // send without Content-Length
}

func (h *harness) get(path, token string) *response {
	h.t.Helper()
	return h.do(request{method: http.MethodGet, path: path, token: token})
}

func (h *harness) post(path, token string, body any) *response {
	h.t.Helper()
	return h.do(request{method: http.MethodPost, path: path, token: token, body: body})
}

func (h *harness) patch(path, token string, body any) *response {
	h.t.Helper()
	return h.do(request{method: http.MethodPatch, path: path, token: token, body: body})
}

func (h *harness) delete(path, token string) *response {
	h.t.Helper()
	return h.do(request{method: http.MethodDelete, path: path, token: token})
}

// do sends the request to the handler. A request the spec refuses must be refused by the server too (401 for
// a missing token, else 400 or 413, or 403 for an unauthenticated webhook POST); every response of a
// documented route must match the spec, status included.
func (h *harness) do(rq request) *response {
	h.t.Helper()
	var body []byte
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		body, err = json.Marshal(b)
		require.NoError(h.t, err)
	}
	build := func() *http.Request {
		var r io.Reader = http.NoBody
		if body != nil {
			r = bytes.NewReader(body)
		}
		req := httptest.NewRequest(rq.method, rq.path, r)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if rq.chunked {
			req.ContentLength = -1
		}
		if rq.token != "" {
			req.Header.Set("Authorization", "Bearer "+rq.token)
		}
		for k, v := range rq.header {
			req.Header.Set(k, v)
		}
		return req
	}

	ctx := context.Background()
	route, params, routeErr := h.router.FindRoute(build())
	var input *openapi3filter.RequestValidationInput
	var reqErr error
	if routeErr == nil {
		input = &openapi3filter.RequestValidationInput{
			Request: build(), PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: bearerPresent, IncludeResponseStatus: true},
		}
		reqErr = openapi3filter.ValidateRequest(ctx, input)
	}

	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, build())
	res := &response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	h.rec.bodies = append(h.rec.bodies, string(res.Body))

	if reqErr != nil {
		var secErr *openapi3filter.SecurityRequirementsError
		if errors.As(reqErr, &secErr) {
			require.Equal(h.t, http.StatusUnauthorized, res.Code, "spec refuses %s %s for its token: %v", rq.method, rq.path, reqErr)
		} else {
			refusals := []int{http.StatusBadRequest, http.StatusRequestEntityTooLarge}
			if route.Operation.OperationID == "receiveWebhook" {
				// The signature is checked before the body is parsed: an unsigned bad body is a 403.
				refusals = append(refusals, http.StatusForbidden)
			}
			require.Contains(h.t, refusals, res.Code,
				"spec refuses %s %s (%v) but the server answered %d: %s", rq.method, rq.path, reqErr, res.Code, res.Body)
		}
	}
	if routeErr != nil {
		// Unknown routes and methods still answer in the error shape.
		var v any
		require.NoError(h.t, json.Unmarshal(res.Body, &v), "body: %s", res.Body)
		require.NoError(h.t, h.doc.Components.Schemas["Error"].Value.VisitJSON(v))
		return res
	}
	err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 res.Code,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(res.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	})
	require.NoError(h.t, err, "response of %s %s does not match the spec: %d %s", rq.method, rq.path, res.Code, res.Body)
	return res
}

// bearerPresent is the spec's view of authentication: a bearer token is present. Whether it is valid is the
// server's business.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
		return errors.New("no bearer token")
	}
	return nil
}

// token stores an API token for the tenant (empty for a sysadmin) and returns its bearer value.
func (h *harness) token(tenantID string, role aicc.Role) string {
	h.t.Helper()
	secret, tok := aicc.NewAPIToken(tenantID, role, "test", h.now())
	require.NoError(h.t, h.store.CreateToken(context.Background(), tok))
	return secret
}

// tenant is a tenant with its tokens and a minimal directory: an OU and a skill queue (max wait 60 s).
type tenant struct {
	ID, Admin, Viewer string
	OU, Queue         string
}

// newTenant creates a tenant directly in the store and its directory through the API.
func (h *harness) newTenant(name string) tenant {
	h.t.Helper()
	t := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: name, CreatedAt: h.now()}
	require.NoError(h.t, h.store.CreateTenant(context.Background(), t))
	tn := tenant{ID: t.ID, Admin: h.token(t.ID, aicc.RoleTenantAdmin), Viewer: h.token(t.ID, aicc.RoleTenantViewer)}
	tn.OU = h.createOU(tn, "Support")
	tn.Queue = h.createQueue(tn, map[string]any{"name": "Facebook queue", "accessCode": "1001", "ouId": tn.OU})
	return tn
}

func (h *harness) createOU(tn tenant, name string) string {
	h.t.Helper()
	r := h.post("/v1/ous", tn.Admin, map[string]any{"name": name})
	requireStatus(h.t, r, http.StatusCreated)
	return idOf(h.t, r)
}

func (h *harness) createQueue(tn tenant, body map[string]any) string {
	h.t.Helper()
	r := h.post("/v1/skill-queues", tn.Admin, body)
	requireStatus(h.t, r, http.StatusCreated)
	return idOf(h.t, r)
}

func idOf(tb testing.TB, r *response) string {
	tb.Helper()
	var v struct {
		ID string `json:"id"`
	}
	r.decode(tb, &v)
	require.NotEmpty(tb, v.ID)
	return v.ID
}

var appIDs = struct {
	sync.Mutex
	n int
}{n: 100000}

// newAppID returns a Meta app ID no other channel of the test binary uses.
func newAppID() string {
	appIDs.Lock()
	defer appIDs.Unlock()
	appIDs.n++
	return fmt.Sprint(appIDs.n)
}

// channelBody is a minimal valid channel of the tenant.
func channelBody(tn tenant, name string) map[string]any {
	return map[string]any{
		"name":      name,
		"appId":     newAppID(),
		"appSecret": "app-secret-0123456789",
		"basic":     map[string]any{"ouId": tn.OU, "skillQueueId": tn.Queue},
	}
}

// created is the answer to POST /v1/channels.
type created struct {
	Channel   channel `json:"channel"`
	MetaSetup struct {
		CallbackURL string `json:"callbackUrl"`
		VerifyToken string `json:"verifyToken"`
	} `json:"metaSetup"`
}

// channel is the part of the channel JSON the tests look at.
type channel struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Algorithm   string         `json:"algorithm"`
	Status      string         `json:"status"`
	Warnings    []string       `json:"warnings"`
	CallbackURL string         `json:"callbackUrl"`
	AppSecret   secretInfo     `json:"appSecret"`
	VerifyToken secretInfo     `json:"verifyToken"`
	Onboarding  map[string]any `json:"onboarding"`
	Basic       map[string]any `json:"basic"`
	Robot       map[string]any `json:"robot"`
	// RotationStatus is where the channel's latest secret rotation is: none, pending or complete.
	RotationStatus string `json:"rotationStatus"`
}

type secretInfo struct {
	Set         bool   `json:"set"`
	Fingerprint string `json:"fingerprint"`
}

// createChannel creates a channel through the API and returns the answer.
func (h *harness) createChannel(tn tenant, body map[string]any) created {
	h.t.Helper()
	r := h.post("/v1/channels", tn.Admin, body)
	requireStatus(h.t, r, http.StatusCreated)
	var c created
	r.decode(h.t, &c)
	return c
}

// set sets a dotted path of a JSON object built from maps, creating intermediate objects.
func set(obj map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := obj[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[k] = next
		}
		obj = next
	}
	if v == deleted {
		delete(obj, keys[len(keys)-1])
		return
	}
	obj[keys[len(keys)-1]] = v
}

// deleted, given to set, removes the key.
var deleted = &struct{}{}

// syncBuffer is a log sink safe for concurrent writes.
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

// lines returns the JSON log lines.
func (b *syncBuffer) lines(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(tb, json.Unmarshal([]byte(l), &m), "log line %q", l)
		out = append(out, m)
	}
	return out
}

// onboardingID is the onboarding workflow ID of a channel.
func onboardingID(channelID string) string { return workflows.OnboardingWorkflowID(channelID) }

// updateHandle returns a mocked update handle whose Get returns err.
func updateHandle(t *testing.T, err error) client.WorkflowUpdateHandle {
	h := mocks.NewWorkflowUpdateHandle(t)
	h.On("Get", mock.Anything, mock.Anything).Return(err).Once()
	return h
}
