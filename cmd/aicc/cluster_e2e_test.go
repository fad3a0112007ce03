package main

// The production topology without Docker: what docker-compose.yml describes (a Temporal server on Postgres, two
// "aicc api" and two "aicc worker" processes on one application database) in one test, with a worker killed in
// the middle of a burst of webhooks.

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/internal/temporalserver"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/workflows"
)

// The burst of TestClusterKillWorkerMidBurst: clusterCustomers customers write clusterMessages messages each,
// one after the other (the next once the previous one is acknowledged), from clusterSenders senders at once.
const (
	clusterCustomers = 200
	clusterMessages  = 10
	clusterSenders   = 16
	// clusterLease is the dispatchers' lease of a conversation: short, so that the killed worker's
	// conversations are taken over within seconds.
	clusterLease = 3 * time.Second
	// clusterDrain bounds the wait for every acknowledged event to be delivered, the kill included.
	clusterDrain = 90 * time.Second
	// clusterNoReplyMinutes is the channel's "session end due to no customer reply" timeout: the shortest the
	// API accepts. A session must not end before it: the checks run well within it after the last delivery.
	clusterNoReplyMinutes = 1
)

// TestClusterKillWorkerMidBurst runs the deployment docker-compose.yml describes, without Docker: a Temporal
// server on Postgres (internal/temporalserver, schema set up by the server's own SQL tool code), two "aicc api"
// and two "aicc worker" processes on one Postgres application database, a fake Meta. It sends a signed burst
// through both APIs (each customer's messages in order, with increasing Meta timestamps, alternating between
// the APIs), kills one worker with SIGKILL when half the burst is acknowledged, and checks that every
// acknowledged event is stored once and delivered (none a dead letter), that every conversation applied its
// customer's messages in timestamp order (its count, its last message, no late event), and that no session
// ended early. It needs AICC_TEST_POSTGRES_URL; its databases are created beside that one and dropped after.
func TestClusterKillWorkerMidBurst(t *testing.T) {
	base := os.Getenv(dbtest.PostgresURLEnv)
	if base == "" {
		t.Skip(dbtest.PostgresURLEnv + " is not set")
	}
	if testing.Short() {
		t.Skip("20–40 s: a Temporal server, four processes and a burst of 2,000 webhooks")
	}
	began := time.Now()
	ctx := context.Background()
	appURL, temporalURL := clusterDatabases(t, base)

	srv, err := temporalserver.StartPostgres(ctx, temporalURL, temporalserver.Options{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("StartPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("temporal server stop: %v", err)
		}
	})
	t.Logf("temporal on postgres started in %s", time.Since(began).Round(time.Millisecond))

	appSecret, pageToken := canary(t, "-app-secret"), canary(t, "-page-token")
	// Over TLS, as Meta: onboarding needs an uploaded certificate, and the workers trust the fake's once it is.
	fake := metatest.NewTLSGraphServer(t, appSecret)
	fake.AddPage(fakePageID, "Fake Page", pageToken)
	masterKey := base64.StdEncoding.EncodeToString(aicc.RandomBytes(aicc.MasterKeySize))
	env := map[string]string{
		"AICC_DATABASE_URL": appURL, "AICC_DB_MAX_CONNS": "6", "AICC_MASTER_KEY": masterKey,
		"AICC_TEMPORAL_ADDRESS": srv.HostPort, "AICC_TEMPORAL_NAMESPACE": temporalserver.DefaultNamespace,
		"AICC_GRAPH_BASE_URL": fake.URL, "AICC_GRAPH_TIMEOUT": "5s",
		"AICC_PUBLIC_URL": publicURL, "AICC_EXPORT_BUCKET": "file://" + filepath.ToSlash(t.TempDir()),
		"AICC_DISPATCH_LEASE": clusterLease.String(), "AICC_DISPATCH_CONCURRENCY": "16",
		"AICC_DISPATCH_MAX_ATTEMPTS": "10",
	}
	if out, code := runAICC(t, clusterEnv(env, nil), "migrate"); code != 0 {
		t.Fatalf("aicc migrate exited %d:\n%s", code, out)
	}

	// The first API creates the fingerprint key; the other processes start once it has.
	logs := t.TempDir()
	apiEnv := func() []string {
		return clusterEnv(env, map[string]string{"AICC_PUBLIC_ADDR": clusterFreeAddr(t), "AICC_HTTP_ADDR": clusterFreeAddr(t)})
	}
	api1 := startClusterProcess(t, logs, "api-1", "api", apiEnv())
	waitClusterReady(t, api1)
	api2 := startClusterProcess(t, logs, "api-2", "api", apiEnv())
	worker1 := startClusterProcess(t, logs, "worker-1", "worker", clusterEnv(env, map[string]string{"AICC_WORKER_METRICS_ADDR": clusterFreeAddr(t)}))
	worker2 := startClusterProcess(t, logs, "worker-2", "worker", clusterEnv(env, map[string]string{"AICC_WORKER_METRICS_ADDR": clusterFreeAddr(t)}))
	for _, p := range []*clusterProcess{api2, worker1, worker2} {
		waitClusterReady(t, p)
	}
	t.Logf("2 APIs and 2 workers ready at %s", time.Since(began).Round(time.Millisecond))

	store, err := db.Open(ctx, appURL)
	if err != nil {
		t.Fatalf("open the application database: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	store.SetMaxOpenConns(4)
	s := clusterStack(t, store, api1.url, api1.public, appSecret)
	s.meta = fake
	s.uploadCertificate()
	// The no-reply timeout must exceed the skill queue's longest wait, 60 s by default.
	ou := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/ous", map[string]any{"name": "Sales"})
	queue := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/skill-queues", map[string]any{
		"name": "Facebook", "accessCode": "1001", "ouId": ou["id"], "maxWaitSeconds": 30,
	})
	s.basic = map[string]any{"ouId": ou["id"], "skillQueueId": queue["id"], "noCustomerReplyEnd": map[string]any{
		"enabled": true, "timeoutMinutes": clusterNoReplyMinutes, "endMessage": "The session ended: no reply.",
	}}
	channelID, _ := s.activeChannel("fb_cluster", pageToken)
	t.Logf("channel %s active at %s", channelID, time.Since(began).Round(time.Millisecond))

	burstStart := time.Now()
	b := sendClusterBurst(t, channelID, appSecret, []string{api1.public, api2.public}, func() {
		worker1.kill(t)
	})
	t.Logf("burst: %d of %d events acknowledged in %s (worker-1 killed after %d)", b.acked.Load(),
		clusterCustomers*clusterMessages, time.Since(burstStart).Round(time.Millisecond), b.killedAt)

	drained := waitClusterDrained(t, store, channelID)
	t.Logf("inbox drained %s after the burst began", drained.Sub(burstStart).Round(time.Millisecond))
	checkClusterInbox(t, store, channelID, b)
	checkClusterConversations(t, env, channelID, b)
	if sent := fake.Sent(); len(sent) != 0 {
		t.Errorf("the Send API got %d messages, want none (an end message means a session ended): first %+v", len(sent), sent[0])
	}
	if d := time.Since(drained); d >= clusterNoReplyMinutes*time.Minute {
		t.Errorf("the checks ended %s after the inbox drained, past the no-reply timeout: an open status proves less", d)
	}
	// No secret reaches a process's output, the killed worker's included.
	for _, p := range []*clusterProcess{api1, api2, worker1, worker2} {
		out, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		for name, secret := range map[string]string{"app secret": appSecret, "page token": pageToken, "master key": masterKey} {
			if strings.Contains(string(out), secret) {
				t.Errorf("the %s appears in the output of %s", name, p.name)
			}
		}
	}
	t.Logf("cluster test done in %s", time.Since(began).Round(time.Millisecond))
}

// clusterDatabases creates an application database and names a Temporal database (StartPostgres creates it and
// its visibility database) on base's server, and returns their URLs; the three are dropped when the test ends.
func clusterDatabases(t *testing.T, base string) (appURL, temporalURL string) {
	t.Helper()
	ctx := context.Background()
	admin, err := db.Open(ctx, base)
	if err != nil {
		t.Fatalf("%s is set but the database does not answer: %v", dbtest.PostgresURLEnv, err)
	}
	prefix := "aicc_cluster_" + hex.EncodeToString(aicc.RandomBytes(5))
	app, tmp := prefix+"_app", prefix+"_temporal"
	t.Cleanup(func() {
		defer admin.Close()
		for _, name := range []string{app, tmp, tmp + "_visibility"} {
			if _, err := admin.DB().ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				t.Errorf("drop database %s: %v", name, err)
			}
		}
	})
	if _, err := admin.DB().ExecContext(ctx, "CREATE DATABASE "+app); err != nil {
		t.Fatalf("create database %s: %v", app, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s does not parse", dbtest.PostgresURLEnv)
	}
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	u.Path = "/" + app
	appURL = u.String()
	u.Path = "/" + tmp
	return appURL, u.String()
}

// clusterEnv is the environment of a process: common, with more on top.
func clusterEnv(common, more map[string]string) []string {
	var env []string
	for _, m := range []map[string]string{common, more} {
		for k, v := range m {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// clusterFreeAddr returns a loopback address with a port that was free a moment ago.
func clusterFreeAddr(t *testing.T) string {
	t.Helper()
	port, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// clusterProcess is one aicc process of the cluster, its output in a file.
type clusterProcess struct {
	name string
	cmd  *exec.Cmd
	url  string // http:// base URL of its admin listener (api) or its /metrics, /healthz and /readyz (worker)
	log  string // the file of its output
	done chan struct{}
	err  error // its exit, once done is closed

	public string // http:// base URL of an api's public listener, Meta's webhooks
}

// startClusterProcess starts "aicc <command>" (the test binary run as aicc, see aiccCommand) with env; the test's
// end stops it (SIGTERM, then SIGKILL after ten seconds) and, when the test failed, shows its output's end.
func startClusterProcess(t *testing.T, dir, name, command string, env []string) *clusterProcess {
	t.Helper()
	p := &clusterProcess{name: name, cmd: aiccCommand(env, command), log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	for _, kv := range env {
		if addr, ok := strings.CutPrefix(kv, "AICC_HTTP_ADDR="); ok && command == "api" {
			p.url = "http://" + addr
		}
		if addr, ok := strings.CutPrefix(kv, "AICC_PUBLIC_ADDR="); ok && command == "api" {
			p.public = "http://" + addr
		}
		if addr, ok := strings.CutPrefix(kv, "AICC_WORKER_METRICS_ADDR="); ok && command == "worker" {
			p.url = "http://" + addr
		}
	}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s (%v), the end of its output:\n%s", name, p.err, clusterLogTail(p.log, 40))
		}
	})
	return p
}

// stop asks the process to stop and waits for it, killing it when it takes more than ten seconds.
func (p *clusterProcess) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill kills the process with SIGKILL, as a crash or an OOM kill would, and waits for it.
func (p *clusterProcess) kill(t *testing.T) {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("kill -9 %s: %v", p.name, err)
	}
	<-p.done
}

// waitClusterReady waits until the process answers GET /readyz with 200, for at most 60 seconds.
func waitClusterReady(t *testing.T, p *clusterProcess) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready (%v):\n%s", p.name, p.err, clusterLogTail(p.log, 40))
		default:
		}
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after a minute (%v):\n%s", p.name, err, clusterLogTail(p.log, 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterLogTail returns the last n lines of a file.
func clusterLogTail(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// clusterStack is the part of the end-to-end tests' stack that their API helpers use (createChannel,
// activeChannel, …), on the first API process, with a tenant admin and a sysadmin created in the store.
func clusterStack(t *testing.T, store *db.Store, apiURL, webhooksURL, appSecret string) *stack {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	tenant := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: "cluster", CreatedAt: now}
	if err := store.CreateTenant(ctx, tenant); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	token, rec := aicc.NewAPIToken(tenant.ID, aicc.RoleTenantAdmin, "cluster", now)
	if err := store.CreateToken(ctx, rec); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	sysToken, sysRec := aicc.NewAPIToken("", aicc.RoleSysadmin, "cluster sysadmin", now)
	if err := store.CreateToken(ctx, sysRec); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return &stack{t: t, store: store, url: apiURL, webhooks: webhooksURL, token: token, sysToken: sysToken, tenantID: tenant.ID, appSecret: appSecret}
}

// clusterBurst is what the burst sent and what was acknowledged.
type clusterBurst struct {
	acked    atomic.Int64
	killedAt int64 // acknowledged events when worker-1 was killed
	mu       sync.Mutex
	// customers by PSID: the MIDs and texts acknowledged, in the order sent, and the MIDs attempted (a POST
	// that failed may still have stored its event).
	customers map[string]*clusterCustomer
}

// clusterCustomer is one customer's part of the burst.
type clusterCustomer struct {
	acked     []string // MIDs, in the order sent (and of their Meta timestamps)
	lastText  string   // the text of the last acknowledged message
	attempted map[string]bool
}

// clusterPSID is the PSID of customer k.
func clusterPSID(k int) string { return fmt.Sprintf("7002%012d", k) }

// sendClusterBurst sends the burst and calls kill once when half of it is acknowledged. Each customer's messages
// go one after the other, alternating between the APIs, with increasing Meta timestamps; a POST that is not
// answered 200 fails the test and ends that customer's part.
func sendClusterBurst(t *testing.T, channelID, appSecret string, apis []string, kill func()) *clusterBurst {
	t.Helper()
	b := &clusterBurst{customers: map[string]*clusterCustomer{}}
	for k := range clusterCustomers {
		b.customers[clusterPSID(k)] = &clusterCustomer{attempted: map[string]bool{}}
	}
	httpc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clusterSenders}}
	defer httpc.CloseIdleConnections()
	senders := make([]*metatest.WebhookSender, len(apis))
	for i, u := range apis {
		senders[i] = &metatest.WebhookSender{
			URL: u + "/webhooks/facebook/" + channelID, AppSecret: appSecret, Algorithm: aicc.AlgorithmSHA256, HTTP: httpc,
		}
	}
	half := int64(clusterCustomers * clusterMessages / 2)
	var killOnce sync.Once
	base := time.Now().Add(-time.Hour).UnixMilli() // Meta's clock: a little in the past
	work := make(chan int)
	var wg sync.WaitGroup
	for range clusterSenders {
		wg.Go(func() {
			for k := range work {
				psid, cust := clusterPSID(k), b.customers[clusterPSID(k)]
				for i := range clusterMessages {
					mid := fmt.Sprintf("m_cluster_%d_%d", k, i)
					text := fmt.Sprintf("customer %d, message %d", k, i)
					// Strictly increasing per customer; customers interleave in Meta's time too.
					ts := base + int64(i)*1000 + int64(k)
					b.mu.Lock()
					cust.attempted[mid] = true
					b.mu.Unlock()
					item := metatest.Text(fakePageID, psid, mid, text, ts)
					_, status, err := senders[(k+i)%len(senders)].SendPayload(context.Background(),
						metatest.NewPayload(metatest.NewEntry(fakePageID, item)))
					if err != nil || status != http.StatusOK {
						t.Errorf("customer %d, message %d via API %d: %d %v, want 200", k, i, (k+i)%len(senders)+1, status, err)
						break
					}
					b.mu.Lock()
					cust.acked, cust.lastText = append(cust.acked, mid), text
					b.mu.Unlock()
					if n := b.acked.Add(1); n >= half {
						killOnce.Do(func() { b.killedAt = n; kill() })
					}
				}
			}
		})
	}
	for k := range clusterCustomers {
		work <- k
	}
	close(work)
	wg.Wait()
	killOnce.Do(func() { b.killedAt = b.acked.Load(); kill() }) // if fewer than half were acknowledged
	return b
}

// waitClusterDrained waits until no event of the channel is pending (neither delivered nor a dead letter), for
// at most clusterDrain, and returns when.
func waitClusterDrained(t *testing.T, store *db.Store, channelID string) time.Time {
	t.Helper()
	deadline := time.Now().Add(clusterDrain)
	for {
		var pending, total int
		err := store.DB().QueryRowContext(context.Background(),
			`SELECT count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NULL), count(*) FROM inbox WHERE channel_id = ?`,
			channelID).Scan(&pending, &total)
		if err != nil {
			t.Fatalf("count the pending events: %v", err)
		}
		if pending == 0 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d events of the channel still pending %s after the burst: the inbox does not drain", pending, total, clusterDrain)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkClusterInbox checks that every acknowledged event is in the inbox once, delivered and not a dead letter,
// and that the inbox holds nothing the burst did not send.
func checkClusterInbox(t *testing.T, store *db.Store, channelID string, b *clusterBurst) {
	t.Helper()
	rows, err := store.DB().QueryContext(context.Background(),
		`SELECT psid, mid, delivered_at IS NOT NULL, dead_at IS NOT NULL, last_error FROM inbox WHERE channel_id = ?`, channelID)
	if err != nil {
		t.Fatalf("read the inbox: %v", err)
	}
	defer rows.Close()
	type row struct {
		n         int
		delivered bool
		dead      bool
		lastError string
	}
	got := map[string]*row{}
	for rows.Next() {
		var psid, mid, lastError string
		var delivered, dead bool
		if err := rows.Scan(&psid, &mid, &delivered, &dead, &lastError); err != nil {
			t.Fatal(err)
		}
		key := psid + "/" + mid
		if got[key] == nil {
			got[key] = &row{}
		}
		r := got[key]
		r.n++
		r.delivered, r.dead, r.lastError = delivered, dead, lastError
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var missing, repeated, undelivered, dead []string
	for psid, cust := range b.customers {
		for _, mid := range cust.acked {
			r := got[psid+"/"+mid]
			switch {
			case r == nil:
				missing = append(missing, mid)
			case r.n != 1:
				repeated = append(repeated, fmt.Sprintf("%s ×%d", mid, r.n))
			case r.dead:
				dead = append(dead, fmt.Sprintf("%s (%s)", mid, r.lastError))
			case !r.delivered:
				undelivered = append(undelivered, mid)
			}
		}
	}
	for key := range got {
		psid, mid, _ := strings.Cut(key, "/")
		if cust := b.customers[psid]; cust == nil || !cust.attempted[mid] {
			t.Errorf("the inbox holds %s, which the burst did not send", key)
		}
	}
	for what, list := range map[string][]string{
		"acknowledged but not in the inbox": missing, "in the inbox more than once": repeated,
		"dead letters": dead, "not delivered": undelivered,
	} {
		if len(list) > 0 {
			t.Errorf("%d events %s: %s", len(list), what, clusterFirst(list, 10))
		}
	}
	t.Logf("inbox: %d rows for %d acknowledged events", len(got), b.acked.Load())
}

// checkClusterConversations queries every customer's conversation workflow: it applied each acknowledged
// message once (MessageCount), the last one sent is its last customer message, no event came late (applied
// after one with a newer Meta timestamp), and the conversation is open.
func checkClusterConversations(t *testing.T, common map[string]string, channelID string, b *clusterBurst) {
	t.Helper()
	cfg, err := ConfigFromEnv(env(common))
	if err != nil {
		t.Fatal(err)
	}
	opts := client.Options{
		HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))),
	}
	if err := cfg.temporalOptions(&opts); err != nil { // the payload codec, as the processes use it
		t.Fatal(err)
	}
	tc, err := client.Dial(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()

	type result struct {
		psid    string
		problem string
	}
	results := make(chan result)
	psids := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for psid := range psids {
				results <- result{psid, clusterConversationProblem(tc, channelID, psid, b.customers[psid])}
			}
		})
	}
	go func() {
		for psid := range b.customers {
			psids <- psid
		}
		close(psids)
		wg.Wait()
		close(results)
	}()
	var problems []string
	for r := range results {
		if r.problem != "" {
			problems = append(problems, r.psid+": "+r.problem)
		}
	}
	t.Logf("%d conversations queried (%d queries asked again)", len(b.customers), clusterQueryRetries.Load())
	if len(problems) > 0 {
		t.Errorf("%d of %d conversations are wrong: %s", len(problems), len(b.customers), clusterFirst(problems, 10))
		slices.Sort(problems)
		for _, p := range problems[:min(3, len(problems))] {
			psid, _, _ := strings.Cut(p, ":")
			t.Logf("the history of %s's conversation: %s", psid,
				clusterHistory(tc, opts.DataConverter, workflows.ConversationWorkflowID(channelID, fakePageID, psid)))
		}
	}
}

// clusterHistory sums up the history of a workflow's latest run, for a failure: its events in order, a run
// of the same type written once with its count, and each signal's inbox IDs.
func clusterHistory(tc client.Client, dc converter.DataConverter, workflowID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var parts []string
	last, n := "", 0
	flush := func() {
		if n > 1 {
			parts[len(parts)-1] += fmt.Sprintf("×%d", n)
		}
	}
	it := tc.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return strings.Join(append(parts, "error: "+err.Error()), " ")
		}
		name := strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_")
		if a := e.GetWorkflowExecutionSignaledEventAttributes(); a != nil {
			name += "(" + clusterSignalIDs(dc, a.GetInput()) + ")"
		}
		if a := e.GetWorkflowTaskFailedEventAttributes(); a != nil {
			name += "(" + a.GetCause().String() + ")"
		}
		if name == last {
			n++
			continue
		}
		flush()
		parts, last, n = append(parts, name), name, 1
	}
	flush()
	return strings.Join(parts, " ")
}

// clusterSignalIDs returns the inbox IDs a conversation signal carries.
func clusterSignalIDs(dc converter.DataConverter, input *commonpb.Payloads) string {
	var batch workflows.InboxEventsSignal
	if err := dc.FromPayloads(input, &batch); err != nil || len(batch.Events) == 0 {
		var one workflows.InboxEventSignal
		if err := dc.FromPayloads(input, &one); err != nil {
			return "?"
		}
		batch.Events = append(batch.Events, one)
	}
	ids := make([]string, len(batch.Events))
	for i, e := range batch.Events {
		ids[i] = strconv.FormatInt(e.InboxID, 10)
	}
	return strings.Join(ids, ",")
}

// clusterConversationProblem is what is wrong with one customer's conversation, "" when nothing.
func clusterConversationProblem(tc client.Client, channelID, psid string, cust *clusterCustomer) string {
	if len(cust.acked) == 0 {
		return ""
	}
	v, err := clusterQuery(tc, workflows.ConversationWorkflowID(channelID, fakePageID, psid))
	if err != nil {
		return fmt.Sprintf("query: %v", err)
	}
	var state workflows.ConversationState
	if err := v.Get(&state); err != nil {
		return fmt.Sprintf("decode the query's answer: %v", err)
	}
	c := state.Conversation
	var problems []string
	if c.MessageCount != len(cust.acked) {
		problems = append(problems, fmt.Sprintf("MessageCount %d, want %d", c.MessageCount, len(cust.acked)))
	}
	if c.LastCustomerMessage != cust.lastText {
		problems = append(problems, fmt.Sprintf("last customer message %q, want %q", c.LastCustomerMessage, cust.lastText))
	}
	if state.LateEvents != 0 {
		problems = append(problems, fmt.Sprintf("%d events applied late (after one with a newer Meta timestamp)", state.LateEvents))
	}
	if c.Status != aicc.ConversationOpen {
		problems = append(problems, fmt.Sprintf("status %s (ended at %s), want open", c.Status, c.EndedAt.Format(time.RFC3339Nano)))
	}
	return strings.Join(problems, "; ")
}

// clusterQuery queries a conversation workflow. A query goes first to the worker that ran the workflow last;
// when that was the killed worker, the server may take it for alive for a few seconds (Temporal's matching
// counts a worker alive for 10 s after its last poll) and the query times out: it is asked again then.
func clusterQuery(tc client.Client, workflowID string) (converter.EncodedValue, error) {
	var err error
	for attempt := 1; attempt <= 4; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		var v converter.EncodedValue
		v, err = tc.QueryWorkflow(ctx, workflowID, "", workflows.QueryConversation)
		cancel()
		if err == nil {
			return v, nil
		}
		clusterQueryRetries.Add(1)
	}
	return nil, err
}

// clusterQueryRetries counts the queries asked again, for the log.
var clusterQueryRetries atomic.Int64

// clusterFirst joins the first n of list, saying how many more there are.
func clusterFirst(list []string, n int) string {
	if len(list) <= n {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:n], ", ") + fmt.Sprintf(" and %d more", len(list)-n)
}
