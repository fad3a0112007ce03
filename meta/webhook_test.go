package meta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

const (
	page2 = "104000000000002"
	psid2 = "7001000000000002"
)

// batch is a notification as Meta batches it: two Pages, several items each, every kind, non-ASCII text.
func batch() metatest.Payload {
	return metatest.NewPayload(
		metatest.NewEntry(pageID,
			metatest.Text(pageID, psid, "m_1", "Grüße aus Köln, äöå </script> 100% @home 😀", 1_700_000_000_001),
			metatest.Echo(pageID, psid, "m_2", "Hallo!", 1_700_000_000_002),
			metatest.Postback(pageID, psid, "m_3", "Get Started", "GET_STARTED", 1_700_000_000_003),
			metatest.Delivery(pageID, psid, 1_700_000_000_002, "m_2"),
			metatest.Read(pageID, psid, 1_700_000_000_002),
		),
		metatest.NewEntry(page2,
			metatest.Text(page2, psid2, "m_4", "second page", 1_700_000_000_010),
			metatest.Reaction(page2, psid2, "m_4", "❤", 1_700_000_000_011),
			metatest.Optin(page2, psid2, "ref-1", 1_700_000_000_012),
		),
	)
}

func headerOf(alg aicc.SignatureAlgorithm, secret string, body []byte) http.Header {
	name, value := meta.Sign(alg, []byte(secret), body)
	h := http.Header{}
	h.Set(name, value)
	return h
}

func TestVerifySignature(t *testing.T) {
	body := batch().Encode()
	secrets := [][]byte{[]byte("current-secret"), []byte("previous-secret")}
	both := headerOf(aicc.AlgorithmSHA256, "current-secret", body)
	for k, v := range headerOf(aicc.AlgorithmSHA1, "current-secret", body) {
		both[k] = v
	}
	with := func(name, value string) http.Header { return http.Header{name: {value}} }
	_, sha256Value := meta.Sign(aicc.AlgorithmSHA256, []byte("current-secret"), body)

	tests := []struct {
		name    string
		alg     aicc.SignatureAlgorithm
		secrets [][]byte
		header  http.Header
		body    []byte
		want    error
	}{
		{"sha256", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA256, "current-secret", body), body, nil},
		{"sha1", aicc.AlgorithmSHA1, secrets, headerOf(aicc.AlgorithmSHA1, "current-secret", body), body, nil},
		{"both headers, as Meta sends, sha256", aicc.AlgorithmSHA256, secrets, both, body, nil},
		{"both headers, as Meta sends, sha1", aicc.AlgorithmSHA1, secrets, both, body, nil},
		{"previous secret of a rotation", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA256, "previous-secret", body), body, nil},
		{"uppercase hex", aicc.AlgorithmSHA256, secrets, with(meta.HeaderSignature256, strings.ToUpper(sha256Value)), body, nil},
		{"missing", aicc.AlgorithmSHA256, secrets, http.Header{}, body, meta.ErrSignatureMissing},
		{"empty header", aicc.AlgorithmSHA256, secrets, with(meta.HeaderSignature256, ""), body, meta.ErrSignatureMissing},
		{"sha1 header only on a sha256 channel", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA1, "current-secret", body), body, meta.ErrSignatureOtherAlg},
		{"sha256 header only on a sha1 channel", aicc.AlgorithmSHA1, secrets, headerOf(aicc.AlgorithmSHA256, "current-secret", body), body, meta.ErrSignatureOtherAlg},
		{"no prefix", aicc.AlgorithmSHA256, secrets, with(meta.HeaderSignature256, strings.TrimPrefix(sha256Value, "sha256=")), body, meta.ErrSignatureMalformed},
		{"wrong prefix", aicc.AlgorithmSHA256, secrets, with(meta.HeaderSignature256, "sha1="+strings.TrimPrefix(sha256Value, "sha256=")), body, meta.ErrSignatureMalformed},
		{"not hex", aicc.AlgorithmSHA256, secrets, with(meta.HeaderSignature256, "sha256=zz"+sha256Value[9:]), body, meta.ErrSignatureMalformed},
		{"short", aicc.AlgorithmSHA256, secrets, with(meta.HeaderSignature256, sha256Value[:len(sha256Value)-2]), body, meta.ErrSignatureMalformed},
		{"wrong secret", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA256, "attacker", body), body, meta.ErrSignatureMismatch},
		{"retired secret", aicc.AlgorithmSHA256, secrets[:1], headerOf(aicc.AlgorithmSHA256, "previous-secret", body), body, meta.ErrSignatureMismatch},
		{"body changed by one byte", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA256, "current-secret", body), append(bytes.Clone(body[:len(body)-1]), ' '), meta.ErrSignatureMismatch},
		{"no secret", aicc.AlgorithmSHA256, nil, headerOf(aicc.AlgorithmSHA256, "", body), body, meta.ErrNoSecret},
		{"empty secret is no secret", aicc.AlgorithmSHA256, [][]byte{{}}, headerOf(aicc.AlgorithmSHA256, "", body), body, meta.ErrNoSecret},
		{"unknown algorithm", "md5", secrets, headerOf(aicc.AlgorithmSHA256, "current-secret", body), body, meta.ErrUnsupportedAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := meta.VerifySignature(tt.alg, tt.secrets, tt.header, tt.body)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			var se *meta.SignatureError
			require.ErrorAs(t, err, &se)
			assert.NotEmpty(t, se.Reason)
		})
	}
}

// TestSignatureOverRawBytes is Meta's unicode gotcha: the signature covers the escaped bytes on the wire, so
// a handler that re-encodes the parsed JSON before verifying rejects genuine notifications.
func TestSignatureOverRawBytes(t *testing.T) {
	body := batch().Encode()
	assert.Contains(t, string(body), `\u00e4\u00f6\u00e5`)
	assert.Contains(t, string(body), `\ud83d\ude00`)
	assert.Contains(t, string(body), `\u003c\/script\u003e`)
	assert.NotContains(t, string(body), "ä")
	h := headerOf(aicc.AlgorithmSHA256, "s3cret", body)
	require.NoError(t, meta.VerifySignature(aicc.AlgorithmSHA256, [][]byte{[]byte("s3cret")}, h, body))

	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	reencoded, err := json.Marshal(v)
	require.NoError(t, err)
	assert.ErrorIs(t, meta.VerifySignature(aicc.AlgorithmSHA256, [][]byte{[]byte("s3cret")}, h, reencoded), meta.ErrSignatureMismatch)

	n, err := meta.ParseWebhook(body)
	require.NoError(t, err)
	assert.Equal(t, "Grüße aus Köln, äöå </script> 100% @home 😀", n.Events[0].Text)
}

func TestVerifyChallenge(t *testing.T) {
	want := []byte("verify-me")
	got, ok := meta.VerifyChallenge("subscribe", "verify-me", "1158201444", want)
	assert.True(t, ok)
	assert.Equal(t, "1158201444", got)
	for _, c := range [][3]string{
		{"unsubscribe", "verify-me", "1"}, {"subscribe", "verify-mE", "1"}, {"subscribe", "", "1"},
		{"subscribe", "verify-me", ""}, {"", "", ""},
	} {
		got, ok := meta.VerifyChallenge(c[0], c[1], c[2], want)
		assert.False(t, ok, "%q", c)
		assert.Empty(t, got)
	}
	_, ok = meta.VerifyChallenge("subscribe", "", "1", nil)
	assert.False(t, ok, "no verify token configured")
}

func TestParseWebhook(t *testing.T) {
	n, err := meta.ParseWebhook(batch().Encode())
	require.NoError(t, err)
	assert.Equal(t, "page", n.Object)

	type row struct {
		Page, Sender, Recipient string
		Kind                    meta.EventKind
		MID                     string
		Watermark               int64
		Echo                    bool
		Text, Payload           string
	}
	var got []row
	for _, e := range n.Events {
		got = append(got, row{e.PageID, e.SenderID, e.RecipientID, e.Kind, e.MID, e.Watermark, e.IsEcho, e.Text, e.Payload})
		assert.NotZero(t, e.Timestamp)
		assert.True(t, json.Valid(e.Raw))
		assert.False(t, e.Standby)
	}
	assert.Equal(t, []row{
		{pageID, psid, pageID, meta.KindMessage, "m_1", 0, false, "Grüße aus Köln, äöå </script> 100% @home 😀", ""},
		{pageID, pageID, psid, meta.KindEcho, "m_2", 0, true, "Hallo!", ""},
		{pageID, psid, pageID, meta.KindPostback, "m_3", 0, false, "Get Started", "GET_STARTED"},
		{pageID, psid, pageID, meta.KindDelivery, "", 1_700_000_000_002, false, "", ""},
		{pageID, psid, pageID, meta.KindRead, "", 1_700_000_000_002, false, "", ""},
		{page2, psid2, page2, meta.KindMessage, "m_4", 0, false, "second page", ""},
		{page2, psid2, page2, meta.KindReaction, "m_4", 0, false, "", ""},
		{page2, psid2, page2, meta.KindUnknown, "", 0, false, "", ""},
	}, got)
	assert.JSONEq(t, `{"sender":{"id":"`+psid2+`"},"recipient":{"id":"`+page2+`"},"timestamp":1700000000012,"optin":{"ref":"ref-1"}}`,
		string(n.Events[7].Raw), "an unknown kind keeps its raw JSON")

	t.Run("standby and lenient numbers", func(t *testing.T) {
		n, err := meta.ParseWebhook([]byte(`{"object":"page","entry":[{"id":104000000000001,"time":1,"standby":[
			{"sender":{"id":7001},"recipient":{"id":"104000000000001"},"timestamp":1.7e12,"message":{"mid":"m_9","text":"hi"}}]}]}`))
		require.NoError(t, err)
		require.Len(t, n.Events, 1)
		e := n.Events[0]
		assert.True(t, e.Standby)
		assert.Equal(t, pageID, e.PageID)
		assert.Equal(t, "7001", e.SenderID)
		assert.Equal(t, int64(1.7e12), e.Timestamp)
	})
	t.Run("empty entry list", func(t *testing.T) {
		n, err := meta.ParseWebhook([]byte(`{"object":"page","entry":[]}`))
		require.NoError(t, err)
		assert.Empty(t, n.Events)
	})
	assert.Empty(t, n.Malformed)
	for name, body := range map[string]string{
		"malformed JSON":        `{"object":"page","entry":[`,
		"not an object":         `[1,2]`,
		"instagram":             `{"object":"instagram","entry":[{"id":"1","messaging":[]}]}`,
		"no object":             `{"entry":[]}`,
		"entries not a list":    `{"object":"page","entry":{"id":"1","messaging":[]}}`,
		"malformed JSON inside": `{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":01}]}]}`,
		"too deep inside": `{"object":"page","entry":[{"id":"1","messaging":[{"x":` + strings.Repeat("[", 10000) +
			strings.Repeat("]", 10000) + `}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			n, err := meta.ParseWebhook([]byte(body))
			assert.Error(t, err)
			assert.Nil(t, n)
		})
	}
}

// TestParseWebhookMalformed: a part of a notification that is no event is kept aside, raw, with where it was and
// why; the events around it are taken all the same.
func TestParseWebhookMalformed(t *testing.T) {
	good := func(mid string) string {
		return `{"sender":{"id":"7001"},"recipient":{"id":"1"},"timestamp":1700000000000,"message":{"mid":"` + mid + `","text":"hi"}}`
	}
	type malformed struct{ Path, Reason, Raw string }
	tests := []struct {
		name string
		body string
		mids []string // of the events, in order
		want []malformed
	}{
		{
			"items that are not objects", `{"object":"page","entry":[{"id":"1","messaging":[` + good("m_1") + `, 42 ,null,"x",[],` + good("m_2") + `]}]}`,
			[]string{"m_1", "m_2"}, []malformed{
				{"entry[0].messaging[1]", "a number, want an object", `42`},
				{"entry[0].messaging[2]", "null, want an object", `null`},
				{"entry[0].messaging[3]", "a string, want an object", `"x"`},
				{"entry[0].messaging[4]", "an array, want an object", `[]`},
			},
		},
		{
			"items of another shape", `{"object":"page","entry":[{"id":"1","standby":[{"timestamp":"soon"}],"messaging":[{"sender":"7001"},` +
				good("m_1") + `,{"message":{"text":5,"mid":"m_2"}},{"message":{"quick_reply":{"payload":[]}}},{"read":{"watermark":1e400}}]}]}`,
			[]string{"m_1"}, []malformed{
				{"entry[0].messaging[0]", "sender: a string, want an object", `{"sender":"7001"}`},
				{"entry[0].messaging[2]", "message: text: a number, want a string", `{"message":{"text":5,"mid":"m_2"}}`},
				{"entry[0].messaging[3]", "message: quick_reply: payload: an array, want a string", `{"message":{"quick_reply":{"payload":[]}}}`},
				{"entry[0].messaging[4]", "read: watermark: a number beyond ±2^62", `{"read":{"watermark":1e400}}`},
				{"entry[0].standby[0]", "timestamp: a string that holds no integer", `{"timestamp":"soon"}`},
			},
		},
		{
			"an entry without id beside a good entry", `{"object":"page","entry":[{"time":1,"standby":[` + good("m_1") + `],"messaging":[` +
				good("m_2") + `,7]},{"id":"1","messaging":[` + good("m_3") + `]}]}`,
			[]string{"m_3"}, []malformed{
				{"entry[0].messaging[0]", "the entry has no id", good("m_2")},
				{"entry[0].messaging[1]", "the entry has no id", `7`},
				{"entry[0].standby[0]", "the entry has no id", good("m_1")},
			},
		},
		{
			"entries without items or id", `{"object":"page","entry":[{"id":null,"messaging":[]},{},{"id":"1","messaging":[` + good("m_1") + `]}]}`,
			[]string{"m_1"}, []malformed{
				{"entry[0]", "the entry has no id", `{"id":null,"messaging":[]}`},
				{"entry[1]", "the entry has no id", `{}`},
			},
		},
		{
			"entries of another shape", `{"object":"page","entry":[null, "1", {"id":true,"messaging":[` + good("m_1") + `]},{"id":"1","messaging":[` +
				good("m_2") + `],"standby":{}},{"id":"2","messaging":[` + good("m_3") + `]}]}`,
			[]string{"m_3"}, []malformed{
				{"entry[0]", "null, want an object", `null`},
				{"entry[1]", "a string, want an object", `"1"`},
				{"entry[2]", "id: a boolean, want a string or a number", `{"id":true,"messaging":[` + good("m_1") + `]}`},
				{"entry[3]", "standby: an object, want an array", `{"id":"1","messaging":[` + good("m_2") + `],"standby":{}}`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := meta.ParseWebhook([]byte(tt.body))
			require.NoError(t, err)
			var mids []string
			for _, e := range n.Events {
				mids = append(mids, e.MID)
			}
			assert.Equal(t, tt.mids, mids)
			var got []malformed
			for _, m := range n.Malformed {
				got = append(got, malformed{m.Path(), m.Reason, string(m.Raw)})
				assert.True(t, json.Valid(m.Raw))
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestDedupKey(t *testing.T) {
	body := batch().Encode()
	first, err := meta.ParseWebhook(body)
	require.NoError(t, err)
	keys := map[string]meta.EventKind{}
	for _, e := range first.Events {
		k := meta.DedupKey(e)
		_, dup := keys[k]
		assert.False(t, dup, "two events of one batch share key %s", k)
		keys[k] = e.Kind
	}
	assert.Contains(t, keys, "mid|"+pageID+"|m_1")
	assert.Contains(t, keys, "mid|"+pageID+"|m_3")
	assert.Contains(t, keys, "wm|"+pageID+"|"+psid+"|delivery|1700000000002")
	assert.Contains(t, keys, "wm|"+pageID+"|"+psid+"|read|1700000000002")

	// Meta's retry, byte for byte or pretty-printed, and the same event in another batch: the same keys.
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, body, "", "  "))
	single := metatest.NewPayload(metatest.NewEntry(page2, batch().Entry[1].Messaging[1])).Encode()
	for _, again := range [][]byte{body, pretty.Bytes(), single} {
		n, err := meta.ParseWebhook(again)
		require.NoError(t, err)
		for _, e := range n.Events {
			assert.Contains(t, keys, meta.DedupKey(e))
		}
	}

	// A reaction's mid names the message reacted to: the reaction and its undo are two events.
	undo := batch().Entry[1].Messaging[1]
	undo.Reaction.Action = "unreact"
	n, err := meta.ParseWebhook(metatest.NewPayload(metatest.NewEntry(page2, undo)).Encode())
	require.NoError(t, err)
	assert.NotContains(t, keys, meta.DedupKey(n.Events[0]))
	assert.True(t, strings.HasPrefix(meta.DedupKey(n.Events[0]), "sha256|"+page2+"|"))
}

// TestWebhookSender plays Meta against a minimal callback built from this package, as the API will be.
func TestWebhookSender(t *testing.T) {
	const secret, verifyToken = "app-secret-1", "verify-token-1"
	var (
		mu      sync.Mutex
		stored  = map[string]bool{}
		reasons []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			q := r.URL.Query()
			challenge, ok := meta.VerifyChallenge(q.Get("hub.mode"), q.Get("hub.verify_token"), q.Get("hub.challenge"), []byte(verifyToken))
			if !ok {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			_, _ = io.WriteString(w, challenge)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		alg := aicc.SignatureAlgorithm(r.URL.Query().Get("alg"))
		if err := meta.VerifySignature(alg, [][]byte{[]byte(secret)}, r.Header, body); err != nil {
			var se *meta.SignatureError
			errors.As(err, &se)
			reasons = append(reasons, se.Reason)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		n, err := meta.ParseWebhook(body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, e := range n.Events {
			stored[meta.DedupKey(e)] = true
		}
	}))
	defer srv.Close()
	ctx := t.Context()

	s := &metatest.WebhookSender{URL: srv.URL + "?alg=sha256", AppSecret: secret}
	status, body, err := s.Verify(ctx, verifyToken, "1158201444")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "1158201444", body)
	status, _, err = s.Verify(ctx, "wrong", "1158201444")
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, status)

	sent, status, err := s.SendPayload(ctx, batch())
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, stored, 8)
	status, err = s.Send(ctx, sent) // Meta's retry
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, stored, 8, "a retry stores nothing twice")

	sha1 := &metatest.WebhookSender{URL: srv.URL + "?alg=sha1", AppSecret: secret, Algorithm: aicc.AlgorithmSHA1}
	more := metatest.NewPayload(metatest.NewEntry(pageID, metatest.Text(pageID, psid, "m_5", "via sha1", 1_700_000_000_020)))
	_, status, err = sha1.SendPayload(ctx, more)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, stored, 9)

	for _, opts := range [][]metatest.SendOption{
		{metatest.WithWrongSignature()},
		{metatest.WithoutSignature()},
		{metatest.WithTamperedBody()},
		{metatest.WithAlgorithm(aicc.AlgorithmSHA1)},
	} {
		status, err := s.Send(ctx, sent, opts...)
		require.NoError(t, err)
		assert.Equal(t, http.StatusForbidden, status)
	}
	assert.Equal(t, []string{"mismatch", "missing", "mismatch", "other_algorithm"}, reasons)
	assert.Len(t, stored, 9)
}

func TestFakeGraphRawHTTP(t *testing.T) {
	srv := metatest.NewGraphServer(t, canarySecret)
	srv.AddPage(pageID, pageName, canaryToken)
	get := func(path string) (int, map[string]map[string]any) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		assert.Equal(t, "application/json; charset=UTF-8", resp.Header.Get("Content-Type"))
		var body map[string]map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}
	status, body := get("/v25.0/" + pageID + "?fields=id,name&access_token=" + canaryToken)
	assert.Equal(t, http.StatusBadRequest, status, "Require App Secret is on")
	assert.Equal(t, float64(100), body["error"]["code"])
	assert.Equal(t, "GraphMethodException", body["error"]["type"])
	assert.NotEmpty(t, body["error"]["fbtrace_id"])

	status, body = get("/v25.0/" + pageID)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, float64(104), body["error"]["code"])

	status, body = get("/latest/" + pageID + "?access_token=" + canaryToken)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, float64(2500), body["error"]["code"])

	// The Send API also takes a JSON body and /me, as Meta's own examples do.
	proof := meta.AppSecretProof(canarySecret, canaryToken)
	resp, err := http.Post(srv.URL+"/v25.0/me/messages?access_token="+canaryToken+"&appsecret_proof="+proof, "application/json",
		strings.NewReader(`{"recipient":{"id":"`+psid+`"},"messaging_type":"RESPONSE","message":{"text":"hi"}}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, srv.Sent(), 1)
	assert.Equal(t, pageID, srv.Sent()[0].PageID)
}

// TestParseWebhookUpdateLimit: a body holds at most aicc.MaxWebhookUpdates entries and as many items in all its
// entries' lists; past that it is aicc.ErrTooManyUpdates, found before the first item past the limit is read.
func TestParseWebhookUpdateLimit(t *testing.T) {
	item := func(i int) string {
		return `{"sender":{"id":"7001"},"recipient":{"id":"1"},"timestamp":1700000000000,"message":{"mid":"m_` + strconv.Itoa(i) + `","text":"hi"}}`
	}
	// entries builds a body of len(lists) entries, each entry's lists holding the given numbers of items.
	entries := func(lists ...map[string]int) string {
		var b strings.Builder
		b.WriteString(`{"object":"page","entry":[`)
		n := 0
		for i, l := range lists {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"id":"1","time":1700000000000`)
			for _, name := range []string{"messaging", "standby", "changes"} {
				if _, ok := l[name]; !ok {
					continue
				}
				b.WriteString(`,"` + name + `":[`)
				for j := range l[name] {
					if j > 0 {
						b.WriteString(",")
					}
					n++
					b.WriteString(item(n))
				}
				b.WriteString("]")
			}
			b.WriteString("}")
		}
		b.WriteString("]}")
		return b.String()
	}
	many := func(n int, l map[string]int) []map[string]int {
		out := make([]map[string]int, n)
		for i := range out {
			out[i] = l
		}
		return out
	}
	tests := []struct {
		name   string
		body   string
		events int // -1: ErrTooManyUpdates
	}{
		{"1000 items in one entry", entries(map[string]int{"messaging": 1000}), 1000},
		{"1001 items in one entry", entries(map[string]int{"messaging": 1001}), -1},
		{"1000 entries of one item", entries(many(1000, map[string]int{"messaging": 1})...), 1000},
		{"1001 entries of one item", entries(many(1001, map[string]int{"messaging": 1})...), -1},
		{"1001 entries without items", entries(many(1001, map[string]int{})...), -1},
		{"4 entries × 250 items, messaging and standby", entries(many(4, map[string]int{"messaging": 200, "standby": 50})...), 1000},
		{"7 entries × 143 items", entries(many(7, map[string]int{"messaging": 100, "standby": 43})...), -1},
		{"changes count, though not read", entries(map[string]int{"messaging": 1, "changes": 999}), 1},
		{"one change too many", entries(map[string]int{"messaging": 1}, map[string]int{"changes": 1000}), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := meta.ParseWebhook([]byte(tt.body))
			if tt.events < 0 {
				require.ErrorIs(t, err, aicc.ErrTooManyUpdates)
				assert.Nil(t, n)
				_, err = meta.Codec{}.ParseBatch([]byte(tt.body))
				assert.Equal(t, aicc.ErrTooManyUpdates, err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, n.Events, tt.events)
			assert.Empty(t, n.Malformed)
		})
	}

	// Nothing past the 1001st update is read: what follows it, not even JSON, makes no other error.
	body := entries(map[string]int{"messaging": 1000})
	cut := body[:len(body)-len("]}]}")] + `,{"sender":` + strings.Repeat("[", 20000) + `\x`
	_, err := meta.ParseWebhook([]byte(cut))
	require.ErrorIs(t, err, aicc.ErrTooManyUpdates)
	_, err = meta.ParseWebhook([]byte(`{"object":"page","entry":[` + strings.Repeat(`{},`, 1000) + `x`))
	require.ErrorIs(t, err, aicc.ErrTooManyUpdates)
	// A changes value that is not an array is skipped, as before it was counted.
	n, err := meta.ParseWebhook([]byte(`{"object":"page","entry":[{"id":"1","changes":{"field":"feed"},"messaging":[` + item(1) + `]}]}`))
	require.NoError(t, err)
	assert.Len(t, n.Events, 1)
}

// TestParseWebhookAsEncodingJSON: the one-pass decoder accepts and refuses what encoding/json, decoding the
// body and then each item again, did, and takes the same values, on Meta's bodies and on odd ones.
func TestParseWebhookAsEncodingJSON(t *testing.T) {
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, batch().Encode(), "", "\t"))
	bodies := []string{
		string(batch().Encode()),
		pretty.String(),
		string(benchBody(3)),
		string(benchBody(100)),
		// Keys in any order, in another case, escaped; values null, numbers as strings and strings as numbers.
		`{"entry":[{"standby":[{"message":{"text":"s","mid":"m_s"},"sender":{"id":1}}],"messaging":[{"timestamp":"17","sender":{"ID":"2"}}],"id":104}],"object":"page"}`,
		`{"OBJECT":"page","Entry":[{"Id":"1","MESSAGING":[{"Sender":{"iD":"3"},"Message":{"Mid":"m","Is_Echo":true,"Quick_Reply":{"PAYLOAD":"p"}}}]}]}`,
		`{"\u006fbject":"page","entry":[{"\u0069d":"1","messaging":[{"s\u0065nder":{"id":"\u0034"},"message":{"mid":"m","text":"\u00e4\ud83d\ude00\/\"\\\b\f\n\r\t"}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"message":null,"postback":{"title":"T","payload":"P","mid":null}},{"message":{"quick_reply":null,"text":null}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"delivery":{"watermark":"1.5e3"}},{"read":{"watermark":null}},{"read":{"watermark":"null"}},{"reaction":{"mid":"r"}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":-12},{"timestamp":1e3},{"timestamp":"+7"},{"timestamp":12345678901234567890}]}]}`,
		`{"object":"page","entry":null}`,
		`{"object":"page","entry":[{"id":"1","messaging":null,"standby":[]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"unknown":[{"a":[1,2.5e-3,-0.0,true,false,null,"x"]},{}],"x":{"y":{}}}]}]}`,
		"  {\"object\" : \"page\" ,\n\"entry\":[ {\"id\":\"1\" ,\"messaging\":[ {\"sender\" : {\"id\" : \"2\"} } ]} ] }\r\n",
		// Unpaired surrogates and bytes that are not UTF-8 become U+FFFD.
		`{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"\ud83d|\ude00|\ud83d\u0041|\ud83d\ud83d\ude00|` + "\xff\xc3" + `"}}]}]}`,
		// Refused.
		``, ` `, `null`, `[]`, `"page"`, `{"object":"page"} x`, `{"object":"page",}`, `{"object":"page" "entry":[]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":01}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":1.}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":1e}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":"1e400"}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":true}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"\x"}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"\u12"}}]}]}`,
		"{\"object\":\"page\",\"entry\":[{\"id\":\"1\",\"messaging\":[{\"message\":{\"text\":\"a\tb\"}}]}]}",
		`{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":5}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"message":{"is_echo":"true"}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"message":[]}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"sender":"1"}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[1]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":{}}]}`,
		`{"object":"page","entry":[null]}`,
		`{"object":"page","entry":[{"id":null}]}`,
		`{"object":"page","entry":[{"id":{}}]}`,
		`{"object":"page","entry":{}}`,
		`{"object":1,"entry":[]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"x":tru}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"x":[1,]}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"x":"` + "\x01" + `"}]}]}`,
		`{"object":"page","x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
		`{"object":"page","x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"x":` + strings.Repeat("[", 9996) + strings.Repeat("]", 9996) + `}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"x":` + strings.Repeat("[", 9997) + strings.Repeat("]", 9997) + `}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"sender":` + strings.Repeat("[", 9996) + strings.Repeat("]", 9996) + `}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"sender":` + strings.Repeat("[", 9997) + strings.Repeat("]", 9997) + `}]}]}`,
		// Kept aside: entries and items of another shape, entries without an id, their items.
		`{"object":"page","entry":[{"id":"1","messaging":[1,{"sender":{"id":"2"}},{"sender":[]},null],"standby":[{"read":"x"},{}]},7,{"standby":[{}],"messaging":[1,{}]},{"id":"3","messaging":{}},{},{"id":"4"}]}`,
		`{"object":"page","entry":[{"messaging":[{"x":tru}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"timestamp":1e400},{"timestamp":"1e400"},{"timestamp":"x"}]}]}`,
		`{"object":"page","entry":[null,{"id":"1","messaging":[{"message":{"text":"ok"}}]},[{"id":"2"}]]}`,
		`{"object":"page","entry":[{"id":[],"messaging":[{}]},{"id":"1","messaging":[{"sender":{"id":"1"}},{"sender":{"id":{}}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"message":{"quick_reply":[]}},{"postback":{"title":1}},{"reaction":{"mid":{}}}]}]}`,
		`{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"1"}},{"sender":"x` + "\x01" + `"}]}]}`,
	}
	for _, body := range bodies {
		checkAsEncodingJSON(t, []byte(body))
		checkAsEncodingJSON(t, metatest.MetaEscape([]byte(body)))
	}
}

// FuzzParseWebhookAsEncodingJSON: the same on any body without a repeated key (on which the two differ: see
// ParseWebhook).
func FuzzParseWebhookAsEncodingJSON(f *testing.F) {
	f.Add(batch().Encode())
	f.Add(benchBody(3))
	f.Add([]byte(`{"object":"page","entry":[{"id":104,"standby":[{"sender":{"id":1},"timestamp":1.7e12,"message":{"mid":"m"}}]}]}`))
	f.Add([]byte(`{"object":"page","entry":[{"id":"1","messaging":[{"delivery":{"watermark":"12"}},{"read":{}},{"reaction":{"mid":"m"}}]}]}`))
	f.Add([]byte(`{"OBJECT":"page","Entry":[{"Id":"1","MESSAGING":[{"Sender":{"iD":"3"},"Message":{"Mid":"m","Is_Echo":true,"Quick_Reply":{"PAYLOAD":"p"}}}]}]}`))
	f.Add([]byte(`{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"\ud83d|\ude00|\ud83d\u0041|"}}]}]}`))
	f.Add([]byte(`{"object":"page","entry":[{"id":"1","messaging":[1,{"sender":[]}],"standby":[{}]},null,{"messaging":[{}]},{"id":{}}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if repeatsKey(body) {
			t.Skip()
		}
		checkAsEncodingJSON(t, body)
	})
}

func checkAsEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	got, err := meta.ParseWebhook(body)
	want, wantErr := parseWithEncodingJSON(body)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%.200q: error %v, encoding/json's %v", body, err, wantErr)
	}
	if err != nil {
		assert.Nil(t, got)
		return
	}
	// The reasons are the decoder's own words; each part kept aside has one.
	for i, m := range got.Malformed {
		if m.Reason == "" {
			t.Fatalf("%.200q: %s kept aside without a reason", body, m.Path())
		}
		got.Malformed[i].Reason = ""
	}
	if !assert.Equal(t, want, got, "%.200q", body) {
		t.FailNow()
	}
}

// parseWithEncodingJSON is ParseWebhook in encoding/json: the body decoded with each entry kept as a
// json.RawMessage, then each entry with its items kept so, then each item; a part that does not decode is
// malformed (the decoder before the one-pass one refused the whole body for it).
func parseWithEncodingJSON(body []byte) (*meta.Notification, error) {
	var env struct {
		Object string            `json:"object"`
		Entry  []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	if env.Object != "page" {
		return nil, errors.New("not page")
	}
	if updates(env.Entry) > aicc.MaxWebhookUpdates {
		return nil, aicc.ErrTooManyUpdates
	}
	n := &meta.Notification{Object: env.Object, Events: []meta.Event{}}
	keep := func(i int, list string, j int, raw json.RawMessage) {
		n.Malformed = append(n.Malformed, meta.MalformedItem{Entry: i, List: list, Item: j, Raw: raw})
	}
	for i, rawEntry := range env.Entry {
		var entry struct {
			ID        flexString        `json:"id"`
			Messaging []json.RawMessage `json:"messaging"`
			Standby   []json.RawMessage `json:"standby"`
		}
		if !isObject(rawEntry) || json.Unmarshal(rawEntry, &entry) != nil ||
			entry.ID == "" && len(entry.Messaging)+len(entry.Standby) == 0 {
			keep(i, "", -1, rawEntry)
			continue
		}
		for j, raw := range append(entry.Messaging, entry.Standby...) {
			list, index := "messaging", j
			if j >= len(entry.Messaging) {
				list, index = "standby", j-len(entry.Messaging)
			}
			if entry.ID == "" || !isObject(raw) {
				keep(i, list, index, raw)
				continue
			}
			var item struct {
				Sender    struct{ ID flexString } `json:"sender"`
				Recipient struct{ ID flexString } `json:"recipient"`
				Timestamp flexInt                 `json:"timestamp"`
				Message   *struct {
					MID        string `json:"mid"`
					Text       string `json:"text"`
					IsEcho     bool   `json:"is_echo"`
					Metadata   string `json:"metadata"`
					QuickReply *struct {
						Payload string `json:"payload"`
					} `json:"quick_reply"`
				} `json:"message"`
				Postback *struct {
					MID     string `json:"mid"`
					Title   string `json:"title"`
					Payload string `json:"payload"`
				} `json:"postback"`
				Delivery *struct {
					Watermark flexInt `json:"watermark"`
				} `json:"delivery"`
				Read *struct {
					Watermark flexInt `json:"watermark"`
				} `json:"read"`
				Reaction *struct {
					MID string `json:"mid"`
				} `json:"reaction"`
			}
			if err := json.Unmarshal(raw, &item); err != nil {
				keep(i, list, index, raw)
				continue
			}
			e := meta.Event{
				PageID: string(entry.ID), SenderID: string(item.Sender.ID), RecipientID: string(item.Recipient.ID),
				Timestamp: int64(item.Timestamp), Kind: meta.KindUnknown, Standby: list == "standby", Raw: raw,
			}
			switch {
			case item.Message != nil:
				m := item.Message
				e.Kind, e.MID, e.Text, e.IsEcho = meta.KindMessage, m.MID, m.Text, m.IsEcho
				if m.IsEcho {
					e.Kind, e.Metadata = meta.KindEcho, m.Metadata
				}
				if m.QuickReply != nil {
					e.Payload = m.QuickReply.Payload
				}
			case item.Postback != nil:
				e.Kind, e.MID, e.Text, e.Payload = meta.KindPostback, item.Postback.MID, item.Postback.Title, item.Postback.Payload
			case item.Delivery != nil:
				e.Kind, e.Watermark = meta.KindDelivery, int64(item.Delivery.Watermark)
			case item.Read != nil:
				e.Kind, e.Watermark = meta.KindRead, int64(item.Read.Watermark)
			case item.Reaction != nil:
				e.Kind, e.MID = meta.KindReaction, item.Reaction.MID
			}
			n.Events = append(n.Events, e)
		}
	}
	return n, nil
}

// updates is how many updates entries hold, as ParseWebhook counts them against aicc.MaxWebhookUpdates: the
// entries, or the items of their messaging, standby and changes arrays, whichever are more. (ParseWebhook counts
// the items of an entry of another shape up to where it sees that, which this does not: the two differ only on
// a body near the limit with such an entry.)
func updates(entries []json.RawMessage) int {
	items := 0
	for _, raw := range entries {
		var lists map[string]json.RawMessage
		if json.Unmarshal(raw, &lists) != nil {
			continue
		}
		for key, list := range lists {
			var elements []json.RawMessage
			if slices.ContainsFunc([]string{"messaging", "standby", "changes"}, func(k string) bool { return strings.EqualFold(k, key) }) &&
				json.Unmarshal(list, &elements) == nil {
				items += len(elements)
			}
		}
	}
	return max(len(entries), items)
}

// isObject reports whether raw, a JSON value, is an object.
func isObject(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, (*string)(s))
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = flexString(n)
	return nil
}

type flexInt int64

func (i *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		return nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*i = flexInt(n)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 1<<62 || f < -(1<<62) {
		return errors.New("not an integer")
	}
	*i = flexInt(f)
	return nil
}

// repeatsKey reports whether some object of body (valid JSON or not) has two keys that encoding/json would
// match to the same field.
func repeatsKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   []string
		atKey  bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.atKey {
			if key, ok := tok.(string); ok {
				for _, k := range top.keys {
					if strings.EqualFold(k, key) {
						return true
					}
				}
				top.keys = append(top.keys, key)
				top.atKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, atKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].atKey = true
		}
	}
}
