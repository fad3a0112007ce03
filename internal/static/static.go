// Package static serves files embedded in the binary: each revalidated on every use (no-cache) against an
// ETag, its SHA-256, so that a new binary's files are never mixed with an old one's, and gzip-compressed for a
// client that accepts gzip, under an ETag of its own, when that makes it a tenth smaller or more.
package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// File is one file, ready to answer.
type File struct {
	body        []byte
	contentType string
	etag        string
	gzipped     []byte // nil when compressing does not pay
	gzipETag    string
}

// contentTypes are the media types of the files served, by extension; a file with another extension is
// served as text/plain, which a browser never runs.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".map":  "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".yaml": "application/yaml",
}

// Load reads every file under dir of fsys, by its path below dir, and compresses those that gain by it.
func Load(fsys fs.FS, dir string) (map[string]*File, error) {
	files := make(map[string]*File)
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, dir+"/")] = NewFile(p, body)
		return nil
	})
	return files, err
}

// NewFile makes a File of body, with the media type of name's extension, compressed when it gains by it.
func NewFile(name string, body []byte) *File {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		ct = "text/plain; charset=utf-8"
	}
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:16])
	f := &File{body: body, contentType: ct, etag: `"` + tag + `"`, gzipped: compress(body)}
	if f.gzipped != nil {
		f.gzipETag = `"` + tag + `-gzip"`
	}
	return f
}

// Body is the file's content.
func (f *File) Body() []byte { return f.body }

// Serve answers r with the file: its media type, no-cache, its ETag (a 304 when the client holds it), and the
// compressed representation when the client accepts gzip; a HEAD gets the headers alone, a Range the range.
func (f *File) Serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
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
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// compress returns body gzip-compressed, or nil when that saves less than a tenth of it (images, small files).
func compress(body []byte) []byte {
	var buf bytes.Buffer
	// Neither can fail: the level is valid, and a bytes.Buffer takes every write.
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(body)
	_ = zw.Close()
	if buf.Len() > len(body)*9/10 {
		return nil
	}
	return buf.Bytes()
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
