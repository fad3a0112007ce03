package api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/workflows"
)

// maxBody is the body limit every case fills up to: the server's default.
const maxBody = api.DefaultMaxBodyBytes

// BenchmarkValidation sends the worst body of at most 1 MiB we could think of for every route that takes one
// through the real handler (middleware, authentication, decoding, validation, the store lookups, and for the
// bodies that are accepted the store writes and the played workflows), and measures request to response.
// Each case checks its answer once, before it is timed: the status, the error code, a field the error names,
// and the response against api/openapi.yaml. Nothing about time is asserted; docs/benchmarks.md
// ("Validation") reports the figures.
//
//	go test ./api -run '^$' -bench '^BenchmarkValidation$' -benchmem
//
// On Postgres with AICC_TEST_POSTGRES_URL, as the api tests.
func BenchmarkValidation(b *testing.B) {
	env := newBenchEnv(b)
	for _, c := range env.cases(b) {
		b.Run(c.name, func(b *testing.B) {
			if c.setup != nil {
				c.setup(b)
			}
			body, header := c.body, c.header
			if c.next != nil {
				body = c.next()
			}
			if c.sign {
				header = signedBy(aicc.AlgorithmSHA256, appSecret, body)
			}
			env.check(b, c, env.serve(c, body, header))
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			cpu, pgCPU := cpuTime(), env.postgresCPU(b)
			i := 0
			for b.Loop() {
				i++
				if c.next != nil {
					b.StopTimer()
					body = c.next()
					if c.sign {
						header = signedBy(aicc.AlgorithmSHA256, appSecret, body)
					}
					b.StartTimer()
				}
				if res := env.serve(c, body, header); res.Code != c.status {
					b.Fatalf("iteration %d answered %d, not %d: %.300s", i, res.Code, c.status, res.Body)
				}
			}
			cpu, pgCPU = cpuTime()-cpu, env.postgresCPU(b)-pgCPU
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
			// The process's CPU time (every core, GC included, untimed body building too), which the machine's
			// load inflates less than the wall time.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e6, "cpu-ms/op")
			if env.postgres {
				// The CPU time of the database's server processes (its backends for this database).
				b.ReportMetric(float64(pgCPU.Nanoseconds())/float64(b.N)/1e6, "pg-cpu-ms/op")
			}
		})
	}
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time the Postgres backends connected to the store's database have used, from /proc
// (the server runs on the same machine); zero on SQLite or when /proc cannot tell.
func (env *benchEnv) postgresCPU(tb testing.TB) time.Duration {
	if !env.postgres {
		return 0
	}
	var pids []int
	err := env.store.DB().NewRaw("SELECT pid FROM pg_stat_activity WHERE datname = current_database()").
		Scan(context.Background(), &pids)
	require.NoError(tb, err)
	var total time.Duration
	for _, pid := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// utime and stime are the 14th and 15th fields, counted after the command's closing parenthesis.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		total += time.Duration(utime+stime) * time.Second / clockTicks
	}
	return total
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// TestValidationWorstBodies sends each of BenchmarkValidation's bodies once (but the slow one) and checks the
// answer as the benchmark does, so that the cases stay right while nobody runs the benchmark.
func TestValidationWorstBodies(t *testing.T) {
	env := newBenchEnv(t)
	for _, c := range env.cases(t) {
		t.Run(c.name, func(t *testing.T) {
			if c.slow {
				t.Skip("seeds 10,000 channels; run BenchmarkValidation")
			}
			if c.setup != nil {
				c.setup(t)
			}
			body, header := c.body, c.header
			if c.next != nil {
				body = c.next()
			}
			if c.sign {
				header = signedBy(aicc.AlgorithmSHA256, appSecret, body)
			}
			env.check(t, c, env.serve(c, body, header))
		})
	}
}

// benchCase is one route with one worst body.
type benchCase struct {
	name                string
	method, path, token string
	body                []byte
	header              map[string]string
	chunked             bool // sent without Content-Length
	// next, when set, builds the body of each iteration (untimed): a body that is accepted must differ each time.
	next func() []byte
	sign bool // signed as Meta signs a webhook, with appSecret
	// setup, when set, runs before the case (untimed).
	setup func(tb testing.TB)
	// slow cases (10,000 channels to seed) are left out of TestValidationWorstBodies.
	slow bool
	// handler, when set, serves the case instead of aicc's handler: a floor to compare aicc with.
	handler http.Handler

	status int
	code   string // the error code; "" for a success or a bodiless answer
	field  string // a field the error names; "" for none
}

// benchEnv is the api tests' harness without its testing.T: the real handler over a fresh store (SQLite, or
// Postgres with AICC_TEST_POSTGRES_URL) and the mocked Temporal client playing the workflows (flows), with
// the request log formatted as JSON and thrown away.
type benchEnv struct {
	store   *db.Store
	keyring *aicc.Keyring
	flows   *flows
	handler http.Handler
	clock   *time.Time

	sys     string // a sysadmin's bearer token
	tn      tenant
	queues  []string // 23 skill queues of tn, every one a reference that must be looked up
	cal     string   // a service calendar of tn
	channel string   // a channel of tn, awaiting verification, with the subscribed Page page
	page    string
	cancel  string // a channel whose onboarding the ignored-body case cancels
	export  string // an export of tn, held pending
	seeded  []string
	// postgres is whether the store is Postgres, whose server's CPU time the benchmark reports too.
	postgres bool
}

func newBenchEnv(b testing.TB) *benchEnv {
	b.Helper()
	ctx := context.Background()
	keyring, err := aicc.NewKeyring(aicc.RandomBytes(aicc.MasterKeySize))
	require.NoError(b, err)
	env := &benchEnv{store: harnessStoreTB(b), keyring: keyring, clock: new(time.Time),
		postgres: os.Getenv(dbtest.PostgresURLEnv) != ""}
	*env.clock = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return *env.clock }
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	exportFiles, err := export.OpenStorage(ctx, "mem://")
	require.NoError(b, err)
	b.Cleanup(func() { _ = exportFiles.Close() })
	env.flows = newFlows(env.store, keyring, exportFiles, now, logger)
	env.flows.setHoldExports(true) // an export's run is the worker's, not the request's
	tc := mocks.NewClient(b)
	expectFlows(tc, env.flows)
	server := &api.Server{
		Store: env.store, Keyring: keyring, Temporal: tc, Logger: logger, Metrics: prometheus.NewRegistry(),
		PublicURL: publicURL, Webhooks: meta.Codec{}, Now: now, ExportFiles: exportFiles,
		// Failure budgets beyond reach: the refused webhook POSTs are measured, not answered 429.
		WebhookLimits: &api.WebhookLimits{ClientRate: 1e9, ClientBurst: 1e9, ChannelRate: 1e9, ChannelBurst: 1e9},
	}
	env.handler = server.Handler()

	cert, err := aicc.ParseCertificatePEM([]byte(selfSigned(b, now().Add(-time.Hour), now().Add(365*24*time.Hour))), now())
	require.NoError(b, err)
	cert.ID, cert.CreatedAt = aicc.NewID(aicc.PrefixCert), now()
	require.NoError(b, env.store.AddCertificate(ctx, cert))
	env.sys = env.token(b, "", aicc.RoleSysadmin)

	t := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: "Bench", CreatedAt: now()}
	require.NoError(b, env.store.CreateTenant(ctx, t))
	env.tn = tenant{ID: t.ID, Admin: env.token(b, t.ID, aicc.RoleTenantAdmin)}
	env.tn.OU = env.created(b, "/v1/ous", env.tn.Admin, map[string]any{"name": "Support"})
	for i := range 23 {
		env.queues = append(env.queues, env.created(b, "/v1/skill-queues", env.tn.Admin, map[string]any{
			"name": fmt.Sprintf("Queue %d", i), "accessCode": fmt.Sprint(1001 + i), "ouId": env.tn.OU,
		}))
	}
	env.tn.Queue = env.queues[0]
	env.cal = env.created(b, "/v1/service-calendars", env.tn.Admin, map[string]any{
		"name": "Calendar", "timeZone": "Europe/Paris", "weeklyNonWorkingDays": []int{0, 6},
	})

	env.channel = env.createdChannel(b, "fb_bench")
	env.page = "1000001"
	res := env.serve(benchCase{method: http.MethodPost, path: "/v1/channels/" + env.channel + "/pages", token: env.tn.Admin},
		mustJSON(b, map[string]any{"pageId": env.page, "tokenSecret": "token-" + env.page}), nil)
	require.Equal(b, http.StatusCreated, res.Code, "%s", res.Body)
	env.cancel = env.createdChannel(b, "fb_bench_cancel")
	// The onboarding's Updates, as its validator answers them: the channel is not verified, the other's
	// onboarding is over.
	notVerified := temporal.NewNonRetryableApplicationError("Meta has not verified the callback URL yet.", aicc.ENOTVERIFIED, nil)
	tc.On("UpdateWorkflow", mock.Anything, updateOptions(env.channel, workflows.UpdateConfirm)).
		Return(updateAnswer{workflowID: onboardingID(env.channel), err: notVerified}, nil).Maybe()
	tc.On("UpdateWorkflow", mock.Anything, updateOptions(env.cancel, workflows.UpdateCancel)).
		Return(nil, serviceerror.NewNotFound("workflow not found")).Maybe()
	res = env.serve(benchCase{method: http.MethodPost, path: "/v1/exports", token: env.tn.Admin}, []byte(`{}`), nil)
	require.Equal(b, http.StatusAccepted, res.Code, "%s", res.Body)
	env.export = idOf(b, &response{Body: res.Body.Bytes()})
	return env
}

// harnessStoreTB is harnessStore for a benchmark.
func harnessStoreTB(tb testing.TB) *db.Store {
	if os.Getenv(dbtest.PostgresURLEnv) != "" {
		return dbtest.Postgres(tb)
	}
	return dbtest.SQLite(tb)
}

// expectFlows is harness.expectWorkflows without the recording: every start and Update is played by f.
func expectFlows(temporal *mocks.Client, f *flows) {
	temporal.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).
		Return(f.execute, nil).Maybe()
	temporal.On("NewWithStartWorkflowOperation", mock.Anything, mock.Anything, mock.Anything).
		Return(f.withStart).Maybe()
	temporal.On("UpdateWithStartWorkflow", mock.Anything, mock.Anything).Return(f.updateWithStart, nil).Maybe()
	temporal.On("UpdateWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool {
		_, ok := rotationID(o.WorkflowID)
		return ok
	})).Return(f.updateWorkflow, nil).Maybe()
	temporal.On("QueryWorkflow", mock.Anything, mock.MatchedBy(func(id string) bool {
		_, ok := rotationID(id)
		return ok
	}), "", workflows.QueryRotationState).Return(f.queryWorkflow, nil).Maybe()
}

func (env *benchEnv) token(b testing.TB, tenantID string, role aicc.Role) string {
	b.Helper()
	secret, tok := aicc.NewAPIToken(tenantID, role, "bench", *env.clock)
	require.NoError(b, env.store.CreateToken(context.Background(), tok))
	return secret
}

// created posts body to path and returns the ID of what it created.
func (env *benchEnv) created(b testing.TB, path, token string, body any) string {
	b.Helper()
	res := env.serve(benchCase{method: http.MethodPost, path: path, token: token}, mustJSON(b, body), nil)
	require.Equal(b, http.StatusCreated, res.Code, "%s", res.Body)
	return idOf(b, &response{Body: res.Body.Bytes()})
}

// createdChannel creates a channel of the tenant through the API and returns its ID.
func (env *benchEnv) createdChannel(b testing.TB, name string) string {
	b.Helper()
	res := env.serve(benchCase{method: http.MethodPost, path: "/v1/channels", token: env.tn.Admin},
		mustJSON(b, channelBody(env.tn, name)), nil)
	require.Equal(b, http.StatusCreated, res.Code, "%s", res.Body)
	var c created
	require.NoError(b, json.Unmarshal(res.Body.Bytes(), &c))
	return c.Channel.ID
}

// serve sends body as c says, straight to the handler.
func (env *benchEnv) serve(c benchCase, body []byte, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(c.method, c.path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if c.chunked {
		req.ContentLength = -1
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	if c.handler != nil {
		c.handler.ServeHTTP(rec, req)
	} else {
		env.handler.ServeHTTP(rec, req)
	}
	return rec
}

// check asserts the case's answer: status, code and field, and aicc's response against the spec.
func (env *benchEnv) check(b testing.TB, c benchCase, res *httptest.ResponseRecorder) {
	b.Helper()
	require.Equal(b, c.status, res.Code, "%.500s", res.Body)
	if c.code != "" {
		var e struct {
			Error apiError `json:"error"`
		}
		require.NoError(b, json.Unmarshal(res.Body.Bytes(), &e), "%.500s", res.Body)
		require.Equal(b, c.code, e.Error.Code, "%.500s", res.Body)
		if c.field != "" {
			require.Contains(b, e.Error.Fields, c.field, "%.500s", res.Body)
		}
	}
	if c.handler != nil {
		return // a floor, not aicc: the spec is not its
	}
	_, router := loadSpec(b)
	route, params, err := router.FindRoute(httptest.NewRequest(c.method, c.path, nil))
	require.NoError(b, err)
	in := &openapi3filter.RequestValidationInput{
		Request: httptest.NewRequest(c.method, c.path, nil), PathParams: params, Route: route,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.Code, Header: res.Header(), Body: io.NopCloser(bytes.NewReader(res.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	require.NoError(b, err, "the answer does not match the spec: %d %.500s", res.Code, res.Body)
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	data, err := json.Marshal(v)
	require.NoError(tb, err)
	return data
}

// fill is the body prefix + items + suffix, with as many items (item(0), item(1), … joined by commas) as keep
// it within limit bytes; items == 0 means no bound but the limit.
func fill(prefix, suffix string, items int, item func(i int) string, limit int) []byte {
	var buf bytes.Buffer
	buf.Grow(limit)
	buf.WriteString(prefix)
	for i := 0; items == 0 || i < items; i++ {
		s := item(i)
		if i > 0 {
			s = "," + s
		}
		if buf.Len()+len(s)+len(suffix) > limit {
			break
		}
		buf.WriteString(s)
	}
	buf.WriteString(suffix)
	return buf.Bytes()
}

// pad adds spaces at the end of the JSON body up to the limit: a valid body as large as one can be.
func pad(body []byte, limit int) []byte {
	return append(body, bytes.Repeat([]byte(" "), limit-len(body))...)
}

// quoted is s as a JSON string.
func quoted(s string) string { return strconv.Quote(s) }

// id is an ID of the given prefix that exists nowhere, as long as aicc.NewID's.
func fakeID(prefix string, i int) string { return fmt.Sprintf("%s_%026d", prefix, i) }

// longString fills n bytes with s repeated, cut at a character's end.
func longString(s string, n int) string {
	out := strings.Repeat(s, n/len(s)+1)
	return out[:n/len(s)*len(s)]
}

// channelWorst is a channel body with every list of the basic configuration at its limit, every reference to
// a distinct directory resource that must be looked up (OU, skill queue, no-agent-reply target, 20 transfer
// targets, the assistant's queue, the calendar), the robot and every timer on, and every text at its maximum.
func (env *benchEnv) channelWorst(name, appID string) map[string]any {
	keywords := make([]string, aicc.MaxTransferKeywords)
	for i := range keywords {
		keywords[i] = fmt.Sprintf("%s%02d", strings.Repeat("k", aicc.MaxTransferKeywordLen-2), i)
	}
	text := strings.Repeat("n", 1000)
	return map[string]any{
		"name": name, "appId": appID, "appSecret": strings.Repeat("s", aicc.MaxSecretLen), "algorithm": "sha256",
		"basic": map[string]any{
			"ouId": env.tn.OU, "skillQueueId": env.queues[0], "transferKeywords": keywords,
			"workTime": map[string]any{
				"workday":    []any{seg("00:00", "06:00"), seg("06:00", "12:00"), seg("12:00", "18:00"), seg("18:00", "24:00")},
				"nonWorkday": []any{seg("00:00", "06:00"), seg("06:00", "12:00"), seg("12:00", "18:00"), seg("18:00", "24:00")},
			},
			"serviceCalendarId": env.cal, "nonWorkingTimeNotice": text,
			"lastAgentMode":        map[string]any{"enabled": true, "windowMinutes": 10080},
			"noCustomerReplyEnd":   map[string]any{"enabled": true, "timeoutMinutes": 60, "endMessage": text},
			"noAgentReplyTransfer": map[string]any{"enabled": true, "timeoutSeconds": 3600, "targetSkillQueueId": env.queues[1], "notice": text},
			"sessionTransfer":      map[string]any{"enabled": true, "targetSkillQueueIds": env.queues[2:22]},
		},
		"robot": map[string]any{
			"intelligentRobot": map[string]any{"enabled": true, "accessCode": strings.Repeat("1", 64), "name": strings.Repeat("r", 50), "avatar": 7, "gender": "female"},
			"robotAssistant":   map[string]any{"enabled": true, "accessCode": strings.Repeat("2", 64), "silentAgentSkillQueueId": env.queues[22]},
		},
	}
}

// counter returns body with the next number written over every occurrence of the placeholder, as many digits.
func counter(body []byte, placeholder string) func() []byte {
	var at []int
	for off := 0; ; {
		j := bytes.Index(body[off:], []byte(placeholder))
		if j < 0 {
			break
		}
		at = append(at, off+j)
		off += j + len(placeholder)
	}
	n := 0
	return func() []byte {
		digits := fmt.Sprintf("%0*d", len(placeholder), n)
		n++
		for _, p := range at {
			copy(body[p:], digits)
		}
		return body
	}
}

// channelCases are the worst bodies of POST /v1/channels and PATCH /v1/channels/{id}.
func (env *benchEnv) channelCases(b testing.TB, method, path string) []benchCase {
	ref := func(id string) string { return quoted(id) }
	head := `{"name":"fb_worst","appId":"1","appSecret":"app-secret-0123456789","basic":{"ouId":` + ref(env.tn.OU) +
		`,"skillQueueId":` + ref(env.queues[0])
	if method == http.MethodPatch {
		head = `{"name":"fb_worst","basic":{"ouId":` + ref(env.tn.OU) + `,"skillQueueId":` + ref(env.queues[0])
	}
	// tail closes the basic configuration and adds the robot, which needs transfer keywords.
	tail := `},"robot":{"intelligentRobot":{"enabled":true,"accessCode":"1","name":"Bot"}}}`
	prefix := method + " channels"
	if method == http.MethodPatch {
		prefix += "/{id}"
	}

	var cases []benchCase
	add := func(c benchCase) {
		c.name, c.method, c.path, c.token = prefix+"/"+c.name, method, path, env.tn.Admin
		if c.status == 0 {
			c.status, c.code = http.StatusBadRequest, aicc.EINVALID
		}
		cases = append(cases, c)
	}
	add(benchCase{name: "keywords-over", field: "basic.transferKeywords",
		body: fill(head+`,"transferKeywords":[`, "]"+tail, 0, func(i int) string { return quoted(strconv.FormatInt(int64(i), 36)) }, maxBody)})
	add(benchCase{name: "keywords-21", field: "basic.transferKeywords",
		body: fill(head+`,"transferKeywords":[`, "]"+tail, aicc.MaxTransferKeywords+1, func(i int) string { return quoted(fmt.Sprint("kw", i)) }, maxBody)})
	// 20 keywords of 52 KB each, the same but for their last character: each too long, and every pair compared
	// for repeats over its whole length.
	long := (maxBody - 1000) / aicc.MaxTransferKeywords
	add(benchCase{name: "keywords-20-long", field: "basic.transferKeywords[19]",
		body: fill(head+`,"transferKeywords":[`, "]"+tail, aicc.MaxTransferKeywords,
			func(i int) string { return quoted(longString("k", long-10) + fmt.Sprint(i%10)) }, maxBody)})
	add(benchCase{name: "targets-over", field: "basic.sessionTransfer.targetSkillQueueIds",
		body: fill(head+`,"sessionTransfer":{"enabled":true,"targetSkillQueueIds":[`, "]}"+tail, 0,
			func(i int) string { return quoted(fakeID(aicc.PrefixQueue, i)) }, maxBody)})
	// 20 transfer targets of 52 KB each, none a queue: 20 lookups by a 52 KB key.
	add(benchCase{name: "targets-20-unknown-long", field: "basic.sessionTransfer.targetSkillQueueIds[19]",
		body: fill(head+`,"sessionTransfer":{"enabled":true,"targetSkillQueueIds":[`, "]}"+tail, aicc.MaxTransferTargets,
			func(i int) string { return quoted(fmt.Sprintf("%s%02d", longString("q", long-10), i)) }, maxBody)})
	add(benchCase{name: "segments-over", field: "basic.workTime.workday",
		body: fill(head+`,"workTime":{"workday":[`, "]}"+tail, 0, func(int) string { return `{"start":"00:00","end":"24:00"}` }, maxBody)})
	add(benchCase{name: "unknown-fields", field: "f0",
		body: fill(`{`, `}`, 0, func(i int) string { return quoted("f"+strconv.Itoa(i)) + ":0" }, maxBody)})
	add(benchCase{name: "deep-nesting",
		body: []byte(head + `,"transferKeywords":` + strings.Repeat("[", maxBody-len(head)-30) + `]}}`)})
	add(benchCase{name: "huge-escaped-name", field: "name",
		body: []byte(`{"name":"` + longString(`\u00e9`, maxBody-12) + `"}`)})
	add(benchCase{name: "huge-number", field: "basic.lastAgentMode.windowMinutes",
		body: []byte(`{"basic":{"lastAgentMode":{"windowMinutes":` + strings.Repeat("9", maxBody-50) + `}}}`)})

	// Valid, every reference distinct and looked up, padded with spaces to 1 MiB: accepted.
	if method == http.MethodPost {
		body := pad(mustJSON(b, env.channelWorst("fb_w_000000000", "7000000000")), maxBody)
		next := counter(body, "000000000")
		add(benchCase{name: "valid-all-refs-padded", status: http.StatusCreated, body: body, next: next})
	} else {
		w := env.channelWorst("fb_bench", "")
		delete(w, "appId")
		delete(w, "appSecret")
		delete(w, "algorithm")
		add(benchCase{name: "valid-all-refs-padded", status: http.StatusOK, body: pad(mustJSON(b, w), maxBody)})
	}
	return cases
}

// cases are the worst bodies of every route that takes one, and of the routes that ignore theirs.
func (env *benchEnv) cases(b testing.TB) []benchCase {
	tn, sys := env.tn, env.sys
	ch := "/v1/channels/" + env.channel
	var cs []benchCase
	add := func(group string, c benchCase) {
		c.name = group + "/" + c.name
		if c.token == "" && !strings.HasPrefix(c.path, "/webhooks/") {
			c.token = tn.Admin
		}
		if c.status == 0 {
			c.status, c.code = http.StatusBadRequest, aicc.EINVALID
		}
		cs = append(cs, c)
	}
	post := func(path string) benchCase { return benchCase{method: http.MethodPost, path: path} }
	with := func(c benchCase, name, field string, body []byte) benchCase {
		c.name, c.field, c.body = name, field, body
		return c
	}
	str := func(n int) string { return longString("x", n) }

	cs = append(cs, env.channelCases(b, http.MethodPost, "/v1/channels")...)
	cs = append(cs, env.channelCases(b, http.MethodPatch, ch)...)

	ous := post("/v1/ous")
	add("POST ous", with(ous, "name-huge", "name", []byte(`{"name":"`+str(maxBody-11)+`"}`)))
	add("POST ous", with(ous, "parentId-huge", "parentId", []byte(`{"name":"A","parentId":"`+str(maxBody-40)+`"}`)))
	add("POST ous", with(ous, "unknown-fields", "f0", fill(`{`, `}`, 0, func(i int) string { return quoted("f"+strconv.Itoa(i)) + ":0" }, maxBody)))

	third := maxBody/3 - 30
	add("POST skill-queues", with(post("/v1/skill-queues"), "strings-huge", "ouId",
		[]byte(`{"name":"`+str(third)+`","accessCode":"`+str(third)+`","ouId":"`+str(third)+`","maxQueued":0}`)))

	cal := post("/v1/service-calendars")
	calHead := `{"name":"Holidays","timeZone":"Europe/Paris",`
	add("POST service-calendars", with(cal, "weekdays-over", "weeklyNonWorkingDays",
		fill(calHead+`"weeklyNonWorkingDays":[`, `]}`, 0, func(i int) string { return strconv.Itoa(i % 7) }, maxBody)))
	day := func(i int) string {
		return quoted(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.DateOnly))
	}
	add("POST service-calendars", with(cal, "restDates-over", "restDates",
		fill(calHead+`"restDates":[`, `]}`, 0, day, maxBody)))
	dates := fill(`[`, `]`, aicc.MaxCalendarDates, day, maxBody)
	add("POST service-calendars", with(cal, "dates-366-both-padded", "makeUpWorkDates[365]",
		pad([]byte(calHead+`"weeklyNonWorkingDays":[0,1,2,3,4,5,6],"restDates":`+string(dates)+`,"makeUpWorkDates":`+string(dates)+`}`), maxBody)))
	add("POST service-calendars", with(cal, "timeZone-huge", "timeZone",
		[]byte(`{"name":"A","timeZone":"Europe/`+str(maxBody-40)+`"}`)))

	exp := post("/v1/exports")
	add("POST exports", with(exp, "ids-over", "channelIds",
		fill(`{"channelIds":[`, `]}`, 0, func(i int) string { return quoted(strconv.FormatInt(int64(i), 36)) }, maxBody)))
	idLen := (maxBody-100)/aicc.MaxExportSelection - 3
	add("POST exports", with(exp, "ids-10000-unknown-long", "channelIds",
		fill(`{"channelIds":[`, `]}`, aicc.MaxExportSelection, func(i int) string {
			return quoted(fmt.Sprintf("ch_%0*d", idLen-3, i))
		}, maxBody)))
	// The longest IDs that are looked up (a longer one is unknown without a look): 10,000 of them, none a channel.
	add("POST exports", with(exp, "ids-10000-unknown-longest-looked-up", "channelIds",
		pad(fill(`{"channelIds":[`, `]}`, aicc.MaxExportSelection, func(i int) string {
			return quoted(fmt.Sprintf("ch_%0*d", aicc.MaxIDLength-3, i))
		}, maxBody), maxBody)))
	known := exp
	known.name, known.status, known.slow = "ids-10000-known-filtered-padded", http.StatusAccepted, true
	known.setup = func(b testing.TB) {
		env.seed(b, aicc.MaxExportSelection)
		ids := make([]string, len(env.seeded))
		for i, id := range env.seeded {
			ids[i] = quoted(id)
		}
		known.body = pad([]byte(`{"channelIds":[`+strings.Join(ids, ",")+`],"filter":{"status":"pending","name":"SEED"},"format":"jsonl"}`), maxBody)
	}
	known.next = func() []byte { return known.body }
	add("POST exports", known)

	pages := post(ch + "/pages")
	add("POST pages", with(pages, "strings-huge", "pageId",
		[]byte(`{"pageId":"`+longString("1", third)+`","tokenSecret":"`+str(third)+`","name":"`+str(third)+`"}`)))
	add("POST pages", with(pages, "name-huge-multibyte", "name",
		[]byte(`{"pageId":"1000002","tokenSecret":"token","name":"`+longString("é", maxBody-60)+`"}`)))

	put := func(path string) benchCase { return benchCase{method: http.MethodPut, path: path} }
	add("PUT app-secret", with(put(ch+"/app-secret"), "secret-huge", "appSecret", []byte(`{"appSecret":"`+str(maxBody-20)+`"}`)))
	add("PUT app-secret", with(put(ch+"/app-secret"), "overlap-huge-number", "overlapSeconds",
		[]byte(`{"appSecret":"s","overlapSeconds":`+strings.Repeat("9", maxBody-40)+`}`)))
	add("PUT token-secret", with(put(ch+"/pages/"+env.page+"/token-secret"), "secret-huge", "tokenSecret",
		[]byte(`{"tokenSecret":"`+str(maxBody-20)+`"}`)))
	add("POST messages", with(post(ch+"/pages/"+env.page+"/messages"), "text-huge", "text",
		[]byte(`{"recipientId":"1","text":"`+longString("😀", maxBody-40)+`"}`)))

	tenants := post("/v1/tenants")
	tenants.token = sys
	add("POST tenants", with(tenants, "name-huge", "name", []byte(`{"name":"`+str(maxBody-11)+`"}`)))
	tokens := post("/v1/tokens")
	tokens.token = sys
	add("POST tokens", with(tokens, "name-huge", "name", []byte(`{"name":"`+str(maxBody-100)+`","role":"tenant-admin","tenantId":"`+tn.ID+`"}`)))
	add("POST tokens", with(tokens, "tenantId-huge", "tenantId", []byte(`{"name":"n","role":"tenant-admin","tenantId":"`+str(maxBody-60)+`"}`)))

	certs := post("/v1/system/certificates")
	certs.token = sys
	add("POST certificates", with(certs, "pem-huge", "pem", []byte(`{"pem":"`+str(maxBody-10)+`"}`)))
	// As many certificates as 64 KiB of PEM holds, each parsed; the first is new each time (a certificate is
	// uploaded once).
	valid := func() string { return selfSigned(b, env.clock.Add(-time.Hour), env.clock.Add(365*24*time.Hour)) }
	rest := valid()
	chainCase := with(certs, "pem-64KiB-chain-padded", "", nil)
	chainCase.status, chainCase.code = http.StatusCreated, ""
	chainCase.next = func() []byte {
		leaf := valid()
		chain := leaf + strings.Repeat(rest, (aicc.MaxCertificatePEMSize-len(leaf))/len(rest))
		return pad(mustJSON(b, map[string]string{"pem": chain}), maxBody)
	}
	add("POST certificates", chainCase)

	// Routes that take no body: a 1 MiB body is not read.
	junk := cs[0].body
	ignored := func(name, path string, status int, code string, setup func(tb testing.TB)) {
		add("ignored body", benchCase{name: name, method: http.MethodPost, path: path, body: junk, status: status, code: code, setup: setup})
	}
	ignored("verify-token", ch+"/verify-token", http.StatusOK, "", nil)
	ignored("revoke-previous", ch+"/rotation/revoke-previous", http.StatusConflict, aicc.ENOPREVIOUSSECRET, nil)
	ignored("onboarding", ch+"/onboarding", http.StatusConflict, aicc.EONBOARDINGSTARTED, nil)
	ignored("onboarding-confirm", ch+"/onboarding/confirm", http.StatusConflict, aicc.ENOTVERIFIED, nil)
	cancel := "/v1/channels/" + env.cancel + "/onboarding/cancel"
	ignored("onboarding-cancel", cancel, http.StatusConflict, aicc.EONBOARDINGFINISHED, nil)
	ignored("page-connect", ch+"/pages/"+env.page+"/connect", http.StatusConflict, aicc.ECONFLICT, nil)
	ignored("dead-letter-retry", "/v1/dead-letters/1/retry", http.StatusNotFound, aicc.ENOTFOUND, nil)
	exportCancel := "/v1/exports/" + env.export + "/cancel"
	ignored("export-cancel", exportCancel, http.StatusConflict, aicc.ECONFLICT, func(b testing.TB) {
		// Cancelled by the first call, ended for the others (and for a second run of the case).
		res := env.serve(benchCase{method: http.MethodPost, path: exportCancel, token: tn.Admin}, nil, nil)
		require.Contains(b, []int{http.StatusOK, http.StatusConflict}, res.Code, "%s", res.Body)
	})

	// The webhook (api/ingest.go, meta): the body is read whole and its signature checked before it is parsed;
	// at most aicc.MaxWebhookUpdates updates are read, and a body with more is kept aside whole.
	hook := "/webhooks/facebook/" + env.channel
	// events is a body of POST i: as many text messages as 1 MiB holds (7,900 of "hello": over the limit), or
	// n messages with the longest texts that fit.
	events := func(i, n int) []byte {
		head := `{"object":"page","entry":[{"id":"` + env.page + `","time":` + strconv.FormatInt(ts0, 10) + `,"messaging":[`
		item := func(text string) func(j int) string {
			return func(j int) string {
				return fmt.Sprintf(`{"sender":{"id":"%d"},"recipient":{"id":"%s"},"timestamp":%d,"message":{"mid":"m_%06d_%04d","text":"%s"}}`,
					2000000+j%1000, env.page, ts0+int64(j), i, j, text)
			}
		}
		text := "hello"
		if n > 0 {
			text = longString("x", (maxBody-len(head)-10)/n-len(item("")(n))-1)
		}
		return fill(head, `]}]}`, n, item(text), maxBody)
	}
	add("POST webhook", benchCase{name: "unsigned-events", method: http.MethodPost, path: hook, body: events(0, 0),
		status: http.StatusForbidden})
	sent := 0
	add("POST webhook", benchCase{name: "signed-1000-longest-texts", method: http.MethodPost, path: hook, status: http.StatusOK,
		sign: true, next: func() []byte { sent++; return events(sent, aicc.MaxWebhookUpdates) }})
	// The same body again: Meta's resend of a POST whose 200 it missed. Everything is done as for a new body but
	// writing rows: each event's key is looked up, found, and nothing stored. That is the webhook's validation.
	resent := events(-1<<20, aicc.MaxWebhookUpdates)
	add("POST webhook", benchCase{name: "signed-1000-longest-texts-resent", method: http.MethodPost, path: hook, status: http.StatusOK,
		sign: true, body: resent, setup: func(b testing.TB) {
			res := env.serve(benchCase{method: http.MethodPost, path: hook}, resent, signedBy(aicc.AlgorithmSHA256, appSecret, resent))
			require.Equal(b, http.StatusOK, res.Code, "%.500s", res.Body)
		}})
	floorSent := 0
	add("POST webhook", benchCase{name: "floor-signed-1000-longest-texts", method: http.MethodPost, path: hook, status: http.StatusOK,
		sign: true, next: func() []byte { floorSent++; return events(-floorSent, aicc.MaxWebhookUpdates) },
		setup: env.createFloorTable, handler: env.floorHandler()})
	add("POST webhook", benchCase{name: "signed-7900-events-kept-aside", method: http.MethodPost, path: hook, status: http.StatusOK,
		sign: true, body: events(0, 0)})
	// 1000 malformed items of 1 KiB, each kept aside as a reject of its own.
	malformed := fill(`{"object":"page","entry":[{"id":"`+env.page+`","messaging":[`, `]}]}`, aicc.MaxWebhookUpdates,
		func(int) string {
			return `{"sender":"` + longString("x", (maxBody-100)/aicc.MaxWebhookUpdates-16) + `"}`
		}, maxBody)
	add("POST webhook", benchCase{name: "signed-1000-malformed", method: http.MethodPost, path: hook, status: http.StatusOK,
		sign: true, body: malformed})
	deep := []byte(`{"object":"page","entry":` + strings.Repeat("[", maxBody-40) + `]}`)
	add("POST webhook", benchCase{name: "signed-deep-nesting", method: http.MethodPost, path: hook, body: deep, sign: true})

	over := pad(bytes.Clone(cs[0].body), maxBody+1)
	add("over the limit", benchCase{name: "content-length", method: http.MethodPost, path: "/v1/channels", body: over,
		status: http.StatusRequestEntityTooLarge, code: aicc.ETOOLARGE})
	add("over the limit", benchCase{name: "chunked", method: http.MethodPost, path: "/v1/channels", body: over, chunked: true,
		status: http.StatusRequestEntityTooLarge, code: aicc.ETOOLARGE})
	return cs
}

// floorHandler is the floor of the webhook's cases: the lightest honest way to take a signed POST and keep
// it before answering 200. A bare handler, no middleware: it reads the body up to the limit, checks its
// X-Hub-Signature-256 with the app secret, and stores it whole as one row with one INSERT, its SHA-256 the key
// that makes a resend a no-op.
func (env *benchEnv) floorHandler() http.Handler {
	insert := `INSERT INTO floor_bodies (dedup_key, body, received_at) VALUES (?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING`
	if env.postgres {
		insert = `INSERT INTO floor_bodies (dedup_key, body, received_at) VALUES ($1, $2, $3) ON CONFLICT (dedup_key) DO NOTHING`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		mac := hmac.New(sha256.New, []byte(appSecret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(want)) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		key := sha256.Sum256(body)
		if _, err := env.store.DB().DB.ExecContext(r.Context(), insert, hex.EncodeToString(key[:]), body,
			time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// createFloorTable creates the table of floorHandler in the store's database.
func (env *benchEnv) createFloorTable(tb testing.TB) {
	table := `CREATE TABLE IF NOT EXISTS floor_bodies (id INTEGER PRIMARY KEY, dedup_key TEXT NOT NULL UNIQUE,
		body BLOB NOT NULL, received_at TEXT NOT NULL)`
	if env.postgres {
		table = `CREATE TABLE IF NOT EXISTS floor_bodies (id bigserial PRIMARY KEY, dedup_key text NOT NULL UNIQUE,
			body bytea NOT NULL, received_at timestamptz NOT NULL)`
	}
	_, err := env.store.DB().DB.Exec(table)
	require.NoError(tb, err)
}

// seed stores n channels of the tenant through the store (named SEED_…, pending), once.
func (env *benchEnv) seed(b testing.TB, n int) {
	b.Helper()
	ctx := context.Background()
	for i := len(env.seeded); i < n; i++ {
		ch := aicc.DefaultChannel()
		ch.TenantID, ch.Name, ch.AppID = env.tn.ID, fmt.Sprintf("SEED_%05d", i), strconv.Itoa(8_000_000+i)
		ch.Basic.OUID, ch.Basic.SkillQueueID = env.tn.OU, env.tn.Queue
		ch.CreatedAt = *env.clock
		ch.Onboarding = aicc.Onboarding{Status: aicc.StatusPending, Step: workflows.StepCheckPrerequisites, UpdatedAt: *env.clock}
		require.NoError(b, env.store.CreateChannel(ctx, &ch, aicc.ChannelSecrets{}))
		env.seeded = append(env.seeded, ch.ID)
	}
}
