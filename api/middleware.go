package api

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// Keys of the values middleware leaves in the gin context.
const (
	requestIDKey = "aicc.requestID"
	principalKey = "aicc.principal"
	tokenKey     = "aicc.token" // the caller's *aicc.APIToken, as authenticate found it
	// quietKey marks a request that gets no request log line: a webhook POST throttled, or refused beyond its
	// channel ID's log budget (see WebhookLimits). A flood must not become a flood of log lines; the metrics
	// count it.
	quietKey = "aicc.quiet"
)

// requestIDHeader carries the request ID in and out, so a caller's ID and ours appear in the same log line.
const requestIDHeader = "X-Request-ID"

// requestID honours a sane incoming X-Request-ID, else makes one, and echoes it in the response.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if !saneRequestID(id) {
		id = hex.EncodeToString(aicc.RandomBytes(12))
	}
	c.Set(requestIDKey, id)
	c.Header(requestIDHeader, id)
}

// saneRequestID accepts 1 to 64 characters that cannot forge a log line or a header.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:", r)
		if !ok {
			return false
		}
	}
	return true
}

// log returns the logger for this request: every line carries the request ID, and the tenant ID once known.
func (s *Server) log(c *gin.Context) *slog.Logger {
	l := s.Logger.With(slog.String("request_id", c.GetString(requestIDKey)))
	if t := principalOf(c).TenantID; t != "" {
		l = l.With(slog.String("tenant_id", t))
	}
	return l
}

// requestLog writes one line per request, but none for a quiet one (quietKey). It logs the route template, never
// the raw URL: the webhook's query string carries the verify token. Bodies and the Authorization header are
// never logged either.
func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	if c.GetBool(quietKey) {
		return
	}
	status := c.Writer.Status()
	level := slog.LevelInfo
	if status >= http.StatusInternalServerError {
		level = slog.LevelError
	}
	s.log(c).LogAttrs(c.Request.Context(), level, "request",
		slog.String("method", c.Request.Method),
		slog.String("route", routeLabel(c)),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)))
}

// routeLabel is the route template, bounded for metric labels; "unmatched" for unknown routes.
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// httpMetrics counts requests by route template, method and status class, and observes their latency.
func (s *Server) httpMetrics(c *gin.Context) {
	start := time.Now()
	c.Next()
	route, method := routeLabel(c), c.Request.Method
	class := strconv.Itoa(c.Writer.Status()/100) + "xx"
	s.metrics.requests.WithLabelValues(route, method, class).Inc()
	s.metrics.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
}

// recovery turns a panic into an INTERNAL answer and a log line with the stack.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		rec := recover()
		if rec == nil {
			return
		}
		if rec == http.ErrAbortHandler { //nolint:errorlint // net/http's sentinel is compared as it is panicked
			panic(rec)
		}
		s.writeError(c, fmt.Errorf("panic: %v\n%s", rec, debug.Stack()))
	}()
	c.Next()
}

// refuseNUL answers a request whose path or query holds a NUL character, which no stored ID or name holds and
// neither database takes in a text column: a path is NOT_FOUND, a query value INVALID.
func (s *Server) refuseNUL(c *gin.Context) {
	hasNUL := func(v string) bool { return strings.IndexByte(v, 0) >= 0 }
	if hasNUL(c.Request.URL.Path) {
		s.writeError(c, aicc.Errorf(aicc.ENOTFOUND, "No such resource."))
		return
	}
	if !strings.Contains(c.Request.URL.RawQuery, "%00") {
		return
	}
	for name, values := range c.Request.URL.Query() {
		if hasNUL(name) || slices.ContainsFunc(values, hasNUL) {
			s.writeError(c, invalid(strings.ReplaceAll(name, "\x00", ""), "must not hold a NUL character"))
			return
		}
	}
}

// bodyLimit refuses bodies larger than n bytes: at once when Content-Length says so, else when a handler
// reads past the limit (decodeJSON turns that into PAYLOAD_TOO_LARGE).
func (s *Server) bodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			s.writeError(c, errTooLarge(n))
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
	}
}

func errTooLarge(n int64) error {
	return aicc.Errorf(aicc.ETOOLARGE, "The request body is larger than %d bytes.", n)
}

// authenticate resolves the bearer token to a Principal. Tokens are looked up by hash, never stored or logged.
// The lookup reads the database on every request, with no cache: a token revoked through any process, or past
// its expiry, is refused by the next request to every process. Unknown, revoked and expired tokens get the
// same answer, so that a caller learns nothing about a token it does not hold.
func (s *Server) authenticate(c *gin.Context) error {
	scheme, token, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return aicc.Errorf(aicc.EUNAUTH, "A bearer token is required.")
	}
	now := s.now()
	ctx := c.Request.Context()
	t, err := s.Store.FindToken(ctx, aicc.HashToken(token), now)
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND:
		return aicc.Errorf(aicc.EUNAUTH, "The bearer token is not valid.")
	case err != nil:
		return err
	}
	// The last use is written only when the stored one is a TokenTouchInterval old: one small UPDATE per token
	// per minute, in line because it is that rare (a goroutine would outlive the request and race the tests'
	// stores). It is informational, so a failure is logged and the request goes on.
	if t.NeedsTouch(now) {
		if err := s.Store.TouchToken(ctx, t.ID, now); err != nil {
			s.log(c).LogAttrs(ctx, slog.LevelWarn, "recording the token's last use failed",
				slog.String("token_id", t.ID), slog.String("error", err.Error()))
		} else {
			t.LastUsedAt = now
		}
	}
	c.Set(principalKey, aicc.Principal{TokenID: t.ID, TenantID: t.TenantID, Role: t.Role})
	c.Set(tokenKey, t)
	return nil
}

func principalOf(c *gin.Context) aicc.Principal {
	p, _ := c.Get(principalKey)
	principal, _ := p.(aicc.Principal)
	return principal
}

// requireSysadmin guards the system routes.
func requireSysadmin(c *gin.Context) error {
	if principalOf(c).Role != aicc.RoleSysadmin {
		return aicc.Errorf(aicc.EFORBIDDEN, "This route needs a sysadmin token.")
	}
	return nil
}

// requireTokenAdmin guards the token routes: a sysadmin manages every token, a tenant-admin its tenant's, and
// a tenant-viewer none, not even to read: the list shows who holds access.
func requireTokenAdmin(c *gin.Context) error {
	p := principalOf(c)
	if p.Role == aicc.RoleSysadmin || p.Role == aicc.RoleTenantAdmin && p.TenantID != "" {
		return nil
	}
	return aicc.Errorf(aicc.EFORBIDDEN, "This route needs a sysadmin or tenant-admin token.")
}

// requireTenant guards the tenant routes: the caller must belong to a tenant, and only an admin may write.
func requireTenant(c *gin.Context) error {
	p := principalOf(c)
	switch {
	case p.TenantID == "" || !p.Role.Valid() || p.Role == aicc.RoleSysadmin:
		return aicc.Errorf(aicc.EFORBIDDEN, "This route needs a tenant token; a sysadmin token has no tenant.")
	case c.Request.Method != http.MethodGet && !p.CanWrite():
		return aicc.Errorf(aicc.EFORBIDDEN, "A %s token may only read.", p.Role)
	}
	return nil
}
