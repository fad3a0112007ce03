package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPISpec describes every route of the API. Tests validate real requests and responses against it, so it
// cannot drift from the handlers.
//
//go:embed openapi.yaml
var openAPISpec []byte

func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openAPISpec)
}
