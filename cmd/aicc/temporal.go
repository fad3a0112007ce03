package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"go.temporal.io/server/common/dynamicconfig"

	"github.com/aiccfb/aicc/internal/temporalserver"
)

// startDevTemporal starts aicc dev's embedded Temporal server (internal/temporalserver), whose state lives in
// dbFile (created with its schema when it does not exist) and whose frontend listens on 127.0.0.1:port.
// namespace is registered if missing.
func startDevTemporal(ctx context.Context, logger *slog.Logger, dbFile string, port int, namespace string) (*temporalserver.Server, error) {
	if err := checkPortFree(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		return nil, fmt.Errorf("temporal frontend: %w (set AICC_TEMPORAL_PORT to use another port)", err)
	}
	return temporalserver.StartSQLite(ctx, dbFile, temporalserver.Options{Port: port, Namespace: namespace, Logger: logger})
}

// devDynamicConfig is the embedded server's dynamic configuration, which turns the version check off and
// gives task queues one partition; the tests' temporaltest servers take it too.
func devDynamicConfig() dynamicconfig.StaticClient { return temporalserver.DynamicConfig() }

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
