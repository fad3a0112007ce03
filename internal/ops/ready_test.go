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

func readyz(tb testing.TB, checks map[string]ops.Check, logs *bytes.Buffer) (int, ops.Readiness) {
	tb.Helper()
	w := httptest.NewRecorder()
	ops.ReadyHandler(checks, slog.New(slog.NewTextHandler(logs, nil))).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
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

func TestReadyWhenEveryCheckPasses(t *testing.T) {
	code, got := readyz(t, map[string]ops.Check{"database": up, "temporal": up}, &bytes.Buffer{})
	want := ops.Readiness{Status: "ok", Checks: map[string]string{"database": "ok", "temporal": "ok"}}
	if code != http.StatusOK || !reflect.DeepEqual(got, want) {
		t.Errorf("readyz = %d %+v, want %d %+v", code, got, http.StatusOK, want)
	}
}

// TestReadyNamesTheFailingDependency answers 503 naming what failed; why it failed is logged, not answered.
func TestReadyNamesTheFailingDependency(t *testing.T) {
	logs := &bytes.Buffer{}
	down := func(context.Context) error { return errors.New("dial tcp 10.0.0.7:5432: connection refused") }
	code, got := readyz(t, map[string]ops.Check{"database": down, "temporal": up}, logs)
	want := ops.Readiness{Status: "unavailable", Checks: map[string]string{"database": "unavailable", "temporal": "ok"}}
	if code != http.StatusServiceUnavailable || !reflect.DeepEqual(got, want) {
		t.Errorf("readyz = %d %+v, want %d %+v", code, got, http.StatusServiceUnavailable, want)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("logs = %q, want the cause in them", logs)
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
	if code, _ := ops.Ready(context.Background(), map[string]ops.Check{"a": check, "b": check}, slog.New(slog.DiscardHandler)); code != http.StatusOK {
		t.Errorf("Ready = %d, want %d", code, http.StatusOK)
	}
}

func TestDependencies(t *testing.T) {
	tc := mocks.NewClient(t)
	tc.On("CheckHealth", context.Background(), &client.CheckHealthRequest{}).Return(nil, errors.New("temporal down"))
	pinged := false
	checks := ops.Dependencies(func(context.Context) error { pinged = true; return nil }, tc)
	if err := checks["database"](context.Background()); err != nil || !pinged {
		t.Errorf("database check = %v (pinged %t), want the ping's nil", err, pinged)
	}
	if err := checks["temporal"](context.Background()); err == nil || err.Error() != "temporal down" {
		t.Errorf("temporal check = %v, want CheckHealth's error", err)
	}
	if got, want := len(checks), 2; got != want {
		t.Errorf("len(checks) = %d, want %d", got, want)
	}
}
