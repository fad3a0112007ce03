package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// chromium finds Debian's headless browser; .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium: .ci/run installs Debian's chromium for this check")
	return ""
}

// A browser at /docs gets the API reference, rendered offline from the embedded files: every route of the spec
// is on the page. The index at / links to it.
func TestDocsInABrowser(t *testing.T) {
	browser := chromium(t)
	h := newHarness(t)
	srv := httptest.NewServer(h.handler)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	index, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(index), `href="/docs"`)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--virtual-time-budget=20000", "--dump-dom", srv.URL+"/docs").Output()
	if err != nil {
		t.Fatalf("%s: %v", browser, err)
	}
	page := string(out)
	for path := range h.doc.Paths.Map() {
		if !strings.Contains(page, path) {
			t.Errorf("the rendered reference does not show %s", path)
		}
	}
}

// The reference's script (1 MB) and the spec go compressed to a browser that accepts gzip, and a browser that
// holds the ETag is answered 304 without them; every page keeps its media type.
func TestDocsFiles(t *testing.T) {
	h := newHarness(t)
	get := func(path string, header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.handler.ServeHTTP(rec, req)
		return rec
	}
	for path, contentType := range map[string]string{"/": "text/html; charset=utf-8", "/docs": "text/html; charset=utf-8",
		"/docs/redoc.standalone.js": "text/javascript; charset=utf-8", "/docs/redoc.LICENSE": "text/plain; charset=utf-8",
		"/openapi.yaml": "application/yaml"} {
		rec := get(path, nil)
		assert.Equal(t, http.StatusOK, rec.Code, path)
		assert.Equal(t, contentType, rec.Header().Get("Content-Type"), path)
		assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"), path)
	}
	for _, path := range []string{"/docs/redoc.standalone.js", "/openapi.yaml"} {
		plain := get(path, nil)
		zipped := get(path, map[string]string{"Accept-Encoding": "gzip"})
		assert.Equal(t, "gzip", zipped.Header().Get("Content-Encoding"), path)
		assert.Less(t, zipped.Body.Len(), plain.Body.Len()/2, path)
		again := get(path, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": zipped.Header().Get("ETag")})
		assert.Equal(t, http.StatusNotModified, again.Code, path)
		assert.Empty(t, again.Body.Bytes(), path)
	}
}
