// Package robot holds the robots a channel's access codes name: the HTTP robot adapter, which asks a robot
// service over HTTP, and the built-in rule robot of aicc dev and the fake setup (access code "builtin"). A
// Registry maps access codes to robots and implements aicc.Robots.
//
// # Wire format of the HTTP robot
//
// Every call is one POST of a JSON object to the robot's URL, Content-Type application/json:
//
//	{"mode": "answer", "accessCode": "r1", "channelId": "ch_…", "conversationId": "cv_…",
//	 "customerId": "7001000000000001", "text": "What are your opening hours?"}
//
// mode is "answer" when the intelligent robot answers the customer, "suggest" when the robot assistant
// suggests replies to an agent; customerId is the customer's page-scoped ID (PSID); text is the customer's
// message. The robot answers 200 with a JSON object; unknown fields are ignored:
//
//	{"answers": ["We are open from 9 to 18."], "transfer": false}   (mode "answer")
//	{"suggestions": ["We are open from 9 to 18.", "Anything else?"]} (mode "suggest")
//
// answers are sent to the customer in order (empty ones are dropped, at most aicc.MaxRobotAnswers are kept,
// each cut to aicc.MaxMessageText characters); transfer true hands the conversation to the skill queue, after
// the answers. suggestions are capped the same way (aicc.MaxRobotSuggestions).
//
// A call that times out (DefaultTimeout per attempt), cannot connect or is answered 5xx is tried again, at most
// DefaultRetries times, after DefaultBackoff and then twice as long each time. Any other status (redirects
// are not followed), a body over MaxResponseBytes and a body that is not the JSON object above fail at once.
// After DefaultBreakerThreshold calls in a row failed, the robot's circuit breaker opens: calls fail at once,
// without a request, until DefaultBreakerCooldown has passed; then one call is let through, and its success
// closes the breaker again. Every failure is an *aicc.Error with code aicc.EROBOTUNAVAILABLE.
package robot

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiccfb/aicc"
)

// BuiltinAccessCode is the access code of the built-in rule robot (Rules) in aicc dev.
const BuiltinAccessCode = "builtin"

// Registry maps access codes to robots. It implements aicc.Robots, and prometheus.Collector with the Metrics
// of its HTTP robots: register it where the process's other metrics are.
type Registry struct {
	robots  map[string]aicc.Robot
	metrics *Metrics
}

// NewRegistry returns the registry of robots, by access code. It counts the calls of the HTTP robots made
// without HTTPOptions.Metrics.
func NewRegistry(robots map[string]aicc.Robot) *Registry {
	r := &Registry{robots: maps.Clone(robots), metrics: NewMetrics()}
	for _, rb := range r.robots {
		if h, ok := rb.(*HTTP); ok && h.metrics == nil {
			h.metrics = r.metrics
			r.metrics.add(h.accessCode)
		}
	}
	return r
}

// Describe implements prometheus.Collector.
func (r *Registry) Describe(ch chan<- *prometheus.Desc) { r.metrics.Describe(ch) }

// Collect implements prometheus.Collector.
func (r *Registry) Collect(ch chan<- prometheus.Metric) { r.metrics.Collect(ch) }

// Robot returns the robot of the access code; ENOTFOUND when none has it.
func (r *Registry) Robot(accessCode string) (aicc.Robot, error) {
	if rb, ok := r.robots[accessCode]; ok {
		return rb, nil
	}
	return nil, aicc.Errorf(aicc.ENOTFOUND, "No robot has the access code %q.", accessCode)
}

// AccessCodes returns the access codes the registry knows, sorted.
func (r *Registry) AccessCodes() []string {
	return slices.Sorted(maps.Keys(r.robots))
}

// Endpoint is an HTTP robot of the configuration: an access code and the URL it is called at.
type Endpoint struct {
	AccessCode string
	URL        string
}

// Plain reports whether the endpoint is plain http to another host than the loopback interface: what the
// customers write would cross the network in clear.
func (e Endpoint) Plain() bool {
	u, err := url.Parse(e.URL)
	return err != nil || u.Scheme != "https" && !loopback(u.Hostname())
}

// ParseEndpoints parses the comma-separated code=url pairs of AICC_ROBOTS. An access code has at most
// aicc.MaxAccessCodeLen characters, no white space, no comma or equals sign, and is not BuiltinAccessCode; a
// URL is an absolute http(s) URL without credentials or fragment (a query is allowed, say for a key). Errors
// name the access code, never the URL, which may hold a key.
func ParseEndpoints(s string) ([]Endpoint, error) {
	var out []Endpoint
	for i, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		code, raw, ok := strings.Cut(pair, "=")
		code, raw = strings.TrimSpace(code), strings.TrimSpace(raw)
		switch {
		case !ok || code == "":
			return nil, fmt.Errorf("entry %d: want access-code=URL", i+1)
		case len([]rune(code)) > aicc.MaxAccessCodeLen || strings.ContainsFunc(code, unicode.IsSpace):
			return nil, fmt.Errorf("entry %d: the access code must have at most %d characters and no white space", i+1, aicc.MaxAccessCodeLen)
		case code == BuiltinAccessCode:
			return nil, fmt.Errorf("entry %d: the access code %q is the built-in robot's", i+1, code)
		case slices.ContainsFunc(out, func(e Endpoint) bool { return e.AccessCode == code }):
			return nil, fmt.Errorf("access code %q: given twice", code)
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return nil, fmt.Errorf("access code %q: the URL must be an absolute http(s) URL such as https://robot.example.com/aicc", code)
		case u.User != nil || u.Fragment != "":
			return nil, fmt.Errorf("access code %q: the URL must not carry credentials or a fragment", code)
		}
		out = append(out, Endpoint{AccessCode: code, URL: u.String()})
	}
	return out, nil
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
