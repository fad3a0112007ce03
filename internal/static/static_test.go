package static_test

import (
	"compress/gzip"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc/internal/static"
)

func load(t *testing.T) map[string]*static.File {
	t.Helper()
	files, err := static.Load(fstest.MapFS{
		"site/app.js":       {Data: []byte(strings.Repeat("export const answer = 42;\n", 400))},
		"site/lib/tiny.css": {Data: []byte("p{}")},
		"site/logo.png":     {Data: []byte(rand.Text() + rand.Text() + rand.Text())},
		"site/LICENSE":      {Data: []byte(strings.Repeat("Permission is hereby granted. ", 100))},
	}, "site")
	require.NoError(t, err)
	return files
}

func serve(f *static.File, method string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/x", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.Serve(rec, req)
	return rec
}

// Every file by its path below the directory, with its media type, no-cache and an ETag that revalidates.
func TestLoadAndServe(t *testing.T) {
	files := load(t)
	require.Len(t, files, 4)
	for name, contentType := range map[string]string{"app.js": "text/javascript; charset=utf-8",
		"lib/tiny.css": "text/css; charset=utf-8", "logo.png": "image/png", "LICENSE": "text/plain; charset=utf-8"} {
		f := files[name]
		require.NotNil(t, f, name)
		rec := serve(f, http.MethodGet, nil)
		require.Equal(t, http.StatusOK, rec.Code, name)
		assert.Equal(t, contentType, rec.Header().Get("Content-Type"), name)
		assert.Equal(t, "no-cache", rec.Header().Get("Cache-Control"), name)
		assert.Equal(t, f.Body(), rec.Body.Bytes(), name)
		etag := rec.Header().Get("ETag")
		assert.Regexp(t, `^"[0-9a-f]{32}"$`, etag, name)
		again := serve(f, http.MethodGet, map[string]string{"If-None-Match": etag})
		assert.Equal(t, http.StatusNotModified, again.Code, name)
		assert.Empty(t, again.Body.Bytes(), name)
	}
	head := serve(files["app.js"], http.MethodHead, nil)
	assert.Equal(t, http.StatusOK, head.Code)
	assert.Empty(t, head.Body.Bytes())
}

// A client that accepts gzip gets a file that compresses well compressed, under its own ETag, which
// revalidates too; one that does not, or refuses gzip by quality, gets it as it is. Files that compress badly
// (small, or random like an image) are always sent as they are, with no Vary.
func TestGzip(t *testing.T) {
	files := load(t)
	for _, name := range []string{"app.js", "LICENSE"} {
		f := files[name]
		plain := serve(f, http.MethodGet, nil)
		assert.Empty(t, plain.Header().Get("Content-Encoding"), name)
		assert.Equal(t, "Accept-Encoding", plain.Header().Get("Vary"), name)

		for _, accept := range []string{"gzip", "gzip, deflate, br, zstd", "br;q=1.0, GZIP;q=0.5", "*"} {
			rec := serve(f, http.MethodGet, map[string]string{"Accept-Encoding": accept})
			require.Equal(t, http.StatusOK, rec.Code, accept)
			require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"), accept)
			assert.Equal(t, "Accept-Encoding", rec.Header().Get("Vary"), accept)
			assert.Equal(t, plain.Header().Get("Content-Type"), rec.Header().Get("Content-Type"), accept)
			assert.Less(t, rec.Body.Len(), plain.Body.Len()/2, accept)
			zr, err := gzip.NewReader(rec.Body)
			require.NoError(t, err)
			body, err := io.ReadAll(zr)
			require.NoError(t, err)
			assert.Equal(t, plain.Body.Bytes(), body, accept)

			etag := rec.Header().Get("ETag")
			assert.NotEqual(t, plain.Header().Get("ETag"), etag, "the compressed representation has an ETag of its own")
			again := serve(f, http.MethodGet, map[string]string{"Accept-Encoding": accept, "If-None-Match": etag})
			assert.Equal(t, http.StatusNotModified, again.Code, accept)
		}
		for _, accept := range []string{"identity", "gzip;q=0", "gzip; q=0.000, *", "br", "*;q=0"} {
			rec := serve(f, http.MethodGet, map[string]string{"Accept-Encoding": accept})
			require.Equal(t, http.StatusOK, rec.Code, accept)
			assert.Empty(t, rec.Header().Get("Content-Encoding"), accept)
			assert.Equal(t, plain.Body.Bytes(), rec.Body.Bytes(), accept)
		}
	}
	for _, name := range []string{"lib/tiny.css", "logo.png"} {
		rec := serve(files[name], http.MethodGet, map[string]string{"Accept-Encoding": "gzip"})
		assert.Empty(t, rec.Header().Get("Content-Encoding"), name)
		assert.Empty(t, rec.Header().Get("Vary"), name)
		assert.Equal(t, files[name].Body(), rec.Body.Bytes(), name)
	}
}
