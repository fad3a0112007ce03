// Package console is the admin console: static ES modules (Preact, its hooks and htm, vendored by vendor.sh)
// embedded in the binary and served under /console/ on the admin listener. It has no build step and no
// backend of its own: the browser talks to the REST API under /v1 with the API token the user signs in with.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/aiccfb/aicc/internal/static"
)

// Prefix is the path the console is served under.
const Prefix = "/console/"

//go:embed static
var embedded embed.FS

// Handler serves the console under Prefix: index.html for Prefix itself, every other embedded file by its
// path (static.File.Serve: revalidated on every use against its ETag, compressed for a browser that accepts
// gzip), a redirect from the prefix without its slash, and 404 for anything else. Every answer carries a strict
// Content-Security-Policy (scripts only from the console's own files and its import map, nothing inline, no
// framing, requests only to this origin).
func Handler() http.Handler {
	st, err := loaded()
	if err != nil {
		panic(err) // the files are embedded: only a broken build gets here
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", st.csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		f, found := st.files[name]
		if !ok || !found {
			h.Set("Cache-Control", "no-store")
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		f.Serve(w, r)
	})
}

// site is the console's files by their path below static, and the Content-Security-Policy that allows
// index.html's import map by its hash.
type site struct {
	files map[string]*static.File
	csp   string
}

// loaded loads the embedded files once per process: every handler serves the same ones.
var loaded = sync.OnceValues(func() (*site, error) {
	files, err := static.Load(embedded, "static")
	if err != nil {
		return nil, err
	}
	index, ok := files["index.html"]
	if !ok {
		return nil, fmt.Errorf("console: static/index.html is missing")
	}
	importMap, err := importMap(index.Body())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(importMap)
	csp := "default-src 'self'; script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
		"form-action 'self'; frame-ancestors 'none'"
	return &site{files: files, csp: csp}, nil
})

// importMapOpen starts the one inline script index.html has; the browser hashes exactly the text between it
// and the next </script>, which the policy then allows.
const importMapOpen = `<script type="importmap">`

// importMap returns the text of the import map in an HTML page: what the Content-Security-Policy allows by
// its SHA-256 hash. A page without exactly one import map is an error.
func importMap(page []byte) ([]byte, error) {
	if bytes.Count(page, []byte(importMapOpen)) != 1 {
		return nil, fmt.Errorf("console: index.html must hold exactly one %s", importMapOpen)
	}
	_, rest, _ := bytes.Cut(page, []byte(importMapOpen))
	text, _, ok := bytes.Cut(rest, []byte("</script>"))
	if !ok {
		return nil, fmt.Errorf("console: index.html's import map is not closed")
	}
	return text, nil
}
