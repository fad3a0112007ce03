package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// getMe answers the caller's own API token as GET /v1/tokens shows a token: its ID, name, role, tenant and
// expiry, never its value. Every role may ask; the admin console reads the role here to decide what it shows.
func (s *Server) getMe(c *gin.Context) error {
	t, _ := c.Get(tokenKey)
	c.JSON(http.StatusOK, s.toTokenJSON(t.(*aicc.APIToken)))
	return nil
}
