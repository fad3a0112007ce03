package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/robot"
)

// Defaults of the configuration. Addresses without a host listen on every interface, as a container needs;
// aicc dev listens on the loopback interface only.
const (
	DefaultTemporalAddress   = "127.0.0.1:7233"
	DefaultTemporalNamespace = "default"
	DefaultCodecAddr         = "127.0.0.1:8089"
	// DefaultPublicAddr is aicc api's public listener, Meta's webhooks and /healthz only: on every interface,
	// as Meta (or the load balancer in front) must reach it.
	DefaultPublicAddr = ":8080"
	// DefaultHTTPAddr is aicc api's admin listener (/v1, /metrics, /openapi.yaml, the docs, /readyz): on the
	// loopback interface, so that the admin API and the unauthenticated /metrics are never on the internet
	// unless someone says so. Where the admin console or Prometheus runs elsewhere (a container, a cluster),
	// set AICC_HTTP_ADDR to ":8081" and publish the port privately, as docker-compose.yml does.
	DefaultHTTPAddr = "127.0.0.1:8081"
	// aicc dev's: the callback URLs of the walk-through are on 8080, the API it curls on 8081.
	DefaultDevPublicAddr     = "127.0.0.1:8080"
	DefaultDevHTTPAddr       = "127.0.0.1:8081"
	DefaultWorkerMetricsAddr = ":9090"
	DefaultPublicURL         = "http://localhost:8080"
	DefaultVerificationTTL   = 7 * 24 * time.Hour
	DefaultRotationReminder  = 24 * time.Hour
	// DefaultInboxRetention is how long delivered inbox events are kept: a month of conversations to read back.
	// DefaultDeadLetterRetention is longer: a dead letter waits for someone to look at it and retry it.
	DefaultInboxRetention      = 30 * 24 * time.Hour
	DefaultDeadLetterRetention = 90 * 24 * time.Hour
	// DefaultExportBucket is where aicc api and aicc worker keep export files unless AICC_EXPORT_BUCKET says
	// otherwise: a directory both reach (a shared volume), or an S3 bucket. aicc dev uses its data directory.
	DefaultExportBucket = "file:///var/lib/aicc/exports"
	// DefaultMaxBodyBytes bounds request bodies. Meta batches at most 1,000 events in one webhook POST, far
	// below 1 MiB; admin requests are smaller still.
	DefaultMaxBodyBytes = 1 << 20
	DefaultDataDir      = ".aicc"
	DefaultUIPort       = 8233
	DefaultTemporalPort = 7233
	DefaultGraphBaseURL = meta.DefaultBaseURL // https://graph.facebook.com
	DefaultGraphVersion = meta.DefaultVersion // v25.0
	DefaultGraphTimeout = meta.DefaultTimeout // 10s per attempt
)

// Values of AICC_GRAPH_TRUST.
const (
	GraphTrustSystemAndUploaded = "system+uploaded" // the system roots and the uploaded certificates
	GraphTrustUploadedOnly      = "uploaded-only"   // the uploaded certificates only
)

// Config is the whole configuration of every subcommand. Only ConfigFromEnv fills it from the environment;
// aicc dev's flags may override the dev fields afterwards.
type Config struct {
	// DatabaseURL is postgres://… or sqlite:PATH. Required by api, worker, migrate, tokens and tenants.
	DatabaseURL string
	// DatabaseMaxConns bounds the Postgres connections of aicc api and aicc worker.
	DatabaseMaxConns int

	TemporalAddress   string // host:port of the Temporal frontend
	TemporalNamespace string
	// Temporal's TLS and API key: files of a CA and a client certificate and key, the server name to check,
	// and an API key. TemporalTLS is true when any of them is set, or AICC_TEMPORAL_TLS says so.
	TemporalTLS                                       bool
	TemporalCAFile, TemporalCertFile, TemporalKeyFile string
	TemporalServerName, TemporalAPIKey                string
	// CodecAddr and CodecCORSOrigin configure "aicc codec-server".
	CodecAddr, CodecCORSOrigin string

	// PublicAddr is where aicc api (and aicc dev) serve Meta's webhooks and /healthz, the only listener for the
	// internet; HTTPAddr is where they serve everything else: /v1, /metrics, /openapi.yaml, the docs, /readyz.
	PublicAddr        string
	HTTPAddr          string
	WorkerMetricsAddr string // where aicc worker serves /metrics and /healthz
	// PublicURL is how Meta reaches the public listener from the internet: callback URLs are built on it.
	PublicURL string
	// MetricsInterval is how often aicc api (and aicc dev) read the gauges of /metrics from the database.
	MetricsInterval time.Duration

	// MasterKey seals new secrets; PreviousMasterKeys only open values sealed before a rotation. MasterKey is
	// nil when neither AICC_MASTER_KEY nor AICC_MASTER_KEY_FILE is set (aicc dev then makes its own).
	MasterKey          []byte
	PreviousMasterKeys [][]byte

	VerificationTTL time.Duration
	// RotationReminder is how often a pending secret rotation reminds that Pages miss their new token.
	RotationReminder time.Duration
	// ExportBucket is where export files are kept: file:///dir or s3://bucket?…; "" is DefaultExportBucket
	// (aicc dev: its data directory). ExportRetention is how long they are kept.
	ExportBucket    string
	ExportRetention time.Duration
	MaxBodyBytes    int64
	LogLevel        slog.Level
	// WebhookLimits bound what failed webhook POSTs may cost (see api.WebhookLimits); TrustedProxies are the
	// proxies in front of the public listener whose X-Forwarded-For names the client they count.
	WebhookLimits  api.WebhookLimits
	TrustedProxies []string

	// The inbox dispatcher of aicc worker and aicc dev: signals at once, lease of a claimed conversation, and
	// failed deliveries that make an event a dead letter.
	DispatchConcurrency int
	DispatchLease       time.Duration
	DispatchMaxAttempts int
	// InboxRetention and DeadLetterRetention are how old delivered inbox events and dead letters get before the
	// inbox-retention schedule, which aicc worker and aicc dev keep up to date, deletes them.
	InboxRetention      time.Duration
	DeadLetterRetention time.Duration
	// SendRate is how many Send API calls a second one worker process makes for one Page at most.
	SendRate int

	// The Graph API: where it is, which version is called, whom its TLS certificate must chain to, and how
	// long one attempt may take.
	GraphBaseURL      string
	GraphVersion      string
	GraphUploadedOnly bool
	GraphTimeout      time.Duration

	// Robots are the HTTP robots of AICC_ROBOTS, by access code (newRobots; aicc dev adds the built-in one).
	Robots []robot.Endpoint

	// aicc dev only.
	DataDir      string
	UIPort       int
	TemporalPort int
	FakeMeta     bool // --fake-meta only: call an in-process fake Meta instead of the Graph API

	// Whether the variable was set, so that aicc dev can pick its own defaults for the others.
	publicAddrSet bool
	httpAddrSet   bool
	publicURLSet  bool
}

// ConfigFromEnv reads the configuration from the environment through getenv, starting from the defaults.
// It reads these variables and no others:
//
//	AICC_DATABASE_URL         postgres://user:pass@host:5432/db?sslmode=disable or sqlite:PATH
//	                          (required by api, worker, migrate, tokens, tenants; aicc dev uses it when set,
//	                          else sqlite:<data dir>/app.db)
//	AICC_DB_MAX_CONNS         most Postgres connections one api or worker process opens (default 32)
//	AICC_TEMPORAL_ADDRESS     Temporal frontend host:port (default 127.0.0.1:7233; not used by aicc dev)
//	AICC_TEMPORAL_NAMESPACE   Temporal namespace (default "default")
//	AICC_TEMPORAL_TLS         true: connect to Temporal over TLS (implied by any setting below)
//	AICC_TEMPORAL_TLS_CA_FILE PEM of the CA that signed the frontend's certificate (default: the system roots)
//	AICC_TEMPORAL_TLS_CERT_FILE, AICC_TEMPORAL_TLS_KEY_FILE  the client certificate and key, for mTLS
//	AICC_TEMPORAL_TLS_SERVER_NAME  the name the frontend's certificate must carry (default: the address's host)
//	AICC_TEMPORAL_API_KEY / AICC_TEMPORAL_API_KEY_FILE  an API key (Temporal Cloud), sent over TLS
//	AICC_CODEC_ADDR           where "aicc codec-server" listens (default 127.0.0.1:8089)
//	AICC_CODEC_CORS_ORIGIN    the Temporal Web UI's origin, allowed to call the codec server from a browser
//	AICC_PUBLIC_ADDR          listen address of the public listener, Meta's webhooks and /healthz only
//	                          (default ":8080"; "127.0.0.1:8080" for aicc dev)
//	AICC_HTTP_ADDR            listen address of the admin listener: /v1, /metrics, /openapi.yaml, the docs,
//	                          /readyz, /healthz (default "127.0.0.1:8081", for aicc dev too)
//	AICC_WORKER_METRICS_ADDR  listen address of the worker's /metrics and /healthz (default ":9090")
//	AICC_METRICS_INTERVAL     how often the API reads the gauges of its /metrics from the database, a Go
//	                          duration (default 15s, 1s to 1m: the alerts take gauges older than 2m for a
//	                          database the API cannot read)
//	AICC_PUBLIC_URL           public base URL of the API, for Meta callback URLs (default
//	                          http://localhost:8080; aicc dev derives it from its HTTP address)
//	AICC_MASTER_KEY           base64 of the 32-byte master key that seals secrets
//	AICC_MASTER_KEY_FILE      file holding the master key (base64, or the 32 raw bytes) instead of
//	                          AICC_MASTER_KEY; setting both is an error
//	AICC_MASTER_KEY_PREVIOUS  optional, while the master key rotates: the previous master key (base64;
//	                          several comma-separated), which only opens values sealed before the rotation
//	                          until "aicc keys rotate" has re-sealed them under AICC_MASTER_KEY
//	AICC_MASTER_KEY_PREVIOUS_FILE  file holding the previous master key (base64, or the 32 raw bytes) instead
//	                          of AICC_MASTER_KEY_PREVIOUS; setting both is an error
//	AICC_VERIFICATION_TTL     how long onboarding waits for Meta's verification, a Go duration (default 168h)
//	AICC_ROTATION_REMINDER    how often a pending secret rotation reminds of Pages missing their new token
//	                          (default 24h, at least 1m)
//	AICC_EXPORT_BUCKET        where export files are kept: file:///dir or s3://bucket?region=…&endpoint=…
//	                          (default file:///var/lib/aicc/exports; aicc dev: <data dir>/exports)
//	AICC_EXPORT_RETENTION     how long export files are kept, a Go duration (default 168h, at least 1m)
//	AICC_DISPATCH_CONCURRENCY conversations the inbox dispatcher signals at once (default 32)
//	AICC_DISPATCH_LEASE       how long a claimed conversation is one dispatcher's unless renewed (default 30s)
//	AICC_DISPATCH_MAX_ATTEMPTS failed deliveries after which an inbox event is a dead letter (default 10)
//	AICC_INBOX_RETENTION      how long delivered inbox events are kept before the hourly inbox-retention
//	                          schedule deletes them, a Go duration (default 720h, at least 1h); pending events
//	                          are never deleted
//	AICC_DEAD_LETTER_RETENTION how long dead letters and webhook rejects are kept, likewise (default 2160h, at least 1h)
//	AICC_SEND_RATE            Send API calls a second one worker makes for one Page at most (default 300,
//	                          Meta's budget for text; 1 to 10000); with n workers, Meta's budget divided by n
//	AICC_MAX_BODY_BYTES       largest accepted request body in bytes (default 1048576)
//	AICC_WEBHOOK_CLIENT_FAILURE_BURST  webhook POSTs one client (address, IPv6 /64) may have refused with a 403
//	                          before the next are a 429, unread (default 60; 0 turns the limit off)
//	AICC_WEBHOOK_CLIENT_FAILURE_RATE   how many of them come back a second (default 1, 0.001 to 10000)
//	AICC_WEBHOOK_CHANNEL_FAILURE_BURST refused webhook POSTs per channel ID that are logged before only
//	                          AICC_WEBHOOK_CHANNEL_FAILURE_RATE a second are (default 20; 0: every one)
//	AICC_WEBHOOK_CHANNEL_FAILURE_RATE  (default 1, 0.001 to 10000)
//	AICC_TRUSTED_PROXIES      comma-separated IPs or CIDRs of the proxies in front of the listeners, whose
//	                          X-Forwarded-For names the client (default none: the client is the remote address)
//	AICC_LOG_LEVEL            debug, info, warn or error (default info)
//	AICC_GRAPH_BASE_URL       base URL of Meta's Graph API (default https://graph.facebook.com; aicc dev
//	                          --fake-meta points it at its in-process fake)
//	AICC_GRAPH_INSECURE_HTTP  true allows an http:// AICC_GRAPH_BASE_URL, for a local test double only
//	AICC_GRAPH_VERSION        Graph API version, vNN.N (default v25.0)
//	AICC_GRAPH_TRUST          which roots Graph's TLS certificate must chain to: system+uploaded (default: the
//	                          system roots and the uploaded Facebook authentication certificates) or
//	                          uploaded-only
//	AICC_GRAPH_TIMEOUT        how long one Graph call attempt may take, a Go duration (default 10s)
//	AICC_ROBOTS               the HTTP robots, comma-separated access-code=URL pairs (https, or http on
//	                          127.0.0.1 or localhost; aicc dev --fake-meta: any http); aicc dev also has
//	                          the built-in robot, access code "builtin"
//	AICC_DATA_DIR             aicc dev's data directory (default ./.aicc)
//	AICC_UI_PORT              aicc dev's Temporal Web UI port on 127.0.0.1 (default 8233)
//	AICC_TEMPORAL_PORT        aicc dev's embedded Temporal frontend port on 127.0.0.1 (default 7233)
//
// An invalid value is an error that names the variable; it never repeats a key or a database URL.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		TemporalAddress:   DefaultTemporalAddress,
		TemporalNamespace: DefaultTemporalNamespace,
		CodecAddr:         DefaultCodecAddr,
		DatabaseMaxConns:  db.DefaultMaxOpenConns,
		PublicAddr:        DefaultPublicAddr,
		HTTPAddr:          DefaultHTTPAddr,
		WorkerMetricsAddr: DefaultWorkerMetricsAddr,
		PublicURL:         DefaultPublicURL,
		MetricsInterval:   api.DefaultGaugeInterval,
		VerificationTTL:   DefaultVerificationTTL,
		RotationReminder:  DefaultRotationReminder,
		ExportRetention:   aicc.DefaultExportRetention,
		MaxBodyBytes:      DefaultMaxBodyBytes,
		LogLevel:          slog.LevelInfo,
		WebhookLimits:     api.DefaultWebhookLimits(),
		DataDir:           DefaultDataDir,
		UIPort:            DefaultUIPort,
		TemporalPort:      DefaultTemporalPort,
		GraphBaseURL:      DefaultGraphBaseURL,
		GraphVersion:      DefaultGraphVersion,
		GraphTimeout:      DefaultGraphTimeout,
	}
	c.InboxRetention, c.DeadLetterRetention = DefaultInboxRetention, DefaultDeadLetterRetention
	c.SendRate = activities.DefaultSendRate
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	// duration sets *dst from the Go duration in the variable name, if set: at least lo and, unless hi is 0, at
	// most hi. example is a valid value, for the error.
	duration := func(name, example string, lo, hi time.Duration, dst *time.Duration) {
		v := env(name)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			bad(name, "%q is not a Go duration such as %s", v, example)
		case hi == 0 && d < lo:
			bad(name, "must be at least %s, got %s", fmtDuration(lo), d)
		case hi != 0 && (d < lo || d > hi):
			bad(name, "must be between %s and %s, got %s", fmtDuration(lo), fmtDuration(hi), d)
		default:
			*dst = d
		}
	}
	count := func(name string, lo, hi int, dst *int) {
		v := env(name)
		if v == "" {
			return
		}
		if n, err := strconv.Atoi(v); err != nil || n < lo || n > hi {
			bad(name, "must be a whole number from %d to %d, got %q", lo, hi, v)
		} else {
			*dst = n
		}
	}

	c.DatabaseURL = env("AICC_DATABASE_URL")
	if v := c.DatabaseURL; v != "" && !strings.HasPrefix(v, "postgres://") &&
		!strings.HasPrefix(v, "postgresql://") && !strings.HasPrefix(v, "sqlite:") {
		bad("AICC_DATABASE_URL", "must start with postgres://, postgresql:// or sqlite:")
	}
	if v := env("AICC_TEMPORAL_ADDRESS"); v != "" {
		c.TemporalAddress = v
	}
	if v := env("AICC_TEMPORAL_NAMESPACE"); v != "" {
		c.TemporalNamespace = v
	}
	if v := env("AICC_PUBLIC_ADDR"); v != "" {
		c.PublicAddr, c.publicAddrSet = v, true
	}
	if v := env("AICC_HTTP_ADDR"); v != "" {
		c.HTTPAddr, c.httpAddrSet = v, true
	}
	if c.publicAddrSet || c.httpAddrSet {
		if err := checkListenAddrs(c.PublicAddr, c.HTTPAddr); err != nil {
			bad("AICC_HTTP_ADDR", "%v", err)
		}
	}
	if v := env("AICC_WORKER_METRICS_ADDR"); v != "" {
		c.WorkerMetricsAddr = v
	}
	if v := env("AICC_PUBLIC_URL"); v != "" {
		if u, err := parseBaseURL(v, "https://aicc.example.com"); err != nil {
			bad("AICC_PUBLIC_URL", "%v", err)
		} else {
			c.PublicURL, c.publicURLSet = u, true
		}
	}

	key, keyFile := env("AICC_MASTER_KEY"), env("AICC_MASTER_KEY_FILE")
	switch {
	case key != "" && keyFile != "":
		bad("AICC_MASTER_KEY", "set either AICC_MASTER_KEY or AICC_MASTER_KEY_FILE, not both")
	case key != "":
		if k, err := decodeKey(key); err != nil {
			bad("AICC_MASTER_KEY", "%v", err)
		} else {
			c.MasterKey = k
		}
	case keyFile != "":
		if k, err := readKeyFile(keyFile); err != nil {
			bad("AICC_MASTER_KEY_FILE", "%v", err)
		} else {
			c.MasterKey = k
		}
	}
	prev, prevFile := env("AICC_MASTER_KEY_PREVIOUS"), env("AICC_MASTER_KEY_PREVIOUS_FILE")
	switch {
	case prev != "" && prevFile != "":
		bad("AICC_MASTER_KEY_PREVIOUS", "set either AICC_MASTER_KEY_PREVIOUS or AICC_MASTER_KEY_PREVIOUS_FILE, not both")
	case prev != "":
		for i, s := range strings.Split(prev, ",") {
			k, err := decodeKey(strings.TrimSpace(s))
			if err != nil {
				bad("AICC_MASTER_KEY_PREVIOUS", "key %d: %v", i+1, err)
				continue
			}
			c.PreviousMasterKeys = append(c.PreviousMasterKeys, k)
		}
	case prevFile != "":
		if k, err := readKeyFile(prevFile); err != nil {
			bad("AICC_MASTER_KEY_PREVIOUS_FILE", "%v", err)
		} else {
			c.PreviousMasterKeys = append(c.PreviousMasterKeys, k)
		}
	}
	if prev != "" || prevFile != "" {
		name := "AICC_MASTER_KEY_PREVIOUS"
		if prevFile != "" {
			name += "_FILE"
		}
		if c.MasterKey == nil && len(errs) == 0 {
			bad(name, "needs a current key in AICC_MASTER_KEY or AICC_MASTER_KEY_FILE")
		}
		for i, k := range c.PreviousMasterKeys {
			// Compared by key ID, which names a key without revealing it.
			if c.MasterKey != nil && aicc.KeyID(k) == aicc.KeyID(c.MasterKey) {
				bad(name, "key %d is the current master key (key ID %s): give the new key in AICC_MASTER_KEY and the old one here", i+1, aicc.KeyID(k))
			}
		}
	}

	c.TemporalCAFile, c.TemporalCertFile = env("AICC_TEMPORAL_TLS_CA_FILE"), env("AICC_TEMPORAL_TLS_CERT_FILE")
	c.TemporalKeyFile, c.TemporalServerName = env("AICC_TEMPORAL_TLS_KEY_FILE"), env("AICC_TEMPORAL_TLS_SERVER_NAME")
	if (c.TemporalCertFile == "") != (c.TemporalKeyFile == "") {
		bad("AICC_TEMPORAL_TLS_CERT_FILE", "set it together with AICC_TEMPORAL_TLS_KEY_FILE, for mTLS")
	}
	apiKey, apiKeyFile := env("AICC_TEMPORAL_API_KEY"), env("AICC_TEMPORAL_API_KEY_FILE")
	switch {
	case apiKey != "" && apiKeyFile != "":
		bad("AICC_TEMPORAL_API_KEY", "set either AICC_TEMPORAL_API_KEY or AICC_TEMPORAL_API_KEY_FILE, not both")
	case apiKeyFile != "":
		if b, err := os.ReadFile(apiKeyFile); err != nil {
			bad("AICC_TEMPORAL_API_KEY_FILE", "cannot read it")
		} else {
			c.TemporalAPIKey = strings.TrimSpace(string(b))
		}
	default:
		c.TemporalAPIKey = apiKey
	}
	switch v := env("AICC_TEMPORAL_TLS"); v {
	case "", "false":
	case "true":
		c.TemporalTLS = true
	default:
		bad("AICC_TEMPORAL_TLS", "must be true or false")
	}
	c.TemporalTLS = c.TemporalTLS || c.TemporalCAFile != "" || c.TemporalCertFile != "" ||
		c.TemporalServerName != "" || c.TemporalAPIKey != ""
	if v := env("AICC_CODEC_ADDR"); v != "" {
		c.CodecAddr = v
	}
	c.CodecCORSOrigin = strings.TrimSuffix(env("AICC_CODEC_CORS_ORIGIN"), "/")

	duration("AICC_METRICS_INTERVAL", "15s", time.Second, time.Minute, &c.MetricsInterval)
	duration("AICC_VERIFICATION_TTL", "168h", time.Minute, 0, &c.VerificationTTL)
	duration("AICC_ROTATION_REMINDER", "24h", time.Minute, 0, &c.RotationReminder)
	duration("AICC_EXPORT_RETENTION", "168h", time.Minute, 0, &c.ExportRetention)
	if v := env("AICC_EXPORT_BUCKET"); v != "" {
		if !strings.HasPrefix(v, "file:///") && !strings.HasPrefix(v, "s3://") {
			bad("AICC_EXPORT_BUCKET", "must start with file:/// (an absolute directory) or s3://")
		} else {
			c.ExportBucket = v
		}
	}
	count("AICC_DB_MAX_CONNS", 2, 10_000, &c.DatabaseMaxConns)
	duration("AICC_DISPATCH_LEASE", "30s", time.Second, time.Hour, &c.DispatchLease)
	count("AICC_DISPATCH_CONCURRENCY", 1, 1024, &c.DispatchConcurrency)
	count("AICC_DISPATCH_MAX_ATTEMPTS", 1, 1000, &c.DispatchMaxAttempts)
	count("AICC_SEND_RATE", 1, 10_000, &c.SendRate)
	duration("AICC_INBOX_RETENTION", "720h", time.Hour, 0, &c.InboxRetention)
	duration("AICC_DEAD_LETTER_RETENTION", "2160h", time.Hour, 0, &c.DeadLetterRetention)
	if v := env("AICC_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			bad("AICC_MAX_BODY_BYTES", "must be a whole number of bytes, at least 1024, got %q", v)
		} else {
			c.MaxBodyBytes = n
		}
	}
	count("AICC_WEBHOOK_CLIENT_FAILURE_BURST", 0, 1_000_000, &c.WebhookLimits.ClientBurst)
	count("AICC_WEBHOOK_CHANNEL_FAILURE_BURST", 0, 1_000_000, &c.WebhookLimits.ChannelBurst)
	perSecond := func(name string, dst *float64) {
		v := env(name)
		if v == "" {
			return
		}
		if f, err := strconv.ParseFloat(v, 64); err != nil || !(f >= 0.001 && f <= 10_000) {
			bad(name, "must be a number from 0.001 to 10000 (a second), got %q", v)
		} else {
			*dst = f
		}
	}
	perSecond("AICC_WEBHOOK_CLIENT_FAILURE_RATE", &c.WebhookLimits.ClientRate)
	perSecond("AICC_WEBHOOK_CHANNEL_FAILURE_RATE", &c.WebhookLimits.ChannelRate)
	if v := env("AICC_TRUSTED_PROXIES"); v != "" {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
				bad("AICC_TRUSTED_PROXIES", "%q is neither an IP address nor a CIDR such as 10.0.0.0/8", p)
				continue
			}
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	if v := env("AICC_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			bad("AICC_LOG_LEVEL", "must be debug, info, warn or error, got %q", v)
		}
	}
	if v := env("AICC_GRAPH_BASE_URL"); v != "" {
		switch u, err := parseBaseURL(v, DefaultGraphBaseURL); {
		case err != nil:
			bad("AICC_GRAPH_BASE_URL", "%v", err)
		case strings.HasPrefix(u, "http://") && env("AICC_GRAPH_INSECURE_HTTP") != "true":
			bad("AICC_GRAPH_BASE_URL", "must be https: Page tokens and appsecret_proof travel to it "+
				"(AICC_GRAPH_INSECURE_HTTP=true allows http, for a local test double only)")
		default:
			c.GraphBaseURL = u
		}
	}
	if v := env("AICC_GRAPH_VERSION"); v != "" {
		if !graphVersionRE.MatchString(v) {
			bad("AICC_GRAPH_VERSION", "must look like v25.0, got %q", v)
		} else {
			c.GraphVersion = v
		}
	}
	switch v := env("AICC_GRAPH_TRUST"); v {
	case "", GraphTrustSystemAndUploaded:
	case GraphTrustUploadedOnly:
		c.GraphUploadedOnly = true
	default:
		bad("AICC_GRAPH_TRUST", "must be %s or %s, got %q", GraphTrustSystemAndUploaded, GraphTrustUploadedOnly, v)
	}
	duration("AICC_GRAPH_TIMEOUT", "10s", time.Second, 5*time.Minute, &c.GraphTimeout)
	if v := env("AICC_ROBOTS"); v != "" {
		if robots, err := robot.ParseEndpoints(v); err != nil {
			bad("AICC_ROBOTS", "%v", err)
		} else {
			c.Robots = robots
		}
	}
	if v := env("AICC_DATA_DIR"); v != "" {
		c.DataDir = v
	}
	if v := env("AICC_UI_PORT"); v != "" {
		if p, err := parsePort(v); err != nil {
			bad("AICC_UI_PORT", "%v", err)
		} else {
			c.UIPort = p
		}
	}
	if v := env("AICC_TEMPORAL_PORT"); v != "" {
		if p, err := parsePort(v); err != nil {
			bad("AICC_TEMPORAL_PORT", "%v", err)
		} else {
			c.TemporalPort = p
		}
	}
	return c, errors.Join(errs...)
}

// Keyring returns the keyring of the configured master keys, the current one first.
func (c *Config) Keyring() (*aicc.Keyring, error) {
	if c.MasterKey == nil {
		return nil, errors.New("no master key: set AICC_MASTER_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) or AICC_MASTER_KEY_FILE")
	}
	return aicc.NewKeyring(append([][]byte{c.MasterKey}, c.PreviousMasterKeys...)...)
}

// GraphProvider returns the Graph API client provider the configuration describes: its clients trust the
// certificates in certs as they are at the time of each call.
func (c *Config) GraphProvider(certs aicc.CertificateStore) *meta.Provider {
	return &meta.Provider{
		Certificates: certs, BaseURL: c.GraphBaseURL, Version: c.GraphVersion,
		UploadedOnly: c.GraphUploadedOnly, Timeout: c.GraphTimeout,
	}
}

// graphTrust names the trust setting, as AICC_GRAPH_TRUST spells it.
func (c *Config) graphTrust() string {
	if c.GraphUploadedOnly {
		return GraphTrustUploadedOnly
	}
	return GraphTrustSystemAndUploaded
}

// requireDatabaseURL fails with a clear message when AICC_DATABASE_URL is missing.
func (c *Config) requireDatabaseURL() error {
	if c.DatabaseURL == "" {
		return errors.New("AICC_DATABASE_URL is required (postgres://user:pass@host:5432/aicc?sslmode=disable or sqlite:PATH)")
	}
	return nil
}

// loadConfig is the one read of the process environment.
func loadConfig() (Config, error) { return ConfigFromEnv(os.Getenv) }

func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Never quote the value: it is, or is close to, a key.
		return nil, errors.New("is not valid base64 (standard alphabet, with padding)")
	}
	if len(k) != aicc.MasterKeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(k), aicc.MasterKeySize)
	}
	return k, nil
}

// readKeyFile reads a master key file: the key in base64 (as in AICC_MASTER_KEY), or its 32 raw bytes.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read it: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable or writable by others than its owner (mode %04o): chmod 600 (or 400) it", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read it: %w", err)
	}
	if len(b) == aicc.MasterKeySize {
		return b, nil
	}
	k, err := decodeKey(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, fmt.Errorf("the key file %s", err)
	}
	return k, nil
}

// graphVersionRE is the shape of a Graph API version.
var graphVersionRE = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// parseBaseURL checks an absolute http(s) base URL (example shows the expected shape) and trims its trailing
// slash.
func parseBaseURL(s, example string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("must be an absolute http(s) URL such as %s, got %q", example, s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("must not carry credentials, a query or a fragment, got %q", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// checkListenAddrs refuses one address for both listeners: the admin one would then share the public one's
// port, which is what an AICC_HTTP_ADDR kept from the time of one listener does (":8080").
func checkListenAddrs(public, admin string) error {
	ph, pp, perr := net.SplitHostPort(public)
	ah, ap, aerr := net.SplitHostPort(admin)
	every := func(host string) bool { return host == "" || host == "0.0.0.0" || host == "::" }
	same := public == admin
	if perr == nil && aerr == nil {
		same = pp == ap && pp != "0" && (ph == ah || every(ph) || every(ah)) // port 0: any free port
	}
	if same {
		return fmt.Errorf("the admin listener (%s) needs another address than the public one, AICC_PUBLIC_ADDR (%s)", admin, public)
	}
	return nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("must be a port number between 1 and 65535, got %q", s)
	}
	return p, nil
}

// fmtDuration writes a whole number of minutes as "5m", not as time.Duration's "5m0s".
func fmtDuration(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
