package console_test

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc/console"
)

func serve(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// requireSecurityHeaders asserts the headers every answer carries, whatever its status.
func requireSecurityHeaders(t *testing.T, rec *httptest.ResponseRecorder, what string) {
	t.Helper()
	csp := rec.Header().Get("Content-Security-Policy")
	for _, directive := range []string{"default-src 'self'", "connect-src 'self'", "frame-ancestors 'none'",
		"object-src 'none'", "base-uri 'none'", "style-src 'self'"} {
		assert.Contains(t, csp, directive, what)
	}
	assert.NotContains(t, csp, "unsafe-inline", what)
	assert.NotContains(t, csp, "unsafe-eval", what)
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), what)
	assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"), what)
}

func TestIndexAndFiles(t *testing.T) {
	h := console.Handler()
	for _, tc := range []struct {
		target, contentType string
	}{
		{"/console/", "text/html; charset=utf-8"},
		{"/console/index.html", "text/html; charset=utf-8"},
		{"/console/app.js", "text/javascript; charset=utf-8"},
		{"/console/vendor/preact/preact.mjs", "text/javascript; charset=utf-8"},
		{"/console/style.css", "text/css; charset=utf-8"},
		{"/console/vendor/preact/LICENSE", "text/plain; charset=utf-8"},
	} {
		rec := serve(t, h, http.MethodGet, tc.target, nil)
		require.Equal(t, http.StatusOK, rec.Code, tc.target)
		requireSecurityHeaders(t, rec, tc.target)
		assert.Equal(t, tc.contentType, rec.Header().Get("Content-Type"), tc.target)
		assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"), tc.target)
		assert.Regexp(t, `^"[0-9a-f]{32}"$`, rec.Header().Get("ETag"), tc.target)
		assert.NotEmpty(t, rec.Body.Bytes(), tc.target)
	}
	index := serve(t, h, http.MethodGet, "/console/", nil)
	assert.Contains(t, index.Body.String(), `<script type="module" src="app.js">`)

	head := serve(t, h, http.MethodHead, "/console/app.js", nil)
	require.Equal(t, http.StatusOK, head.Code)
	assert.Empty(t, head.Body.Bytes())
	assert.Equal(t, serve(t, h, http.MethodGet, "/console/app.js", nil).Header().Get("ETag"), head.Header().Get("ETag"))
}

// A browser that holds the file's ETag is answered 304 without a body; another ETag gets the file.
func TestETagRevalidation(t *testing.T) {
	h := console.Handler()
	first := serve(t, h, http.MethodGet, "/console/lib/api.js", nil)
	etag := first.Header().Get("ETag")
	require.NotEmpty(t, etag)

	again := serve(t, h, http.MethodGet, "/console/lib/api.js", map[string]string{"If-None-Match": etag})
	assert.Equal(t, http.StatusNotModified, again.Code)
	assert.Empty(t, again.Body.Bytes())
	requireSecurityHeaders(t, again, "304")

	stale := serve(t, h, http.MethodGet, "/console/lib/api.js", map[string]string{"If-None-Match": `"0123"`})
	assert.Equal(t, http.StatusOK, stale.Code)
	assert.Equal(t, first.Body.String(), stale.Body.String())

	other := serve(t, h, http.MethodGet, "/console/lib/ui.js", nil).Header().Get("ETag")
	assert.NotEqual(t, etag, other, "each file has its own ETag")
}

// A browser that accepts gzip gets the console's files compressed (internal/static tests the negotiation),
// with the console's security headers all the same.
func TestGzip(t *testing.T) {
	h := console.Handler()
	plain := serve(t, h, http.MethodGet, "/console/app.js", nil)
	rec := serve(t, h, http.MethodGet, "/console/app.js", map[string]string{"Accept-Encoding": "gzip, deflate, br"})
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	requireSecurityHeaders(t, rec, "gzip")
	zr, err := gzip.NewReader(rec.Body)
	require.NoError(t, err)
	body, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, plain.Body.Bytes(), body)
}

func TestNotFoundAndRedirect(t *testing.T) {
	h := console.Handler()
	for _, target := range []string{"/console/nope.js", "/console/lib/", "/console/lib", "/console/../console.go",
		"/console/static/index.html", "/consoles/", "/other"} {
		rec := serve(t, h, http.MethodGet, target, nil)
		assert.Equal(t, http.StatusNotFound, rec.Code, target)
		requireSecurityHeaders(t, rec, target)
	}
	rec := serve(t, h, http.MethodGet, "/console", nil)
	assert.Equal(t, http.StatusMovedPermanently, rec.Code)
	assert.Equal(t, "/console/", rec.Header().Get("Location"))
	requireSecurityHeaders(t, rec, "redirect")
}

// The policy allows index.html's inline import map by its hash, and no other inline script; the browser
// hashes the script element's text exactly as it stands in the file.
func TestImportMapHash(t *testing.T) {
	h := console.Handler()
	rec := serve(t, h, http.MethodGet, "/console/", nil)
	scripts := regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`).FindAllStringSubmatch(rec.Body.String(), -1)
	var inline []string
	for _, s := range scripts {
		if strings.TrimSpace(s[2]) != "" {
			require.Contains(t, s[1], `type="importmap"`, "the only inline script is the import map")
			inline = append(inline, s[2])
		}
	}
	require.Len(t, inline, 1)
	sum := sha256.Sum256([]byte(inline[0]))
	want := "script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), want)
}

var (
	// staticImport is a module's `import … from './x.js'` or `export … from './x.js'`.
	staticImport = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*?from\s*'([^']+)'`)
	// dynamicImport is `import('./x.js')`, the screens routes.js loads on first use.
	dynamicImport = regexp.MustCompile(`import\('([^']+)'\)`)
	// pageRef is a src or href of index.html.
	pageRef = regexp.MustCompile(`(?:src|href)="([^"]+)"`)
	// importMapEntry is an address in the import map.
	importMapEntry = regexp.MustCompile(`"(\./vendor/[^"]+)"`)
)

// Every file that index.html, its import map and the modules refer to, the screens of the routes included, is
// served: a renamed or missing file fails here, not in a browser.
func TestReferencedFilesExist(t *testing.T) {
	h := console.Handler()
	exists := func(from, ref string) {
		t.Helper()
		if strings.HasPrefix(ref, "/") {
			return // a path of the API server, such as /docs
		}
		name := path.Join(path.Dir(from), ref)
		rec := serve(t, h, http.MethodGet, "/console/"+name, nil)
		assert.Equal(t, http.StatusOK, rec.Code, "%s refers to %s, which is not served", from, ref)
	}
	index, err := os.ReadFile("static/index.html")
	require.NoError(t, err)
	for _, m := range append(pageRef.FindAllStringSubmatch(string(index), -1),
		importMapEntry.FindAllStringSubmatch(string(index), -1)...) {
		exists("index.html", m[1])
	}
	modules := 0
	err = fs.WalkDir(os.DirFS("static"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" || strings.HasPrefix(p, "vendor/") {
			return err
		}
		modules++
		body, err := os.ReadFile("static/" + p)
		if err != nil {
			return err
		}
		for _, m := range staticImport.FindAllStringSubmatch(string(body), -1) {
			if strings.HasPrefix(m[1], ".") {
				exists(p, m[1])
			}
		}
		for _, m := range dynamicImport.FindAllStringSubmatch(string(body), -1) {
			exists(p, m[1])
		}
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, modules, 5, "app.js, routes.js and lib/*.js at least")
}
