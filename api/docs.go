package api

import (
	"embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// docsFiles are the pages a browser gets: an index of what the server offers, and the API reference, rendered
// from openapi.yaml by Redoc 2.5.4 (redoc.standalone.js, MIT, licence and notices in docs/redoc.LICENSE),
// served from the binary so that they work offline and load nothing from elsewhere.
//
//go:embed docs/index.html docs/docs.html docs/redoc.standalone.js docs/redoc.LICENSE
var docsFiles embed.FS

// serveDoc answers one embedded file with its media type.
func serveDoc(name, contentType string) gin.HandlerFunc {
	body, err := docsFiles.ReadFile("docs/" + name)
	if err != nil {
		panic(err) // the files are embedded: only a build without them gets here
	}
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, contentType, body)
	}
}
