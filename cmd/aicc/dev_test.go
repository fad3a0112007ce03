package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/worker"
)

// TestDevTemporalKeepsState starts the embedded Temporal server on a file, registers the search attributes,
// stops it, and starts it again on the same file: the namespace and the attributes are still there.
func TestDevTemporalKeepsState(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	port, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}

	for run := 1; run <= 2; run++ {
		start := time.Now()
		tmp, err := startDevTemporal(ctx, logger, dbFile, port, "default")
		if err != nil {
			t.Fatalf("start %d: %v", run, err)
		}
		t.Logf("start %d took %s", run, time.Since(start).Round(time.Millisecond))
		c, err := client.Dial(client.Options{HostPort: tmp.HostPort, Logger: sdklog.NewStructuredLogger(logger)})
		if err != nil {
			_ = tmp.Stop()
			t.Fatal(err)
		}
		if run == 1 {
			if err := worker.RegisterSearchAttributes(ctx, c, "default"); err != nil {
				t.Errorf("RegisterSearchAttributes: %v", err)
			}
		} else {
			resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
			if err != nil {
				t.Errorf("ListSearchAttributes: %v", err)
			}
			for _, name := range []string{"TenantId", "ChannelId"} {
				if _, ok := resp.GetCustomAttributes()[name]; !ok {
					t.Errorf("after a restart the search attribute %s is gone", name)
				}
			}
		}
		c.Close()
		if err := tmp.Stop(); err != nil {
			t.Errorf("stop %d: %v", run, err)
		}
	}
}

func TestEnsureDevTokensSurvivesRestarts(t *testing.T) {
	ctx := context.Background()
	store := dbtest.SQLite(t)
	path := filepath.Join(t.TempDir(), "dev-tokens.json")

	first, err := ensureDevTokens(ctx, store, path)
	if err != nil {
		t.Fatal(err)
	}
	if first.TenantID == "" || !strings.HasPrefix(first.TenantAdmin, aicc.TokenPrefix) || !strings.HasPrefix(first.Sysadmin, aicc.TokenPrefix) {
		t.Fatalf("tokens = %+v", first)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	for name, tok := range map[string]struct {
		value  string
		tenant string
		role   aicc.Role
	}{
		"tenant admin": {first.TenantAdmin, first.TenantID, aicc.RoleTenantAdmin},
		"sysadmin":     {first.Sysadmin, "", aicc.RoleSysadmin},
	} {
		rec, err := store.FindToken(ctx, aicc.HashToken(tok.value), time.Now())
		if err != nil {
			t.Fatalf("%s token not in the store: %v", name, err)
		}
		if rec.TenantID != tok.tenant || rec.Role != tok.role {
			t.Errorf("%s token = tenant %q role %q, want %q %q", name, rec.TenantID, rec.Role, tok.tenant, tok.role)
		}
	}

	second, err := ensureDevTokens(ctx, store, path)
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Errorf("restart changed the tokens: %+v, want %+v", second, first)
	}

	// A new database (app.db deleted) gets a new tenant and tokens, and the file follows.
	fresh := dbtest.SQLite(t)
	third, err := ensureDevTokens(ctx, fresh, path)
	if err != nil {
		t.Fatal(err)
	}
	if third.TenantID == first.TenantID || third.TenantAdmin == first.TenantAdmin {
		t.Errorf("tokens of a lost database were kept")
	}
	var onDisk devTokens
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &onDisk); err != nil || onDisk != third {
		t.Errorf("file = %s (%v), want %+v", b, err, third)
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args       []string
		want       int
		wantStderr string
		wantStdout string
	}{
		{nil, exitUsage, "Usage: aicc", ""},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`, ""},
		{[]string{"help"}, exitOK, "", "Usage: aicc"},
		{[]string{"version"}, exitOK, "", "aicc "},
		{[]string{"version", "x"}, exitUsage, "takes no arguments", ""},
		{[]string{"api", "--nope"}, exitUsage, "flag provided but not defined", ""},
		{[]string{"migrate", "extra"}, exitUsage, `unexpected argument "extra"`, ""},
		{[]string{"dev", "--ui-port", "x"}, exitUsage, "invalid value", ""},
		{[]string{"tokens"}, exitUsage, "tokens create", ""},
		{[]string{"tokens", "create", "--role", "root"}, exitUsage, "--role must be", ""},
		{[]string{"tokens", "create", "--role", "sysadmin", "--tenant", "ten_x"}, exitUsage, "takes no --tenant", ""},
		{[]string{"tokens", "create", "--role", "tenant-admin"}, exitUsage, "--tenant is required", ""},
		{[]string{"tenants", "create"}, exitUsage, "is required", ""},
		{[]string{"keys"}, exitUsage, "aicc keys rotate", ""},
		{[]string{"keys", "retire"}, exitUsage, "aicc keys status", ""},
		{[]string{"keys", "rotate", "--batch-size", "0"}, exitUsage, "--batch-size must be between 1 and 10000", ""},
		{[]string{"keys", "status", "extra"}, exitUsage, `unexpected argument "extra"`, ""},
		{[]string{"healthcheck"}, exitUsage, "usage: aicc healthcheck", ""},
		{[]string{"healthcheck", "http://127.0.0.1:1/healthz"}, exitError, "aicc healthcheck", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), tt.args, &stdout, &stderr)
			if got != tt.want {
				t.Errorf("exit = %d, want %d (stderr %q)", got, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) || !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q, stderr %q; want them to contain %q, %q", stdout.String(), stderr.String(), tt.wantStdout, tt.wantStderr)
			}
		})
	}
}

func TestEnsureFakeMetaCertKeepsThePair(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, devFakeMetaCert), filepath.Join(dir, devFakeMetaKey)
	now := time.Now()
	cert, key, err := ensureFakeMetaCert(certPath, keyPath, now)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}
	// It is what a sysadmin could upload: a certificate, nothing else, valid now.
	parsed, err := aicc.ParseCertificatePEM(cert, now)
	if err != nil {
		t.Fatalf("the fake's certificate does not upload: %v", err)
	}
	if !parsed.NotAfter.After(now.Add(365 * 24 * time.Hour)) {
		t.Errorf("NotAfter = %v, want years ahead", parsed.NotAfter)
	}

	cert2, key2, err := ensureFakeMetaCert(certPath, keyPath, now)
	if err != nil || !bytes.Equal(cert, cert2) || !bytes.Equal(key, key2) {
		t.Errorf("a restart made a new pair (%v), want the kept one", err)
	}
	// Close to its expiry, or damaged, it is replaced.
	cert3, _, err := ensureFakeMetaCert(certPath, keyPath, parsed.NotAfter.Add(-24*time.Hour))
	if err != nil || bytes.Equal(cert, cert3) {
		t.Errorf("a certificate about to expire was kept (%v)", err)
	}
	if err := os.WriteFile(keyPath, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, key4, err := ensureFakeMetaCert(certPath, keyPath, now); err != nil || string(key4) == "damaged" {
		t.Errorf("a damaged key was kept (%v)", err)
	}
}

// TestFakeMetaServesTheFakePage starts the fake as aicc dev --fake-meta does: its certificate is untrusted
// until uploaded, uploaded once, and then the fake Page answers with its fixed token and the fake app secret.
func TestFakeMetaServesTheFakePage(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	fake, err := startFakeMeta(t.TempDir(), slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fake.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !strings.HasPrefix(fake.URL, "https://127.0.0.1:") {
		t.Errorf("URL = %q, want https on 127.0.0.1", fake.URL)
	}
	store := dbtest.SQLite(t)
	cfg, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	provider := cfg.GraphProvider(store)
	provider.BaseURL = fake.URL
	call := aicc.PageCall{PageID: FakeMetaPageID, AccessToken: FakeMetaPageToken, AppSecret: FakeMetaAppSecret}

	g, err := provider.Graph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.CheckPageToken(ctx, call); aicc.ErrorCode(err) != aicc.EMETAUNAVAILABLE {
		t.Errorf("before the upload CheckPageToken = %v, want %s (untrusted)", err, aicc.EMETAUNAVAILABLE)
	}
	for i, want := range []bool{true, false} {
		uploaded, err := uploadCertificateOnce(ctx, store, fake.CertPEM, time.Now())
		if err != nil || uploaded != want {
			t.Errorf("upload %d = %v, %v; want %v", i+1, uploaded, err, want)
		}
	}
	if err := certificateState(ctx, store); err != nil {
		t.Errorf("certificateState after the upload = %v", err)
	}
	if g, err = provider.Graph(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := g.CheckPageToken(ctx, call)
	if err != nil || info != (aicc.PageInfo{ID: FakeMetaPageID, Name: FakeMetaPageName}) {
		t.Errorf("CheckPageToken = %+v, %v; want the fake Page", info, err)
	}
}

func TestPrintBannerMeta(t *testing.T) {
	base := devBanner{
		APIURL: "http://127.0.0.1:8081", WebhooksURL: "http://127.0.0.1:8080", PublicURL: "http://127.0.0.1:8080",
		Graph: "https://graph.facebook.com/v25.0", Trust: GraphTrustSystemAndUploaded,
		Tokens: devTokens{TenantID: "ten_1", TenantAdmin: "aicc_admin", Sysadmin: "aicc_sys"},
	}
	tests := []struct {
		name  string
		edit  func(*devBanner)
		wants []string
	}{
		{"certificate missing", func(b *devBanner) {
			b.Certificate = aicc.CheckCertificates(nil, time.Now())
		}, []string{"Meta Graph API https://graph.facebook.com/v25.0", aicc.ECERTMISSING, "Bearer aicc_sys",
			"http://127.0.0.1:8081/v1/system/certificates", "--fake-meta"}},
		{"both listeners", func(*devBanner) {}, []string{"API            http://127.0.0.1:8081 (the admin listener",
			"Metrics        http://127.0.0.1:8081/metrics", "Webhooks       http://127.0.0.1:8080 (the public listener",
			"Callback URLs  start with http://127.0.0.1:8080"}},
		{"certificate uploaded", func(*devBanner) {}, []string{"certificate is uploaded"}},
		{"fake meta", func(b *devBanner) {
			b.FakeMeta, b.Graph = true, "https://127.0.0.1:4443/v25.0"
		}, []string{"Fake Meta      https://127.0.0.1:4443/v25.0", "app secret " + FakeMetaAppSecret,
			"Page " + FakeMetaPageID, "token " + FakeMetaPageToken, "app ID " + FakeMetaAppID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := base
			tt.edit(&b)
			var out bytes.Buffer
			printBanner(&out, b)
			for _, want := range tt.wants {
				if !strings.Contains(out.String(), want) {
					t.Errorf("banner lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// devTestConfig is aicc dev's configuration for a test: its data in dir, its four listeners (the admin API,
// the Web UI, Temporal, the public listener) on free ports of the loopback interface, and the extra variables.
func devTestConfig(t *testing.T, dir string, extra map[string]string) Config {
	t.Helper()
	vars := map[string]string{"AICC_DATA_DIR": dir}
	for _, name := range []string{"AICC_HTTP_ADDR", "AICC_UI_PORT", "AICC_TEMPORAL_PORT", "AICC_PUBLIC_ADDR"} {
		port, err := freePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		vars[name] = strconv.Itoa(port)
		if strings.HasSuffix(name, "_ADDR") {
			vars[name] = "127.0.0.1:" + vars[name]
		}
	}
	maps.Copy(vars, extra)
	cfg, err := ConfigFromEnv(env(vars))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// With AICC_DATABASE_URL set, aicc dev keeps the application's data there (here a Postgres schema of its
// own) instead of SQLite in the data directory, and its banner says so without showing the URL.
func TestDevUsesDatabaseURL(t *testing.T) {
	pgURL := dbtest.PostgresURL(t)
	dir := t.TempDir()
	cfg := devTestConfig(t, dir, map[string]string{"AICC_DATABASE_URL": pgURL})
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- dev(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), out) }()
	eventually(t, time.Minute, "aicc dev running", func() bool { return strings.Contains(out.String(), "aicc dev is running") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("dev: %v", err)
	}

	banner := out.String()
	if !strings.Contains(banner, "Database       AICC_DATABASE_URL") || strings.Contains(banner, pgURL) {
		t.Errorf("banner names the database wrongly or shows its URL:\n%s", banner)
	}
	if _, err := os.Stat(filepath.Join(dir, devAppDB)); !os.IsNotExist(err) {
		t.Errorf("%s in the data directory: %v; want no SQLite database", devAppDB, err)
	}
	store, err := openStore(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tenants, _, err := store.ListTenants(context.Background(), aicc.ListOptions{Limit: 10})
	if err != nil || len(tenants) != 1 || tenants[0].Name != "dev" {
		t.Errorf("tenants in Postgres = %v, %v; want the dev tenant", tenants, err)
	}
}

// TestFakeMetaEchoesSentMessages: what the fake's Send API accepts comes back, as Meta's echo, to the callback
// URL of the channel that owns the Page: signed with the fake app's secret, posted without holding up the Send
// API's answer, and posted again, byte for byte, when the callback does not answer 200.
func TestFakeMetaEchoesSentMessages(t *testing.T) {
	ctx := context.Background()
	fake, err := startFakeMeta(t.TempDir(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })

	type post struct {
		path   string
		header http.Header
		body   []byte
	}
	posts := make(chan post, 10)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	var calls, okFrom atomic.Int32
	okFrom.Store(2) // the first POST fails, the next succeed
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		posts <- post{r.URL.Path, r.Header.Clone(), body}
		if n := calls.Add(1); n == 1 {
			<-release
		}
		if calls.Load() < okFrom.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("EVENT_RECEIVED"))
	}))
	t.Cleanup(callback.Close)
	t.Cleanup(unblock) // runs before callback.Close, which waits for the handler

	// The Page is in the third channel of the second tenant; the store answers two at a time.
	owners := &fakePageOwners{
		tenants:  []string{"ten_a", "ten_b", "ten_c"},
		channels: map[string][]string{"ten_a": {"ch_1", "ch_2"}, "ten_b": {"ch_3", "ch_4", "ch_echo"}},
		pages:    map[string]string{"ten_b/ch_echo": FakeMetaPageID},
		size:     2,
	}
	fake.echoTo(owners, callback.URL+"/")

	store := dbtest.SQLite(t)
	if _, err := uploadCertificateOnce(ctx, store, fake.CertPEM, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	provider := cfg.GraphProvider(store)
	provider.BaseURL = fake.URL
	g, err := provider.Graph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	call := aicc.PageCall{PageID: FakeMetaPageID, AccessToken: FakeMetaPageToken, AppSecret: FakeMetaAppSecret}
	send := func(text string) aicc.SendResult {
		t.Helper()
		type result struct {
			res aicc.SendResult
			err error
		}
		done := make(chan result, 1)
		go func() {
			res, err := g.SendMessage(ctx, call, aicc.OutboundMessage{RecipientPSID: fakePSID, Text: text, Type: aicc.MessagingResponse})
			done <- result{res, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("SendMessage: %v", r.err)
			}
			return r.res
		case <-time.After(10 * time.Second):
			t.Fatal("the Send API did not answer while the echo's callback was held: it waits for the echo")
		}
		return aicc.SendResult{}
	}
	next := func() post {
		t.Helper()
		select {
		case p := <-posts:
			return p
		case <-time.After(10 * time.Second):
			t.Fatal("no echo came")
		}
		return post{}
	}

	res := send("Hello from aicc") // answered while the callback holds the first echo
	first := next()
	unblock()
	second := next() // the first got a 503: Meta's retry
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("the retry is not the same body:\n%s\n%s", first.body, second.body)
	}
	for _, p := range []post{first, second} {
		if p.path != "/webhooks/facebook/ch_echo" {
			t.Errorf("echo posted to %s, want the callback URL of ch_echo", p.path)
		}
		for _, alg := range []aicc.SignatureAlgorithm{aicc.AlgorithmSHA256, aicc.AlgorithmSHA1} {
			if err := meta.VerifySignature(alg, [][]byte{[]byte(FakeMetaAppSecret)}, p.header, p.body); err != nil {
				t.Errorf("%s signature: %v", alg, err)
			}
		}
	}
	events, err := meta.Codec{}.ParseEvents(first.body)
	if err != nil || len(events) != 1 {
		t.Fatalf("echo = %s: %d events, %v", first.body, len(events), err)
	}
	e := events[0]
	if e.Kind != aicc.EventEcho || e.PageID != FakeMetaPageID || e.PSID != fakePSID || e.MID != res.MessageID ||
		e.Text != "Hello from aicc" || e.Timestamp == 0 {
		t.Errorf("echo event = %+v, want the echo of %s to %s", e, res.MessageID, fakePSID)
	}
	select {
	case p := <-posts:
		t.Errorf("a delivered echo was posted again: %s", p.body)
	case <-time.After(2 * echoFirstRetry):
	}

	// A callback that keeps failing: Close stops the retries at once.
	okFrom.Store(1 << 30)
	send("Anyone there?")
	next()
	start := time.Now()
	if err := fake.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s with an echo retrying", d)
	}
}

func TestPageChannel(t *testing.T) {
	ctx := context.Background()
	owners := &fakePageOwners{
		tenants:  []string{"ten_a", "ten_b", "ten_c"},
		channels: map[string][]string{"ten_a": {"ch_1"}, "ten_b": {"ch_5"}, "ten_c": {"ch_2", "ch_3", "ch_4"}},
		pages:    map[string]string{"ten_a/ch_1": "111", "ten_c/ch_4": "444"},
		// Another tenant's channel holds the Page ID too, unproven: it is not the Page's channel.
		unclaimed: map[string]string{"ten_b/ch_5": "444"},
		size:      2,
	}
	for page, want := range map[string]string{"111": "ch_1", "444": "ch_4"} {
		if got, err := pageChannel(ctx, owners, page); err != nil || got != want {
			t.Errorf("pageChannel(%s) = %q, %v; want %s", page, got, err, want)
		}
	}
	if got, err := pageChannel(ctx, owners, "999"); aicc.ErrorCode(err) != aicc.ENOTFOUND {
		t.Errorf("pageChannel of an unknown Page = %q, %v; want %s", got, err, aicc.ENOTFOUND)
	}
	owners.fail = errors.New("database down")
	if _, err := pageChannel(ctx, owners, "444"); !errors.Is(err, owners.fail) {
		t.Errorf("pageChannel with a failing store = %v, want its error", err)
	}
}

// fakePageOwners is a store of tenants, channels and Pages that answers size items a page.
type fakePageOwners struct {
	tenants  []string
	channels map[string][]string // by tenant
	pages    map[string]string   // the Page ID by "tenant/channel", claimed
	// unclaimed holds Page IDs added to a channel but not claimed, by "tenant/channel".
	unclaimed map[string]string
	size      int
	fail      error // GetPage's error for every Page that is not found
}

func (o *fakePageOwners) ListTenants(_ context.Context, opt aicc.ListOptions) ([]*aicc.Tenant, string, error) {
	ids, next := pageOf(o.tenants, opt.Cursor, o.size)
	var out []*aicc.Tenant
	for _, id := range ids {
		out = append(out, &aicc.Tenant{ID: id})
	}
	return out, next, nil
}

func (o *fakePageOwners) ListChannels(_ context.Context, tenantID string, f aicc.ChannelFilter) ([]*aicc.Channel, string, error) {
	ids, next := pageOf(o.channels[tenantID], f.Cursor, o.size)
	var out []*aicc.Channel
	for _, id := range ids {
		out = append(out, &aicc.Channel{ID: id, TenantID: tenantID})
	}
	return out, next, nil
}

func (o *fakePageOwners) GetPage(_ context.Context, tenantID, channelID, pageID string) (*aicc.Page, error) {
	if o.pages[tenantID+"/"+channelID] == pageID {
		return &aicc.Page{PageID: pageID, ChannelID: channelID, TenantID: tenantID, ClaimedAt: time.Now()}, nil
	}
	if o.unclaimed[tenantID+"/"+channelID] == pageID {
		return &aicc.Page{PageID: pageID, ChannelID: channelID, TenantID: tenantID}, nil
	}
	if o.fail != nil {
		return nil, o.fail
	}
	return nil, aicc.Errorf(aicc.ENOTFOUND, "No such Page.")
}

// pageOf returns the size items after cursor (an index) and the next cursor, "" after the last.
func pageOf(items []string, cursor string, size int) ([]string, string) {
	from, _ := strconv.Atoi(cursor)
	to := min(from+size, len(items))
	if to == len(items) {
		return items[from:to], ""
	}
	return items[from:to], strconv.Itoa(to)
}
