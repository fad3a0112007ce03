package meta_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

func TestCodecVerifySignature(t *testing.T) {
	var codec aicc.WebhookCodec = meta.Codec{}
	body := batch().Encode()
	secrets := []string{"current-secret", "previous-secret"}
	tests := []struct {
		name    string
		alg     aicc.SignatureAlgorithm
		secrets []string
		header  http.Header
		body    []byte
		want    string
	}{
		{"sha256", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA256, "current-secret", body), body, ""},
		{"sha1", aicc.AlgorithmSHA1, secrets, headerOf(aicc.AlgorithmSHA1, "current-secret", body), body, ""},
		{"previous secret", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA256, "previous-secret", body), body, ""},
		{"missing", aicc.AlgorithmSHA256, secrets, http.Header{}, body, aicc.RejectMissing},
		{"other algorithm", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA1, "current-secret", body), body, aicc.RejectOtherAlgorithm},
		{"malformed", aicc.AlgorithmSHA256, secrets, http.Header{meta.HeaderSignature256: {"sha256=zz"}}, body, aicc.RejectMalformed},
		{"wrong secret", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA256, "other-secret", body), body, aicc.RejectMismatch},
		{"body changed", aicc.AlgorithmSHA256, secrets, headerOf(aicc.AlgorithmSHA256, "current-secret", body), append(body[:len(body):len(body)], ' '), aicc.RejectMismatch},
		{"no secret", aicc.AlgorithmSHA256, []string{""}, headerOf(aicc.AlgorithmSHA256, "", body), body, aicc.RejectNoSecret},
		{"nil secrets", aicc.AlgorithmSHA256, nil, headerOf(aicc.AlgorithmSHA256, "current-secret", body), body, aicc.RejectNoSecret},
		{"unknown algorithm", "md5", secrets, headerOf(aicc.AlgorithmSHA256, "current-secret", body), body, aicc.RejectNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, codec.VerifySignature(tt.alg, tt.secrets, tt.header, tt.body))
		})
	}
}

func TestCodecParseBatch(t *testing.T) {
	var codec aicc.WebhookCodec = meta.Codec{}
	body := batch().Encode()
	b, err := codec.ParseBatch(body)
	require.NoError(t, err)
	assert.Empty(t, b.Malformed)
	events := b.Events
	n, err := meta.ParseWebhook(body)
	require.NoError(t, err)
	require.Len(t, events, len(n.Events))

	type row struct {
		Page, PSID string
		Kind       aicc.EventKind
		MID        string
		Watermark  int64
		Text       string
	}
	var got []row
	for i, e := range events {
		got = append(got, row{e.PageID, e.PSID, e.Kind, e.MID, e.Watermark, e.Text})
		assert.Equal(t, meta.DedupKey(n.Events[i]), e.DedupKey)
		assert.Equal(t, n.Events[i].Timestamp, e.Timestamp)
		assert.JSONEq(t, string(n.Events[i].Raw), string(e.Payload), "the payload is the raw item")
		assert.True(t, json.Valid(e.Payload))
		assert.Zero(t, e.ID)
		assert.Empty(t, e.TenantID, "the caller fills the tenant, the channel and the time received")
		assert.Empty(t, e.ChannelID)
		assert.Zero(t, e.ReceivedAt)
	}
	assert.Equal(t, []row{
		{pageID, psid, aicc.EventMessage, "m_1", 0, "Grüße aus Köln, äöå </script> 100% @home 😀"},
		{pageID, psid, aicc.EventEcho, "m_2", 0, "Hallo!"},
		{pageID, psid, aicc.EventPostback, "m_3", 0, "Get Started"},
		{pageID, psid, aicc.EventDelivery, "", 1_700_000_000_002, ""},
		{pageID, psid, aicc.EventRead, "", 1_700_000_000_002, ""},
		{page2, psid2, aicc.EventMessage, "m_4", 0, "second page"},
		{page2, psid2, aicc.EventReaction, "m_4", 0, ""},
		{page2, psid2, aicc.EventUnknown, "", 0, ""},
	}, got, "the echo's customer is its recipient, so both sides share a conversation")

	for name, body := range map[string]string{
		"malformed JSON":     `{"object":"page","entry":[`,
		"instagram":          `{"object":"instagram","entry":[]}`,
		"entries not a list": `{"object":"page","entry":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := codec.ParseBatch([]byte(body))
			assert.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
			assert.Zero(t, b)
		})
	}

	t.Run("malformed items", func(t *testing.T) {
		good := metatest.Text(pageID, psid, "m_1", "hi", 1_700_000_000_001)
		raw, err := json.Marshal(good)
		require.NoError(t, err)
		body := `{"object":"page","entry":[{"id":"` + pageID + `","messaging":[` + string(raw) + `,42]},{"messaging":[` + string(raw) + `]}]}`
		b, err := codec.ParseBatch([]byte(body))
		require.NoError(t, err)
		require.Len(t, b.Events, 1)
		assert.Equal(t, "m_1", b.Events[0].MID)
		assert.Equal(t, []aicc.WebhookReject{
			{Kind: aicc.MalformedItem, Location: "entry[0].messaging[1]", Reason: "a number, want an object", Payload: []byte("42")},
			{Kind: aicc.MalformedItem, Location: "entry[1].messaging[0]", Reason: "the entry has no id", Payload: raw},
		}, b.Malformed, "the caller fills the tenant, the channel and the time received")
	})
}

// TestCodecParseEvents: the strict form, for tools and tests, refuses what ParseBatch would keep aside.
func TestCodecParseEvents(t *testing.T) {
	body := batch().Encode()
	events, err := meta.Codec{}.ParseEvents(body)
	require.NoError(t, err)
	b, err := meta.Codec{}.ParseBatch(body)
	require.NoError(t, err)
	assert.Equal(t, b.Events, events)
	for name, body := range map[string]string{
		"malformed JSON":   `{"object":"page","entry":[`,
		"instagram":        `{"object":"instagram","entry":[]}`,
		"entry without id": `{"object":"page","entry":[{"messaging":[]}]}`,
		"item not object":  `{"object":"page","entry":[{"id":"1","messaging":[42]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			events, err := meta.Codec{}.ParseEvents([]byte(body))
			assert.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
			assert.Nil(t, events)
		})
	}
}

// The echo of a message the service sent carries its metadata back: an own echo, kept apart from the echoes of
// what an agent typed in the Page's inbox, which are agent messages.
func TestCodecOwnEcho(t *testing.T) {
	body := metatest.NewPayload(metatest.NewEntry("101",
		metatest.EchoWithMetadata("101", "9001", "m_own", "Hello from the robot", aicc.OutboundMetadata("cv_1/1"), 1),
		metatest.EchoWithMetadata("101", "9001", "m_other", "Sent by another app", "their-metadata", 2),
		metatest.Echo("101", "9001", "m_page", "Typed in the Page inbox", 3),
	)).Encode()
	events, err := meta.Codec{}.ParseEvents(body)
	require.NoError(t, err)
	var kinds []aicc.EventKind
	for _, e := range events {
		assert.Equal(t, "9001", e.PSID, "an echo's customer is its recipient")
		kinds = append(kinds, e.Kind)
	}
	assert.Equal(t, []aicc.EventKind{aicc.EventOwnEcho, aicc.EventEcho, aicc.EventEcho}, kinds)
}
