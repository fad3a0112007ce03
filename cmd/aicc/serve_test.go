package main

import (
	"bytes"
	"log/slog"
	"testing"
)

// The Temporal SDK's metrics carry no label that Prometheus sets on every target itself ("instance", and
// "job"), nor tally's "host": a scrape would rename or overwrite them.
func TestTemporalMetricsLabels(t *testing.T) {
	reg := newRegistry()
	handler, closer := temporalMetrics(reg, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	handler.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_test_requests").Inc(1)
	if err := closer.Close(); err != nil { // reports what the scope holds
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range families {
		found = found || f.GetName() == "temporal_test_requests_total"
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "instance", "job", "host":
					t.Errorf("%s has the label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	if !found {
		t.Error("the SDK's counter is not on the registry: the check above saw nothing")
	}
}
