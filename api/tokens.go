package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// tokenJSON is an API token as the API shows it: never its value nor its hash.
type tokenJSON struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Role      aicc.Role        `json:"role"`
	TenantID  string           `json:"tenantId,omitempty"`
	Status    aicc.TokenStatus `json:"status"`
	CreatedAt time.Time        `json:"createdAt"`
	// ExpiresAt, LastUsedAt and RevokedAt are absent for a token that does not expire, was never used, or is
	// not revoked.
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// tokenCreatedJSON is the answer to a token's creation: the token and, this once, its bearer value.
type tokenCreatedJSON struct {
	tokenJSON
	Token string `json:"token"`
}

func (s *Server) toTokenJSON(t *aicc.APIToken) tokenJSON {
	return tokenJSON{
		ID: t.ID, Name: t.Name, Role: t.Role, TenantID: t.TenantID, Status: t.Status(s.now()),
		CreatedAt: t.CreatedAt.UTC(), ExpiresAt: optTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt),
		RevokedAt: optTime(t.RevokedAt),
	}
}

// errNoSuchTenant answers a tenantId that names no tenant the caller manages: a missing tenant and another
// tenant's look alike to a tenant-admin.
var errNoSuchTenant = invalid("tenantId", "names no tenant this token manages")

// tokenTenant is the tenant whose tokens the request is about: for a tenant-admin its own (a tenantId, if
// given, must name it); for the sysadmin the tenantId given, or aicc.AnyTenant when there is none.
func tokenTenant(p aicc.Principal, tenantID string) (string, error) {
	switch {
	case p.Role == aicc.RoleSysadmin && tenantID == "":
		return aicc.AnyTenant, nil
	case p.Role == aicc.RoleSysadmin:
		return tenantID, nil
	case tenantID != "" && tenantID != p.TenantID:
		return "", errNoSuchTenant
	}
	return p.TenantID, nil
}

// createToken creates an API token of a tenant, a tenant-admin's or a tenant-viewer's, and answers its bearer
// value once. Sysadmin tokens are made only on the server, with aicc tokens create: no API token can mint one.
func (s *Server) createToken(c *gin.Context) error {
	var req struct {
		Name      string     `json:"name"`
		Role      aicc.Role  `json:"role"`
		TenantID  string     `json:"tenantId"`
		ExpiresAt *time.Time `json:"expiresAt"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	p := principalOf(c)
	if req.Role == aicc.RoleSysadmin {
		return invalid("role", "must be tenant-admin or tenant-viewer; sysadmin tokens are created on the server "+
			"with aicc tokens create")
	}
	tenant, tenantErr := tokenTenant(p, req.TenantID)
	switch {
	case tenantErr != nil:
		tenant = p.TenantID // the other fields are checked as if it were absent: every broken field at once
	case tenant == aicc.AnyTenant:
		tenant = ""
	}
	secret, tok := aicc.NewAPIToken(tenant, req.Role, req.Name, s.now())
	if req.ExpiresAt != nil {
		tok.ExpiresAt = req.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	if err := aicc.JoinInvalid(tenantErr, tok.Validate()); err != nil {
		return err
	}
	ctx := c.Request.Context()
	if p.Role == aicc.RoleSysadmin {
		if _, err := s.Store.GetTenant(ctx, tenant); aicc.ErrorCode(err) == aicc.ENOTFOUND {
			return errNoSuchTenant
		} else if err != nil {
			return err
		}
	}
	details := map[string]string{aicc.DetailTenantID: tok.TenantID, aicc.DetailRole: string(tok.Role), aicc.DetailName: tok.Name}
	if !tok.ExpiresAt.IsZero() {
		details[aicc.DetailExpiresAt] = tok.ExpiresAt.Format(time.RFC3339Nano)
	}
	entry := s.tokenAudit(c, aicc.AuditTokenCreate, tok.ID, details)
	if err := s.audited(c, entry, func(ctx context.Context) error { return s.Store.CreateToken(ctx, tok) }); err != nil {
		return err
	}
	s.log(c).Info("token created", "new_token_id", tok.ID, "role", string(tok.Role))
	c.JSON(http.StatusCreated, tokenCreatedJSON{tokenJSON: s.toTokenJSON(tok), Token: secret})
	return nil
}

// listTokens lists a tenant-admin's tenant's tokens, or for the sysadmin every token (?tenantId= narrows it to
// one tenant's), revoked and expired ones included, in creation order.
func (s *Server) listTokens(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	tenant, err := tokenTenant(principalOf(c), c.Query("tenantId"))
	if err != nil {
		return err
	}
	items, next, err := s.Store.ListTokens(c.Request.Context(), tenant, opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, s.toTokenJSON))
	return nil
}

// revokeToken revokes a token of the caller's tenant (any token for the sysadmin); the caller's own token
// included, whose next request is then refused. Revoking a revoked token again answers 204 as well, and keeps
// the first revocation.
func (s *Server) revokeToken(c *gin.Context) error {
	tenant, err := tokenTenant(principalOf(c), "")
	if err != nil {
		return err
	}
	entry := s.tokenAudit(c, aicc.AuditTokenRevoke, c.Param("tokenID"), nil)
	_, revoked, err := aicc.RevokeToken(c.Request.Context(), s.Store, entry, tenant, c.Param("tokenID"), s.now())
	if err != nil {
		return err
	}
	if revoked {
		s.log(c).Info("token revoked", "revoked_token_id", c.Param("tokenID"))
	}
	c.Status(http.StatusNoContent)
	return nil
}

// tokenAudit is the entry of a token's creation or revocation: a system entry, like those of the tokens the
// operator's commands create, that the sysadmin reads in GET /v1/system/audit; the details name the token's
// tenant, never its value.
func (s *Server) tokenAudit(c *gin.Context, action aicc.AuditAction, tokenID string, details map[string]string) *aicc.AuditEntry {
	e := s.audit(c, action, aicc.AuditTarget{Type: aicc.TargetToken, ID: tokenID}, "", details)
	e.TenantID = ""
	return e
}
