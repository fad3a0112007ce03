package codec_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/codec"
)

const canary = "CANARY-customer-text-1000000001"

func newCodec(t *testing.T, keys ...[]byte) *codec.Codec {
	t.Helper()
	c, err := codec.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, aicc.MasterKeySize) }

// A value goes through the data converter encrypted: neither its text nor its metadata is readable, and it
// comes back whole.
func TestRoundTripHidesTheValue(t *testing.T) {
	dc := newCodec(t, key(1)).DataConverter()
	p, err := dc.ToPayload(map[string]string{"text": canary})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.GetData(), []byte(canary)) || string(p.GetMetadata()["encoding"]) != codec.Encoding {
		t.Fatalf("payload not encrypted: %v", p)
	}
	var back map[string]string
	if err := dc.FromPayload(p, &back); err != nil || back["text"] != canary {
		t.Fatalf("round trip = %v, %v", back, err)
	}
}

// After a master-key rotation, payloads sealed under the previous key still open; a key not configured, or
// altered data, is an error that does not quote the payload.
func TestKeysAndTampering(t *testing.T) {
	old := newCodec(t, key(1))
	sealed, err := old.Encode([]*commonpb.Payload{{Data: []byte(canary)}})
	if err != nil {
		t.Fatal(err)
	}
	rotated := newCodec(t, key(2), key(1))
	got, err := rotated.Decode(sealed)
	if err != nil || string(got[0].GetData()) != canary {
		t.Fatalf("decode with the previous key = %v, %v", got, err)
	}
	if _, err := newCodec(t, key(2)).Decode(sealed); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("decode without the key = %v, want an error without the payload", err)
	}
	sealed[0].Data[len(sealed[0].Data)-1] ^= 1
	if _, err := rotated.Decode(sealed); err == nil {
		t.Error("altered data opened")
	}
}

// Payloads written before the codec was configured are passed on, so old histories replay.
func TestPlainPayloadsPassThrough(t *testing.T) {
	plain, err := converter.GetDefaultDataConverter().ToPayload("hello")
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := newCodec(t, key(1)).DataConverter().FromPayload(plain, &s); err != nil || s != "hello" {
		t.Fatalf("plain payload = %q, %v", s, err)
	}
}

// Failure messages are moved into encrypted payloads too: an error may quote what it failed on.
func TestFailureMessagesEncrypted(t *testing.T) {
	fc := newCodec(t, key(1)).FailureConverter()
	f := fc.ErrorToFailure(errors.New("could not deliver " + canary))
	if strings.Contains(f.GetMessage(), canary) || bytes.Contains(f.GetEncodedAttributes().GetData(), []byte(canary)) {
		t.Fatalf("failure in clear: %v", f)
	}
	if back := fc.FailureToError(f); !strings.Contains(back.Error(), canary) {
		t.Errorf("failure decoded to %q", back)
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	if _, err := codec.New(); err == nil {
		t.Error("no key accepted")
	}
	if _, err := codec.New([]byte("short")); err == nil {
		t.Error("a short key accepted")
	}
}

// The codec server decodes for an authorized caller only, answers the Web UI's preflight, and bounds bodies.
func TestHandler(t *testing.T) {
	c := newCodec(t, key(1))
	sealed, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"` + canary + `"`)}})
	if err != nil {
		t.Fatal(err)
	}
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: sealed})
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer good" {
			return errors.New("no")
		}
		return nil
	}
	srv := httptest.NewServer(codec.Handler(c, authorize, "http://ui.example"))
	defer srv.Close()
	post := func(auth string, body []byte) (int, string, http.Header) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}

	decoded := base64.StdEncoding.EncodeToString([]byte(`"` + canary + `"`)) // the answer's JSON holds bytes in base64
	status, out, h := post("Bearer good", body)
	if status != http.StatusOK || !strings.Contains(out, decoded) || h.Get("Access-Control-Allow-Origin") != "http://ui.example" {
		t.Errorf("authorized decode = %d %s %v", status, out, h)
	}
	for _, auth := range []string{"", "Bearer bad"} {
		if status, out, _ := post(auth, body); status != http.StatusUnauthorized || strings.Contains(out, decoded) {
			t.Errorf("decode with %q = %d %s, want 401 and nothing decoded", auth, status, out)
		}
	}
	if status, _, _ := post("Bearer good", bytes.Repeat([]byte("x"), codec.MaxRequestBytes+1)); status != http.StatusBadRequest {
		t.Errorf("oversized body = %d, want 400", status)
	}

	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight = %d %v", resp.StatusCode, resp.Header)
	}
}
