package export_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
)

func TestEncodeManifest(t *testing.T) {
	m := export.Manifest{
		SchemaVersion: aicc.ExportSchemaVersion, ExportID: "exp_1",
		CreatedAt: time.Date(2024, 5, 6, 9, 8, 9, 500, time.FixedZone("CEST", 2*3600)),
		Format:    aicc.ExportCSV,
		Selection: aicc.ExportSelection{Status: aicc.StatusActive, Name: "shop"},
		Records:   3,
		Files: []aicc.ExportFile{
			{Name: "channels-0001.csv", Records: 2, Bytes: 120, SHA256: "ab"},
			{Name: "channels-0002.csv", Records: 1, Bytes: 80, SHA256: "cd"},
		},
	}
	want := `{
  "schemaVersion": 2,
  "exportId": "exp_1",
  "createdAt": "2024-05-06T07:08:09.0000005Z",
  "format": "csv",
  "selection": {
    "status": "active",
    "name": "shop"
  },
  "records": 3,
  "files": [
    {
      "name": "channels-0001.csv",
      "records": 2,
      "bytes": 120,
      "sha256": "ab"
    },
    {
      "name": "channels-0002.csv",
      "records": 1,
      "bytes": 80,
      "sha256": "cd"
    }
  ]
}
`
	require.Equal(t, want, string(export.EncodeManifest(m)))
	require.Equal(t, export.EncodeManifest(m), export.EncodeManifest(m))

	m.Files = nil
	require.Contains(t, string(export.EncodeManifest(m)), `"files": []`)
}

func TestDigestWriter(t *testing.T) {
	var out bytes.Buffer
	d := export.NewDigestWriter(&out)
	for _, chunk := range []string{"channel_id,name\n", "", "ch_01,fb_main\n", strings.Repeat("x", 10_000)} {
		_, err := io.WriteString(d, chunk)
		require.NoError(t, err)
	}
	sum := sha256.Sum256(out.Bytes())
	require.Equal(t, int64(out.Len()), d.Bytes())
	require.Equal(t, hex.EncodeToString(sum[:]), d.SHA256())

	empty := export.NewDigestWriter(io.Discard)
	require.Zero(t, empty.Bytes())
	require.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", empty.SHA256())
}

// files are named contents, opened as the export's storage would.
type files map[string][]byte

func (f files) open(name string) (io.ReadCloser, error) {
	b, ok := f[name]
	if !ok {
		return nil, aicc.Errorf(aicc.ENOTFOUND, "no %s", name)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func TestWriteZip(t *testing.T) {
	records := sampleRecords()
	fs := files{
		"channels-0002.csv": writeFile(t, aicc.ExportCSV, records[1:]),
		"channels-0001.csv": writeFile(t, aicc.ExportCSV, records[:1]),
		"manifest.json":     export.EncodeManifest(export.Manifest{ExportID: "exp_1"}),
		"empty.csv":         nil,
	}
	names := []string{"channels-0001.csv", "channels-0002.csv", "empty.csv", "manifest.json"}
	write := func() []byte {
		var buf bytes.Buffer
		require.NoError(t, export.WriteZip(context.Background(), &buf, fs.open, names))
		return buf.Bytes()
	}
	b := write()
	require.Equal(t, b, write(), "the same files give the same zip")

	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	var got []string
	for _, f := range zr.File {
		got = append(got, f.Name)
		require.Equal(t, zip.Deflate, f.Method)
		require.True(t, f.Modified.Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)), f.Modified)
		r, err := f.Open()
		require.NoError(t, err)
		content, err := io.ReadAll(r)
		require.NoError(t, err)
		require.Equal(t, string(fs[f.Name]), string(content), f.Name)
	}
	require.Equal(t, names, got)
}

func TestWriteZipFails(t *testing.T) {
	err := export.WriteZip(context.Background(), io.Discard, files{}.open, []string{"missing.csv"})
	require.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(err))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = export.WriteZip(ctx, io.Discard, files{"a.csv": []byte("a")}.open, []string{"a.csv"})
	require.True(t, errors.Is(err, context.Canceled), err)
}
