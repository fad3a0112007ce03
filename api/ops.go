package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
)

// metrics are the API's collectors, registered on Server.Metrics. Labels are bounded: route templates,
// methods, status classes, algorithms and verification results.
type metrics struct {
	requests             *prometheus.CounterVec
	duration             *prometheus.HistogramVec
	channelsCreated      *prometheus.CounterVec
	webhookVerifications *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_http_requests_total",
			Help: "HTTP requests by route template, method and status class.",
		}, []string{"route", "method", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aicc_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"})),
		channelsCreated: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_channels_created_total",
			Help: "Channels created, by signature algorithm (sha1 is weak).",
		}, []string{"algorithm"})),
		webhookVerifications: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_webhook_verifications_total",
			Help: "Meta webhook verification requests, by result.",
		}, []string{"result"})),
	}
}

// register registers c, or returns the collector already registered under its name, so that building a
// second handler on the same registry does not panic.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (s *Server) serveMetrics() gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{Registry: s.Metrics}))
}

// healthz says the process is up; it checks no dependency, so a restart is never caused by a database outage.
func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readinessTimeout bounds each dependency check, well inside a load balancer's probe timeout.
const readinessTimeout = 2 * time.Second

// readyz says whether the database and Temporal answer. It names what failed, never why: the cause is logged.
func (s *Server) readyz(c *gin.Context) {
	checks := map[string]func(ctx context.Context) error{
		"database": s.Store.Ping,
		"temporal": func(ctx context.Context) error {
			_, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	}
	status, results := http.StatusOK, map[string]string{}
	for name, check := range checks {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readinessTimeout)
		err := check(ctx)
		cancel()
		results[name] = "ok"
		if err != nil {
			s.log(c).Warn("not ready", slog.String("dependency", name), slog.String("error", err.Error()))
			status, results[name] = http.StatusServiceUnavailable, "unavailable"
		}
	}
	overall := "ok"
	if status != http.StatusOK {
		overall = "unavailable"
	}
	c.JSON(status, gin.H{"status": overall, "checks": results})
}
