package api

import (
	"embed"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc/internal/static"
)

// docsFiles are the pages a browser gets: an index of what the server offers, and the API reference, rendered
// from openapi.yaml by Redoc 2.5.4 (redoc.standalone.js, MIT, licence and notices in docs/redoc.LICENSE),
// served from the binary so that they work offline and load nothing from elsewhere.
//
//go:embed docs/index.html docs/docs.html docs/redoc.standalone.js docs/redoc.LICENSE
var docsFiles embed.FS

// docs are docsFiles ready to serve, loaded (and compressed) once per process.
var docs = sync.OnceValue(func() map[string]*static.File {
	files, err := static.Load(docsFiles, "docs")
	if err != nil {
		panic(err) // the files are embedded: only a build without them gets here
	}
	return files
})

// serveDoc answers one embedded file: its media type, revalidated against its ETag, compressed for a browser
// that accepts gzip (static.File.Serve).
func serveDoc(name string) gin.HandlerFunc {
	f, ok := docs()[name]
	if !ok {
		panic("api: docs/" + name + " is not embedded")
	}
	return func(c *gin.Context) { f.Serve(c.Writer, c.Request) }
}
