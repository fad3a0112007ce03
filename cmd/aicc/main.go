// Command aicc is the AICC Facebook channel service: one binary with a subcommand per process.
//
//	aicc dev       everything in one process on a laptop: embedded Temporal + Web UI, worker, API, SQLite
//	aicc api       the REST API and Meta's webhooks (Postgres, external Temporal)
//	aicc worker    the Temporal worker and the inbox dispatcher
//	aicc migrate   migrates the application database
//	aicc tenants create --name N
//	aicc tokens create --tenant T --role R [--name N] [--expires-in D]
//	aicc tokens list [--tenant T]
//	aicc tokens revoke ID
//	aicc keys rotate [--batch-size N]
//	aicc keys status
//	aicc export [--channel ID]... [--status S] [--name N] [--format F] [-o FILE]
//	aicc healthcheck URL
//	aicc version
//
// The configuration comes from the environment; config.go lists every variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

const usage = `Usage: aicc <command> [flags]

Commands:
  dev                 run everything in one process for a laptop or a demo: embedded Temporal server and
                      Web UI, worker, dispatcher and API on SQLite files in a data directory (no Docker, no
                      internet)
                        --data-dir DIR   data directory (default ./.aicc, or AICC_DATA_DIR)
                        --public-addr ADDR  public listener, Meta's webhooks (default 127.0.0.1:8080, or
                                         AICC_PUBLIC_ADDR)
                        --http-addr ADDR admin listener, the API, its docs and metrics (default
                                         127.0.0.1:8081, or AICC_HTTP_ADDR)
                        --ui-port PORT   Temporal Web UI port (default 8233, or AICC_UI_PORT)
                        --temporal-port PORT  Temporal frontend port (default 7233, or AICC_TEMPORAL_PORT)
                        --fake-meta      serve a fake Meta (Graph API, one fake Page) in-process on
                                         127.0.0.1 over TLS and call it instead of graph.facebook.com
  api                 serve Meta's webhooks on AICC_PUBLIC_ADDR (default :8080), and the REST API, its docs,
                      /metrics and /readyz on AICC_HTTP_ADDR (default 127.0.0.1:8081)
  worker              run the Temporal worker and the dispatcher that delivers webhook events from the
                      inbox to conversation workflows, with /metrics and /healthz on AICC_WORKER_METRICS_ADDR
  migrate             migrate the application database to the latest schema
  tenants create --name NAME
                      create a tenant and print its ID
  tokens create --tenant ID --role ROLE [--name NAME] [--expires-in DURATION]
                      create an API token and print it (shown only once); ROLE is tenant-admin,
                      tenant-viewer, or sysadmin (which takes no --tenant); DURATION e.g. 720h (default:
                      no expiry)
  tokens list [--tenant ID]
                      list the API tokens (every tenant's and the sysadmins', or one tenant's) with their
                      status, expiry, last use and revocation; never a token's value
  tokens revoke ID    revoke the API token with this ID (tok_…): every process refuses it from the next
                      request on
  keys rotate [--batch-size N]
                      re-seal every stored secret under the current master key (AICC_MASTER_KEY) while
                      AICC_MASTER_KEY_PREVIOUS still opens the old ones; N per transaction (default 500);
                      safe to interrupt and run again
  keys status         how many secrets each master key seals; exit 0 when every one is sealed under the
                      current key, 3 while some are sealed under another
  export [--channel ID]... [--status S] [--name N] [--format csv|xlsx|jsonl] [-o FILE] [--poll 1s]
                      export the tenant's channels through the REST API at AICC_URL (default
                      http://127.0.0.1:8081) with the tenant-admin token in AICC_TOKEN: prints the export ID,
                      shows the progress, downloads the zip (default export-<id>.zip) and prints its path;
                      no --channel exports every channel the filters match. Ctrl-C cancels the export,
                      deleting what it wrote, and exits 130
  codec-server        Temporal's remote codec on AICC_CODEC_ADDR (default 127.0.0.1:8089): decrypts the
                      workflow payloads aicc encrypts, for sysadmin tokens only, for the Temporal Web UI's
                      codec endpoint (allow its origin with AICC_CODEC_CORS_ORIGIN) and the Temporal CLI's
                      --codec-endpoint/--codec-auth
  healthcheck URL     exit 0 when URL answers 200 within 3 s, else 1 (for container healthchecks in
                      images without a shell or curl)
  version             print the version
  help                print this help

The configuration comes from AICC_* environment variables; see the README.
`

// run runs the subcommand in args and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Gin's debug mode prints every route on stdout, which is aicc dev's banner and the operators' output.
	gin.SetMode(gin.ReleaseMode)
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "version", "--version":
		if len(rest) > 0 {
			return usageError(stderr, "version takes no arguments")
		}
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "dev":
		return runDev(ctx, rest, stdout, stderr)
	case "api":
		return runServer(ctx, "api", rest, stderr, runAPI)
	case "worker":
		return runServer(ctx, "worker", rest, stderr, runWorker)
	case "migrate":
		return runServer(ctx, "migrate", rest, stderr, runMigrate)
	case "tenants":
		return runTenants(ctx, rest, stdout, stderr)
	case "tokens":
		return runTokens(ctx, rest, stdout, stderr)
	case "keys":
		return runKeys(ctx, rest, stdout, stderr)
	case "export":
		return runExport(ctx, rest, stdout, stderr)
	case "codec-server":
		return runServer(ctx, "codec-server", rest, stderr, runCodecServer)
	case "healthcheck":
		return runHealthcheck(ctx, rest, stderr)
	default:
		return usageError(stderr, fmt.Sprintf("unknown command %q", cmd))
	}
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "aicc: %s\n\n%s", msg, usage)
	return exitUsage
}

// newFlagSet returns a flag set that reports errors and its help on stderr without exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("aicc "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and rejects positional arguments. It returns an exit code when the caller must stop:
// exitOK after -h, exitUsage after a bad flag.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

// runServer runs a long-lived command that takes no flags, with the configuration and a JSON logger on stderr.
func runServer(ctx context.Context, name string, args []string, stderr io.Writer,
	fn func(context.Context, Config, *slog.Logger) error) int {
	if code, ok := parseFlags(newFlagSet(name, stderr), args, stderr); !ok {
		return code
	}
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintf(stderr, "aicc %s: configuration: %v\n", name, err)
		return exitError
	}
	logger := newLogger(stderr, cfg.LogLevel).With(slog.String("process", name))
	if err := fn(ctx, cfg, logger); err != nil {
		logger.Error(name+" failed", slog.String("error", err.Error()))
		return exitError
	}
	return exitOK
}

// newLogger returns the process's logger: JSON lines on w.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// openStore opens and pings the application database. The URL is never logged: it may hold a password.
func openStore(ctx context.Context, url string) (*db.Store, error) {
	store, err := db.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return store, nil
}

func runMigrate(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := cfg.requireDatabaseURL(); err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	if err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	logger.Info("database migrated", slog.String("dialect", store.Dialect()),
		slog.String("took", time.Since(start).Round(time.Millisecond).String()))
	return nil
}

// runTenants runs "aicc tenants create".
func runTenants(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		return usageError(stderr, "usage: aicc tenants create --name NAME")
	}
	fs := newFlagSet("tenants create", stderr)
	name := fs.String("name", "", "the tenant's name (required)")
	if code, ok := parseFlags(fs, args[1:], stderr); !ok {
		return code
	}
	t := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: strings.TrimSpace(*name), CreatedAt: time.Now().UTC()}
	if err := t.Validate(); err != nil {
		fmt.Fprintf(stderr, "aicc tenants create: --name %s\n", fieldMessage(err, "name"))
		return exitUsage
	}
	return withStore(ctx, "tenants create", stderr, func(store *db.Store) error {
		entry := &aicc.AuditEntry{
			Actor: aicc.CLIActor("aicc tenants create"), Action: aicc.AuditTenantCreate,
			Target: aicc.AuditTarget{Type: aicc.TargetTenant, ID: t.ID}, Details: map[string]string{aicc.DetailName: t.Name},
		}
		if err := store.Audited(ctx, entry, func(ctx context.Context) error { return store.CreateTenant(ctx, t) }); err != nil {
			return err
		}
		fmt.Fprintln(stdout, t.ID)
		return nil
	})
}

// runHealthcheck is "aicc healthcheck URL".
func runHealthcheck(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) != 1 || !(strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://")) {
		return usageError(stderr, "usage: aicc healthcheck http://HOST:PORT/PATH")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		fmt.Fprintf(stderr, "aicc healthcheck: %v\n", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "aicc healthcheck: %v\n", err)
		return exitError
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "aicc healthcheck: %s answered %d\n", args[0], resp.StatusCode)
		return exitError
	}
	return exitOK
}

// withStore runs fn with the configured application database, for the short operator commands.
func withStore(ctx context.Context, name string, stderr io.Writer, fn func(*db.Store) error) int {
	return withDatabase(ctx, name, stderr, false, func(_ Config, store *db.Store) (int, error) { return exitOK, fn(store) })
}

// withDatabase runs fn with the configuration and the application database; needKey requires a master key too.
// fn returns the exit code; its error is printed, named after the command, and exits exitError.
func withDatabase(ctx context.Context, name string, stderr io.Writer, needKey bool, fn func(Config, *db.Store) (int, error)) int {
	cfg, err := loadConfig()
	if err == nil {
		err = cfg.requireDatabaseURL()
	}
	if err == nil && needKey && cfg.MasterKey == nil {
		_, err = cfg.Keyring() // the error that explains how to set the key
	}
	if err != nil {
		fmt.Fprintf(stderr, "aicc %s: configuration: %v\n", name, err)
		return exitError
	}
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "aicc %s: %v\n", name, err)
		return exitError
	}
	defer store.Close()
	code, err := fn(cfg, store)
	if err != nil {
		fmt.Fprintf(stderr, "aicc %s: %v\n", name, err)
		return exitError
	}
	return code
}

// fieldMessage is the message of one field of an EINVALID error, or the error's text.
func fieldMessage(err error, field string) string {
	var e *aicc.Error
	if errors.As(err, &e) && e.Fields[field] != "" {
		return e.Fields[field]
	}
	return err.Error()
}

// versionString names this build and the Temporal versions it embeds.
func versionString() string {
	s := "aicc " + version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return s
	}
	deps := map[string]string{}
	for _, d := range info.Deps {
		deps[d.Path] = d.Version
	}
	s += " (" + info.GoVersion
	for _, d := range []struct{ name, path string }{
		{"temporal server", "go.temporal.io/server"},
		{"temporal sdk", "go.temporal.io/sdk"},
		{"temporal ui", "github.com/temporalio/ui-server/v2"},
	} {
		if v := deps[d.path]; v != "" {
			s += ", " + d.name + " " + v
		}
	}
	return s + ")"
}
