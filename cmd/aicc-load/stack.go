package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/internal/codec"
	"github.com/aiccfb/aicc/internal/temporalserver"
	"github.com/aiccfb/aicc/worker"
)

// stack is everything an -e2e run measures, in this process: an embedded Temporal server, the application's
// store, aicc's API handler over a provisioned channel, a Temporal worker with the real Conversation workflow and
// activities (and the floor's no-op workflow), and the inbox dispatcher, started and stopped by the phases.
type stack struct {
	store    *db.Store
	temporal client.Client
	self     *server // aicc's API handler; self.target is where POSTs go
	tenant   string  // the provisioned channel's tenant
	runID    string
	logger   *slog.Logger
	dispatch dispatchOptions
	// describe names the Temporal persistence and the store, for the report.
	describe string

	dispatcher *runningDispatcher // nil while stopped
	inbox      *timedInbox        // the store as the dispatcher gets it: its claims and marks timed
	signals    *signalTimer       // times the client's signal-with-start calls
	pg         *pgCounter         // counts the commits of the run's Postgres databases; nil without Postgres
	closers    []func() error     // run in reverse order by Close
}

// dispatchOptions are the dispatcher's settings of the run; zero values are the worker package's defaults.
type dispatchOptions struct {
	concurrency int
}

// startStack starts the stack of o: Temporal on SQLite in dir (or on Postgres, in new databases on -db's server),
// the store (SQLite in dir unless -db), aicc's handler and the worker. The dispatcher is not started.
func startStack(ctx context.Context, o options, dir string) (s *stack, err error) {
	s = &stack{runID: newRunID(), dispatch: dispatchOptions{concurrency: o.dispatchConcurrency}, signals: &signalTimer{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close())
		}
	}()
	// Warnings and errors of the SDK and the dispatcher go to stderr; the Temporal server logs its errors there.
	s.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	dbURL := o.db
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(dir, "app.db")
	}
	if s.store, err = db.Open(ctx, dbURL); err != nil {
		return s, fmt.Errorf("open database: %w", err)
	}
	s.closers = append(s.closers, s.store.Close)
	if err := s.store.Migrate(ctx); err != nil {
		return s, fmt.Errorf("migrate: %w", err)
	}
	s.inbox = &timedInbox{InboxStore: s.store}

	var ts *temporalserver.Server
	start := time.Now()
	pgServer, pgNames := "", map[string]string{}
	if s.store.Dialect() == db.Postgres {
		u, _ := url.Parse(o.db)
		pgServer, pgNames[strings.TrimPrefix(u.Path, "/")] = o.db, "app"
	}
	switch o.temporal {
	case temporalPostgres:
		name, turl, err := temporalDatabase(cmp.Or(o.temporalDB, o.db), s.runID)
		if err != nil {
			return s, err
		}
		// Dropped after the server stopped (closers run in reverse): the server's pools hold connections.
		s.closers = append(s.closers, func() error { return dropTemporalDatabases(ctx, turl, name) })
		ts, err = temporalserver.StartPostgres(ctx, turl, temporalserver.Options{Shards: o.shards, Logger: s.logger})
		if err != nil {
			return s, err
		}
		s.describe = fmt.Sprintf("Temporal on Postgres (%d shards, databases %s and %s_visibility)", o.shards, name, name)
		pgServer, pgNames[name], pgNames[name+"_visibility"] = turl, "temporal", "visibility"
	default:
		if ts, err = temporalserver.StartSQLite(ctx, filepath.Join(dir, "temporal.db"), temporalserver.Options{Logger: s.logger}); err != nil {
			return s, err
		}
		s.describe = "Temporal on SQLite (1 shard)"
	}
	s.closers = append(s.closers, ts.Stop)
	if pgServer != "" {
		if s.pg, err = newPGCounter(ctx, pgServer, pgNames); err != nil {
			return s, err
		}
		s.closers = append(s.closers, s.pg.Close)
	}
	s.describe += fmt.Sprintf(", started in %.1f s; store %s", time.Since(start).Seconds(), s.store.Dialect())
	if s.pg != nil {
		s.describe += "; Postgres autovacuum " + s.pg.autovacuum(ctx)
	}

	// The client encrypts payloads as aicc's processes do (with a key of this run's).
	pc, err := codec.New(aicc.RandomBytes(aicc.MasterKeySize))
	if err != nil {
		return s, err
	}
	s.temporal, err = client.DialContext(ctx, client.Options{
		HostPort: ts.HostPort, Namespace: temporalserver.DefaultNamespace,
		Logger:        sdklog.NewStructuredLogger(s.logger),
		DataConverter: pc.DataConverter(), FailureConverter: pc.FailureConverter(),
		Interceptors: []interceptor.ClientInterceptor{s.signals},
	})
	if err != nil {
		return s, fmt.Errorf("connect to temporal: %w", err)
	}
	s.closers = append(s.closers, func() error { s.temporal.Close(); return nil })
	if err := worker.RegisterSearchAttributes(ctx, s.temporal, temporalserver.DefaultNamespace); err != nil {
		return s, err
	}

	if s.self, err = startSelf(ctx, s.store, s.runID, o.nPages); err != nil {
		return s, err
	}
	s.closers = append(s.closers, s.self.Close)
	s.tenant = s.self.tenant

	// The worker as cmd/aicc runs it (with -workflow-pollers, not quite), minus Meta: no conversation of the run
	// sends anything.
	acts := &activities.Activities{Channels: s.store, Directory: s.store, Conversations: s.store, Inbox: s.store, Now: time.Now}
	w := worker.New(s.temporal, acts, sdkworker.Options{MaxConcurrentWorkflowTaskPollers: o.workflowPollers})
	w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: floorWorkflowType})
	if err := w.Start(); err != nil {
		return s, fmt.Errorf("worker: %w", err)
	}
	s.closers = append(s.closers, func() error { w.Stop(); return nil })
	return s, nil
}

// Close stops the dispatcher, then everything else in reverse order of start.
func (s *stack) Close() error {
	s.stopDispatcher()
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// runningDispatcher is a dispatcher's Run in progress.
type runningDispatcher struct {
	started time.Time
	cancel  context.CancelFunc
	done    chan error
}

// startDispatcher starts an inbox dispatcher over the store, and returns when it started.
func (s *stack) startDispatcher() time.Time {
	s.stopDispatcher()
	d := &worker.Dispatcher{
		Inbox: s.inbox, Temporal: s.temporal, Owner: "aicc-load/" + s.runID,
		Concurrency: s.dispatch.concurrency, Logger: s.logger,
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningDispatcher{started: time.Now(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	s.dispatcher = r
	return r.started
}

// stopDispatcher stops the running dispatcher, if any, and waits until it settled what it had in flight.
func (s *stack) stopDispatcher() {
	if s.dispatcher == nil {
		return
	}
	s.dispatcher.cancel()
	if err := <-s.dispatcher.done; err != nil {
		s.logger.Error("dispatcher", "Error", err)
	}
	s.dispatcher = nil
}

// dispatchConcurrency is the dispatcher's concurrency in effect.
func (s *stack) dispatchConcurrency() int {
	if s.dispatch.concurrency > 0 {
		return s.dispatch.concurrency
	}
	return worker.DefaultDispatchConcurrency
}

// temporalDatabase names the run's Temporal database on the server of the Postgres URL dbURL and returns the URL
// of it (the same server, user and parameters).
func temporalDatabase(dbURL, runID string) (name, temporalURL string, err error) {
	u, err := url.Parse(dbURL)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		return "", "", errors.New("-temporal postgres needs a postgres:// URL: its server holds Temporal's databases")
	}
	name = "aicc_load_temporal_" + runID
	u.Path = "/" + name
	return name, u.String(), nil
}

// dropTemporalDatabases drops the run's Temporal databases, name and name_visibility, through a connection to
// the server's postgres database.
func dropTemporalDatabases(ctx context.Context, temporalURL, name string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	u, err := url.Parse(temporalURL)
	if err != nil {
		return err
	}
	u.Path = "/postgres"
	admin, err := db.Open(ctx, u.String())
	if err != nil {
		return fmt.Errorf("drop temporal databases: %w", err)
	}
	defer admin.Close()
	var errs []error
	for _, n := range []string{name, name + "_visibility"} {
		// WITH (FORCE): a connection of the stopped server's pools may not have gone yet.
		if _, err := admin.DB().ExecContext(ctx, "DROP DATABASE IF EXISTS "+n+" WITH (FORCE)"); err != nil {
			errs = append(errs, fmt.Errorf("drop database %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}
