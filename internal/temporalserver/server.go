// Package temporalserver embeds a single-node Temporal server in this process, the way the Temporal CLI's dev
// server does (temporalio/cli internal/devserver, which cannot be imported): every service in the process,
// static membership, bound to the loopback interface, no traffic beyond it. Its state lives in one SQLite file
// (aicc dev) or in two Postgres databases (tests and tools that want the production persistence).
package temporalserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/aiccfb/aicc/internal/sqlitewal"
)

// Options for StartSQLite and StartPostgres; zero values have defaults.
type Options struct {
	// Port is the frontend's gRPC port on 127.0.0.1; 0 picks a free one.
	Port int
	// Namespace is registered when missing; default DefaultNamespace.
	Namespace string
	// Logger logs the SDK client that waits for the server; default slog.Default(). The server itself logs
	// errors only, as JSON on stderr.
	Logger *slog.Logger
	// Shards is the number of history shards of a new Postgres store; default DefaultShards. The count is
	// written into the store when it is created and an existing store keeps its own. SQLite always has 1.
	Shards int
}

// Defaults of Options.
const (
	DefaultNamespace = "default"
	// DefaultShards lets a few history shards work in parallel on a small machine; a production cluster has
	// hundreds, but every shard costs a little in every service, whatever the load.
	DefaultShards = 4
)

// clusterName names the single cluster; it is stored in the database, so it never changes.
const clusterName = "active"

// namespaceRetention is how long the histories of closed workflows are kept, as in Temporal's dev server.
const namespaceRetention = 24 * time.Hour

// loopback is the only interface the server listens on.
const loopback = "127.0.0.1"

// Server is a running embedded Temporal server.
type Server struct {
	// HostPort is the frontend's gRPC address, host:port.
	HostPort    string
	server      temporal.Server
	checkpoints *sqlitewal.Checkpointer // SQLite only
}

// Stop stops the server; it takes about a second.
func (s *Server) Stop() error {
	err := s.server.Stop()
	if s.checkpoints != nil {
		err = errors.Join(err, s.checkpoints.Close())
	}
	return err
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Shards <= 0 {
		o.Shards = DefaultShards
	}
	return o
}

// frontendAddr returns the frontend's address for port, a free port when it is 0, and fails when the port is
// taken, with a clearer message than the server's.
func frontendAddr(port int) (string, error) {
	if port == 0 {
		p, err := freePort(loopback)
		if err != nil {
			return "", err
		}
		port = p
	}
	addr := net.JoinHostPort(loopback, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("temporal frontend: %s is not free: %w", addr, err)
	}
	return addr, l.Close()
}

// start starts a server on persistence with its frontend at hostPort, registers o.Namespace when it is missing
// and waits until the frontend answers for it.
func start(ctx context.Context, persistence config.Persistence, hostPort string, o Options) (*Server, error) {
	_, p, err := net.SplitHostPort(hostPort)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, err
	}

	var conf config.Config
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: loopback}
	conf.Persistence = persistence
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
			Enabled: true, InitialFailoverVersion: 1, RPCAddress: hostPort,
		}},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Archival.History.State, conf.Archival.Visibility.State = "disabled", "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = hostPort

	hosts := map[primitives.ServiceName]static.Hosts{}
	conf.Services = map[string]config.Service{}
	for _, svc := range []primitives.ServiceName{
		primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService,
	} {
		p := port
		if svc != primitives.FrontendService {
			if p, err = freePort(loopback); err != nil {
				return nil, err
			}
		}
		conf.Services[string(svc)] = config.Service{RPC: config.RPC{GRPCPort: p, BindOnIP: loopback}}
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(loopback, strconv.Itoa(p)))
	}

	zl := serverLogger()
	authz, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, err
	}
	claims, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, zl)
	if err != nil {
		return nil, err
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(&conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(zl),
		temporal.WithAuthorizer(authz),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claims }),
		temporal.WithDynamicConfigClient(DynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	s := &Server{server: srv, HostPort: hostPort}
	if err := s.waitHealthy(ctx, o.Logger, o.Namespace); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return s, nil
}

// serverLogger is the server's logger: errors only, as JSON on stderr.
func serverLogger() log.Logger {
	return log.NewZapLogger(log.BuildZapLogger(log.Config{Level: "error"}))
}

// DynamicConfig is the embedded server's dynamic configuration, as the compose stack's server has it
// (deploy/temporal/dynamicconfig.yaml). Tests that start a temporaltest server pass it too.
func DynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// MUST stay off: otherwise the frontend calls version-info.temporal.io, and an embedded server makes no
		// traffic beyond the loopback interface. The TEMPORAL_VERSION_CHECK_DISABLED variable is read at
		// package init and would be too late to set here, so this does not depend on it.
		dynamicconfig.EnableServerVersionCheck.Key(): false,
		// One partition per task queue instead of four, as Temporal's own tests have it: one node and a few
		// workers, whose workflow-task pollers then wait where every task arrives rather than on two partitions
		// of four. The Conversation workflows applied a backlog of 5,000 new conversations in about half the
		// time, on SQLite and on Postgres alike (docs/benchmarks.md, "Delivery").
		dynamicconfig.MatchingNumTaskqueueReadPartitions.Key():  1,
		dynamicconfig.MatchingNumTaskqueueWritePartitions.Key(): 1,
	}
}

// waitHealthy waits until the frontend answers for namespace, registering it when the store does not have
// it, and until the history service answers for a workflow of it, for at most 30 s.
func (s *Server) waitHealthy(ctx context.Context, logger *slog.Logger, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort: s.HostPort, Namespace: namespace, Logger: sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("temporal server did not become healthy: %w", err)
	}
	defer c.Close()
	for {
		_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		if _, missing := errors.AsType[*serviceerror.NamespaceNotFound](err); missing {
			err = register(ctx, c, namespace)
		}
		if err == nil {
			// The frontend's namespace registry learns of a namespace registered a moment ago a little
			// later (it caches a miss for a second): a workflow call answers "namespace not found" until then.
			// A workflow that does not exist is the answer wanted.
			_, err = c.DescribeWorkflowExecution(ctx, "temporalserver-readiness-probe", "")
			if _, ok := errors.AsType[*serviceerror.NotFound](err); ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal server did not become healthy: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// register registers namespace through the frontend; one that exists already is no error.
func register(ctx context.Context, c client.Client, namespace string) error {
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        namespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(namespaceRetention),
	})
	if _, exists := errors.AsType[*serviceerror.NamespaceAlreadyExists](err); exists {
		return nil
	}
	return err
}

// freePort returns a TCP port that was free on ip a moment ago.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
