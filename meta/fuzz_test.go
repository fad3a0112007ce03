package meta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

var kinds = map[meta.EventKind]bool{
	meta.KindMessage: true, meta.KindEcho: true, meta.KindPostback: true, meta.KindDelivery: true,
	meta.KindRead: true, meta.KindReaction: true, meta.KindUnknown: true,
}

// FuzzParseWebhook: the parser never panics, and what it accepts, or keeps aside, is well formed.
func FuzzParseWebhook(f *testing.F) {
	f.Add(batch().Encode())
	f.Add([]byte(`{"object":"page","entry":[{"id":104,"standby":[{"sender":{"id":1},"timestamp":1.7e12,"message":{"mid":"m"}}]}]}`))
	f.Add([]byte(`{"object":"page","entry":[{"id":"1","messaging":[{"delivery":{"watermark":"12"}},{"read":{}},{"reaction":{"mid":"m"}}]}]}`))
	f.Add([]byte(`{"object":"page","entry":[{"id":"1","messaging":[null]}]}`))
	f.Add([]byte(`{"object":"page","entry":[{"messaging":[{}]},7,{"id":"1","messaging":[{"sender":"x"}],"standby":{}}]}`))
	f.Add([]byte(`{"object":"instagram","entry":[]}`))
	f.Add([]byte(`{"object":"page","entry":[`))
	f.Add([]byte(`{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":1e400}]}]}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := meta.ParseWebhook(body)
		if err != nil {
			if n != nil {
				t.Fatal("a notification with an error")
			}
			return
		}
		if n.Object != "page" {
			t.Fatalf("object %q accepted", n.Object)
		}
		for _, e := range n.Events {
			if e.PageID == "" || !kinds[e.Kind] || !json.Valid(e.Raw) {
				t.Fatalf("bad event %+v", e)
			}
			// The key is not empty, and a second call gives the same key.
			if key := meta.DedupKey(e); key == "" || key != meta.DedupKey(e) {
				t.Fatalf("unstable key for %+v", e)
			}
		}
		// What is kept aside is a part of the body, JSON, with where it was and why.
		for _, m := range n.Malformed {
			if m.Reason == "" || !json.Valid(m.Raw) || !bytes.Contains(body, m.Raw) || m.Entry < 0 ||
				(m.List == "") != (m.Item == -1) {
				t.Fatalf("bad malformed item %+v", m)
			}
		}
		// Meta's escaped form of the same JSON says the same thing.
		escaped, err := meta.ParseWebhook(metatest.MetaEscape(body))
		if err != nil || len(escaped.Events) != len(n.Events) || len(escaped.Malformed) != len(n.Malformed) {
			t.Fatalf("escaped form: %v", err)
		}
		for i, m := range escaped.Malformed {
			if m.Path() != n.Malformed[i].Path() {
				t.Fatalf("escaped form keeps %s aside, want %s", m.Path(), n.Malformed[i].Path())
			}
		}
		for i, e := range escaped.Events {
			if e.Text != n.Events[i].Text || e.MID != n.Events[i].MID || e.Kind != n.Events[i].Kind {
				t.Fatalf("escaped form differs: %+v, want %+v", e, n.Events[i])
			}
		}
	})
}

// FuzzVerifySignature: the check never panics, a genuine signature always verifies with either algorithm, and
// it fails only with a SignatureError.
func FuzzVerifySignature(f *testing.F) {
	f.Add([]byte("secret"), batch().Encode(), "sha256=00")
	f.Add([]byte("s"), []byte(`{"object":"page"}`), "sha1=zz")
	f.Add([]byte("ä"), []byte{}, "")
	f.Add([]byte{}, []byte("x"), "=")
	f.Add([]byte("k"), []byte("x"), "SHA256=8ca1d6e4ab3a8f3b6ed3c1c9a0e7f5e1d3c6b4a2f0e8d6c4b2a0f8e6d4c2b0a8")
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		for _, alg := range []aicc.SignatureAlgorithm{aicc.AlgorithmSHA256, aicc.AlgorithmSHA1} {
			name, value := meta.Sign(alg, secret, body)
			err := meta.VerifySignature(alg, [][]byte{[]byte("other"), secret}, http.Header{name: {value}}, body)
			if len(secret) > 0 && err != nil {
				t.Fatalf("%s: a genuine signature failed: %v", alg, err)
			}
			if len(secret) == 0 && !errors.Is(err, meta.ErrSignatureMismatch) {
				t.Fatalf("%s: only another secret, got %v", alg, err)
			}
			if err := meta.VerifySignature(alg, [][]byte{secret}, http.Header{name: {value}}, body); len(secret) == 0 && !errors.Is(err, meta.ErrNoSecret) {
				t.Fatalf("%s: no secret, got %v", alg, err)
			}
			err = meta.VerifySignature(alg, [][]byte{secret}, http.Header{name: {header}}, body)
			var se *meta.SignatureError
			if err != nil && !errors.As(err, &se) {
				t.Fatalf("%s: error of type %T", alg, err)
			}
		}
	})
}
