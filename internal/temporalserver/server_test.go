package temporalserver_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/temporalserver"
	aiccworker "github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// postgresURLEnv names a Postgres database for tests (.ci/run sets it); the server's databases are created
// beside it on the same server.
const postgresURLEnv = "AICC_TEST_POSTGRES_URL"

// echoWorkflow returns the first "greeting" signal it receives.
func echoWorkflow(ctx workflow.Context) (string, error) {
	var greeting string
	workflow.GetSignalChannel(ctx, "greeting").Receive(ctx, &greeting)
	return greeting, nil
}

// TestStartPostgres starts a server on two databases that do not exist yet, signals-with-start a workflow and
// reads its result, finds it through visibility, and starts the server again on the same databases (schema in
// place, namespace registered): the workflow is still there.
func TestStartPostgres(t *testing.T) {
	base := os.Getenv(postgresURLEnv)
	if base == "" {
		t.Skip(postgresURLEnv + " is not set")
	}
	ctx := context.Background()
	dbURL := freshDatabases(t, base)
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	opts := temporalserver.Options{Namespace: "aicc-test", Logger: logger}

	start := time.Now()
	srv, err := temporalserver.StartPostgres(ctx, dbURL, opts)
	if err != nil {
		t.Fatalf("StartPostgres on new databases: %v", err)
	}
	t.Logf("first start (databases and schema created) took %s", time.Since(start).Round(time.Millisecond))
	stop := stopOnce(t, srv)
	c := dial(t, srv, opts)
	w := worker.New(c, "echo", worker.Options{})
	w.RegisterWorkflow(echoWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.SignalWithStartWorkflow(ctx, "echo-1", "greeting", "hello postgres",
		client.StartWorkflowOptions{TaskQueue: "echo", WorkflowExecutionTimeout: time.Minute}, echoWorkflow)
	if err != nil {
		t.Fatalf("SignalWithStartWorkflow: %v", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil || got != "hello postgres" {
		t.Fatalf("workflow result = %q, %v; want %q", got, err, "hello postgres")
	}
	waitListed(t, c, opts.Namespace, `WorkflowId = "echo-1"`)
	w.Stop()
	c.Close()
	stop()

	start = time.Now()
	srv, err = temporalserver.StartPostgres(ctx, dbURL, opts)
	if err != nil {
		t.Fatalf("StartPostgres on existing databases: %v", err)
	}
	t.Logf("second start took %s", time.Since(start).Round(time.Millisecond))
	stopOnce(t, srv)
	c = dial(t, srv, opts)
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(ctx, "echo-1", "")
	if err != nil {
		t.Fatalf("after a restart: DescribeWorkflowExecution: %v", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("after a restart the workflow's status = %v, want completed", st)
	}
}

// TestStartSQLite starts a server on a new file, signals-with-start a workflow tagged with aicc's search attributes
// and finds it through visibility by them and by columns whose indexes the new store leaves out, then starts
// the server again on the same file: the workflow is still there.
func TestStartSQLite(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "temporal.db")
	logger := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	opts := temporalserver.Options{Namespace: "aicc-test", Logger: logger}
	srv, err := temporalserver.StartSQLite(ctx, file, opts)
	if err != nil {
		t.Fatalf("StartSQLite on a new file: %v", err)
	}
	stop := stopOnce(t, srv)
	c := dial(t, srv, opts)
	if err := aiccworker.RegisterSearchAttributes(ctx, c, opts.Namespace); err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, "echo", worker.Options{})
	w.RegisterWorkflow(echoWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.SignalWithStartWorkflow(ctx, "echo-1", "greeting", "hello sqlite", client.StartWorkflowOptions{
		TaskQueue: "echo", WorkflowExecutionTimeout: time.Minute,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SearchAttributeTenantID.ValueSet("tn-1"), workflows.SearchAttributeChannelID.ValueSet("ch-1")),
	}, echoWorkflow)
	if err != nil {
		t.Fatalf("SignalWithStartWorkflow: %v", err)
	}
	var got string
	if err := run.Get(ctx, &got); err != nil || got != "hello sqlite" {
		t.Fatalf("workflow result = %q, %v; want %q", got, err, "hello sqlite")
	}
	for _, query := range []string{
		`TenantId = "tn-1" AND ChannelId = "ch-1"`,
		`ExecutionStatus = "Completed" AND WorkflowType = "echoWorkflow"`,
		`HistoryLength > 0 AND TaskQueue = "echo"`,
	} {
		waitListed(t, c, opts.Namespace, query)
	}
	w.Stop()
	c.Close()
	stop()

	srv, err = temporalserver.StartSQLite(ctx, file, opts)
	if err != nil {
		t.Fatalf("StartSQLite on an existing file: %v", err)
	}
	stopOnce(t, srv)
	c = dial(t, srv, opts)
	defer c.Close()
	waitListed(t, c, opts.Namespace, `TenantId = "tn-1"`)
}

// TestStartPostgresRefusesBadURL: a URL that names no database is refused before anything is started, and the
// error does not repeat the password.
func TestStartPostgresRefusesBadURL(t *testing.T) {
	for _, u := range []string{
		"postgres://postgres:CANARY-pw@127.0.0.1:5432/",
		"mysql://postgres:CANARY-pw@127.0.0.1:3306/temporal",
		"postgres://postgres:CANARY-pw@127.0.0.1:5432/a/b",
	} {
		_, err := temporalserver.StartPostgres(context.Background(), u, temporalserver.Options{})
		if err == nil {
			t.Fatalf("StartPostgres(%q) started", u)
		}
		if bytes.Contains([]byte(err.Error()), []byte("CANARY")) {
			t.Errorf("StartPostgres(%q) = %v: the error repeats the password", u, err)
		}
	}
}

// freshDatabases returns the URL of a database on base's server that does not exist yet, named at random;
// it and its visibility database are dropped when the test ends.
func freshDatabases(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s does not parse", postgresURLEnv)
	}
	name := "aicc_tsrv_" + hex.EncodeToString(aicc.RandomBytes(6))
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop the test databases: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, db := range []string{name, name + "_visibility"} {
			if _, err := conn.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", db)); err != nil {
				t.Errorf("drop database %s: %v", db, err)
			}
		}
	})
	u.Path = "/" + name
	return u.String()
}

// stopOnce returns what stops srv, which the test's end calls too (before the databases are dropped).
func stopOnce(t *testing.T, srv *temporalserver.Server) func() {
	stop := sync.OnceFunc(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

// dial connects an SDK client to srv, closed by the caller.
func dial(t *testing.T, srv *temporalserver.Server, o temporalserver.Options) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: srv.HostPort, Namespace: o.Namespace, Logger: sdklog.NewStructuredLogger(o.Logger)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitListed waits until visibility lists one workflow for query, for at most ten seconds.
func waitListed(t *testing.T, c client.Client, namespace, query string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: namespace, Query: query,
		})
		if err == nil && len(resp.GetExecutions()) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("visibility does not list one workflow for %s after 10s: %d executions, %v", query, len(resp.GetExecutions()), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
