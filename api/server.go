// Package api is the REST API of aicc: the admin console's resources under /v1, Meta's webhook verification,
// and the operators' health, metrics and OpenAPI routes. It talks to the database through aicc.Store and to
// Temporal through client.Client, so tests run it over SQLite and a mocked Temporal client.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/console"
	"github.com/aiccfb/aicc/internal/ops"
	"github.com/aiccfb/aicc/workflows"
)

// DefaultMaxBodyBytes bounds a request body when Server.MaxBodyBytes is zero. The largest legitimate body, a
// channel with every list at its maximum, is a few tens of kilobytes.
const DefaultMaxBodyBytes = 1 << 20

// DefaultWorkflowWait is how long a route waits for its workflow when Server.WorkflowWait is zero: long enough
// for a token check, a subscription and its read-back with a retry, well inside the server's 30-second write
// timeout.
const DefaultWorkflowWait = 20 * time.Second

// Server holds the API's dependencies. It serves two listeners: PublicHandler, the only one the internet
// reaches, carries Meta's webhooks; AdminHandler carries everything else (/v1, /metrics, /openapi.yaml, the API
// docs, /readyz). Serve each with Serve, and run RunGauges beside them.
type Server struct {
	Store    aicc.Store
	Keyring  *aicc.Keyring
	Temporal client.Client
	// Webhooks authenticates and parses Meta's event notifications (meta.Codec); nil answers the webhook POST
	// UNAVAILABLE.
	Webhooks aicc.WebhookCodec
	// Logger receives one JSON line per request and the details of internal errors; nil discards them.
	Logger *slog.Logger
	// Metrics is the registry the API registers its collectors on and serves at /metrics; nil means a new one.
	Metrics *prometheus.Registry
	// PublicURL is where Meta reaches the public listener, e.g. "https://aicc.example.com"; callback URLs start
	// with it.
	PublicURL string
	// VerificationTTL is how long onboarding waits for Meta's verification; zero means
	// workflows.DefaultVerificationTTL.
	VerificationTTL time.Duration
	// WorkflowWait bounds how long a route waits for a workflow (starting an onboarding, connecting or
	// removing a Page, deleting a channel, sending a test message) before answering with the state recorded so
	// far; zero means DefaultWorkflowWait.
	WorkflowWait time.Duration
	// RotationReminder is how often a secret rotation reminds that Pages miss their new token; zero means
	// workflows.DefaultRotationReminderInterval.
	RotationReminder time.Duration
	// ExportFiles reads the files exports wrote; nil answers their downloads UNAVAILABLE.
	ExportFiles ExportFiles
	// Robots finds the robot assistant of a channel's access code, for the suggestions to agents; nil answers
	// them ROBOT_UNAVAILABLE.
	Robots aicc.Robots
	// ExportRetention is how long an export's files are kept; zero means aicc.DefaultExportRetention.
	ExportRetention time.Duration
	// MaxBodyBytes bounds request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// WebhookLimits bound what failed webhook POSTs may cost: the failures one client may have before it is
	// answered 429, and the failures per channel ID that are logged; nil means DefaultWebhookLimits.
	WebhookLimits *WebhookLimits
	// TrustedProxies are the addresses (IPs or CIDRs) of the proxies whose X-Forwarded-For and X-Real-IP name
	// a request's client, for WebhookLimits; none means that the client is the remote address, as it is when
	// nothing stands in front of the listener. Never trust an address a client can send from itself.
	TrustedProxies []string
	// GaugeInterval is how often RunGauges reads the gauges of /metrics from the database; zero means
	// DefaultGaugeInterval.
	GaugeInterval time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	setupOnce       sync.Once
	metrics         *metrics
	gauges          *gauges
	webhookChannels *channelCache
	webhookThrottle *webhookThrottle
}

// setup fills in the defaults and registers the collectors, once, whichever of the handlers and RunGauges comes
// first.
func (s *Server) setup() {
	s.setupOnce.Do(func() {
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.Metrics == nil {
			s.Metrics = prometheus.NewRegistry()
		}
		s.metrics = newMetrics(s.Metrics)
		s.gauges = newGauges(s, s.Metrics)
		s.webhookChannels = newChannelCache(s.loadWebhookChannel, s.now)
		limits := DefaultWebhookLimits()
		if s.WebhookLimits != nil {
			limits = *s.WebhookLimits
		}
		s.webhookThrottle = newWebhookThrottle(limits, s.Metrics)
	})
}

// PublicHandler is the handler of the public listener, the one Meta reaches over the internet: Meta's webhook
// routes and /healthz, nothing else. Every other path is a 404 in the error shape, exactly as a path that is no
// route at all.
func (s *Server) PublicHandler() http.Handler {
	r := s.engine()
	r.GET("/healthz", s.healthz)
	s.webhookRoutes(r)
	return r
}

// AdminHandler is the handler of the admin listener, for the admin console, operators and Prometheus: /v1,
// /metrics, /openapi.yaml, the API docs, the console (/console/), /readyz and /healthz. It is not for the
// internet: keep it on a private interface or behind an authenticating proxy.
func (s *Server) AdminHandler() http.Handler {
	r := s.engine()
	r.GET("/healthz", s.healthz)
	s.adminRoutes(r)
	return r
}

// Handler serves the routes of both listeners on one handler, for tests and the load harness (cmd/aicc-load).
// The processes serve PublicHandler and AdminHandler on listeners of their own.
func (s *Server) Handler() http.Handler {
	r := s.engine()
	r.GET("/healthz", s.healthz)
	s.webhookRoutes(r)
	s.adminRoutes(r)
	return r
}

// engine is a gin engine with the middleware every listener shares and the error shape for unknown routes and
// methods.
func (s *Server) engine() *gin.Engine {
	s.setup()
	maxBody := s.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// gin trusts every proxy by default: any client could name itself in X-Forwarded-For. Only the configured
	// ones are trusted; a malformed entry (cmd/aicc refuses one at start) is logged, and then none is.
	if err := r.SetTrustedProxies(s.TrustedProxies); err != nil {
		s.Logger.Error("TrustedProxies: trusting no proxy", slog.String("error", err.Error()))
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(s.requestID, s.requestLog, s.httpMetrics, s.recovery, s.bodyLimit(maxBody), s.refuseNUL)
	r.NoRoute(s.h(func(*gin.Context) error { return aicc.Errorf(aicc.ENOTFOUND, "No such route.") }))
	r.NoMethod(s.h(func(*gin.Context) error {
		return aicc.Errorf(codeMethodNotAllowed, "The route does not allow this method.")
	}))
	return r
}

// webhookRoutes are Meta's: the public listener's routes.
func (s *Server) webhookRoutes(r *gin.Engine) {
	r.GET("/webhooks/facebook/:channelID", s.h(s.verifyWebhook))
	r.POST("/webhooks/facebook/:channelID", s.h(s.receiveWebhook))
}

// adminRoutes are the admin listener's routes, /healthz aside.
func (s *Server) adminRoutes(r *gin.Engine) {
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.serveMetrics())
	r.GET("/openapi.yaml", serveOpenAPI)
	r.GET("/", serveDoc("index.html"))
	r.GET("/docs", serveDoc("docs.html"))
	r.GET("/docs/redoc.standalone.js", serveDoc("redoc.standalone.js"))
	r.GET("/docs/redoc.LICENSE", serveDoc("redoc.LICENSE"))
	consoleFiles := gin.WrapH(console.Handler())
	for _, p := range []string{"/console", "/console/*path"} {
		r.GET(p, consoleFiles)
		r.HEAD(p, consoleFiles)
	}

	v1 := r.Group("/v1", s.h(s.authenticate))
	v1.GET("/me", s.h(s.getMe))

	sys := v1.Group("", s.h(requireSysadmin))
	sys.POST("/tenants", s.h(s.createTenant))
	sys.GET("/tenants", s.h(s.listTenants))
	sys.GET("/tenants/:tenantID", s.h(s.getTenant))
	sys.POST("/system/certificates", s.h(s.addCertificate))
	sys.GET("/system/certificates", s.h(s.listCertificates))
	sys.GET("/system/audit", s.h(s.listSystemAudit))

	tokens := v1.Group("", s.h(requireTokenAdmin))
	tokens.POST("/tokens", s.h(s.createToken))
	tokens.GET("/tokens", s.h(s.listTokens))
	tokens.DELETE("/tokens/:tokenID", s.h(s.revokeToken))

	t := v1.Group("", s.h(requireTenant))
	t.POST("/ous", s.h(s.createOU))
	t.GET("/ous", s.h(s.listOUs))
	t.GET("/ous/:ouID", s.h(s.getOU))
	t.POST("/skill-queues", s.h(s.createSkillQueue))
	t.GET("/skill-queues", s.h(s.listSkillQueues))
	t.GET("/skill-queues/:queueID", s.h(s.getSkillQueue))
	t.POST("/service-calendars", s.h(s.createServiceCalendar))
	t.GET("/service-calendars", s.h(s.listServiceCalendars))
	t.GET("/service-calendars/:calendarID", s.h(s.getServiceCalendar))

	t.POST("/channels", s.h(s.createChannel))
	t.GET("/channels", s.h(s.listChannels))
	t.GET("/channels/:channelID", s.h(s.getChannel))
	t.GET("/channels/:channelID/audit", s.h(s.listChannelAudit))
	t.PATCH("/channels/:channelID", s.h(s.updateChannel))
	t.DELETE("/channels/:channelID", s.h(s.deleteChannel))
	t.POST("/channels/:channelID/verify-token", s.h(s.rotateVerifyToken))
	t.PUT("/channels/:channelID/app-secret", s.h(s.changeAppSecret))
	t.GET("/channels/:channelID/rotation", s.h(s.getRotation))
	t.GET("/channels/:channelID/work-time", s.h(s.getWorkTime))
	t.POST("/channels/:channelID/rotation/revoke-previous", s.h(s.revokePreviousAppSecret))
	t.PUT("/channels/:channelID/pages/:pageID/token-secret", s.h(s.changeTokenSecret))
	t.POST("/channels/:channelID/onboarding", s.h(s.startOnboarding))
	t.GET("/channels/:channelID/onboarding", s.h(s.getOnboarding))
	t.POST("/channels/:channelID/onboarding/confirm", s.h(s.confirmOnboarding))
	t.POST("/channels/:channelID/onboarding/cancel", s.h(s.cancelOnboarding))
	t.POST("/channels/:channelID/pages", s.h(s.addPage))
	t.GET("/channels/:channelID/pages", s.h(s.listPages))
	t.GET("/channels/:channelID/pages/:pageID", s.h(s.getPage))
	t.DELETE("/channels/:channelID/pages/:pageID", s.h(s.removePage))
	t.POST("/channels/:channelID/pages/:pageID/connect", s.h(s.reconnectPage))
	t.POST("/channels/:channelID/pages/:pageID/messages", s.h(s.sendTestMessage))
	t.GET("/channels/:channelID/conversations", s.h(s.listConversations))
	t.GET("/conversations/:conversationID", s.h(s.getConversation))
	t.GET("/conversations/:conversationID/events", s.h(s.listConversationEvents))
	t.POST("/conversations/:conversationID/assign", s.h(s.assignConversation))
	t.POST("/conversations/:conversationID/messages", s.h(s.sendAgentMessage))
	t.POST("/conversations/:conversationID/transfer", s.h(s.transferConversation))
	t.POST("/conversations/:conversationID/close", s.h(s.closeConversation))
	t.POST("/conversations/:conversationID/decline", s.h(s.declineConversation))
	t.GET("/conversations/:conversationID/suggestions", s.h(s.getSuggestions))
	t.GET("/dead-letters", s.h(s.listDeadLetters))
	t.POST("/dead-letters/:eventID/retry", s.h(s.retryDeadLetter))
	t.GET("/webhook-rejects", s.h(s.listWebhookRejects))
	t.GET("/audit", s.h(s.listAudit))
	t.POST("/exports", s.h(s.createExport))
	t.GET("/exports", s.h(s.listExports))
	t.GET("/exports/:exportID", s.h(s.getExport))
	t.POST("/exports/:exportID/cancel", s.h(s.cancelExport))
	t.GET("/exports/:exportID/download", s.h(s.downloadExport))
	t.GET("/exports/:exportID/files/:name", s.h(s.downloadExportFile))
}

// h adapts a handler that returns an error, so that every handler ends in the one error writer.
func (s *Server) h(fn func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := fn(c); err != nil {
			s.writeError(c, err)
		}
	}
}

// now is the current time in UTC, truncated to microseconds: what Postgres keeps, so that a value answered
// on create is the value read back later.
func (s *Server) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}

func (s *Server) workflowWait() time.Duration {
	if s.WorkflowWait > 0 {
		return s.WorkflowWait
	}
	return DefaultWorkflowWait
}

func (s *Server) verificationTTL() time.Duration {
	if s.VerificationTTL > 0 {
		return s.VerificationTTL
	}
	return workflows.DefaultVerificationTTL
}

// callbackURL is the webhook URL to paste into Meta for Developers.
func (s *Server) callbackURL(channelID string) string {
	return strings.TrimRight(s.PublicURL, "/") + "/webhooks/facebook/" + channelID
}

// Serve serves h on addr until ctx is done, then shuts down gracefully, giving in-flight requests up to ten
// seconds. It returns nil after a clean shutdown. name ("public", "admin") starts its log lines and errors.
func Serve(ctx context.Context, name, addr string, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return ops.Serve(ctx, name, srv, nil, 10*time.Second, logger)
}

// decodeJSON decodes the request body into v strictly: unknown fields, wrong types and trailing data are
// INVALID, naming the field where the decoder can tell; a body past the limit is PAYLOAD_TOO_LARGE. Fields
// absent from the body keep the values v already holds.
func decodeJSON(c *gin.Context, v any) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeBody(data, v)
}

// decodeBody is decodeJSON of a body read already.
func decodeBody(data []byte, v any) error {
	if key, ok := firstUnknownKey(data, reflect.TypeOf(v)); ok {
		return invalid(key, "is not a known field")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			if holdsNUL(data) {
				return aicc.Errorf(aicc.EINVALID, `The request body holds a NUL character (\u0000), which no field may hold.`)
			}
			return nil
		} else if err == nil {
			err = errors.New("trailing data")
		}
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return invalid(typeErr.Field, "must be "+jsonKind(typeErr.Type.Kind()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return invalid(field, "is not a known field")
	case errors.Is(err, io.EOF):
		return aicc.Errorf(aicc.EINVALID, "The request body must be a JSON object.")
	default:
		return aicc.Errorf(aicc.EINVALID, "The request body is not one valid JSON object.")
	}
}

// holdsNUL reports whether the valid JSON data has a NUL character in a string: the escape \u0000, since JSON
// has no other way to hold one. Neither database stores NUL in a text column.
func holdsNUL(data []byte) bool {
	for i := bytes.IndexByte(data, '\\'); i >= 0 && i+1 < len(data); {
		if bytes.HasPrefix(data[i+1:], []byte("u0000")) {
			return true
		}
		j := bytes.IndexByte(data[i+2:], '\\') // past the escaped character, which may be a backslash
		if j < 0 {
			return false
		}
		i += 2 + j
	}
	return false
}

// readBody reads the whole request body; past the body limit it is PAYLOAD_TOO_LARGE.
func readBody(c *gin.Context) ([]byte, error) {
	var buf bytes.Buffer
	if n := c.Request.ContentLength; n > 0 && n <= DefaultMaxBodyBytes {
		buf.Grow(int(n) + bytes.MinRead) // one allocation for the usual body, whose length is announced
	}
	if _, err := buf.ReadFrom(c.Request.Body); err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			return nil, errTooLarge(tooLarge.Limit)
		}
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	return buf.Bytes(), nil
}

// jsonKind names the JSON type a Go kind decodes from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	default:
		return "an object"
	}
}

// listOptions reads ?limit= (1 to aicc.MaxListLimit, default aicc.DefaultListLimit) and ?cursor=.
func listOptions(c *gin.Context) (aicc.ListOptions, error) {
	opt := aicc.ListOptions{Limit: aicc.DefaultListLimit, Cursor: c.Query("cursor")}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > aicc.MaxListLimit {
			return opt, invalid("limit", fmt.Sprintf("must be an integer from 1 to %d", aicc.MaxListLimit))
		}
		opt.Limit = n
	}
	return opt, nil
}

// list is one page of a list response.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

// listOf maps a page of domain values to their JSON form; Items is never null.
func listOf[S, T any](items []S, next string, toJSON func(S) T) list[T] {
	out := list[T]{Items: make([]T, 0, len(items)), NextCursor: next}
	for _, it := range items {
		out.Items = append(out.Items, toJSON(it))
	}
	return out
}

// optTime omits a zero time from a response.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
