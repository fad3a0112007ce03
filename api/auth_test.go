package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

func TestAuth(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	sysadmin := h.token("", aicc.RoleSysadmin)
	ouBody := map[string]any{"name": "Sales"}

	tests := []struct {
		name         string
		method, path string
		token        string
		body         any
		status       int
		code         string
	}{
		{"no token", http.MethodGet, "/v1/channels", "", nil, http.StatusUnauthorized, aicc.EUNAUTH},
		{"unknown token", http.MethodGet, "/v1/channels", "aicc_notatoken", nil, http.StatusUnauthorized, aicc.EUNAUTH},
		{"no token on sysadmin route", http.MethodGet, "/v1/tenants", "", nil, http.StatusUnauthorized, aicc.EUNAUTH},
		{"viewer write", http.MethodPost, "/v1/ous", tn.Viewer, ouBody, http.StatusForbidden, aicc.EFORBIDDEN},
		{"viewer read", http.MethodGet, "/v1/ous", tn.Viewer, nil, http.StatusOK, ""},
		{"admin write", http.MethodPost, "/v1/ous", tn.Admin, ouBody, http.StatusCreated, ""},
		{"sysadmin on tenant route", http.MethodGet, "/v1/channels", sysadmin, nil, http.StatusForbidden, aicc.EFORBIDDEN},
		{"sysadmin write on tenant route", http.MethodPost, "/v1/ous", sysadmin, ouBody, http.StatusForbidden, aicc.EFORBIDDEN},
		{"tenant admin on tenants", http.MethodGet, "/v1/tenants", tn.Admin, nil, http.StatusForbidden, aicc.EFORBIDDEN},
		{"tenant admin creating a tenant", http.MethodPost, "/v1/tenants", tn.Admin, map[string]any{"name": "X"},
			http.StatusForbidden, aicc.EFORBIDDEN},
		{"tenant admin on certificates", http.MethodGet, "/v1/system/certificates", tn.Admin, nil,
			http.StatusForbidden, aicc.EFORBIDDEN},
		{"sysadmin on tenants", http.MethodGet, "/v1/tenants", sysadmin, nil, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			r := h.do(request{method: tt.method, path: tt.path, token: tt.token, body: tt.body})
			if tt.code == "" {
				requireStatus(t, r, tt.status)
				return
			}
			requireError(t, r, tt.status, tt.code)
			if tt.status == http.StatusUnauthorized {
				assert.Equal(t, "Bearer", r.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestTenantIsolation checks that tenant A's admin sees nothing of tenant B: every route on B's resources
// answers 404, as for a missing resource, and no list shows them, and none of them reaches Temporal (no
// workflow of B's is started, updated, queried or signalled).
func TestTenantIsolation(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	h.createChannel(a, channelBody(a, "fb_a"))
	chB := h.createChannel(b, channelBody(b, "fb_b")).Channel.ID
	requireStatus(t, h.post("/v1/channels/"+chB+"/pages", b.Admin, map[string]any{"pageId": "777", "tokenSecret": "tok"}),
		http.StatusCreated)
	r := h.post("/v1/service-calendars", b.Admin, map[string]any{"name": "B days", "timeZone": "Europe/Berlin"})
	requireStatus(t, r, http.StatusCreated)
	calB := idOf(t, r)
	requireStatus(t, h.post("/v1/service-calendars", a.Admin, map[string]any{"name": "A days", "timeZone": "UTC"}),
		http.StatusCreated)
	convB := &aicc.Conversation{TenantID: b.ID, ChannelID: chB, PageID: "777", PSID: "9001", UpdatedAt: h.now()}
	require.NoError(t, h.store.SaveConversation(context.Background(), convB))

	notFound := []request{
		{method: http.MethodGet, path: "/v1/channels/" + chB},
		{method: http.MethodPatch, path: "/v1/channels/" + chB, body: map[string]any{"name": "stolen"}},
		{method: http.MethodDelete, path: "/v1/channels/" + chB},
		{method: http.MethodPost, path: "/v1/channels/" + chB + "/onboarding"},
		{method: http.MethodGet, path: "/v1/channels/" + chB + "/onboarding"},
		{method: http.MethodPost, path: "/v1/channels/" + chB + "/onboarding/confirm"},
		{method: http.MethodPost, path: "/v1/channels/" + chB + "/onboarding/cancel"},
		{method: http.MethodPost, path: "/v1/channels/" + chB + "/verify-token"},
		{method: http.MethodPost, path: "/v1/channels/" + chB + "/pages", body: map[string]any{"pageId": "778", "tokenSecret": "t"}},
		{method: http.MethodGet, path: "/v1/channels/" + chB + "/pages"},
		{method: http.MethodGet, path: "/v1/channels/" + chB + "/pages/777"},
		{method: http.MethodDelete, path: "/v1/channels/" + chB + "/pages/777"},
		{method: http.MethodPost, path: "/v1/channels/" + chB + "/pages/777/connect"},
		{method: http.MethodPost, path: "/v1/channels/" + chB + "/pages/777/messages",
			body: map[string]any{"recipientId": "123", "text": "stolen"}},
		{method: http.MethodGet, path: "/v1/channels/" + chB + "/conversations"},
		{method: http.MethodGet, path: "/v1/conversations/" + convB.ID},
		{method: http.MethodGet, path: "/v1/conversations/" + convB.ID + "/events"},
		{method: http.MethodGet, path: "/v1/ous/" + b.OU},
		{method: http.MethodGet, path: "/v1/skill-queues/" + b.Queue},
		{method: http.MethodGet, path: "/v1/service-calendars/" + calB},
	}
	calls := len(h.temporal.Calls)
	for _, rq := range notFound {
		t.Run(rq.method+" "+rq.path, func(t *testing.T) {
			h := h.on(t)
			rq.token = a.Admin
			e := requireError(t, h.do(rq), http.StatusNotFound, aicc.ENOTFOUND)
			// Indistinguishable from a resource that does not exist at all.
			missing := rq
			missing.path = replaceIDs(rq.path, map[string]string{chB: "ch_missing", b.OU: "ou_missing",
				b.Queue: "sq_missing", calB: "cal_missing", convB.ID: "cv_missing"})
			assert.Equal(t, e, requireError(t, h.do(missing), http.StatusNotFound, aicc.ENOTFOUND))
		})
	}

	assert.Len(t, h.temporal.Calls, calls, "no route on B's resources reaches Temporal")

	// B's resources are untouched: its channel is not being deleted, its onboarding not restarted.
	r = h.get("/v1/channels/"+chB, b.Admin)
	requireStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.Body), `"status":"awaiting_verification"`)
	assert.Contains(t, string(r.Body), `"name":"fb_b"`)
	r = h.get("/v1/channels/"+chB+"/pages", b.Admin)
	requireStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.Body), `"777"`)
	assert.Contains(t, string(r.Body), `"status":"subscribed"`)
	// B's channel being deleted is as invisible: A learns nothing from a CHANNEL_DELETING.
	requireStatus(t, h.delete("/v1/channels/"+chB, b.Admin), http.StatusAccepted)
	calls = len(h.temporal.Calls)
	for _, rq := range notFound {
		rq.token = a.Admin
		requireError(t, h.do(rq), http.StatusNotFound, aicc.ENOTFOUND)
	}
	assert.Len(t, h.temporal.Calls, calls)

	// A's own channel with B's Page ID is not B's Page either.
	chA := h.createChannel(a, channelBody(a, "fb_a2")).Channel.ID
	for _, rq := range []request{
		{method: http.MethodGet, path: "/v1/channels/" + chA + "/pages/777"},
		{method: http.MethodDelete, path: "/v1/channels/" + chA + "/pages/777"},
		{method: http.MethodPost, path: "/v1/channels/" + chA + "/pages/777/connect"},
		{method: http.MethodPost, path: "/v1/channels/" + chA + "/pages/777/messages",
			body: map[string]any{"recipientId": "123", "text": "stolen"}},
	} {
		rq.token = a.Admin
		requireError(t, h.do(rq), http.StatusNotFound, aicc.ENOTFOUND)
	}
	requireStatus(t, h.get("/v1/channels/"+chB+"/pages/777", b.Admin), http.StatusOK)
	requireStatus(t, h.get("/v1/conversations/"+convB.ID, b.Viewer), http.StatusOK)
	r = h.get("/v1/channels/"+chA+"/conversations", a.Admin)
	requireStatus(t, r, http.StatusOK)
	assert.JSONEq(t, `{"items":[]}`, string(r.Body))

	for _, path := range []string{"/v1/channels", "/v1/ous", "/v1/skill-queues", "/v1/service-calendars"} {
		r := h.get(path, a.Admin)
		requireStatus(t, r, http.StatusOK)
		for _, id := range []string{chB, b.OU, b.Queue, calB, "fb_b"} {
			assert.NotContains(t, string(r.Body), id, path)
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		r.decode(t, &page)
		require.NotEmpty(t, page.Items, "A's own items are listed: %s", path)
	}
}

func replaceIDs(path string, ids map[string]string) string {
	for from, to := range ids {
		path = strings.ReplaceAll(path, from, to)
	}
	return path
}
