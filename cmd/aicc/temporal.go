package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// This file embeds a single-node Temporal server for aicc dev, the way the Temporal CLI's dev server does
// (temporalio/cli internal/devserver, which cannot be imported): SQLite persistence in one file, static
// membership, every service in this process, bound to the loopback interface.

// devTemporal is a running embedded Temporal server.
type devTemporal struct {
	server   temporal.Server
	HostPort string // the frontend's gRPC address
}

// devClusterName names the single cluster; it is stored in the database, so it never changes.
const devClusterName = "active"

// startDevTemporal starts a Temporal server whose state lives in dbFile (created with its schema when it
// does not exist) and whose frontend listens on 127.0.0.1:port. namespace is registered if missing.
func startDevTemporal(ctx context.Context, logger *slog.Logger, dbFile string, port int, namespace string) (*devTemporal, error) {
	const ip = "127.0.0.1"
	hostPort := net.JoinHostPort(ip, strconv.Itoa(port))
	if err := checkPortFree(hostPort); err != nil {
		return nil, fmt.Errorf("temporal frontend: %w (set AICC_TEMPORAL_PORT to use another port)", err)
	}
	sqlConf := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbFile,
		// Plain keys become PRAGMAs; mode is a URI parameter. WAL lets readers and the writer work side by
		// side, and synchronous=NORMAL is durable enough for a laptop (WAL is still crash-safe).
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "NORMAL"},
	}
	if _, err := os.Stat(dbFile); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dbFile), 0o700); err != nil {
			return nil, err
		}
		if err := sqliteschema.SetupSchema(sqlConf); err != nil {
			_ = os.Remove(dbFile) // half a schema would be skipped on the next start
			return nil, fmt.Errorf("temporal schema: %w", err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(devClusterName, namespace, false, nil)
	if err != nil {
		return nil, err
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil { // a no-op when it exists
		return nil, fmt.Errorf("temporal namespace: %w", err)
	}

	var conf config.Config
	conf.Global.Membership = config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: ip}
	conf.Persistence = config.Persistence{
		DefaultStore: "sqlite-default", VisibilityStore: "sqlite-default",
		// The shard count is written into the database when it is created and can never change.
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}},
	}
	conf.ClusterMetadata = &cluster.Config{
		FailoverVersionIncrement: 10,
		MasterClusterName:        devClusterName,
		CurrentClusterName:       devClusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{devClusterName: {
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
			if p, err = freePort(ip); err != nil {
				return nil, err
			}
		}
		conf.Services[string(svc)] = config.Service{RPC: config.RPC{GRPCPort: p, BindOnIP: ip}}
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(p)))
	}

	zl := log.NewZapLogger(log.BuildZapLogger(log.Config{Level: "error"})) // JSON on stderr
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
		temporal.WithDynamicConfigClient(devDynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	t := &devTemporal{server: srv, HostPort: hostPort}
	if err := t.waitHealthy(ctx, logger, namespace); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return t, nil
}

// devDynamicConfig is the embedded server's dynamic configuration.
func devDynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		// MUST stay off: otherwise the frontend calls version-info.temporal.io, and aicc dev makes no
		// traffic beyond the loopback interface. The TEMPORAL_VERSION_CHECK_DISABLED variable is read at
		// package init and would be too late to set here, so this does not depend on it.
		dynamicconfig.EnableServerVersionCheck.Key(): false,
		// New search attributes are visible at once, so the first onboarding after registering TenantId and
		// ChannelId can use them.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	}
}

// waitHealthy waits until the frontend answers for namespace, for at most 30 s.
func (t *devTemporal) waitHealthy(ctx context.Context, logger *slog.Logger, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{
		HostPort: t.HostPort, Namespace: namespace, Logger: sdklog.NewStructuredLogger(logger),
	})
	if err != nil {
		return fmt.Errorf("temporal server did not become healthy: %w", err)
	}
	defer c.Close()
	for {
		if _, err = c.WorkflowService().DescribeNamespace(ctx,
			&workflowservice.DescribeNamespaceRequest{Namespace: namespace}); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal server did not become healthy: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the server; it takes about a second.
func (t *devTemporal) Stop() error { return t.server.Stop() }

// freePort returns a TCP port that was free on ip a moment ago.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkPortFree fails when something already listens on addr, with a clearer message than the server's.
func checkPortFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is not free: %w", addr, err)
	}
	return l.Close()
}
