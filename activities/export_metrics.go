package activities

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/ops"
)

// ExportMetrics are the export series the worker serves. A nil *ExportMetrics counts nothing.
type ExportMetrics struct {
	exports  *prometheus.CounterVec
	records  prometheus.Counter
	bytes    prometheus.Counter
	duration prometheus.Histogram
}

// NewExportMetrics registers the export series on reg.
func NewExportMetrics(reg prometheus.Registerer) *ExportMetrics {
	m := &ExportMetrics{
		exports: ops.MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_exports_total",
			Help: "Exports that ended, by result: success, failed or cancelled.",
		}, []string{"result"})),
		records: ops.MustRegister(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aicc_export_records_total",
			Help: "Channel records written by successful exports.",
		})),
		bytes: ops.MustRegister(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aicc_export_bytes_total",
			Help: "Bytes of export files written (the channels' files, not the manifest or the zip).",
		})),
		duration: ops.MustRegister(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "aicc_export_duration_seconds",
			Help:    "Time from the start of a successful export to its end.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14), // 0.1 s to about 27 min
		})),
	}
	for _, s := range []aicc.ExportStatus{aicc.ExportSuccess, aicc.ExportFailed, aicc.ExportCancelled} {
		m.exports.WithLabelValues(string(s))
	}
	return m
}

func (m *ExportMetrics) written(files []aicc.ExportFile) {
	if m == nil {
		return
	}
	for _, f := range files {
		m.bytes.Add(float64(f.Bytes))
	}
}

func (m *ExportMetrics) finished(p aicc.ExportProgress) {
	if m == nil {
		return
	}
	m.exports.WithLabelValues(string(p.Status)).Inc()
	if p.Status == aicc.ExportSuccess {
		m.records.Add(float64(p.RecordsDone))
		m.duration.Observe(p.FinishedAt.Sub(p.StartedAt).Seconds())
	}
}
