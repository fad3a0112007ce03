package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/ops"
)

// metrics are the API's collectors, registered on Server.Metrics. Labels are bounded: route templates,
// methods, status classes, algorithms and verification results.
type metrics struct {
	requests             *prometheus.CounterVec
	duration             *prometheus.HistogramVec
	channelsCreated      *prometheus.CounterVec
	webhookVerifications *prometheus.CounterVec
	// webhookEvents are the series of aicc_webhook_events_total by result, looked up once.
	webhookEvents     map[string]prometheus.Counter
	webhookRejections *prometheus.CounterVec
	webhookSeconds    prometheus.Histogram
	// signatureMatches are the series of aicc_webhook_signature_matches_total by secret, looked up once.
	signatureMatches map[string]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_http_requests_total",
			Help: "HTTP requests by route template, method and status class.",
		}, []string{"route", "method", "code"})),
		duration: ops.MustRegister(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aicc_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"})),
		channelsCreated: ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_channels_created_total",
			Help: "Channels created, by signature algorithm (sha1 is weak).",
		}, []string{"algorithm"})),
		webhookVerifications: ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_webhook_verifications_total",
			Help: "Meta webhook verification requests, by result.",
		}, []string{"result"})),
		webhookRejections: ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_webhook_signature_rejections_total",
			Help: "Meta webhook POSTs refused with a 403, by reason (unknown or disabled channel, or the signature's).",
		}, []string{"reason"})),
		webhookSeconds: ops.MustRegister(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aicc_webhook_request_duration_seconds",
			Help:    "Latency of Meta webhook POSTs in their handler, reading the body included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		})),
	}
	events := ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aicc_webhook_events_total",
		Help: "Meta webhook events by result: stored, duplicate (stored before) and rejected_page (for a Page of " +
			"another channel) count events; rejected_signature (403) and malformed (400) count POSTs.",
	}, []string{"result"}))
	m.webhookEvents = map[string]prometheus.Counter{}
	for _, r := range eventResults {
		m.webhookEvents[r] = events.WithLabelValues(r)
	}
	for _, r := range rejectReasons {
		m.webhookRejections.WithLabelValues(r)
	}
	matches := ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aicc_webhook_signature_matches_total",
		Help: "Meta webhook POSTs accepted, by the app secret their signature matched: current, or previous during " +
			"a rotation's overlap window. Once previous stops growing, Meta signs with the new secret only.",
	}, []string{"secret"}))
	m.signatureMatches = map[string]prometheus.Counter{}
	for _, secret := range []string{secretCurrent, secretPrevious} {
		m.signatureMatches[secret] = matches.WithLabelValues(secret)
	}
	return m
}

// Series read from the store at scrape time by storeCollector.
var (
	certificateExpiryDesc = prometheus.NewDesc("aicc_certificate_expiry_seconds",
		"Seconds until the uploaded Facebook authentication certificate that expires last expires; negative once "+
			"it has expired, absent when none is uploaded.", nil, nil)
	pagesDesc = prometheus.NewDesc("aicc_pages",
		"Facebook Pages of every channel, by the health of their access token.", []string{"token_health"}, nil)
	inboxUndeliveredDesc = prometheus.NewDesc("aicc_inbox_undelivered",
		"Webhook events stored in the inbox and not yet delivered to their conversation.", nil, nil)
	inboxOldestDesc = prometheus.NewDesc("aicc_inbox_oldest_undelivered_seconds",
		"Seconds since the oldest undelivered webhook event was received; 0 when every event is delivered.", nil, nil)
	rotationsDesc = prometheus.NewDesc("aicc_secret_rotations",
		"Channels by the result of their latest secret rotation: pending (Pages miss a token accepted under the "+
			"new app secret) or complete.", []string{"status"}, nil)
	rotationsRemindedDesc = prometheus.NewDesc("aicc_secret_rotations_reminded",
		"Pending secret rotations that have fired at least one reminder: their Pages are overdue.", nil, nil)
	rotationOldestDesc = prometheus.NewDesc("aicc_secret_rotation_oldest_pending_seconds",
		"Seconds since the oldest pending secret rotation changed its app secret; 0 when none is pending.", nil, nil)
)

// rotationStatuses are the label values of aicc_secret_rotations, every one always present.
var rotationStatuses = []aicc.RotationStatus{aicc.RotationPending, aicc.RotationComplete}

// tokenHealths are the label values of aicc_pages, every one always present.
var tokenHealths = []aicc.TokenHealth{aicc.TokenHealthy, aicc.TokenDegraded, aicc.TokenReauthRequired}

// storeCollector asks the store at scrape time, so no goroutine keeps the numbers and every API replica
// answers the same. A series the store cannot answer is left out of the scrape, and the cause logged: the
// rest of /metrics still answers.
//
// The certificate series has no label: it is the certificate that expires last, the one Graph calls can rely
// on longest, so "aicc_certificate_expiry_seconds < 14 * 86400" alerts in time whatever old certificates stay
// uploaded; GET /v1/system/certificates tells them apart.
type storeCollector struct{ s *Server }

func (sc *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- certificateExpiryDesc
	ch <- pagesDesc
	ch <- inboxUndeliveredDesc
	ch <- inboxOldestDesc
	ch <- rotationsDesc
	ch <- rotationsRemindedDesc
	ch <- rotationOldestDesc
}

func (sc *storeCollector) Collect(ch chan<- prometheus.Metric) {
	s := sc.s
	ctx, cancel := context.WithTimeout(context.Background(), ops.ReadinessTimeout)
	defer cancel()
	certs, err := s.Store.ListCertificates(ctx)
	if err != nil {
		s.Logger.Warn("metrics: listing certificates", slog.String("error", err.Error()))
	} else if len(certs) > 0 {
		latest := certs[0].NotAfter
		for _, c := range certs[1:] {
			if c.NotAfter.After(latest) {
				latest = c.NotAfter
			}
		}
		ch <- prometheus.MustNewConstMetric(certificateExpiryDesc, prometheus.GaugeValue, latest.Sub(s.now()).Seconds())
	}
	counts, err := s.Store.CountPagesByTokenHealth(ctx)
	if err != nil {
		s.Logger.Warn("metrics: counting pages by token health", slog.String("error", err.Error()))
	} else {
		for _, h := range tokenHealths {
			ch <- prometheus.MustNewConstMetric(pagesDesc, prometheus.GaugeValue, float64(counts[h]), string(h))
		}
	}
	if rs, err := s.Store.RotationStats(ctx); err != nil {
		s.Logger.Warn("metrics: reading rotation stats", slog.String("error", err.Error()))
	} else {
		for _, st := range rotationStatuses {
			ch <- prometheus.MustNewConstMetric(rotationsDesc, prometheus.GaugeValue, float64(rs.Count[st]), string(st))
		}
		ch <- prometheus.MustNewConstMetric(rotationsRemindedDesc, prometheus.GaugeValue, float64(rs.Reminded))
		ch <- prometheus.MustNewConstMetric(rotationOldestDesc, prometheus.GaugeValue, s.secondsSince(rs.OldestPending))
	}
	stats, err := s.Store.InboxStats(ctx)
	if err != nil {
		s.Logger.Warn("metrics: reading inbox stats", slog.String("error", err.Error()))
		return
	}
	ch <- prometheus.MustNewConstMetric(inboxUndeliveredDesc, prometheus.GaugeValue, float64(stats.Undelivered))
	ch <- prometheus.MustNewConstMetric(inboxOldestDesc, prometheus.GaugeValue, s.secondsSince(stats.Oldest))
}

// secondsSince is the age of t in seconds, 0 for a zero t.
func (s *Server) secondsSince(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return max(s.now().Sub(t).Seconds(), 0)
}

func (s *Server) serveMetrics() gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{Registry: s.Metrics}))
}

// healthz says the process is up; it checks no dependency, so a restart is never caused by a database outage.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz says whether the database and Temporal answer. Only the database is required: without Temporal the
// API still stores and acknowledges Meta's webhooks, so it answers 200 "degraded" and stays behind its load
// balancer. It names what failed, never why: the cause is logged.
func (s *Server) readyz(c *gin.Context) {
	status, answer := ops.Ready(c.Request.Context(), ops.IngestDependencies(s.Store.Ping, s.Temporal), s.log(c))
	c.JSON(status, answer)
}
