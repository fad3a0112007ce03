package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnvDefaults(t *testing.T) {
	got, err := ConfigFromEnv(env(nil))
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"DatabaseURL", got.DatabaseURL, ""},
		{"TemporalAddress", got.TemporalAddress, "127.0.0.1:7233"},
		{"TemporalNamespace", got.TemporalNamespace, "default"},
		{"PublicAddr", got.PublicAddr, ":8080"},
		{"HTTPAddr", got.HTTPAddr, "127.0.0.1:8081"}, // the admin listener: never on the internet by default
		{"WorkerMetricsAddr", got.WorkerMetricsAddr, ":9090"},
		{"PublicURL", got.PublicURL, "http://localhost:8080"},
		{"MetricsInterval", got.MetricsInterval, 15 * time.Second},
		{"VerificationTTL", got.VerificationTTL, 168 * time.Hour},
		{"RotationReminder", got.RotationReminder, 24 * time.Hour},
		{"MaxBodyBytes", got.MaxBodyBytes, int64(1 << 20)},
		{"LogLevel", got.LogLevel, slog.LevelInfo},
		{"DataDir", got.DataDir, ".aicc"},
		{"UIPort", got.UIPort, 8233},
		{"TemporalPort", got.TemporalPort, 7233},
		{"MasterKey", got.MasterKey == nil, true},
		{"GraphBaseURL", got.GraphBaseURL, "https://graph.facebook.com"},
		{"GraphVersion", got.GraphVersion, "v25.0"},
		{"GraphUploadedOnly", got.GraphUploadedOnly, false},
		{"GraphTimeout", got.GraphTimeout, 10 * time.Second},
		{"ExportBucket", got.ExportBucket, ""}, // DefaultExportBucket; aicc dev: its data directory
		{"ExportRetention", got.ExportRetention, 168 * time.Hour},
		{"WebhookLimits", got.WebhookLimits, api.WebhookLimits{ClientRate: 1, ClientBurst: 60, ChannelRate: 1, ChannelBurst: 20}},
		{"TrustedProxies", len(got.TrustedProxies), 0}, // the client is the remote address
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, err := got.Keyring(); err == nil || !strings.Contains(err.Error(), "AICC_MASTER_KEY") {
		t.Errorf("Keyring without a key: err = %v, want one naming AICC_MASTER_KEY", err)
	}
}

func TestConfigFromEnvValues(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	prev := bytes.Repeat([]byte{9}, 32)
	got, err := ConfigFromEnv(env(map[string]string{
		"AICC_DATABASE_URL":        "postgres://aicc:pw@db:5432/aicc?sslmode=disable",
		"AICC_TEMPORAL_ADDRESS":    "temporal:7233",
		"AICC_TEMPORAL_NAMESPACE":  "aicc",
		"AICC_PUBLIC_ADDR":         ":8443",
		"AICC_HTTP_ADDR":           "0.0.0.0:8081",
		"AICC_METRICS_INTERVAL":    "1m",
		"AICC_WORKER_METRICS_ADDR": ":9191",
		"AICC_PUBLIC_URL":          "https://aicc.example.com/",
		"AICC_MASTER_KEY":          base64.StdEncoding.EncodeToString(key),
		"AICC_MASTER_KEY_PREVIOUS": base64.StdEncoding.EncodeToString(prev),
		"AICC_VERIFICATION_TTL":    "1h30m",
		"AICC_ROTATION_REMINDER":   "6h",
		"AICC_MAX_BODY_BYTES":      "65536",
		"AICC_LOG_LEVEL":           "debug",
		"AICC_DATA_DIR":            "/tmp/x",
		"AICC_UI_PORT":             "18233",
		"AICC_TEMPORAL_PORT":       "17233",
		"AICC_GRAPH_BASE_URL":      "https://graph-proxy.example.com:8443/",
		"AICC_GRAPH_VERSION":       "v26.0",
		"AICC_GRAPH_TRUST":         "uploaded-only",
		"AICC_GRAPH_TIMEOUT":       "30s",
		"AICC_EXPORT_BUCKET":       "s3://aicc-exports?endpoint=http://minio:9000&region=us-east-1&s3ForcePathStyle=true",
		"AICC_EXPORT_RETENTION":    "72h",

		"AICC_WEBHOOK_CLIENT_FAILURE_BURST":  "0",
		"AICC_WEBHOOK_CLIENT_FAILURE_RATE":   "0.5",
		"AICC_WEBHOOK_CHANNEL_FAILURE_BURST": "100",
		"AICC_WEBHOOK_CHANNEL_FAILURE_RATE":  "10",
		"AICC_TRUSTED_PROXIES":               "10.0.0.0/8, 192.0.2.1,2001:db8::/32",
	}))
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	if got.PublicURL != "https://aicc.example.com" {
		t.Errorf("PublicURL = %q, want the trailing slash trimmed", got.PublicURL)
	}
	if !bytes.Equal(got.MasterKey, key) || len(got.PreviousMasterKeys) != 1 || !bytes.Equal(got.PreviousMasterKeys[0], prev) {
		t.Errorf("master keys not decoded")
	}
	if got.VerificationTTL != 90*time.Minute || got.MaxBodyBytes != 65536 || got.LogLevel != slog.LevelDebug {
		t.Errorf("TTL, body, level = %v, %v, %v", got.VerificationTTL, got.MaxBodyBytes, got.LogLevel)
	}
	if got.RotationReminder != 6*time.Hour {
		t.Errorf("RotationReminder = %v, want 6h", got.RotationReminder)
	}
	if got.UIPort != 18233 || got.TemporalPort != 17233 || got.DataDir != "/tmp/x" || got.TemporalNamespace != "aicc" {
		t.Errorf("dev fields = %+v", got)
	}
	if got.GraphBaseURL != "https://graph-proxy.example.com:8443" || got.GraphVersion != "v26.0" ||
		!got.GraphUploadedOnly || got.GraphTimeout != 30*time.Second {
		t.Errorf("graph fields = %q %q %v %v", got.GraphBaseURL, got.GraphVersion, got.GraphUploadedOnly, got.GraphTimeout)
	}
	p := got.GraphProvider(nil)
	if p.BaseURL != got.GraphBaseURL || p.Version != "v26.0" || !p.UploadedOnly || p.Timeout != 30*time.Second {
		t.Errorf("GraphProvider = %+v, want the configured graph fields", p)
	}
	if got.ExportBucket != "s3://aicc-exports?endpoint=http://minio:9000&region=us-east-1&s3ForcePathStyle=true" ||
		got.ExportRetention != 72*time.Hour {
		t.Errorf("ExportBucket, ExportRetention = %q, %v", got.ExportBucket, got.ExportRetention)
	}
	if want := (api.WebhookLimits{ClientRate: 0.5, ClientBurst: 0, ChannelRate: 10, ChannelBurst: 100}); got.WebhookLimits != want {
		t.Errorf("WebhookLimits = %+v, want %+v", got.WebhookLimits, want)
	}
	if want := []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"}; !slices.Equal(got.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %q, want %q", got.TrustedProxies, want)
	}
	if got.PublicAddr != ":8443" || got.HTTPAddr != "0.0.0.0:8081" || got.MetricsInterval != time.Minute {
		t.Errorf("PublicAddr, HTTPAddr, MetricsInterval = %q, %q, %v", got.PublicAddr, got.HTTPAddr, got.MetricsInterval)
	}
	if !got.publicAddrSet || !got.httpAddrSet || !got.publicURLSet {
		t.Errorf("publicAddrSet, httpAddrSet, publicURLSet = %v, %v, %v, want true, true, true",
			got.publicAddrSet, got.httpAddrSet, got.publicURLSet)
	}
	kr, err := got.Keyring()
	if err != nil {
		t.Fatalf("Keyring: %v", err)
	}
	// A value sealed under the previous key still opens: that is what the variable is for.
	old, err := ConfigFromEnv(env(map[string]string{"AICC_MASTER_KEY": base64.StdEncoding.EncodeToString(prev)}))
	if err != nil {
		t.Fatal(err)
	}
	oldKR, _ := old.Keyring()
	sealed := oldKR.Seal("v", "owner", time.Now())
	if v, err := kr.Open(sealed, "owner"); err != nil || v != "v" {
		t.Errorf("Open of a value sealed under the previous key = %q, %v", v, err)
	}
}

func TestConfigFromEnvBadValues(t *testing.T) {
	const secretish = "c2VjcmV0LWJ1dC1ub3QtMzItYnl0ZXM=" // base64 of the wrong length
	tests := []struct {
		name, key, value string
	}{
		{"database scheme", "AICC_DATABASE_URL", "mysql://u:hunter2@h/db"},
		{"public url", "AICC_PUBLIC_URL", "aicc.example.com"},
		{"key not base64", "AICC_MASTER_KEY", "%%%not-base64-" + secretish},
		{"key wrong size", "AICC_MASTER_KEY", secretish},
		{"previous key", "AICC_MASTER_KEY_PREVIOUS", secretish},
		{"ttl", "AICC_VERIFICATION_TTL", "7d"},
		{"ttl too short", "AICC_VERIFICATION_TTL", "1s"},
		{"reminder", "AICC_ROTATION_REMINDER", "1d"},
		{"reminder too short", "AICC_ROTATION_REMINDER", "30s"},
		{"body", "AICC_MAX_BODY_BYTES", "1MB"},
		{"level", "AICC_LOG_LEVEL", "loud"},
		{"ui port", "AICC_UI_PORT", "70000"},
		{"temporal port", "AICC_TEMPORAL_PORT", "x"},
		{"key file missing", "AICC_MASTER_KEY_FILE", "/nonexistent/master.key"},
		{"previous key file missing", "AICC_MASTER_KEY_PREVIOUS_FILE", "/nonexistent/previous.key"},
		{"graph base url", "AICC_GRAPH_BASE_URL", "graph.facebook.com"},
		{"graph base url credentials", "AICC_GRAPH_BASE_URL", "https://u:hunter2@graph.facebook.com"},
		{"graph version", "AICC_GRAPH_VERSION", "25.0"},
		{"graph version path", "AICC_GRAPH_VERSION", "v25.0/me"},
		{"graph trust", "AICC_GRAPH_TRUST", "none"},
		{"graph timeout", "AICC_GRAPH_TIMEOUT", "10"},
		{"graph timeout too short", "AICC_GRAPH_TIMEOUT", "10ms"},
		{"graph timeout too long", "AICC_GRAPH_TIMEOUT", "1h"},
		{"export bucket scheme", "AICC_EXPORT_BUCKET", "gs://aicc-exports"},
		{"export bucket relative", "AICC_EXPORT_BUCKET", "file://./exports"},
		{"export bucket path", "AICC_EXPORT_BUCKET", "/var/lib/aicc/exports"},
		{"export retention", "AICC_EXPORT_RETENTION", "7d"},
		{"export retention too short", "AICC_EXPORT_RETENTION", "30s"},
		{"metrics interval", "AICC_METRICS_INTERVAL", "15"},
		{"metrics interval too short", "AICC_METRICS_INTERVAL", "100ms"},
		{"metrics interval too long", "AICC_METRICS_INTERVAL", "2m"},
		{"client failure burst", "AICC_WEBHOOK_CLIENT_FAILURE_BURST", "-1"},
		{"client failure rate", "AICC_WEBHOOK_CLIENT_FAILURE_RATE", "0"},
		{"channel failure burst", "AICC_WEBHOOK_CHANNEL_FAILURE_BURST", "lots"},
		{"channel failure rate", "AICC_WEBHOOK_CHANNEL_FAILURE_RATE", "NaN"},
		{"trusted proxies", "AICC_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal"},
		// The one listener of old: the admin API would share Meta's port.
		{"admin on the public port", "AICC_HTTP_ADDR", ":8080"},
		{"admin on the public port's interface", "AICC_HTTP_ADDR", "127.0.0.1:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromEnv(env(map[string]string{tt.key: tt.value}))
			if err == nil {
				t.Fatalf("%s=%q: no error", tt.key, tt.value)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name %s", err, tt.key)
			}
			for _, leak := range []string{secretish, "hunter2"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q repeats a secret", err)
				}
			}
		})
	}
	t.Run("two listeners, one port", func(t *testing.T) {
		for _, addrs := range [][2]string{{":9000", ":9000"}, {"127.0.0.1:9000", "0.0.0.0:9000"}, {"[::]:9000", "127.0.0.1:9000"}} {
			if _, err := ConfigFromEnv(env(map[string]string{"AICC_PUBLIC_ADDR": addrs[0], "AICC_HTTP_ADDR": addrs[1]})); err == nil {
				t.Errorf("public %s, admin %s: no error", addrs[0], addrs[1])
			}
		}
		for _, addrs := range [][2]string{{":9000", "127.0.0.1:9001"}, {"10.0.0.1:9000", "10.0.0.2:9000"}, {"127.0.0.1:0", "127.0.0.1:0"}} {
			if _, err := ConfigFromEnv(env(map[string]string{"AICC_PUBLIC_ADDR": addrs[0], "AICC_HTTP_ADDR": addrs[1]})); err != nil {
				t.Errorf("public %s, admin %s: %v", addrs[0], addrs[1], err)
			}
		}
	})
	t.Run("both key variables", func(t *testing.T) {
		_, err := ConfigFromEnv(env(map[string]string{
			"AICC_MASTER_KEY":      base64.StdEncoding.EncodeToString(make([]byte, 32)),
			"AICC_MASTER_KEY_FILE": "/x",
		}))
		if err == nil || !strings.Contains(err.Error(), "not both") {
			t.Errorf("err = %v, want a complaint about both", err)
		}
	})
}

// TestConfigExportBucket: AICC_EXPORT_BUCKET takes a local directory or an S3 bucket, and what it takes opens.
func TestConfigExportBucket(t *testing.T) {
	dir := filepath.ToSlash(t.TempDir())
	for _, bucket := range []string{
		"file://" + dir + "/exports",
		"file://" + dir + "/other?metadata=skip",
		"s3://aicc-exports?region=eu-west-1",
	} {
		got, err := ConfigFromEnv(env(map[string]string{"AICC_EXPORT_BUCKET": " " + bucket + " "}))
		if err != nil || got.ExportBucket != bucket {
			t.Errorf("AICC_EXPORT_BUCKET=%q: ExportBucket %q, %v", bucket, got.ExportBucket, err)
			continue
		}
		if strings.HasPrefix(bucket, "s3:") {
			continue // opening needs no network, but AWS credentials from the environment; export/ tests it
		}
		s, err := openExportFiles(context.Background(), got.ExportBucket)
		if err != nil {
			t.Errorf("openExportFiles(%q): %v", bucket, err)
			continue
		}
		_ = s.Close()
	}
	if fi, err := os.Stat(filepath.FromSlash(dir + "/exports")); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("the export directory: %v, %v; want it created with mode 0700", fi, err)
	}
}

func TestConfigFromEnvPreviousKey(t *testing.T) {
	current, prev := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 32)
	b64 := base64.StdEncoding.EncodeToString
	path := filepath.Join(t.TempDir(), "previous.key")
	if err := os.WriteFile(path, []byte(b64(prev)+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	got, err := ConfigFromEnv(env(map[string]string{"AICC_MASTER_KEY": b64(current), "AICC_MASTER_KEY_PREVIOUS_FILE": path}))
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	kr, err := got.Keyring()
	if err != nil {
		t.Fatalf("Keyring: %v", err)
	}
	if ids, want := kr.KeyIDs(), []string{aicc.KeyID(current), aicc.KeyID(prev)}; !slices.Equal(ids, want) {
		t.Errorf("KeyIDs = %v, want %v (current first)", ids, want)
	}

	for name, vars := range map[string]map[string]string{
		"not both":                  {"AICC_MASTER_KEY": b64(current), "AICC_MASTER_KEY_PREVIOUS": b64(prev), "AICC_MASTER_KEY_PREVIOUS_FILE": path},
		"needs a current key":       {"AICC_MASTER_KEY_PREVIOUS_FILE": path},
		"is the current master key": {"AICC_MASTER_KEY": b64(prev), "AICC_MASTER_KEY_PREVIOUS_FILE": path},
	} {
		_, err := ConfigFromEnv(env(vars))
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "AICC_MASTER_KEY_PREVIOUS") {
			t.Errorf("%v: err = %v, want %q naming AICC_MASTER_KEY_PREVIOUS", vars, err, name)
		}
		if err != nil && (strings.Contains(err.Error(), b64(prev)) || strings.Contains(err.Error(), b64(current))) {
			t.Errorf("error %q repeats a key", err)
		}
	}
}

func TestConfigFromEnvKeyFile(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{3}, 32)
	for name, content := range map[string][]byte{
		"base64": []byte(base64.StdEncoding.EncodeToString(key) + "\n"),
		"raw":    key,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ConfigFromEnv(env(map[string]string{"AICC_MASTER_KEY_FILE": path}))
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if !bytes.Equal(got.MasterKey, key) {
				t.Errorf("MasterKey = %x, want %x", got.MasterKey, key)
			}
		})
	}
	t.Run("short", func(t *testing.T) {
		path := filepath.Join(dir, "short")
		if err := os.WriteFile(path, []byte("dG9vIHNob3J0"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := ConfigFromEnv(env(map[string]string{"AICC_MASTER_KEY_FILE": path}))
		if err == nil || !strings.Contains(err.Error(), "AICC_MASTER_KEY_FILE") || strings.Contains(err.Error(), "dG9vIHNob3J0") {
			t.Errorf("err = %v, want one naming the variable and not the content", err)
		}
	})
}

func TestEnsureMasterKeyKeepsTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	first, err := ensureMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	second, err := ensureMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) || len(first) != 32 {
		t.Errorf("second start read another key")
	}
}

// Temporal's connection: TLS is on when any of its settings is, an mTLS pair comes whole, an API key comes from
// the variable or its file, and the options carry the CA, the client certificate, the server name, the key
// and the payload codec.
func TestConfigTemporalSecurity(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSignedPair(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, cert, key := write("ca.pem", certPEM), write("cert.pem", certPEM), write("key.pem", keyPEM)
	apiKeyFile := write("api.key", []byte("tcld-key\n"))
	masterKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

	plain, err := ConfigFromEnv(env(map[string]string{"AICC_MASTER_KEY": masterKey}))
	if err != nil || plain.TemporalTLS {
		t.Fatalf("default = TLS %v, %v; want plain", plain.TemporalTLS, err)
	}
	var opts client.Options
	if err := plain.temporalOptions(&opts); err != nil || opts.ConnectionOptions.TLS != nil || opts.DataConverter == nil {
		t.Errorf("plain options = TLS %v, converter %v, %v; want no TLS and the codec", opts.ConnectionOptions.TLS, opts.DataConverter, err)
	}

	cfg, err := ConfigFromEnv(env(map[string]string{
		"AICC_MASTER_KEY": masterKey, "AICC_TEMPORAL_TLS_CA_FILE": ca, "AICC_TEMPORAL_TLS_CERT_FILE": cert,
		"AICC_TEMPORAL_TLS_KEY_FILE": key, "AICC_TEMPORAL_TLS_SERVER_NAME": "temporal.internal",
		"AICC_TEMPORAL_API_KEY_FILE": apiKeyFile,
	}))
	if err != nil || !cfg.TemporalTLS || cfg.TemporalAPIKey != "tcld-key" {
		t.Fatalf("TLS config = %v %q, %v", cfg.TemporalTLS, cfg.TemporalAPIKey, err)
	}
	opts = client.Options{}
	if err := cfg.temporalOptions(&opts); err != nil {
		t.Fatal(err)
	}
	tc := opts.ConnectionOptions.TLS
	if tc == nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "temporal.internal" || opts.Credentials == nil {
		t.Errorf("TLS options = %+v, credentials %v", tc, opts.Credentials)
	}

	for name, vars := range map[string]map[string]string{
		"cert without key":  {"AICC_TEMPORAL_TLS_CERT_FILE": cert},
		"both API keys":     {"AICC_TEMPORAL_API_KEY": "k", "AICC_TEMPORAL_API_KEY_FILE": apiKeyFile},
		"unreadable key":    {"AICC_TEMPORAL_API_KEY_FILE": filepath.Join(dir, "missing")},
		"TLS not a boolean": {"AICC_TEMPORAL_TLS": "yes"},
	} {
		if _, err := ConfigFromEnv(env(vars)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	bad, err := ConfigFromEnv(env(map[string]string{"AICC_MASTER_KEY": masterKey, "AICC_TEMPORAL_TLS_CA_FILE": key}))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.temporalOptions(&client.Options{}); err == nil {
		t.Error("a CA file without a certificate accepted")
	}
}

// selfSignedPair returns a self-signed certificate and its key, PEM-encoded.
func selfSignedPair(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "temporal.internal"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, DNSNames: []string{"temporal.internal"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// A master key file others may read is refused with what to do about it; a bound on Postgres connections is
// read and checked.
func TestConfigKeyFileModeAndPool(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ConfigFromEnv(env(map[string]string{"AICC_MASTER_KEY_FILE": path}))
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key file of mode 0644 = %v, want refused with chmod 600", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromEnv(env(map[string]string{"AICC_MASTER_KEY_FILE": path, "AICC_DB_MAX_CONNS": "16"}))
	if err != nil || cfg.DatabaseMaxConns != 16 {
		t.Errorf("mode 0600 and 16 connections = %v, %v", cfg.DatabaseMaxConns, err)
	}
	for _, v := range []string{"1", "many", "20000"} {
		if _, err := ConfigFromEnv(env(map[string]string{"AICC_DB_MAX_CONNS": v})); err == nil {
			t.Errorf("AICC_DB_MAX_CONNS=%s accepted", v)
		}
	}
	if cfg, _ := ConfigFromEnv(env(nil)); cfg.DatabaseMaxConns != 32 {
		t.Errorf("default connections = %d, want 32", cfg.DatabaseMaxConns)
	}
}

// Page tokens and proofs go to the Graph API: plain http only when asked for by name, for a local test double.
func TestConfigGraphHTTP(t *testing.T) {
	if _, err := ConfigFromEnv(env(map[string]string{"AICC_GRAPH_BASE_URL": "http://127.0.0.1:9999"})); err == nil ||
		!strings.Contains(err.Error(), "must be https") {
		t.Errorf("an http Graph URL = %v, want refused", err)
	}
	cfg, err := ConfigFromEnv(env(map[string]string{
		"AICC_GRAPH_BASE_URL": "http://127.0.0.1:9999", "AICC_GRAPH_INSECURE_HTTP": "true",
	}))
	if err != nil || cfg.GraphBaseURL != "http://127.0.0.1:9999" {
		t.Errorf("an http Graph URL allowed by name = %q, %v", cfg.GraphBaseURL, err)
	}
}
