package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

type tenantJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

func toTenantJSON(t *aicc.Tenant) tenantJSON {
	return tenantJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt.UTC()}
}

func (s *Server) createTenant(c *gin.Context) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: req.Name, CreatedAt: s.now()}
	if err := t.Validate(); err != nil {
		return err
	}
	entry := s.audit(c, aicc.AuditTenantCreate, aicc.AuditTarget{Type: aicc.TargetTenant, ID: t.ID}, "",
		map[string]string{aicc.DetailName: t.Name})
	if err := s.audited(c, entry, func(ctx context.Context) error { return s.Store.CreateTenant(ctx, t) }); err != nil {
		return err
	}
	s.log(c).Info("tenant created", "new_tenant_id", t.ID)
	c.JSON(http.StatusCreated, toTenantJSON(t))
	return nil
}

func (s *Server) listTenants(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	items, next, err := s.Store.ListTenants(c.Request.Context(), opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toTenantJSON))
	return nil
}

func (s *Server) getTenant(c *gin.Context) error {
	t, err := s.Store.GetTenant(c.Request.Context(), c.Param("tenantID"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toTenantJSON(t))
	return nil
}
