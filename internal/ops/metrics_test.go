package ops_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiccfb/aicc/internal/ops"
)

func counter(help string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_total", Help: help}, []string{"result"})
}

// TestRegisterReusesTheRegisteredCollector returns the collector already registered, so that both users of
// the registry count on the same series.
func TestRegisterReusesTheRegisteredCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := ops.Register(reg, counter("Tests."))
	if err != nil {
		t.Fatal(err)
	}
	second, err := ops.Register(reg, counter("Tests."))
	if err != nil || second != first {
		t.Errorf("second Register = %p, %v; want the first collector %p, nil", second, err, first)
	}
	if got, want := ops.MustRegister(reg, counter("Tests.")), first; got != want {
		t.Errorf("MustRegister = %p, want the first collector %p", got, want)
	}
}

// TestRegisterFailsOnAClash fails where the name is taken by a collector it cannot reuse.
func TestRegisterFailsOnAClash(t *testing.T) {
	reg := prometheus.NewRegistry()
	ops.MustRegister(reg, counter("Tests."))
	if got, err := ops.Register(reg, counter("Other help.")); err == nil || got != nil {
		t.Errorf("Register of a clashing collector = %v, %v; want nil and an error", got, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("MustRegister of a clashing collector did not panic")
		}
	}()
	ops.MustRegister(reg, counter("Other help."))
}
