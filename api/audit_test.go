package api_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/aiccfb/aicc"
)

// auditEntry is the audit entry JSON.
type auditEntry struct {
	ID        string `json:"id"`
	ChannelID string `json:"channelId"`
	Actor     struct {
		Type    string `json:"type"`
		TokenID string `json:"tokenId"`
		Role    string `json:"role"`
	} `json:"actor"`
	Action string `json:"action"`
	Target struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"target"`
	Details   map[string]string `json:"details"`
	RequestID string            `json:"requestId"`
	At        time.Time         `json:"at"`
}

// auditLog reads every entry at path through the API, page by page (limit 2), newest first.
func (h *harness) auditLog(path, token string) []auditEntry {
	h.t.Helper()
	all := []auditEntry{}
	cursor := ""
	for range 100 {
		p := path + "?limit=2"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		r := h.get(p, token)
		requireStatus(h.t, r, http.StatusOK)
		var page struct {
			Items      []auditEntry `json:"items"`
			NextCursor string       `json:"nextCursor"`
		}
		r.decode(h.t, &page)
		require.LessOrEqual(h.t, len(page.Items), 2)
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
	h.t.Fatal("the audit list does not end")
	return nil
}

// tokenID returns the ID of the API token with the given bearer value.
func (h *harness) tokenID(bearer string) string {
	h.t.Helper()
	tok, err := h.store.FindToken(context.Background(), aicc.HashToken(bearer), h.now())
	require.NoError(h.t, err)
	return tok.ID
}

// audited runs do and asserts that it left exactly one entry in the log at path, which it returns; fails
// asserts that it left none.
func (h *harness) audited(path, token string, do func()) auditEntry {
	h.t.Helper()
	before := h.auditLog(path, token)
	do()
	after := h.auditLog(path, token)
	require.Len(h.t, after, len(before)+1, "one new entry")
	require.Equal(h.t, before, after[1:], "the old entries are unchanged")
	return after[0]
}

func (h *harness) notAudited(path, token string, do func()) {
	h.t.Helper()
	before := h.auditLog(path, token)
	do()
	require.Equal(h.t, before, h.auditLog(path, token), "no new entry")
}

func requireActor(tb testing.TB, e auditEntry, tokenID, role string) {
	tb.Helper()
	assert.Equal(tb, "api_token", e.Actor.Type)
	assert.Equal(tb, tokenID, e.Actor.TokenID)
	assert.Equal(tb, role, e.Actor.Role)
	assert.NotEmpty(tb, e.RequestID)
}

func TestAuditLog(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	sys := h.token("", aicc.RoleSysadmin)
	adminID := h.tokenID(a.Admin)
	const tenantLog = "/v1/audit"
	appSecret := "CANARY-app-secret-" + hex.EncodeToString(aicc.RandomBytes(8))
	pageToken := "CANARY-page-token-" + hex.EncodeToString(aicc.RandomBytes(8))

	// Channel creation: the fingerprints of both secrets, as the channel shows them.
	body := channelBody(a, "fb_audit")
	body["appSecret"] = appSecret
	var c created
	e := h.audited(tenantLog, a.Viewer, func() { c = h.createChannel(a, body) })
	id := c.Channel.ID
	channelLog := "/v1/channels/" + id + "/audit"
	requireActor(t, e, adminID, "tenant-admin")
	assert.Equal(t, "channel.create", e.Action)
	assert.Equal(t, id, e.ChannelID)
	assert.Equal(t, "channel", e.Target.Type)
	assert.Equal(t, id, e.Target.ID)
	assert.Equal(t, c.Channel.AppSecret.Fingerprint, e.Details["appSecretFingerprint"])
	assert.Equal(t, c.Channel.VerifyToken.Fingerprint, e.Details["verifyTokenFingerprint"])
	assert.Equal(t, "fb_audit", e.Details["name"])
	assert.Equal(t, h.now(), e.At)
	h.notAudited(tenantLog, a.Viewer, func() {
		bad := channelBody(a, "bad name")
		bad["appSecret"] = appSecret
		requireError(t, h.post("/v1/channels", a.Admin, bad), http.StatusBadRequest, aicc.EINVALID)
		requireError(t, h.post("/v1/channels", a.Admin, channelBody(a, "fb_audit")), http.StatusConflict, aicc.ECHANNELNAMETAKEN)
	})

	// Update: the names of the changed fields, never their values.
	e = h.audited(channelLog, a.Viewer, func() {
		requireStatus(t, h.patch("/v1/channels/"+id, a.Admin, map[string]any{
			"name": "fb_audit2", "basic": map[string]any{"transferKeywords": []string{"agent"}},
		}), http.StatusOK)
	})
	requireActor(t, e, adminID, "tenant-admin")
	assert.Equal(t, "channel.update", e.Action)
	assert.Equal(t, map[string]string{"changedFields": "basic.transferKeywords,name"}, e.Details)
	h.notAudited(channelLog, a.Viewer, func() {
		requireError(t, h.patch("/v1/channels/"+id, a.Admin, map[string]any{"name": "bad name"}), http.StatusBadRequest, aicc.EINVALID)
		other := h.createChannel(a, channelBody(a, "fb_other")).Channel.ID
		requireError(t, h.patch("/v1/channels/"+other, a.Admin, map[string]any{"name": "fb_audit2"}),
			http.StatusConflict, aicc.ECHANNELNAMETAKEN)
	})

	// Verify-token replacement: the new and the previous fingerprint.
	e = h.audited(channelLog, a.Viewer, func() {
		requireStatus(t, h.post("/v1/channels/"+id+"/verify-token", a.Admin, nil), http.StatusOK)
	})
	assert.Equal(t, "channel.verify_token.replace", e.Action)
	assert.Equal(t, h.getChannel(a, id).VerifyToken.Fingerprint, e.Details["verifyTokenFingerprint"])
	assert.Equal(t, c.Channel.VerifyToken.Fingerprint, e.Details["previousFingerprint"])
	assert.NotEqual(t, e.Details["verifyTokenFingerprint"], e.Details["previousFingerprint"])

	// Page add: the token's fingerprint, as the Page shows it. A refused Page leaves nothing.
	var p page
	e = h.audited(channelLog, a.Viewer, func() {
		r := h.post(pagesPath(id), a.Admin, map[string]any{"pageId": "5005", "tokenSecret": pageToken, "name": "Shop"})
		requireStatus(t, r, http.StatusCreated)
		p = decodePage(t, r)
	})
	requireActor(t, e, adminID, "tenant-admin")
	assert.Equal(t, "page.add", e.Action)
	assert.Equal(t, "page", e.Target.Type)
	assert.Equal(t, "5005", e.Target.ID)
	assert.Equal(t, id, e.ChannelID)
	assert.Equal(t, p.TokenSecret.Fingerprint, e.Details["tokenSecretFingerprint"])
	h.notAudited(channelLog, a.Viewer, func() {
		requireError(t, h.post(pagesPath(id), a.Admin, map[string]any{"pageId": "shop", "tokenSecret": pageToken}),
			http.StatusBadRequest, aicc.EINVALID)
		requireError(t, h.post(pagesPath(id), a.Admin, map[string]any{"pageId": "5005", "tokenSecret": pageToken}),
			http.StatusConflict, aicc.EPAGECONNECTED)
	})

	// Page removal: the request the workflow accepted; none when Temporal did not take it.
	h.notAudited(channelLog, a.Viewer, func() {
		h.flows.failNext("ExecuteWorkflow", serviceerror.NewUnavailable("down"))
		requireError(t, h.delete(pagesPath(id)+"/5005", a.Admin), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	})
	e = h.audited(channelLog, a.Viewer, func() {
		requireStatus(t, h.delete(pagesPath(id)+"/5005", a.Admin), http.StatusNoContent)
	})
	assert.Equal(t, "page.remove_requested", e.Action)
	assert.Equal(t, "5005", e.Target.ID)
	assert.Equal(t, p.TokenSecret.Fingerprint, e.Details["tokenSecretFingerprint"])

	// Channel deletion: the request; none when Temporal did not answer.
	h.notAudited(channelLog, a.Viewer, func() {
		h.flows.failNext("UpdateWithStartWorkflow", serviceerror.NewUnavailable("down"))
		requireError(t, h.delete("/v1/channels/"+id, a.Admin), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	})
	e = h.audited(channelLog, a.Viewer, func() { requireStatus(t, h.delete("/v1/channels/"+id, a.Admin), http.StatusAccepted) })
	requireActor(t, e, adminID, "tenant-admin")
	assert.Equal(t, "channel.delete_requested", e.Action)
	h.notAudited(channelLog, a.Viewer, func() {
		requireError(t, h.patch("/v1/channels/"+id, a.Admin, map[string]any{"name": "late"}), http.StatusConflict, aicc.ECHANNELDELETING)
		requireError(t, h.post("/v1/channels/"+id+"/verify-token", a.Admin, nil), http.StatusConflict, aicc.ECHANNELDELETING)
	})

	// The channel's log has its own entries, newest first; the tenant's has them too, and the other channel's.
	chLog := h.auditLog(channelLog, a.Viewer)
	var actions []string
	for _, e := range chLog {
		actions = append(actions, e.Action)
		assert.Equal(t, id, e.ChannelID)
	}
	assert.Equal(t, []string{"channel.delete_requested", "page.remove_requested", "page.add", "channel.verify_token.replace",
		"channel.update", "channel.create"}, actions)
	tenantEntries := h.auditLog(tenantLog, a.Admin)
	assert.Len(t, tenantEntries, len(chLog)+1, "and fb_other's creation")

	// Tenant isolation: B sees none of A's entries, and A's channel log is a 404 like a missing channel.
	assert.Empty(t, h.auditLog(tenantLog, b.Admin))
	missing := requireError(t, h.get("/v1/channels/ch_missing/audit", b.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
	assert.Equal(t, missing, requireError(t, h.get(channelLog, b.Viewer), http.StatusNotFound, aicc.ENOTFOUND))
	requireError(t, h.get(tenantLog, sys), http.StatusForbidden, aicc.EFORBIDDEN)
	requireError(t, h.get("/v1/system/audit", a.Admin), http.StatusForbidden, aicc.EFORBIDDEN)
	requireError(t, h.get(tenantLog+"?cursor=nope", a.Admin), http.StatusBadRequest, aicc.EINVALID)

	// The system's log: tenant creation and certificate upload by the sysadmin; refused ones leave nothing.
	const systemLog = "/v1/system/audit"
	sysID := h.tokenID(sys)
	var tenantID string
	e = h.audited(systemLog, sys, func() {
		r := h.post("/v1/tenants", sys, map[string]any{"name": "C"})
		requireStatus(t, r, http.StatusCreated)
		tenantID = idOf(t, r)
	})
	requireActor(t, e, sysID, "sysadmin")
	assert.Equal(t, "tenant.create", e.Action)
	assert.Equal(t, "tenant", e.Target.Type)
	assert.Equal(t, tenantID, e.Target.ID)
	assert.Empty(t, e.ChannelID)
	pem := selfSigned(t, h.now().Add(-time.Hour), h.now().Add(24*time.Hour))
	var certID string
	e = h.audited(systemLog, sys, func() {
		r := h.post("/v1/system/certificates", sys, map[string]any{"pem": pem})
		requireStatus(t, r, http.StatusCreated)
		certID = idOf(t, r)
	})
	assert.Equal(t, "certificate.upload", e.Action)
	assert.Equal(t, certID, e.Target.ID)
	assert.NotEmpty(t, e.Details["sha256"])
	h.notAudited(systemLog, sys, func() {
		requireError(t, h.post("/v1/tenants", sys, map[string]any{"name": "C"}), http.StatusConflict, aicc.ECONFLICT)
		requireError(t, h.post("/v1/tenants", sys, map[string]any{"name": ""}), http.StatusBadRequest, aicc.EINVALID)
		requireError(t, h.post("/v1/system/certificates", sys, map[string]any{"pem": pem}), http.StatusConflict, aicc.ECONFLICT)
	})
	for _, e := range h.auditLog(systemLog, sys) {
		assert.NotEqual(t, "channel.create", e.Action, "no tenant entry in the system log")
	}
	for _, e := range tenantEntries {
		assert.NotContains(t, []string{"tenant.create", "certificate.upload", "token.create"}, e.Action)
	}

	// No route changes or deletes entries.
	for _, path := range []string{tenantLog, channelLog, systemLog} {
		for _, method := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost} {
			requireError(t, h.do(request{method: method, path: path, token: a.Admin, body: map[string]any{}}),
				http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		}
	}
	assert.Equal(t, tenantEntries, h.auditLog(tenantLog, a.Admin))

	// The canary secrets, the verify tokens and the bearer tokens are in no audit answer.
	for i, body := range h.rec.bodies {
		if !strings.Contains(body, `"action"`) {
			continue
		}
		for _, secret := range []string{appSecret, pageToken, c.MetaSetup.VerifyToken, a.Admin, sys} {
			assert.NotContains(t, body, secret, "audit answer %d", i)
		}
	}
}

// TestAuditEntriesHoldNoSecret looks at the entries as stored.
func TestAuditEntriesHoldNoSecret(t *testing.T) {
	h := newHarness(t)
	a := h.newTenant("A")
	appSecret := "CANARY-app-secret-" + hex.EncodeToString(aicc.RandomBytes(8))
	pageToken := "CANARY-page-token-" + hex.EncodeToString(aicc.RandomBytes(8))
	body := channelBody(a, "fb_canary")
	body["appSecret"] = appSecret
	c := h.createChannel(a, body)
	requireStatus(t, h.post(pagesPath(c.Channel.ID), a.Admin, map[string]any{"pageId": "6006", "tokenSecret": pageToken}),
		http.StatusCreated)
	r := h.post("/v1/channels/"+c.Channel.ID+"/verify-token", a.Admin, nil)
	requireStatus(t, r, http.StatusOK)
	entries, _, err := h.store.ListAudit(context.Background(), aicc.AuditFilter{TenantID: a.ID})
	require.NoError(t, err)
	require.Len(t, entries, 3)
	var newVerify struct {
		VerifyToken string `json:"verifyToken"`
	}
	r.decode(t, &newVerify)
	for _, e := range entries {
		for k, v := range e.Details {
			for _, secret := range []string{appSecret, pageToken, c.MetaSetup.VerifyToken, newVerify.VerifyToken} {
				assert.NotContains(t, v, secret, "%s %s", e.Action, k)
			}
		}
	}
}
