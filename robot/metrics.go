package robot

import "github.com/prometheus/client_golang/prometheus"

// Results of a call to an HTTP robot, the label result of aicc_robot_requests_total.
const (
	resultOK          = "ok"           // the robot answered
	resultFailed      = "failed"       // it failed: an error status, a broken body, or every attempt timed out
	resultTimeout     = "timeout"      // the caller gave up first (its deadline): no verdict on the robot
	resultBreakerOpen = "breaker_open" // refused at once, without a request: the circuit breaker is open
)

var results = []string{resultOK, resultFailed, resultTimeout, resultBreakerOpen}

// modes are the kinds of call (wireRequest.Mode), the label mode.
var modes = []string{"answer", "suggest"}

// Metrics counts the calls to HTTP robots: aicc_robot_requests_total{robot, mode, result} and
// aicc_robot_breaker_opens_total{robot}, robot being the access code (the configuration bounds them). It is a
// prometheus.Collector: register it once where the process's other metrics are. A nil *Metrics counts nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	opens    *prometheus.CounterVec
}

// NewMetrics returns the robots' metrics, not registered yet.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_robot_requests_total",
			Help: "Calls to HTTP robots (their retries included), by access code, mode (answer, suggest) and result: " +
				"ok; failed (an error status, a broken body, every attempt timed out); timeout (the caller gave " +
				"up first); breaker_open (refused without a request while the circuit breaker is open).",
		}, []string{"robot", "mode", "result"}),
		opens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aicc_robot_breaker_opens_total",
			Help: "Times a robot's circuit breaker opened: after its threshold of failed calls in a row, or when " +
				"the trial call after a cool-down failed.",
		}, []string{"robot"}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.opens.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.opens.Collect(ch)
}

// add makes the robot's series, at zero, so that a rate over them is defined before the first call.
func (m *Metrics) add(robot string) {
	if m == nil {
		return
	}
	for _, mode := range modes {
		for _, r := range results {
			m.requests.WithLabelValues(robot, mode, r)
		}
	}
	m.opens.WithLabelValues(robot)
}

// request counts one call.
func (m *Metrics) request(robot, mode, result string) {
	if m != nil {
		m.requests.WithLabelValues(robot, mode, result).Inc()
	}
}

// breakerOpened counts an opening of the robot's breaker.
func (m *Metrics) breakerOpened(robot string) {
	if m != nil {
		m.opens.WithLabelValues(robot).Inc()
	}
}
