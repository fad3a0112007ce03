package ops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/aiccfb/aicc/internal/ops"
)

func readyz(tb testing.TB, deps map[string]ops.Dependency, logs *bytes.Buffer) (int, ops.Readiness) {
	tb.Helper()
	w := httptest.NewRecorder()
	ops.ReadyHandler(deps, slog.New(slog.NewTextHandler(logs, nil))).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if got, want := w.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
		tb.Errorf("Content-Type = %q, want %q", got, want)
	}
	var answer ops.Readiness
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
		tb.Fatalf("body %q: %v", w.Body, err)
	}
	return w.Code, answer
}

func up(context.Context) error { return nil }

func down(context.Context) error { return errors.New("dial tcp 10.0.0.7:5432: connection refused") }

// required makes every check a required dependency.
func required(checks map[string]ops.Check) map[string]ops.Dependency {
	deps := map[string]ops.Dependency{}
	for name, c := range checks {
		deps[name] = ops.Dependency{Check: c}
	}
	return deps
}

func TestReadyWhenEveryCheckPasses(t *testing.T) {
	code, got := readyz(t, required(map[string]ops.Check{"database": up, "temporal": up}), &bytes.Buffer{})
	want := ops.Readiness{Status: "ok", Checks: map[string]string{"database": "ok", "temporal": "ok"}}
	if code != http.StatusOK || !reflect.DeepEqual(got, want) {
		t.Errorf("readyz = %d %+v, want %d %+v", code, got, http.StatusOK, want)
	}
}

// TestReadyNamesTheFailingDependency answers 503 naming what failed; why it failed is logged, not answered.
func TestReadyNamesTheFailingDependency(t *testing.T) {
	logs := &bytes.Buffer{}
	code, got := readyz(t, required(map[string]ops.Check{"database": down, "temporal": up}), logs)
	want := ops.Readiness{Status: "unavailable", Checks: map[string]string{"database": "unavailable", "temporal": "ok"}}
	if code != http.StatusServiceUnavailable || !reflect.DeepEqual(got, want) {
		t.Errorf("readyz = %d %+v, want %d %+v", code, got, http.StatusServiceUnavailable, want)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("logs = %q, want the cause in them", logs)
	}
}

// An optional dependency that fails is named, and leaves the process ready: 200 "degraded". A required one
// that fails as well makes it unready.
func TestReadyWithAnOptionalDependency(t *testing.T) {
	for _, tc := range []struct {
		name               string
		database, temporal ops.Check
		code               int
		want               ops.Readiness
	}{
		{"both up", up, up, http.StatusOK,
			ops.Readiness{Status: "ok", Checks: map[string]string{"database": "ok", "temporal": "ok"}}},
		{"optional down", up, down, http.StatusOK,
			ops.Readiness{Status: "degraded", Checks: map[string]string{"database": "ok", "temporal": "unavailable"}}},
		{"required down", down, up, http.StatusServiceUnavailable,
			ops.Readiness{Status: "unavailable", Checks: map[string]string{"database": "unavailable", "temporal": "ok"}}},
		{"both down", down, down, http.StatusServiceUnavailable,
			ops.Readiness{Status: "unavailable", Checks: map[string]string{"database": "unavailable", "temporal": "unavailable"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &bytes.Buffer{}
			deps := map[string]ops.Dependency{
				"database": {Check: tc.database},
				"temporal": {Check: tc.temporal, Optional: true},
			}
			code, got := readyz(t, deps, logs)
			if code != tc.code || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("readyz = %d %+v, want %d %+v", code, got, tc.code, tc.want)
			}
			if wantLogged := tc.want.Status != "ok"; strings.Contains(logs.String(), "connection refused") != wantLogged {
				t.Errorf("logs = %q, want the cause logged: %t", logs, wantLogged)
			}
		})
	}
}

// TestReadyBoundsEachCheck gives every check its own deadline of ReadinessTimeout.
func TestReadyBoundsEachCheck(t *testing.T) {
	check := func(ctx context.Context) error {
		deadline, ok := ctx.Deadline()
		if !ok || time.Until(deadline) > ops.ReadinessTimeout {
			return errors.New("no deadline within ReadinessTimeout")
		}
		return nil
	}
	deps := map[string]ops.Dependency{"a": {Check: check}, "b": {Check: check, Optional: true}}
	if code, _ := ops.Ready(context.Background(), deps, slog.New(slog.DiscardHandler)); code != http.StatusOK {
		t.Errorf("Ready = %d, want %d", code, http.StatusOK)
	}
}

// Dependencies (the worker's) require the database and Temporal; IngestDependencies (the API's) require the
// database only. Both ask the store's ping and Temporal's health.
func TestDependencies(t *testing.T) {
	for name, tc := range map[string]struct {
		deps             func(ops.Check, client.Client) map[string]ops.Dependency
		temporalOptional bool
	}{
		"Dependencies":       {ops.Dependencies, false},
		"IngestDependencies": {ops.IngestDependencies, true},
	} {
		t.Run(name, func(t *testing.T) {
			temporal := mocks.NewClient(t)
			temporal.On("CheckHealth", context.Background(), &client.CheckHealthRequest{}).Return(nil, errors.New("temporal down"))
			pinged := false
			deps := tc.deps(func(context.Context) error { pinged = true; return nil }, temporal)
			if got, want := len(deps), 2; got != want {
				t.Fatalf("len(deps) = %d, want %d", got, want)
			}
			if err := deps["database"].Check(context.Background()); err != nil || !pinged {
				t.Errorf("database check = %v (pinged %t), want the ping's nil", err, pinged)
			}
			if deps["database"].Optional {
				t.Error("the database is optional, want it required")
			}
			if err := deps["temporal"].Check(context.Background()); err == nil || err.Error() != "temporal down" {
				t.Errorf("temporal check = %v, want CheckHealth's error", err)
			}
			if got := deps["temporal"].Optional; got != tc.temporalOptional {
				t.Errorf("temporal optional = %t, want %t", got, tc.temporalOptional)
			}
		})
	}
}
