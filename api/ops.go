package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aiccfb/aicc/internal/ops"
)

// metrics are the API's collectors, registered on Server.Metrics. Labels are bounded: route templates,
// methods, status classes, algorithms and verification results. No label tells whether a channel ID exists:
// the webhook routes count a request for an unknown channel as they count one with a wrong verify token or
// signature.
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
			Help: "Meta webhook POSTs refused with a 403, by what was wrong with their signature. A POST for a channel " +
				"that does not exist or is disabled counts as one with a wrong signature.",
		}, []string{"reason"})),
		webhookSeconds: ops.MustRegister(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aicc_webhook_request_duration_seconds",
			Help:    "Latency of Meta webhook POSTs in their handler, reading the body included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		})),
	}
	events := ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aicc_webhook_events_total",
		Help: "Meta webhook events by result: stored, duplicate (stored before), rejected_page (for a Page of " +
			"another channel) and unstorable (refused by the database, their body kept aside whole) count events; " +
			"malformed counts the items kept aside as malformed and the POSTs that are no notification at all (400); " +
			"rejected_signature (403) and oversized (more than 1000 updates, kept aside whole) count POSTs.",
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
