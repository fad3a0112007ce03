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

// Readiness is the answer of GET /readyz: "ok" or "unavailable", overall and for each check by name.
type Readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// Dependencies are the checks of a process that needs its database and Temporal: "database" is ping (the
// store's Ping), "temporal" asks tc for the frontend's health.
func Dependencies(ping Check, tc client.Client) map[string]Check {
	return map[string]Check{
		"database": ping,
		"temporal": func(ctx context.Context) error {
			_, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	}
}

// Ready runs every check, each within ReadinessTimeout of ctx, and returns the status code and answer of
// GET /readyz: 200 when every check passes, else 503. The answer names what failed, never why: the cause goes
// to logger.
func Ready(ctx context.Context, checks map[string]Check, logger *slog.Logger) (int, Readiness) {
	status, answer := http.StatusOK, Readiness{Status: "ok", Checks: map[string]string{}}
	for name, check := range checks {
		cctx, cancel := context.WithTimeout(ctx, ReadinessTimeout)
		err := check(cctx)
		cancel()
		answer.Checks[name] = "ok"
		if err != nil {
			logger.Warn("not ready", slog.String("dependency", name), slog.String("error", err.Error()))
			status, answer.Status, answer.Checks[name] = http.StatusServiceUnavailable, "unavailable", "unavailable"
		}
	}
	return status, answer
}

// ReadyHandler answers GET /readyz with what Ready returns, as JSON.
func ReadyHandler(checks map[string]Check, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, answer := Ready(r.Context(), checks, logger)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(answer)
	})
}
