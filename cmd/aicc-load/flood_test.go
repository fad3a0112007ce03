package main

import (
	"io"
	"testing"
)

func TestParseArgsFlood(t *testing.T) {
	o, _, ok := parseArgs([]string{"-flood", "8"}, io.Discard)
	if !ok || o.flood != 8 || o.floodConns != 4 || o.floodRate != 0 || o.floodUnknown != 0.5 || !o.limits {
		t.Fatalf("-flood 8: ok %v, %+v", ok, o)
	}
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"-flood", "250", "-flood-rate", "1000", "-flood-unknown", "1", "-limits=false"}, true},
		{[]string{"-flood", "251"}, false}, // past 127.0.0.251
		{[]string{"-flood", "-1"}, false},
		{[]string{"-flood", "2", "-flood-conns", "0"}, false},
		{[]string{"-flood", "2", "-flood-unknown", "1.5"}, false},
		{[]string{"-flood", "2", "-flood-rate", "-1"}, false},
		{[]string{"-flood", "2", "-baseline"}, false},
		{[]string{"-flood", "2", "-e2e"}, false},
		{[]string{"-flood", "2", "-url", "http://127.0.0.1:8080", "-channel", "c", "-secret", "s", "-page", "1"}, false},
	} {
		if _, _, ok := parseArgs(tc.args, io.Discard); ok != tc.ok {
			t.Errorf("parseArgs(%q) ok = %v, want %v", tc.args, ok, tc.ok)
		}
	}
}

func TestStatusCounts(t *testing.T) {
	if got, want := statusCounts(map[int]int{429: 10, 403: 2}), "403×2, 429×10"; got != want {
		t.Errorf("statusCounts = %q, want %q", got, want)
	}
	if got := statusCounts(nil); got != "none" {
		t.Errorf("statusCounts(nil) = %q", got)
	}
}
