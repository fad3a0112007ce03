package main

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiopts "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/internal/codec"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/worker"
)

// Files in aicc dev's data directory. All of them survive restarts; delete the directory to start afresh.
const (
	devTemporalDB = "temporal.db"     // the embedded Temporal server's state
	devAppDB      = "app.db"          // the application database
	devMasterKey  = "master.key"      // base64 master key, mode 0600
	devTokensFile = "dev-tokens.json" // the dev tenant and its tokens, mode 0600
	devTenantName = "dev"
)

// runDev is "aicc dev": an embedded Temporal server with its Web UI, the worker, the inbox dispatcher and the
// API in one process.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "aicc dev: configuration: %v\n", err)
		return exitError
	}
	if !cfg.publicAddrSet {
		cfg.PublicAddr = DefaultDevPublicAddr
	}
	if !cfg.httpAddrSet {
		cfg.HTTPAddr = DefaultDevHTTPAddr
	}
	fs := newFlagSet("dev", stderr)
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory (AICC_DATA_DIR)")
	fs.StringVar(&cfg.PublicAddr, "public-addr", cfg.PublicAddr, "public listen address, Meta's webhooks (AICC_PUBLIC_ADDR)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", cfg.HTTPAddr, "admin listen address, the API, docs and metrics (AICC_HTTP_ADDR)")
	fs.IntVar(&cfg.UIPort, "ui-port", cfg.UIPort, "Temporal Web UI port on 127.0.0.1 (AICC_UI_PORT)")
	fs.IntVar(&cfg.TemporalPort, "temporal-port", cfg.TemporalPort, "Temporal frontend port on 127.0.0.1 (AICC_TEMPORAL_PORT)")
	fs.BoolVar(&cfg.FakeMeta, "fake-meta", false, "call a fake Meta served in-process on 127.0.0.1 instead of the Graph API")
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	for name, p := range map[string]int{"--ui-port": cfg.UIPort, "--temporal-port": cfg.TemporalPort} {
		if p < 1 || p > 65535 {
			fmt.Fprintf(stderr, "aicc dev: %s must be between 1 and 65535\n", name)
			return exitUsage
		}
	}
	logger := newLogger(stderr, cfg.LogLevel).With(slog.String("process", "dev"))
	if err := dev(ctx, cfg, logger, stdout); err != nil {
		logger.Error("dev failed", slog.String("error", err.Error()))
		return exitError
	}
	return exitOK
}

// dev runs everything until ctx is done, then stops it in reverse order: API (both listeners), dispatcher,
// worker, UI, Temporal.
func dev(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer) error {
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	apiURL, err := localURL(cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	webhooksURL, err := localURL(cfg.PublicAddr)
	if err != nil {
		return fmt.Errorf("--public-addr: %w", err)
	}
	if !cfg.publicURLSet {
		cfg.PublicURL = webhooksURL
	}
	if err := checkListenAddrs(cfg.PublicAddr, cfg.HTTPAddr); err != nil {
		return fmt.Errorf("--http-addr: %w", err)
	}
	if err := checkPortFree(cfg.PublicAddr); err != nil {
		return fmt.Errorf("api public listener: %w (use --public-addr to pick another address)", err)
	}
	if err := checkPortFree(cfg.HTTPAddr); err != nil {
		return fmt.Errorf("api admin listener: %w (use --http-addr to pick another address)", err)
	}
	uiAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.UIPort))
	// The UI server exits the process when it cannot listen, so find out first.
	if err := checkPortFree(uiAddr); err != nil {
		return fmt.Errorf("web ui: %w (use --ui-port to pick another port)", err)
	}

	if cfg.MasterKey == nil {
		if cfg.MasterKey, err = ensureMasterKey(filepath.Join(dir, devMasterKey)); err != nil {
			return err
		}
	}
	if _, err := cfg.Keyring(); err != nil {
		return err
	}
	robots, err := newRobots(cfg, true) // the built-in robot too
	if err != nil {
		return err
	}

	// AICC_DATABASE_URL puts the application's data in Postgres; Temporal's stay in the data directory.
	database := "SQLite, " + filepath.Join(dir, devAppDB)
	if cfg.DatabaseURL != "" {
		database = "AICC_DATABASE_URL" // never printed: it may hold a password
	}
	store, err := openStore(ctx, cmp.Or(cfg.DatabaseURL, "sqlite:"+filepath.Join(dir, devAppDB)))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	keyring, err := loadKeyring(ctx, cfg, store, time.Now().UTC())
	if err != nil {
		return err
	}
	tokens, err := ensureDevTokens(ctx, store, filepath.Join(dir, devTokensFile))
	if err != nil {
		return err
	}

	graph := cfg.GraphProvider(store)
	var fake *fakeMeta
	if cfg.FakeMeta {
		if fake, err = startFakeMeta(dir, logger); err != nil {
			return err
		}
		defer func() {
			if err := fake.Close(); err != nil {
				logger.Warn("fake meta stop", slog.String("error", err.Error()))
			}
		}()
		graph.BaseURL = fake.URL
		fake.echoTo(store, cfg.PublicURL) // what it sends comes back as signed is_echo webhooks, as from Meta
		// The onboarding prerequisite: what a sysadmin does with POST /v1/system/certificates.
		uploaded, err := uploadCertificateOnce(ctx, store, fake.CertPEM, time.Now())
		if err != nil {
			return fmt.Errorf("upload the fake meta certificate: %w", err)
		}
		logger.Info("fake meta started", slog.String("url", fake.URL), slog.Bool("certificate_uploaded", uploaded))
	}

	start := time.Now()
	tmp, err := startDevTemporal(ctx, logger, filepath.Join(dir, devTemporalDB), cfg.TemporalPort, cfg.TemporalNamespace)
	if err != nil {
		return err
	}
	defer func() {
		if err := tmp.Stop(); err != nil {
			logger.Warn("temporal server stop", slog.String("error", err.Error()))
		}
		logger.Info("temporal server stopped")
	}()
	logger.Info("temporal server started", slog.String("address", tmp.HostPort),
		slog.String("took", time.Since(start).Round(time.Millisecond).String()))

	reg := newRegistry()
	reg.MustRegister(robots)
	metricsHandler, closeMetrics := temporalMetrics(reg, logger)
	defer closeMetrics.Close()
	opts := client.Options{
		HostPort: tmp.HostPort, Namespace: cfg.TemporalNamespace, MetricsHandler: metricsHandler,
		Logger: sdklog.NewStructuredLogger(logger.With(slog.String("component", "temporal-sdk"))),
	}
	pc, err := cfg.payloadCodec() // the embedded frontend is plain, on the loopback interface: no TLS
	if err != nil {
		return err
	}
	opts.DataConverter, opts.FailureConverter = pc.DataConverter(), pc.FailureConverter()
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("connect to temporal: %w", err)
	}
	defer tc.Close()
	if err := worker.RegisterSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
		return err
	}
	ensureInboxRetention(ctx, cfg, tc, logger)

	// The UI starts after the frontend is healthy: its gRPC connection is dialled once, at start. It decodes
	// payloads through the codec served beside the admin API under this run's capability path
	// (devCodecHandler).
	codecPath := "/codec/" + hex.EncodeToString(aicc.RandomBytes(16))
	ui := uiserver.NewServer(uiopts.WithConfigProvider(&uiconfig.Config{
		Host: "127.0.0.1", Port: cfg.UIPort, TemporalGRPCAddress: tmp.HostPort,
		EnableUI: true, DefaultNamespace: cfg.TemporalNamespace, HideLogs: true,
		DisableNewsFetch: true, // no traffic beyond the loopback interface
		CORS:             uiconfig.CORS{CookieInsecure: true},
		Codec:            uiconfig.Codec{Endpoint: apiURL + codecPath},
	}))
	go func() { _ = ui.Start() }()
	defer func() { ui.Stop(); logger.Info("web ui stopped") }()

	exportBucket := cfg.ExportBucket
	if exportBucket == "" {
		exportBucket = "file://" + filepath.ToSlash(filepath.Join(dir, "exports"))
	}
	exports, err := openExportFiles(ctx, exportBucket)
	if err != nil {
		return err
	}
	defer exports.Close()
	acts := newActivities(store, keyring, graph, exports, reg)
	acts.Pacer = activities.NewPacer(float64(cfg.SendRate))
	acts.Pacer.CallTime = cfg.GraphTimeout
	acts.Robots = robots
	w := worker.New(tc, acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer func() { w.Stop(); logger.Info("worker stopped") }()

	// The dispatcher stops before the worker, after the API: nothing new reaches the inbox by then, and what
	// it has not delivered stays there for the next start.
	dispatcher := newDispatcher(cfg, store, tc, logger, reg)
	dispatchCtx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatchDone := make(chan struct{})
	var dispatchErr error
	go func() { defer close(dispatchDone); dispatchErr = stopped(dispatcher.Run(dispatchCtx)) }()
	defer func() { stopDispatch(); <-dispatchDone; logger.Info("dispatcher stopped") }()
	resumeDone := make(chan struct{})
	go func() { defer close(resumeDone); _ = newResumer(store, tc, cfg, logger).Run(dispatchCtx) }()
	defer func() { stopDispatch(); <-resumeDone }()

	srv := &api.Server{
		Store: store, Keyring: keyring, Temporal: tc, Logger: logger, Metrics: reg,
		Webhooks: meta.Codec{}, PublicURL: cfg.PublicURL, VerificationTTL: cfg.VerificationTTL,
		RotationReminder: cfg.RotationReminder, ExportFiles: exports, ExportRetention: cfg.ExportRetention,
		MaxBodyBytes: cfg.MaxBodyBytes, GaugeInterval: cfg.MetricsInterval, Robots: robots,
		WebhookLimits: &cfg.WebhookLimits, TrustedProxies: cfg.TrustedProxies,
	}
	// The API gets its own context, so that it stops first, when dev says so, not on the signal itself.
	apiCtx, stopAPI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAPI()
	apiErr := make(chan error, 1)
	admin := devCodecHandler(srv.AdminHandler(), pc, codecPath, "http://"+uiAddr)
	go func() { apiErr <- serveAPI(apiCtx, srv, cfg.PublicAddr, cfg.HTTPAddr, admin, logger) }()

	uiURL := "http://" + uiAddr
	if err := waitHTTP(ctx, apiErr, apiURL+"/healthz", webhooksURL+"/healthz", uiURL+"/"); err != nil {
		return err
	}
	printBanner(stdout, devBanner{
		APIURL: apiURL, WebhooksURL: webhooksURL, PublicURL: cfg.PublicURL,
		UIURL:    uiURL + "/namespaces/" + cfg.TemporalNamespace + "/workflows",
		Temporal: tmp.HostPort, Namespace: cfg.TemporalNamespace, DataDir: dir, Database: database, Tokens: tokens,
		Graph: graph.BaseURL + "/" + graph.Version, Trust: cfg.graphTrust(), FakeMeta: fake != nil,
		Certificate: certificateState(ctx, store),
	})

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
		stopAPI()
		return <-apiErr
	case err := <-apiErr:
		return err
	case <-dispatchDone:
		stopAPI()
		err := dispatchErr
		if err == nil {
			err = errors.New("stopped by itself")
		}
		return errors.Join(fmt.Errorf("dispatcher: %w", err), <-apiErr)
	}
}

// devTokens is the content of dev-tokens.json: the dev tenant and two bearer tokens. The tokens are stored
// hashed in the database like any other; this file is what lets every restart print them again.
type devTokens struct {
	TenantID    string `json:"tenantId"`
	TenantAdmin string `json:"tenantAdminToken"`
	Sysadmin    string `json:"sysadminToken"`
}

// ensureDevTokens returns the dev tenant and tokens, creating whatever is missing from the file or from the
// database (for example after app.db was deleted).
func ensureDevTokens(ctx context.Context, store *db.Store, path string) (devTokens, error) {
	var t devTokens
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &t); err != nil {
			return t, fmt.Errorf("%s is damaged (delete it to get new tokens): %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return t, err
	}
	changed := false
	now := time.Now().UTC()
	if t.TenantID != "" {
		if _, err := store.GetTenant(ctx, t.TenantID); aicc.ErrorCode(err) == aicc.ENOTFOUND {
			t, changed = devTokens{}, true
		} else if err != nil {
			return t, err
		}
	}
	if t.TenantID == "" {
		tenant := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: devTenantName, CreatedAt: now}
		entry := &aicc.AuditEntry{
			Actor: aicc.CLIActor("aicc dev"), Action: aicc.AuditTenantCreate,
			Target: aicc.AuditTarget{Type: aicc.TargetTenant, ID: tenant.ID}, Details: map[string]string{aicc.DetailName: tenant.Name},
		}
		if err := store.Audited(ctx, entry, func(ctx context.Context) error { return store.CreateTenant(ctx, tenant) }); err != nil {
			return t, fmt.Errorf("create dev tenant: %w", err)
		}
		t.TenantID, changed = tenant.ID, true
	}
	for _, tok := range []struct {
		value          *string
		tenantID, name string
		role           aicc.Role
	}{
		{&t.TenantAdmin, t.TenantID, "dev tenant-admin", aicc.RoleTenantAdmin},
		{&t.Sysadmin, "", "dev sysadmin", aicc.RoleSysadmin},
	} {
		if *tok.value != "" {
			_, err := store.FindToken(ctx, aicc.HashToken(*tok.value), now)
			if err == nil {
				continue
			}
			if aicc.ErrorCode(err) != aicc.ENOTFOUND {
				return t, err
			}
		}
		secret, rec := aicc.NewAPIToken(tok.tenantID, tok.role, tok.name, now)
		err := store.Audited(ctx, tokenAudit(rec, "aicc dev"), func(ctx context.Context) error { return store.CreateToken(ctx, rec) })
		if err != nil {
			return t, fmt.Errorf("create %s token: %w", tok.name, err)
		}
		*tok.value, changed = secret, true
	}
	if changed {
		b, _ := json.MarshalIndent(t, "", "  ")
		if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
			return t, err
		}
	}
	return t, nil
}

// ensureMasterKey reads the master key at path, or creates one there (mode 0600) on the first start.
func ensureMasterKey(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		k, err := readKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	key := aicc.RandomBytes(aicc.MasterKeySize)
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

// writeFileAtomic writes data to path through a temporary file, so a crash never leaves half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil { // WriteFile keeps the mode of an existing file
		return err
	}
	return os.Rename(tmp, path)
}

// localURL is the http URL a browser on this machine reaches a listen address at.
func localURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// waitHTTP waits until every URL answers 200, for at most ten seconds, or fails with the API's error when the
// API stops first.
func waitHTTP(ctx context.Context, apiErr <-chan error, targets ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for _, u := range targets {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			resp, err := hc.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			select {
			case err := <-apiErr:
				return err
			case <-ctx.Done():
				return fmt.Errorf("%s did not come up: %w", u, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// devBanner is what aicc dev prints once everything runs.
type devBanner struct {
	// APIURL is the admin listener's base URL, WebhooksURL the public listener's, PublicURL the callback URLs'
	// base (WebhooksURL unless AICC_PUBLIC_URL says otherwise).
	APIURL, WebhooksURL, PublicURL      string
	UIURL, Temporal, Namespace, DataDir string
	// Database says where the application's data are: SQLite in the data directory, or AICC_DATABASE_URL.
	Database string
	Tokens   devTokens
	// Graph is the Graph API's base URL and version, Trust the AICC_GRAPH_TRUST in force.
	Graph, Trust string
	FakeMeta     bool
	// Certificate is nil when a valid Facebook authentication certificate is uploaded, else why onboarding
	// will fail.
	Certificate error
}

func printBanner(w io.Writer, b devBanner) {
	fmt.Fprintf(w, `
aicc dev is running.

  API            %[1]s (the admin listener: keep it private)
  API docs       %[1]s/docs
  OpenAPI        %[1]s/openapi.yaml
  Metrics        %[1]s/metrics
  Health         %[1]s/healthz  %[1]s/readyz
  Webhooks       %[12]s (the public listener: Meta's webhooks and /healthz only)
  Temporal UI    %[3]s
  Temporal       %[4]s (namespace %[5]s)
  Database       %[11]s
  Callback URLs  start with %[2]s (set AICC_PUBLIC_URL to a public HTTPS URL that reaches the
                 public listener, for Meta)

  Tenant "dev"   %[6]s
  Tenant admin   %[7]s
  Sysadmin       %[8]s

%[10]s
  Try:  curl -H 'Authorization: Bearer %[7]s' %[1]s/v1/channels

  Data in %[9]s (kept across restarts; delete it to start afresh). Ctrl+C stops.

`, b.APIURL, b.PublicURL, b.UIURL, b.Temporal, b.Namespace,
		b.Tokens.TenantID, b.Tokens.TenantAdmin, b.Tokens.Sysadmin, b.DataDir, metaBanner(b), b.Database, b.WebhooksURL)
}

// certificateState is nil when a valid Facebook authentication certificate is uploaded, else the error the
// onboarding prerequisite will fail with.
func certificateState(ctx context.Context, store aicc.CertificateStore) error {
	certs, err := store.ListCertificates(ctx)
	if err != nil {
		return err
	}
	return aicc.CheckCertificates(certs, time.Now())
}

// metaBanner is the banner's part about Meta: the fake's fixed app and Page, or where the Graph API is and
// whether the certificate onboarding needs is uploaded.
func metaBanner(b devBanner) string {
	if b.FakeMeta {
		return fmt.Sprintf(`  Fake Meta      %s (in this process; its certificate is uploaded as the system certificate)
                 app ID %s, app secret %s
                 Page %s (%q), token %s
`, b.Graph, FakeMetaAppID, FakeMetaAppSecret, FakeMetaPageID, FakeMetaPageName, FakeMetaPageToken)
	}
	s := fmt.Sprintf("  Meta Graph API %s (trusts %s certificates)\n", b.Graph, b.Trust)
	if b.Certificate == nil {
		return s + "                 The Facebook authentication certificate is uploaded.\n"
	}
	return s + fmt.Sprintf(`                 Onboarding fails with %s until the sysadmin uploads the Facebook
                 authentication certificate (PEM):
                   jq -Rs '{pem: .}' facebook.pem | curl -s -H 'Authorization: Bearer %s' \
                     -H 'Content-Type: application/json' -d @- %s/v1/system/certificates
                 Or try everything offline: aicc dev --fake-meta
`, aicc.ErrorCode(b.Certificate), b.Tokens.Sysadmin, b.APIURL)
}

// devCodecHandler serves the payload codec at codecPath beside the admin API, for aicc dev's own Web UI (origin),
// which has no sign-in to pass a token with: the path, random for each run and handed only to that UI, is the
// credential, and like the UI it is reachable on the loopback interface only. Everything else goes to api.
// "aicc codec-server" is the authenticated codec for real deployments.
func devCodecHandler(api http.Handler, pc *codec.Codec, codecPath, origin string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(codecPath+"/", http.StripPrefix(codecPath, codec.Handler(pc, func(*http.Request) error { return nil }, origin)))
	mux.Handle("/", api)
	return mux
}
