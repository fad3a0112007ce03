package export

import (
	"archive/zip"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"time"

	"github.com/aiccfb/aicc"
)

// epoch is the time an export's files state as their own: the XLSX document times and the zip entries'
// modification times. A fixed time rather than the export's keeps the bytes a function of the records alone;
// 2000, because the zip format's MS-DOS times cannot hold a time before 1980.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Names of an export's files besides the channels' files: its manifest, and the zip of every file.
const (
	ManifestName = "manifest.json"
	ZipName      = "export.zip"
)

// Manifest describes an export: what was selected, and each file with its record count, size and SHA-256.
type Manifest struct {
	SchemaVersion int                  `json:"schemaVersion"` // aicc.ExportSchemaVersion: which columns the files have
	ExportID      string               `json:"exportId"`
	CreatedAt     time.Time            `json:"createdAt"`
	Format        aicc.ExportFormat    `json:"format"`
	Selection     aicc.ExportSelection `json:"selection"`
	Records       int                  `json:"records"`
	Files         []aicc.ExportFile    `json:"files"` // in order
}

// EncodeManifest returns m as indented JSON ending in a newline: the fields in their declared order,
// CreatedAt in UTC, no files as [], so the same manifest always has the same bytes.
func EncodeManifest(m Manifest) []byte {
	m.CreatedAt = m.CreatedAt.UTC()
	if m.Files == nil {
		m.Files = []aicc.ExportFile{}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		// Only a time outside years 0–9999 fails to encode; no clock gives one.
		panic("export: encode manifest: " + err.Error())
	}
	return append(b, '\n')
}

// DigestWriter passes writes on to a writer and counts and hashes what it took, to describe a file in the
// manifest as it is written.
type DigestWriter struct {
	w     io.Writer
	hash  hash.Hash
	bytes int64
}

// NewDigestWriter returns a DigestWriter writing to w.
func NewDigestWriter(w io.Writer) *DigestWriter {
	return &DigestWriter{w: w, hash: sha256.New()}
}

// Write writes p to the underlying writer; what it wrote is counted and hashed, even on an error.
func (d *DigestWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	d.hash.Write(p[:n])
	d.bytes += int64(n)
	return n, err
}

// Bytes returns how many bytes were written.
func (d *DigestWriter) Bytes() int64 { return d.bytes }

// SHA256 returns the hex SHA-256 of what was written.
func (d *DigestWriter) SHA256() string { return hex.EncodeToString(d.hash.Sum(nil)) }

// WriteZip writes a zip of the named files to w, in the order given, each read through open and copied in a
// stream, so no file is held in memory. Entries are deflated at the fastest level (CSV and JSONL still shrink
// several times, and deflating was a fifth of an export's CPU at the default level) and dated epoch, so the
// same files always give the same zip.
func WriteZip(ctx context.Context, w io.Writer, open func(name string) (io.ReadCloser, error), names []string) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := addToZip(zw, name, open); err != nil {
			return err
		}
	}
	return zw.Close()
}

func addToZip(zw *zip.Writer, name string, open func(name string) (io.ReadCloser, error)) error {
	r, err := open(name)
	if err != nil {
		return err
	}
	defer r.Close()
	entry, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch})
	if err != nil {
		return err
	}
	_, err = io.Copy(entry, r)
	return err
}
