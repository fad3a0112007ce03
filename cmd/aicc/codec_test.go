package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/aiccfb/aicc/internal/codec"
)

// aicc dev's Web UI decodes through the codec at this run's capability path, from its own origin; any other
// path is the API's.
func TestDevCodecHandler(t *testing.T) {
	pc, err := codec.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := pc.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"hello"`)}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed})
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "api", http.StatusTeapot) })
	srv := httptest.NewServer(devCodecHandler(api, pc, "/codec/cap123", "http://127.0.0.1:8233"))
	defer srv.Close()
	post := func(path string) (int, string, http.Header) {
		resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	status, out, h := post("/codec/cap123/decode")
	if status != http.StatusOK || !strings.Contains(out, "ImhlbGxvIg==") || h.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8233" {
		t.Errorf("decode at the capability path = %d %s %v", status, out, h)
	}
	for _, path := range []string{"/codec/other/decode", "/codec/decode", "/v1/channels"} {
		if status, _, _ := post(path); status != http.StatusTeapot {
			t.Errorf("POST %s = %d, want the API's answer", path, status)
		}
	}
}
