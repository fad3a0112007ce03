package export_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
)

func openStorage(t *testing.T, url string) *export.Storage {
	t.Helper()
	s, err := export.OpenStorage(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func put(t *testing.T, s *export.Storage, key, content string) {
	t.Helper()
	require.NoError(t, s.Put(context.Background(), key, func(w io.Writer) error {
		_, err := io.WriteString(w, content)
		return err
	}))
}

func read(t *testing.T, s *export.Storage, key string) string {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	require.NoError(t, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

func exists(t *testing.T, s *export.Storage, key string) bool {
	t.Helper()
	ok, err := s.Exists(context.Background(), key)
	require.NoError(t, err)
	return ok
}

// testStorage runs what every kind of storage must do.
func testStorage(t *testing.T, s *export.Storage) {
	ctx := context.Background()
	csvKey, zipKey := export.Key("exp_1", "channels-0001.csv"), export.Key("exp_1", "export.zip")
	other := export.Key("exp_10", "channels-0001.csv") // an export whose ID starts with the first's
	require.Equal(t, "exports/exp_1/channels-0001.csv", csvKey)
	require.Equal(t, "exports/exp_1/", export.Key("exp_1", ""))

	put(t, s, csvKey, "channel_id\nch_01\n")
	put(t, s, zipKey, "PK")
	put(t, s, other, "other")
	require.Equal(t, "channel_id\nch_01\n", read(t, s, csvKey))
	size, err := s.Size(ctx, csvKey)
	require.NoError(t, err)
	require.Equal(t, int64(len("channel_id\nch_01\n")), size)
	require.True(t, exists(t, s, csvKey))

	// A failed write leaves no object, and the one it would have replaced as it was.
	failed := errors.New("the database went away")
	half := func(w io.Writer) error {
		_, _ = io.WriteString(w, "half a file")
		return failed
	}
	require.ErrorIs(t, s.Put(ctx, export.Key("exp_1", "channels-0002.csv"), half), failed)
	require.False(t, exists(t, s, export.Key("exp_1", "channels-0002.csv")))
	require.ErrorIs(t, s.Put(ctx, csvKey, half), failed)
	require.Equal(t, "channel_id\nch_01\n", read(t, s, csvKey))

	missing := export.Key("exp_1", "channels-0009.csv")
	_, err = s.Open(ctx, missing)
	require.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(err))
	_, err = s.Size(ctx, missing)
	require.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(err))
	require.False(t, exists(t, s, missing))

	require.NoError(t, s.DeleteAll(ctx, export.Key("exp_1", "")))
	require.False(t, exists(t, s, csvKey))
	require.False(t, exists(t, s, zipKey))
	require.Equal(t, "other", read(t, s, other))
	require.NoError(t, s.DeleteAll(ctx, export.Key("exp_1", "")), "deleting again is no error")
}

func TestMemStorage(t *testing.T) {
	testStorage(t, openStorage(t, "mem://"))
}

func TestFileStorage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "store")
	s := openStorage(t, "file://"+dir)
	info, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, fs.ModeDir|0o700, info.Mode(), "the directory is created for the service alone")

	testStorage(t, s)

	// Nothing of exp_1 is left, not even its directory or a temporary file of the failed writes.
	var left []string
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			left = append(left, filepath.ToSlash(rel))
		}
		return err
	}))
	require.ElementsMatch(t, []string{"exports/exp_10/channels-0001.csv", "exports/exp_10/channels-0001.csv.attrs"}, left)
	_, err = os.Stat(filepath.Join(dir, "exports", "exp_1"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	info, err = os.Stat(filepath.Join(dir, "exports", "exp_10"))
	require.NoError(t, err)
	require.Equal(t, fs.ModeDir|0o700, info.Mode())
}

// TestOpenS3Storage opens an S3-compatible bucket with the parameters OpenStorage documents; opening does not
// reach the endpoint.
func TestOpenS3Storage(t *testing.T) {
	openStorage(t, "s3://exports?endpoint=http://127.0.0.1:9&region=us-east-1&s3ForcePathStyle=true&disableSSL=true")
	_, err := export.OpenStorage(context.Background(), "s3://exports?use_path_style=true")
	require.Error(t, err, "an unknown parameter is refused, not ignored")
}

func TestOpenStorageRejectsOtherSchemes(t *testing.T) {
	for _, url := range []string{"gs://bucket", "/var/lib/aicc", "http://example.com/x"} {
		_, err := export.OpenStorage(context.Background(), url)
		require.Error(t, err, url)
	}
}
