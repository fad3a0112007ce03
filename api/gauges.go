package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/ops"
)

// DefaultGaugeInterval is how often RunGauges reads the gauges of /metrics from the database when
// Server.GaugeInterval is zero: Prometheus's usual scrape interval, so a scrape sees values at most one
// interval old, and each API process costs the database five small queries per interval however often, and by
// however many, it is scraped.
const DefaultGaugeInterval = 15 * time.Second

// Series read from the database by refreshGauges, and served from what it kept.
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
	conversationsDesc = prometheus.NewDesc("aicc_conversations",
		"Conversations by state: new (no customer message routed yet), robot, queued, offered (to the last agent), "+
			"assigned, or ended.", []string{"state"}, nil)
	gaugesRefreshedDesc = prometheus.NewDesc("aicc_metrics_refreshed_timestamp_seconds",
		"Unix time of the last refresh of the gauges read from the database in which every query answered; 0 "+
			"before the first. The gauges are as old as this at most.", nil, nil)
)

// rotationStatuses are the label values of aicc_secret_rotations, every one always present.
var rotationStatuses = []aicc.RotationStatus{aicc.RotationPending, aicc.RotationComplete}

// tokenHealths are the label values of aicc_pages, every one always present.
var tokenHealths = []aicc.TokenHealth{aicc.TokenHealthy, aicc.TokenDegraded, aicc.TokenReauthRequired}

// gauges keeps what the gauges' queries last answered. Only refreshGauges asks the database, on RunGauges'
// interval; a scrape reads what it kept, so scraping costs the database nothing and a flood of scrapes cannot
// become a flood of queries. A query that fails keeps its last answer, and the refresh counts in
// aicc_metrics_refresh_errors_total; a series whose query has never answered is left out of the scrape.
//
// Ages (the inbox's oldest event, the oldest pending rotation, the certificate's expiry) are kept as times and
// turned into seconds at scrape time, so that they keep growing between refreshes.
//
// The certificate series has no label: it is the certificate that expires last, the one Graph calls can rely
// on longest, so "aicc_certificate_expiry_seconds < 14 * 86400" alerts in time whatever old certificates stay
// uploaded; GET /v1/system/certificates tells them apart.
type gauges struct {
	s      *Server
	errors prometheus.Counter

	mu sync.RWMutex
	// certificateExpiry is the NotAfter of the certificate that expires last; zero when none is uploaded or
	// the certificates were never read.
	certificateExpiry time.Time
	pages             map[aicc.TokenHealth]int       // nil until read
	rotations         *aicc.RotationStats            // nil until read
	inbox             *aicc.InboxStats               // nil until read
	conversations     map[aicc.ConversationState]int // nil until read
	refreshed         time.Time                      // the last refresh every query of which answered
}

// newGauges registers the gauges of s on reg.
func newGauges(s *Server, reg prometheus.Registerer) *gauges {
	g := &gauges{s: s}
	g.errors = ops.MustRegister(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "aicc_metrics_refresh_errors_total",
		Help: "Refreshes of the gauges read from the database in which a query failed; the gauges keep the values " +
			"their queries last answered.",
	}))
	ops.MustRegister(reg, prometheus.Collector(g))
	return g
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- certificateExpiryDesc
	ch <- pagesDesc
	ch <- inboxUndeliveredDesc
	ch <- inboxOldestDesc
	ch <- rotationsDesc
	ch <- rotationsRemindedDesc
	ch <- rotationOldestDesc
	ch <- conversationsDesc
	ch <- gaugesRefreshedDesc
}

// Collect serves what the last refreshes kept; it asks the database nothing.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	now := g.s.now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if !g.certificateExpiry.IsZero() {
		gauge(certificateExpiryDesc, g.certificateExpiry.Sub(now).Seconds())
	}
	if g.pages != nil {
		for _, h := range tokenHealths {
			gauge(pagesDesc, float64(g.pages[h]), string(h))
		}
	}
	if rs := g.rotations; rs != nil {
		for _, st := range rotationStatuses {
			gauge(rotationsDesc, float64(rs.Count[st]), string(st))
		}
		gauge(rotationsRemindedDesc, float64(rs.Reminded))
		gauge(rotationOldestDesc, secondsSince(now, rs.OldestPending))
	}
	if st := g.inbox; st != nil {
		gauge(inboxUndeliveredDesc, float64(st.Undelivered))
		gauge(inboxOldestDesc, secondsSince(now, st.Oldest))
	}
	if g.conversations != nil {
		for _, st := range aicc.ConversationStates {
			gauge(conversationsDesc, float64(g.conversations[st]), string(st))
		}
	}
	refreshed := 0.0
	if !g.refreshed.IsZero() {
		refreshed = float64(g.refreshed.UnixMilli()) / 1e3
	}
	gauge(gaugesRefreshedDesc, refreshed)
}

// RunGauges keeps the gauges of /metrics that are read from the database fresh: it reads them at once, then
// every GaugeInterval, until ctx is done. Run it beside the listeners, one per process.
func (s *Server) RunGauges(ctx context.Context) {
	s.setup()
	interval := s.GaugeInterval
	if interval <= 0 {
		interval = DefaultGaugeInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		_ = s.refreshGauges(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// refreshGauges runs the gauges' queries once and keeps what each one answers. A query that fails is logged
// and keeps its last answer, and the refresh counts in aicc_metrics_refresh_errors_total; it returns the
// failures. A refresh cut short by ctx changes and counts nothing.
func (s *Server) refreshGauges(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, ops.ReadinessTimeout)
	defer cancel()
	certs, certErr := s.Store.ListCertificates(qctx)
	pages, pagesErr := s.Store.CountPagesByTokenHealth(qctx)
	rotations, rotationsErr := s.Store.RotationStats(qctx)
	inbox, inboxErr := s.Store.InboxStats(qctx)
	conversations, conversationsErr := s.Store.CountConversations(qctx)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	var errs []error
	failed := func(what string, err error) bool {
		if err == nil {
			return false
		}
		s.Logger.Warn("metrics: "+what, slog.String("error", err.Error()))
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
		return true
	}
	g := s.gauges
	g.mu.Lock()
	defer g.mu.Unlock()
	if !failed("listing certificates", certErr) {
		g.certificateExpiry = time.Time{}
		for _, c := range certs {
			if c.NotAfter.After(g.certificateExpiry) {
				g.certificateExpiry = c.NotAfter
			}
		}
	}
	if !failed("counting pages by token health", pagesErr) {
		g.pages = pages
		if g.pages == nil {
			g.pages = map[aicc.TokenHealth]int{}
		}
	}
	if !failed("reading rotation stats", rotationsErr) {
		g.rotations = &rotations
	}
	if !failed("reading inbox stats", inboxErr) {
		g.inbox = &inbox
	}
	if !failed("counting conversations", conversationsErr) {
		g.conversations = conversations
	}
	if len(errs) > 0 {
		g.errors.Inc()
		return errors.Join(errs...)
	}
	g.refreshed = s.now()
	return nil
}

// secondsSince is the age of t at now in seconds, 0 for a zero t.
func secondsSince(now, t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return max(now.Sub(t).Seconds(), 0)
}
