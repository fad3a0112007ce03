package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/codec"
	"github.com/aiccfb/aicc/internal/ops"
)

// payloadCodec returns the codec that encrypts Temporal payloads under the configured master keys: the current
// one seals, the previous ones still open what they sealed.
func (c *Config) payloadCodec() (*codec.Codec, error) {
	if c.MasterKey == nil {
		return nil, errors.New("no master key: the Temporal payload codec derives its key from it")
	}
	return codec.New(append([][]byte{c.MasterKey}, c.PreviousMasterKeys...)...)
}

// temporalOptions sets the connection's security on opts (TLS with an optional CA, client certificate and server
// name; an API key) and the payload codec's converters.
func (c *Config) temporalOptions(opts *client.Options) error {
	pc, err := c.payloadCodec()
	if err != nil {
		return err
	}
	opts.DataConverter, opts.FailureConverter = pc.DataConverter(), pc.FailureConverter()
	if !c.TemporalTLS {
		return nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TemporalServerName}
	if c.TemporalCAFile != "" {
		pem, err := os.ReadFile(c.TemporalCAFile)
		if err != nil {
			return fmt.Errorf("AICC_TEMPORAL_TLS_CA_FILE: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return errors.New("AICC_TEMPORAL_TLS_CA_FILE: no PEM certificate in it")
		}
	}
	if c.TemporalCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TemporalCertFile, c.TemporalKeyFile)
		if err != nil {
			return fmt.Errorf("AICC_TEMPORAL_TLS_CERT_FILE and _KEY_FILE: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	opts.ConnectionOptions.TLS = tc
	if c.TemporalAPIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(c.TemporalAPIKey)
	}
	return nil
}

// authorizeSysadmin accepts a request that carries a sysadmin's API token as its bearer token.
func authorizeSysadmin(tokens aicc.TokenStore) func(r *http.Request) error {
	return func(r *http.Request) error {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return errors.New("no bearer token")
		}
		t, err := tokens.FindToken(r.Context(), aicc.HashToken(strings.TrimSpace(token)), time.Now())
		switch {
		case err != nil:
			return err
		case t.Role != aicc.RoleSysadmin:
			return errors.New("not a sysadmin token")
		}
		return nil
	}
}

// runCodecServer is "aicc codec-server": Temporal's remote codec on cfg.CodecAddr, for the Web UI's codec
// endpoint and the Temporal CLI's --codec-endpoint, decoding payloads for sysadmin tokens only.
func runCodecServer(ctx context.Context, cfg Config, logger *slog.Logger) error {
	pc, err := cfg.payloadCodec()
	if err != nil {
		return err
	}
	if err := cfg.requireDatabaseURL(); err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	srv := &http.Server{
		Addr: cfg.CodecAddr, Handler: codec.Handler(pc, authorizeSysadmin(store), cfg.CodecCORSOrigin),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("codec server starting", slog.String("addr", cfg.CodecAddr), slog.String("cors_origin", cfg.CodecCORSOrigin))
	return ops.Serve(ctx, "codec server", srv, nil, 5*time.Second, logger)
}
