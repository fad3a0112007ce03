package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

// GET /v1/me answers each caller its own token, whatever the role, and never the token's value.
func TestMe(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	sysadmin := h.token("", aicc.RoleSysadmin)
	expires := h.now().Add(48 * time.Hour)
	viewer := h.createToken(tn.Admin, map[string]any{"name": "console viewer", "role": "tenant-viewer",
		"expiresAt": expires})

	for _, tc := range []struct {
		token, role, tenant string
	}{
		{tn.Admin, "tenant-admin", tn.ID},
		{tn.Viewer, "tenant-viewer", tn.ID},
		{sysadmin, "sysadmin", ""},
	} {
		r := h.get("/v1/me", tc.token)
		requireStatus(t, r, http.StatusOK)
		var me tokenInfo
		r.decode(t, &me)
		assert.Equal(t, tc.role, me.Role)
		assert.Equal(t, tc.tenant, me.TenantID, tc.role)
		assert.Equal(t, "active", me.Status, tc.role)
		assert.Empty(t, me.Token, "%s: the token's value is never answered", tc.role)
		assert.NotContains(t, string(r.Body), tc.token, tc.role)
	}

	r := h.get("/v1/me", viewer.Token)
	requireStatus(t, r, http.StatusOK)
	var me tokenInfo
	r.decode(t, &me)
	assert.Equal(t, viewer.ID, me.ID)
	assert.Equal(t, "console viewer", me.Name)
	require.NotNil(t, me.ExpiresAt)
	assert.True(t, expires.Equal(*me.ExpiresAt), "expiresAt %v, want %v", me.ExpiresAt, expires)
	// Its first use is this very request, and the answer says so.
	require.NotNil(t, me.LastUsedAt, "lastUsedAt")
	assert.True(t, h.now().Equal(*me.LastUsedAt), "lastUsedAt %v, want %v", me.LastUsedAt, h.now())

	requireStatus(t, h.delete("/v1/tokens/"+viewer.ID, tn.Admin), http.StatusNoContent)
	requireError(t, h.get("/v1/me", viewer.Token), http.StatusUnauthorized, aicc.EUNAUTH)
	requireError(t, h.get("/v1/me", ""), http.StatusUnauthorized, aicc.EUNAUTH)
}
