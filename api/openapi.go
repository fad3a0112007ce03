package api

import (
	_ "embed"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc/internal/static"
)

// openAPISpec describes every route of the API. Tests validate real requests and responses against it, so it
// cannot drift from the handlers.
//
//go:embed openapi.yaml
var openAPISpec []byte

// openAPIFile is openAPISpec ready to serve, compressed once per process.
var openAPIFile = sync.OnceValue(func() *static.File { return static.NewFile("openapi.yaml", openAPISpec) })

// serveOpenAPI answers the spec as application/yaml, revalidated against its ETag, compressed for a client that
// accepts gzip (static.File.Serve).
func serveOpenAPI(c *gin.Context) { openAPIFile().Serve(c.Writer, c.Request) }
