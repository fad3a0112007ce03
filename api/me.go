package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// getMe answers the caller's own API token as GET /v1/tokens shows a token: its ID, name, role, tenant and
// expiry, never its value. Every role may ask; the admin console reads the role here to decide what it shows.
func (s *Server) getMe(c *gin.Context) error {
	// authenticate has checked the header and the token already; the token is read again for its name and
	// expiry, which the Principal does not carry.
	_, bearer, _ := strings.Cut(c.GetHeader("Authorization"), " ")
	t, err := s.Store.FindToken(c.Request.Context(), aicc.HashToken(strings.TrimSpace(bearer)), s.now())
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND:
		return aicc.Errorf(aicc.EUNAUTH, "The bearer token is not valid.") // revoked since authenticate
	case err != nil:
		return err
	}
	c.JSON(http.StatusOK, s.toTokenJSON(t))
	return nil
}
