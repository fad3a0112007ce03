package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/aiccfb/aicc/internal/ops"
)

// WebhookLimits bound what failed webhook POSTs may cost. A failure is a POST refused with a 403: a missing,
// malformed or wrong signature, or a channel ID that no channel taking events has. They count alike, since no
// answer may tell which channel IDs exist. Each limit is a token bucket that holds Burst failures and refills
// Rate a second (a Rate of 0: a spent bucket never refills); a Burst of 0 turns it off.
//
// The client limit refuses: a client (an IPv4 address, or an IPv6 /64) with no failure left is answered 429,
// before its body is read and before its channel is looked up, until one is back. A correctly signed POST fills
// its client's bucket again, so that Meta, whose addresses also carry the POSTs of a deleted or misconfigured
// channel, is refused only if it fails ClientBurst times between two POSTs it signs right.
//
// The channel limit never refuses: a correctly signed POST must not be refused because someone else floods its
// channel. It bounds what a failure costs beyond its answer, per channel ID: its "webhook refused" log line.
// (The lookup a wrong signature makes again is bounded already, to one per channel per webhookRefreshAfter.)
type WebhookLimits struct {
	ClientRate   float64
	ClientBurst  int
	ChannelRate  float64
	ChannelBurst int
}

// Defaults of WebhookLimits. Meta signs every POST it sends, so its traffic fails only when a channel is
// deleted or misconfigured; 60 failures, then one a second, leaves a prober or a flooder a trickle.
const (
	DefaultClientFailureRate   = 1.0
	DefaultClientFailureBurst  = 60
	DefaultChannelFailureRate  = 1.0
	DefaultChannelFailureBurst = 20
)

// DefaultWebhookLimits are the limits of a Server whose WebhookLimits is nil.
func DefaultWebhookLimits() WebhookLimits {
	return WebhookLimits{
		ClientRate: DefaultClientFailureRate, ClientBurst: DefaultClientFailureBurst,
		ChannelRate: DefaultChannelFailureRate, ChannelBurst: DefaultChannelFailureBurst,
	}
}

// Bounds of the throttle's state: the buckets of the least recently failing clients and channel IDs beyond
// these go first, as full buckets would. A client is tracked only once it fails.
const (
	throttleClients  = 10_000
	throttleChannels = 10_000
)

// Scopes of a throttled POST, the label values of aicc_webhook_throttled_total.
const (
	throttleClient  = "client"
	throttleChannel = "channel"
)

// drainedBytes is how much of a body net/http reads and throws away after the handler, so that the connection
// can serve the next request; it closes a connection with more left unread (net/http's
// maxPostHandlerReadBytes).
const drainedBytes = 256 << 10

// webhookThrottle keeps the failure buckets of clients and channel IDs. Its methods are safe for concurrent
// use.
type webhookThrottle struct {
	limits    WebhookLimits
	throttled map[string]prometheus.Counter // by scope

	mu       sync.Mutex
	clients  *simplelru.LRU[string, *rate.Limiter]
	channels *simplelru.LRU[string, *rate.Limiter]
}

func newWebhookThrottle(limits WebhookLimits, reg prometheus.Registerer) *webhookThrottle {
	counter := ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aicc_webhook_throttled_total",
		Help: "Webhook POSTs throttled for failing too often, by scope: client (answered 429 before their body is " +
			"read: their address failed too often) and channel (refused as usual, without their log line: their " +
			"channel ID failed too often). A POST for an unknown channel fails as one with a wrong signature does.",
	}, []string{"scope"}))
	t := &webhookThrottle{
		limits:    limits,
		throttled: map[string]prometheus.Counter{},
		clients:   newLRU[string, *rate.Limiter](throttleClients),
		channels:  newLRU[string, *rate.Limiter](throttleChannels),
	}
	for _, scope := range []string{throttleClient, throttleChannel} {
		t.throttled[scope] = counter.WithLabelValues(scope)
	}
	return t
}

// refused tells whether client has no failure left at now; it counts the refusal. A client that has failed
// before spends one of its failures here, before its POST is read, so that its concurrent POSTs cannot all pass
// on the same one; failed does not spend it again, and a correctly signed POST forgives them all anyway.
func (t *webhookThrottle) refused(client string, now time.Time) bool {
	if t.limits.ClientBurst <= 0 {
		return false
	}
	t.mu.Lock()
	b, ok := t.clients.Get(client)
	t.mu.Unlock()
	if !ok || b.AllowN(now, 1) {
		return false
	}
	t.throttled[throttleClient].Inc()
	return true
}

// failed counts a failure of client for the channel ID at now, and tells whether the channel ID had one left:
// whether the failure's log line is written. A client's first failure gives it its bucket, and spends one;
// refused spent it for the later ones.
func (t *webhookThrottle) failed(client, channel string, now time.Time) (logged bool) {
	t.mu.Lock()
	var first, chb *rate.Limiter
	if _, ok := t.clients.Get(client); !ok && t.limits.ClientBurst > 0 {
		first = bucket(t.clients, client, t.limits.ClientRate, t.limits.ClientBurst)
	}
	if t.limits.ChannelBurst > 0 {
		chb = bucket(t.channels, channel, t.limits.ChannelRate, t.limits.ChannelBurst)
	}
	t.mu.Unlock()
	if first != nil {
		first.AllowN(now, 1)
	}
	if chb != nil && !chb.AllowN(now, 1) {
		t.throttled[throttleChannel].Inc()
		return false
	}
	return true
}

// signed forgives client its failures: it has just sent a correctly signed POST.
func (t *webhookThrottle) signed(client string) {
	if t.limits.ClientBurst <= 0 {
		return
	}
	t.mu.Lock()
	t.clients.Remove(client)
	t.mu.Unlock()
}

// retryAfter is the Retry-After of a 429, in whole seconds: how long a failure takes to come back; "" when
// none does (a ClientRate of 0).
func (t *webhookThrottle) retryAfter() string {
	if t.limits.ClientRate <= 0 {
		return ""
	}
	return strconv.Itoa(int(math.Ceil(1 / t.limits.ClientRate)))
}

// bucket returns the bucket of key in l, a new full one when it has none. The caller holds the lock.
func bucket(l *simplelru.LRU[string, *rate.Limiter], key string, r float64, burst int) *rate.Limiter {
	b, ok := l.Get(key)
	if !ok {
		b = rate.NewLimiter(rate.Limit(r), burst)
		l.Add(key, b)
	}
	return b
}

// webhookClient is the key of the client of c in the throttle: its address (the remote address, or the one a
// trusted proxy gives, see Server.TrustedProxies), an IPv6 address by its /64, which one host usually has whole.
func webhookClient(c *gin.Context) string {
	ip := net.ParseIP(c.ClientIP())
	switch {
	case ip == nil:
		return ""
	case ip.To4() != nil:
		return ip.To4().String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// throttleWebhook answers a client with no failure left: a bare 429, its body unread, and no log line.
func (s *Server) throttleWebhook(c *gin.Context) {
	c.Set(quietKey, true)
	if after := s.webhookThrottle.retryAfter(); after != "" {
		c.Header("Retry-After", after)
	}
	c.AbortWithStatus(http.StatusTooManyRequests)
}

// refuseWebhook answers a POST whose signature is refused for reason, or whose channel takes no events
// (refused as a wrong signature is: see decoySecret): a bare 403, counted, and logged (its "webhook refused"
// line and its request line) unless its channel ID has failed too often.
func (s *Server) refuseWebhook(c *gin.Context, client, reason string) {
	id := c.Param("channelID")
	s.metrics.webhookEvents[eventRejectedSignature].Inc()
	s.metrics.webhookRejections.WithLabelValues(reason).Inc()
	if s.webhookThrottle.failed(client, id, s.now()) {
		s.log(c).Info("webhook refused", slog.String("channel_id", id), slog.String("reason", reason))
	} else {
		c.Set(quietKey, true)
	}
	c.AbortWithStatus(http.StatusForbidden)
}

// refuseDecoy refuses a POST for ch, a channel that takes no events, without reading its body into memory: no
// signature matches a decoy's secret, whatever the body, so the headers give the reason a wrong signature for
// an existing SHA-256 channel would get. A body of unknown length or longer than net/http drains is read and
// thrown away first, so that the answer (413 beyond the body limit) and the connection's fate are those of a
// channel that exists.
func (s *Server) refuseDecoy(c *gin.Context, ch *webhookChannel, client string) error {
	if n := c.Request.ContentLength; n < 0 || n > drainedBytes {
		if _, err := io.Copy(io.Discard, c.Request.Body); err != nil {
			if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
				return errTooLarge(tooLarge.Limit)
			}
			return fmt.Errorf("reading the request body: %w", err)
		}
	}
	reason, _ := s.checkSignature(ch, c.Request.Header, nil)
	s.refuseWebhook(c, client, reason)
	return nil
}
