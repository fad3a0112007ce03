package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

func TestSkillQueueRules(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	other := h.newTenant("B")
	codes := 2000
	base := func() map[string]any {
		codes++ // access codes are unique in the tenant
		return map[string]any{"name": "Queue", "accessCode": strconv.Itoa(codes), "ouId": tn.OU}
	}
	tests := []struct {
		name  string
		key   string
		value any
		field string
	}{
		{"maxWaitSeconds 0", "maxWaitSeconds", 0, "maxWaitSeconds"},
		{"maxWaitSeconds 60001", "maxWaitSeconds", 60001, "maxWaitSeconds"},
		{"maxWaitSeconds 60000", "maxWaitSeconds", 60000, ""},
		{"maxQueued 0", "maxQueued", 0, "maxQueued"},
		{"maxQueued 10001", "maxQueued", 10001, "maxQueued"},
		{"maxQueued 10000", "maxQueued", 10000, ""},
		{"wrapUpSeconds -1", "wrapUpSeconds", -1, "wrapUpSeconds"},
		{"wrapUpSeconds 3601", "wrapUpSeconds", 3601, "wrapUpSeconds"},
		{"wrapUpSeconds 0", "wrapUpSeconds", 0, ""},
		{"name 101 chars", "name", strings.Repeat("q", 101), "name"},
		{"name 100 chars", "name", strings.Repeat("q", 100), ""},
		{"ouId missing", "ouId", deleted, "ouId"},
		{"ouId unknown", "ouId", "ou_unknown", "ouId"},
		{"ouId of other tenant", "ouId", other.OU, "ouId"},
		{"accessCode missing", "accessCode", deleted, "accessCode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			body := base()
			set(body, tt.key, tt.value)
			r := h.post("/v1/skill-queues", tn.Admin, body)
			if tt.field == "" {
				requireStatus(t, r, http.StatusCreated)
				return
			}
			e := requireError(t, r, http.StatusBadRequest, aicc.EINVALID)
			assert.Contains(t, e.Fields, tt.field)
		})
	}

	t.Run("defaults", func(t *testing.T) {
		h := h.on(t)
		r := h.post("/v1/skill-queues", tn.Admin, base())
		requireStatus(t, r, http.StatusCreated)
		var q map[string]any
		r.decode(t, &q)
		assert.EqualValues(t, aicc.DefaultMaxWaitSeconds, q["maxWaitSeconds"])
		assert.EqualValues(t, aicc.DefaultMaxQueued, q["maxQueued"])
		assert.EqualValues(t, aicc.DefaultWrapUpSeconds, q["wrapUpSeconds"])

		r = h.get("/v1/skill-queues/"+q["id"].(string), tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		var got map[string]any
		r.decode(t, &got)
		assert.Equal(t, q, got)
	})
}

func TestServiceCalendarRules(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"bad time zone", map[string]any{"name": "Cal", "timeZone": "Mars/Olympus"}, "timeZone"},
		{"bad date", map[string]any{"name": "Cal", "timeZone": "UTC", "restDates": []string{"2026-02-30"}}, "restDates[0]"},
		{"not a date", map[string]any{"name": "Cal", "timeZone": "UTC", "makeUpWorkDates": []string{"tomorrow"}}, "makeUpWorkDates[0]"},
		{"weekday 7", map[string]any{"name": "Cal", "timeZone": "UTC", "weeklyNonWorkingDays": []int{6, 7}}, "weeklyNonWorkingDays[1]"},
		{"rest and make-up", map[string]any{"name": "Cal", "timeZone": "UTC",
			"restDates": []string{"2026-05-01"}, "makeUpWorkDates": []string{"2026-05-01"}}, "makeUpWorkDates[0]"},
		{"ok", map[string]any{"name": "Cal", "timeZone": "Asia/Shanghai", "weeklyNonWorkingDays": []int{0, 6},
			"restDates": []string{"2026-10-01"}, "makeUpWorkDates": []string{"2026-09-27"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			r := h.post("/v1/service-calendars", tn.Admin, tt.body)
			if tt.field == "" {
				requireStatus(t, r, http.StatusCreated)
				return
			}
			e := requireError(t, r, http.StatusBadRequest, aicc.EINVALID)
			assert.Contains(t, e.Fields, tt.field)
		})
	}
}

func TestOUs(t *testing.T) {
	h := newHarness(t)
	tn, other := h.newTenant("A"), h.newTenant("B")
	r := h.post("/v1/ous", tn.Admin, map[string]any{"name": "Tier 2", "parentId": tn.OU})
	requireStatus(t, r, http.StatusCreated)
	child := idOf(t, r)

	r = h.get("/v1/ous/"+child, tn.Viewer)
	requireStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.Body), `"parentId":"`+tn.OU+`"`)

	e := requireError(t, h.post("/v1/ous", tn.Admin, map[string]any{"name": "X", "parentId": other.OU}),
		http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "parentId")
	e = requireError(t, h.post("/v1/ous", tn.Admin, map[string]any{"name": ""}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "name")
}

// TestPages covers the Page rules: a numeric ID, a token, and one channel per Page in the whole system.
func TestPages(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	chA := h.createChannel(a, channelBody(a, "fb_a")).Channel.ID
	chA2 := h.createChannel(a, channelBody(a, "fb_a2")).Channel.ID
	chB := h.createChannel(b, channelBody(b, "fb_b")).Channel.ID
	pages := func(ch string) string { return "/v1/channels/" + ch + "/pages" }

	r := h.post(pages(chA), a.Admin, map[string]any{"pageId": "1000001", "tokenSecret": "EAAB-token", "name": "Shop"})
	requireStatus(t, r, http.StatusCreated)
	var p struct {
		PageID      string     `json:"pageId"`
		ChannelID   string     `json:"channelId"`
		Name        string     `json:"name"`
		TokenSecret secretInfo `json:"tokenSecret"`
	}
	r.decode(t, &p)
	assert.Equal(t, "1000001", p.PageID)
	assert.Equal(t, chA, p.ChannelID)
	assert.Equal(t, secretInfo{Set: true, Fingerprint: h.keyring.Fingerprint("EAAB-token")}, p.TokenSecret)

	for name, body := range map[string]map[string]any{
		"pageId":      {"pageId": "my-shop", "tokenSecret": "t"},
		"tokenSecret": {"pageId": "1000002"},
		"name":        {"pageId": "1000002", "tokenSecret": "t", "name": strings.Repeat("n", 101)},
	} {
		e := requireError(t, h.post(pages(chA), a.Admin, body), http.StatusBadRequest, aicc.EINVALID)
		assert.Contains(t, e.Fields, name)
	}

	again := map[string]any{"pageId": "1000001", "tokenSecret": "t"}
	requireError(t, h.post(pages(chA2), a.Admin, again), http.StatusConflict, aicc.EPAGECONNECTED)
	requireError(t, h.post(pages(chB), b.Admin, again), http.StatusConflict, aicc.EPAGECONNECTED)

	r = h.get(pages(chA)+"?limit=1", a.Viewer)
	requireStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.Body), `"pageId":"1000001"`)

	requireStatus(t, h.delete(pages(chA)+"/1000001", a.Admin), http.StatusNoContent)
	requireError(t, h.delete(pages(chA)+"/1000001", a.Admin), http.StatusNotFound, aicc.ENOTFOUND)
	requireStatus(t, h.post(pages(chB), b.Admin, again), http.StatusCreated)
}

func TestTenantsAndCertificates(t *testing.T) {
	h := newHarness(t, withoutCertificate())
	sys := h.token("", aicc.RoleSysadmin)

	r := h.post("/v1/tenants", sys, map[string]any{"name": "Acme"})
	requireStatus(t, r, http.StatusCreated)
	id := idOf(t, r)
	requireStatus(t, h.get("/v1/tenants/"+id, sys), http.StatusOK)
	requireError(t, h.get("/v1/tenants/ten_missing", sys), http.StatusNotFound, aicc.ENOTFOUND)
	r = h.get("/v1/tenants", sys)
	requireStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.Body), id)
	e := requireError(t, h.post("/v1/tenants", sys, map[string]any{"name": ""}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "name")

	r = h.post("/v1/system/certificates", sys, map[string]any{"pem": selfSigned(t, h.now().Add(-time.Hour), h.now().Add(90*24*time.Hour))})
	requireStatus(t, r, http.StatusCreated)
	var cert map[string]any
	r.decode(t, &cert)
	assert.Equal(t, "CN=graph.facebook.test", cert["subject"])
	assert.Equal(t, false, cert["expired"])
	assert.EqualValues(t, 90*24*3600, cert["expiresInSeconds"])
	assert.Len(t, cert["sha256"], 64)

	for name, pemText := range map[string]string{
		"garbage": "not a certificate",
		"expired": selfSigned(t, h.now().Add(-48*time.Hour), h.now().Add(-24*time.Hour)),
		"empty":   "",
	} {
		e := requireError(t, h.post("/v1/system/certificates", sys, map[string]any{"pem": pemText}), http.StatusBadRequest, aicc.EINVALID)
		assert.Contains(t, e.Fields, "pem", name)
	}

	*h.clock = h.now().Add(100 * 24 * time.Hour)
	r = h.get("/v1/system/certificates", sys)
	requireStatus(t, r, http.StatusOK)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	r.decode(t, &list)
	require.Len(t, list.Items, 1)
	assert.Equal(t, true, list.Items[0]["expired"], "expired is computed at now")
	assert.EqualValues(t, -10*24*3600, list.Items[0]["expiresInSeconds"], "negative once expired")
}

// selfSigned returns a PEM certificate for graph.facebook.test valid from notBefore to notAfter.
func selfSigned(tb testing.TB, notBefore, notAfter time.Time) string {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "graph.facebook.test"},
		NotBefore: notBefore, NotAfter: notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(tb, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
