package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/internal/ops"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/worker"
)

// deps are what the production processes share: the keyring, the Postgres store, the metrics registry and a
// Temporal client reporting to it.
type deps struct {
	keyring  *aicc.Keyring
	store    *db.Store
	exports  *export.Storage
	reg      *prometheus.Registry
	temporal client.Client
	closers  []io.Closer
}

// connectTemporal returns the process's Temporal client: dialTemporal or lazyTemporal.
type connectTemporal func(ctx context.Context, cfg Config, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error)

// openDeps opens the dependencies of "aicc api" and "aicc worker", the Temporal client with connect; Close
// releases them.
func openDeps(ctx context.Context, cfg Config, logger *slog.Logger, connect connectTemporal) (d *deps, err error) {
	if err := cfg.requireDatabaseURL(); err != nil {
		return nil, err
	}
	d = &deps{reg: newRegistry()}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if _, err = cfg.Keyring(); err != nil {
		return nil, err
	}
	if d.store, err = openStore(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	d.store.SetMaxOpenConns(cfg.DatabaseMaxConns)
	d.closers = append(d.closers, d.store)
	if d.keyring, err = loadKeyring(ctx, cfg, d.store, time.Now().UTC()); err != nil {
		return nil, err
	}
	if d.exports, err = openExportFiles(ctx, cmp.Or(cfg.ExportBucket, DefaultExportBucket)); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.exports)
	handler, closeMetrics := temporalMetrics(d.reg, logger)
	d.closers = append(d.closers, closeMetrics)
	if d.temporal, err = connect(ctx, cfg, logger, handler); err != nil {
		return nil, err
	}
	return d, nil
}

// Close releases the dependencies in the reverse order of their opening.
func (d *deps) Close() {
	if d.temporal != nil {
		d.temporal.Close()
	}
	for i := len(d.closers) - 1; i >= 0; i-- {
		_ = d.closers[i].Close()
	}
}

// runAPI is "aicc api": Meta's webhooks on the public listener (cfg.PublicAddr), the REST API, /metrics and the
// docs on the admin one (cfg.HTTPAddr), against Postgres and Temporal. It starts and takes webhooks without
// Temporal (see lazyTemporal).
func runAPI(ctx context.Context, cfg Config, logger *slog.Logger) error {
	robots, err := newRobots(cfg, false)
	if err != nil {
		return err
	}
	d, err := openDeps(ctx, cfg, logger, lazyTemporal)
	if err != nil {
		return err
	}
	defer d.Close()
	keyring, store, reg, tc := d.keyring, d.store, d.reg, d.temporal
	ops.MustRegister(reg, robots) // the robot assistant's calls
	go logTemporalReachable(ctx, tc, cfg, logger)

	srv := &api.Server{
		Store: store, Keyring: keyring, Temporal: tc, Logger: logger, Metrics: reg,
		Webhooks: meta.Codec{}, PublicURL: cfg.PublicURL, VerificationTTL: cfg.VerificationTTL,
		RotationReminder: cfg.RotationReminder, ExportFiles: d.exports, ExportRetention: cfg.ExportRetention,
		MaxBodyBytes: cfg.MaxBodyBytes, GaugeInterval: cfg.MetricsInterval, Robots: robots,
		WebhookLimits: &cfg.WebhookLimits, TrustedProxies: cfg.TrustedProxies,
	}
	logGraph(logger, cfg)
	return serveAPI(ctx, srv, cfg.PublicAddr, cfg.HTTPAddr, srv.AdminHandler(), logger)
}

// serveAPI serves srv's public listener on publicAddr and admin on adminAddr (srv.AdminHandler, or a handler
// around it), and refreshes srv's gauges beside them, until ctx is done or a listener fails; then it stops the
// rest and returns what failed.
func serveAPI(ctx context.Context, srv *api.Server, publicAddr, adminAddr string, admin http.Handler, logger *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gaugesDone := make(chan struct{})
	go func() { defer close(gaugesDone); srv.RunGauges(ctx) }()
	errs := make(chan error, 2)
	go func() { errs <- api.Serve(ctx, "api public", publicAddr, srv.PublicHandler(), logger) }()
	go func() { errs <- api.Serve(ctx, "api admin", adminAddr, admin, logger) }()
	err := <-errs
	cancel()
	err = errors.Join(err, <-errs)
	<-gaugesDone
	return err
}

// runWorker is "aicc worker": the Temporal worker with the inbox dispatcher and the resumer beside it, with /metrics, /healthz
// and /readyz on cfg.WorkerMetricsAddr. It needs the master key: its activities unseal app secrets and Page
// tokens to call Meta.
func runWorker(ctx context.Context, cfg Config, logger *slog.Logger) error {
	robots, err := newRobots(cfg, false)
	if err != nil {
		return err
	}
	d, err := openDeps(ctx, cfg, logger, dialTemporal)
	if err != nil {
		return err
	}
	defer d.Close()
	keyring, store, reg, tc := d.keyring, d.store, d.reg, d.temporal
	ops.MustRegister(reg, robots) // the intelligent robot's calls
	if err := worker.RegisterSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
		// Compose's admin-tools job registers them too; a worker without the permission still works.
		logger.Warn("could not register search attributes", slog.String("error", err.Error()))
	}
	ensureInboxRetention(ctx, cfg, tc, logger)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	// Unlike the API, the worker needs Temporal for everything it does.
	mux.Handle("GET /readyz", ops.ReadyHandler(ops.Dependencies(store.Ping, tc), logger))
	metricsSrv := &http.Server{
		Addr: cfg.WorkerMetricsAddr, Handler: mux,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	metricsErr := make(chan error, 1)
	go func() {
		metricsErr <- ops.Serve(ctx, "worker metrics", metricsSrv, nil, 5*time.Second, logger)
		cancel() // the worker stops when its metrics server cannot run
	}()

	dispatcher := newDispatcher(cfg, store, tc, logger, reg)
	dispatchErr := make(chan error, 1)
	go func() {
		dispatchErr <- stopped(dispatcher.Run(ctx))
		cancel() // the worker stops when its dispatcher cannot run
	}()
	resumeErr := make(chan error, 1)
	go func() { resumeErr <- newResumer(store, tc, cfg, logger).Run(ctx) }()

	acts := newActivities(store, keyring, cfg.GraphProvider(store), d.exports, reg)
	acts.Pacer = activities.NewPacer(float64(cfg.SendRate))
	acts.Pacer.CallTime = cfg.GraphTimeout
	acts.Robots = robots
	logGraph(logger, cfg)
	logger.Info("worker starting", slog.String("namespace", cfg.TemporalNamespace),
		slog.String("dispatcher", dispatcher.Owner))
	werr := worker.Run(ctx, tc, acts, sdkworker.Options{})
	cancel()
	return errors.Join(werr, <-dispatchErr, <-resumeErr, <-metricsErr)
}

// newActivities returns the activities' dependencies: the store, the keyring that unseals the secrets a Graph
// call needs, the Graph provider, which trusts the certificates uploaded at the time of each call, and where
// export files go, with the export and outbound metrics registered on reg, and a pacer of the default rate.
func newActivities(store aicc.Store, keyring *aicc.Keyring, graph aicc.GraphProvider, exports *export.Storage,
	reg prometheus.Registerer) *activities.Activities {
	return &activities.Activities{
		Channels: store, Directory: store, Certificates: store, Conversations: store, Inbox: store, Audit: store,
		Keyring: keyring, Graph: graph,
		Exports: store, ExportFiles: exports, ExportMetrics: activities.NewExportMetrics(reg), Now: time.Now,
		Outbound: store, OutboundMetrics: activities.NewOutboundMetrics(reg),
		Pacer: activities.NewPacer(activities.DefaultSendRate),
	}
}

// openExportFiles opens the storage of export files at url.
func openExportFiles(ctx context.Context, url string) (*export.Storage, error) {
	s, err := export.OpenStorage(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("export storage: %w", err)
	}
	return s, nil
}

// newDispatcher returns the process's inbox dispatcher, which delivers stored webhook events to their
// conversation workflows. Its owner name is this host and process, so that a lease names who holds it and a
// restarted process never mistakes its predecessor's leases for its own; they are claimed again once they run
// out. What cfg leaves unset is the worker package's default.
func newDispatcher(cfg Config, inbox aicc.InboxStore, tc client.Client, logger *slog.Logger, reg prometheus.Registerer) *worker.Dispatcher {
	return &worker.Dispatcher{
		Inbox: inbox, Temporal: tc, Owner: dispatchOwner(),
		Concurrency: cfg.DispatchConcurrency, Lease: cfg.DispatchLease, MaxAttempts: cfg.DispatchMaxAttempts,
		Logger: logger.With(slog.String("component", "dispatcher")), Metrics: reg,
	}
}

// newResumer returns the process's resumer, which starts the workflows of channels, Pages and exports the API
// stored while Temporal did not take the start.
func newResumer(store worker.ResumeStore, tc client.Client, cfg Config, logger *slog.Logger) *worker.Resumer {
	return &worker.Resumer{
		Store: store, Temporal: tc, VerificationTTL: cfg.VerificationTTL, ExportRetention: cfg.ExportRetention, Now: time.Now,
		Logger: logger.With(slog.String("component", "resumer")),
	}
}

// dispatchOwner names this process among the dispatchers: host name and process ID.
func dispatchOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return host + "/" + strconv.Itoa(os.Getpid())
}

// stopped is err, or nil when err only says that the context was cancelled: a stop asked for, not a failure.
func stopped(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// logGraph logs where Graph calls go and what their TLS trusts, once at start.
func logGraph(logger *slog.Logger, cfg Config) {
	logger.Info("graph api", slog.String("base_url", cfg.GraphBaseURL), slog.String("version", cfg.GraphVersion),
		slog.String("trust", cfg.graphTrust()), slog.String("timeout", cfg.GraphTimeout.String()))
}

// newRegistry returns the process's one Prometheus registry, with the Go runtime and process collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// temporalMetrics returns a Temporal SDK metrics handler that reports on reg. The tally reporter is built on
// reg directly: tally's Configuration path would register a handler on http.DefaultServeMux instead.
func temporalMetrics(reg *prometheus.Registry, logger *slog.Logger) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		// A clash (the same name with other labels) loses that metric, not the process.
		OnRegisterError: func(err error) {
			logger.Warn("temporal metric not registered", slog.String("error", err.Error()))
		},
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
		// tally's own cardinality gauges carry "instance" and "host" labels, which collide with the labels
		// Prometheus gives every target.
		OmitCardinalityMetrics: true,
	}, time.Second)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}

// temporalClientOptions are the options of the process's Temporal client: address, namespace, logger, metrics,
// and the connection's security and payload codec (temporalOptions).
func temporalClientOptions(cfg Config, logger *slog.Logger, metrics client.MetricsHandler) (client.Options, error) {
	opts := client.Options{
		HostPort:       cfg.TemporalAddress,
		Namespace:      cfg.TemporalNamespace,
		Logger:         sdklog.NewStructuredLogger(logger.With(slog.String("component", "temporal-sdk"))),
		MetricsHandler: metrics,
	}
	err := cfg.temporalOptions(&opts)
	return opts, err
}

// lazyTemporal returns a Temporal client that connects on its first call, and tries again on each call after
// one that could not: "aicc api" starts, stores and acknowledges Meta's webhooks and stays ready (/readyz:
// "degraded") while Temporal is down, and its routes that need Temporal answer 503 UNAVAILABLE until it is back.
// The inbox it fills is delivered by the worker's dispatcher then.
func lazyTemporal(_ context.Context, cfg Config, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts, err := temporalClientOptions(cfg, logger, metrics)
	if err != nil {
		return nil, err
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client for %s: %w", cfg.TemporalAddress, err)
	}
	return c, nil
}

// logTemporalReachable logs once, at start, whether tc reaches Temporal: a lazy client says nothing until a
// route needs it.
func logTemporalReachable(ctx context.Context, tc client.Client, cfg Config, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
	switch {
	case errors.Is(ctx.Err(), context.Canceled): // the process stops
	case err != nil:
		logger.Warn("temporal not reachable: webhooks are still stored, routes that need Temporal answer 503 until it is",
			slog.String("address", cfg.TemporalAddress), slog.String("error", err.Error()))
	default:
		logger.Info("temporal reachable", slog.String("address", cfg.TemporalAddress))
	}
}

// dialTemporal connects to the Temporal frontend, retrying for up to two minutes: in a compose stack the worker
// may start before Temporal is ready, and it can do nothing without it.
func dialTemporal(ctx context.Context, cfg Config, logger *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts, err := temporalClientOptions(cfg, logger, metrics)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.DialContext(dctx, opts)
		cancel()
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("connect to temporal at %s: %w", cfg.TemporalAddress, err)
		}
		logger.Warn("temporal not reachable yet, retrying",
			slog.String("address", cfg.TemporalAddress), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
