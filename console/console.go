// Package console is the admin console: static ES modules (Preact, its hooks and htm, vendored by vendor.sh)
// embedded in the binary and served under /console/ on the admin listener. It has no build step and no
// backend of its own: the browser talks to the REST API under /v1 with the API token the user signs in with.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Prefix is the path the console is served under.
const Prefix = "/console/"

//go:embed static
var static embed.FS

// file is one embedded file, ready to answer: as it is, and gzip-compressed when that makes it smaller.
type file struct {
	body        []byte
	contentType string
	etag        string
	gzipped     []byte // nil when compressing does not pay
	gzipETag    string // the compressed representation's own ETag
}

// contentTypes are the media types of the files the console holds, by extension; a file with another
// extension is served as text/plain, which a browser never runs.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".map":  "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// Handler serves the console under Prefix: index.html for Prefix itself, every other embedded file by its
// path, a redirect from the prefix without its slash, and 404 for anything else. Every answer carries a strict
// Content-Security-Policy (scripts only from the console's own files and its import map, nothing inline, no
// framing, requests only to this origin) and is revalidated on every use (no-cache) against an ETag, the
// file's SHA-256, so that a new binary's files are never mixed with an old one's. A browser that accepts gzip
// gets the text files compressed (once per process), under an ETag of their own.
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
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "no-cache")
		body, etag := f.body, f.etag
		if f.gzipped != nil {
			h.Add("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Values("Accept-Encoding")) {
				body, etag = f.gzipped, f.gzipETag
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}

// site is the console's files by their path below static, and the Content-Security-Policy that allows
// index.html's import map by its hash.
type site struct {
	files map[string]file
	csp   string
}

// loaded loads the embedded files once per process: every handler serves the same ones.
var loaded = sync.OnceValues(func() (*site, error) { return load(static) })

// load reads every file under static, and builds the policy.
func load(fsys fs.FS) (*site, error) {
	files := make(map[string]file)
	err := fs.WalkDir(fsys, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "text/plain; charset=utf-8"
		}
		sum := sha256.Sum256(body)
		f := file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		if f.gzipped, err = compress(body); err != nil {
			return err
		}
		if f.gzipped != nil {
			f.gzipETag = `"` + hex.EncodeToString(sum[:16]) + `-gzip"`
		}
		files[strings.TrimPrefix(p, "static/")] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	index, ok := files["index.html"]
	if !ok {
		return nil, fmt.Errorf("console: static/index.html is missing")
	}
	importMap, err := importMap(index.body)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(importMap)
	csp := "default-src 'self'; script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
		"form-action 'self'; frame-ancestors 'none'"
	return &site{files: files, csp: csp}, nil
}

// compress returns body gzip-compressed, or nil when that saves less than a tenth of it (images, small files).
func compress(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > len(body)*9/10 {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// acceptsGzip reports whether Accept-Encoding header values accept gzip: listed with a quality above zero, or
// not listed and * is.
func acceptsGzip(values []string) bool {
	var named, wildcard *bool // gzip's and *'s answer, when listed
	for _, v := range values {
		for coding := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(coding, ";")
			accepted := qualityAboveZero(params)
			switch name = strings.TrimSpace(name); {
			case strings.EqualFold(name, "gzip"):
				named = &accepted
			case name == "*":
				wildcard = &accepted
			}
		}
	}
	switch {
	case named != nil:
		return *named
	case wildcard != nil:
		return *wildcard
	}
	return false
}

// qualityAboveZero reports whether a coding's parameters ("q=0.5") leave it a quality above zero; without a
// q it is 1.
func qualityAboveZero(params string) bool {
	for param := range strings.SplitSeq(params, ";") {
		if q, ok := strings.CutPrefix(strings.TrimSpace(param), "q="); ok {
			return strings.Trim(q, "0.") != ""
		}
	}
	return true
}

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
