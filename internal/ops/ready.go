package ops

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
)

// ReadinessTimeout bounds each readiness check, well inside a load balancer's probe timeout.
const ReadinessTimeout = 2 * time.Second

// Check reports whether a dependency answers: nil when it does.
type Check func(ctx context.Context) error

// Dependency is one check of GET /readyz, and whether the process needs it to serve.
type Dependency struct {
	Check Check
	// Optional is a dependency the process serves without: its failure is answered, but leaves the process
	// ready ("degraded", 200), so that a load balancer keeps sending it what it can still do.
	Optional bool
}

// Readiness statuses, overall and of each check ("ok" or "unavailable").
const (
	StatusOK          = "ok"
	StatusDegraded    = "degraded" // overall only: an optional dependency does not answer
	StatusUnavailable = "unavailable"
)

// Readiness is the answer of GET /readyz: the overall status ("ok", "degraded" or "unavailable") and, for
// each check by name, "ok" or "unavailable".
type Readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Dependencies are the checks of a process that needs its database and Temporal, the worker: "database" is
// ping (the store's Ping), "temporal" asks tc for the frontend's health. Both are required.
func Dependencies(ping Check, tc client.Client) map[string]Dependency {
	return map[string]Dependency{
		"database": {Check: ping},
		"temporal": {Check: temporalCheck(tc)},
	}
}

// IngestDependencies are the checks of a process that ingests Meta's webhooks, the API: the same as
// Dependencies, but Temporal is optional. Webhooks are stored in the inbox, which needs the database only, and
// the worker's dispatcher delivers them once Temporal answers again; an API taken out of its load balancer
// because Temporal is down would refuse them instead.
func IngestDependencies(ping Check, tc client.Client) map[string]Dependency {
	return map[string]Dependency{
		"database": {Check: ping},
		"temporal": {Check: temporalCheck(tc), Optional: true},
	}
}

func temporalCheck(tc client.Client) Check {
	return func(ctx context.Context) error {
		_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}
}

// Ready runs every check, each within ReadinessTimeout of ctx, and returns the status code and answer of
// GET /readyz: 200 "ok" when every check passes, 200 "degraded" when only optional ones fail, else 503
// "unavailable". The answer names what failed, never why: the cause goes to logger.
func Ready(ctx context.Context, deps map[string]Dependency, logger *slog.Logger) (int, Readiness) {
	answer := Readiness{Status: StatusOK, Checks: map[string]string{}}
	requiredDown, optionalDown := false, false
	for name, dep := range deps {
		cctx, cancel := context.WithTimeout(ctx, ReadinessTimeout)
		err := dep.Check(cctx)
		cancel()
		answer.Checks[name] = StatusOK
		if err != nil {
			logger.Warn("not ready", slog.String("dependency", name), slog.Bool("optional", dep.Optional),
				slog.String("error", err.Error()))
			answer.Checks[name] = StatusUnavailable
			requiredDown = requiredDown || !dep.Optional
			optionalDown = optionalDown || dep.Optional
		}
	}
	switch {
	case requiredDown:
		answer.Status = StatusUnavailable
		return http.StatusServiceUnavailable, answer
	case optionalDown:
		answer.Status = StatusDegraded
	}
	return http.StatusOK, answer
}

// ReadyHandler answers GET /readyz with what Ready returns, as JSON.
func ReadyHandler(deps map[string]Dependency, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, answer := Ready(r.Context(), deps, logger)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(answer)
	})
}
