// Package ops is what every aicc process serves to operators: the HTTP server lifecycle, readiness, and
// Prometheus registration.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Serve serves srv until ctx is done, then shuts it down gracefully, waiting up to grace for the requests in
// flight. It returns nil after a clean shutdown, and an error at once when srv cannot listen or serve.
//
// It serves ln, or listens on srv.Addr when ln is nil, and serves TLS when srv.TLSConfig is set (with its
// certificates). name starts its errors and its log lines ("api listening", "api stopped"); a nil logger logs
// nothing.
func Serve(ctx context.Context, name string, srv *http.Server, ln net.Listener, grace time.Duration, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if ln == nil {
		addr := srv.Addr
		if addr == "" {
			addr = ":http" // as http.Server.ListenAndServe
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	logger.Info(name+" listening", slog.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s: shutdown: %w", name, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", name, err)
	}
	logger.Info(name + " stopped")
	return nil
}

// Start runs Serve in the background, logging nothing, for a server that lives as long as a value of its
// caller rather than a context. stop shuts the server down and returns what Serve returned; calling it again
// returns the same.
func Start(name string, srv *http.Server, ln net.Listener, grace time.Duration) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, name, srv, ln, grace, nil) }()
	return sync.OnceValue(func() error {
		cancel()
		return <-errc
	})
}
