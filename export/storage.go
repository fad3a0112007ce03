package export

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/aiccfb/aicc"
)

// Storage keeps the files of exports in a blob bucket, under the keys Key gives.
type Storage struct {
	bucket *blob.Bucket
	dir    string // the directory of a file:// bucket, "" for any other
}

// OpenStorage opens the bucket at rawURL, one of:
//   - file:///abs/dir: a local directory, created (mode 0700) if it is missing. Unless the URL says otherwise,
//     the directories of keys are 0700 too (dir_file_mode=448) and a file is written next to its final path
//     and renamed into place (no_tmp_dir), because a rename from os.TempDir fails across mounts, as into a
//     container's volume. fileblob also takes metadata=skip (no .attrs sidecar files).
//   - s3://bucket?region=…: an S3 bucket, credentials from the AWS environment (AWS_ACCESS_KEY_ID,
//     AWS_SECRET_ACCESS_KEY, shared config and profile=…). gocloud.dev v0.38 uses AWS SDK v1 by default and
//     then takes region, endpoint, s3ForcePathStyle, disableSSL and profile; an S3-compatible store such as
//     MinIO is s3://bucket?endpoint=http://minio:9000&region=us-east-1&s3ForcePathStyle=true (disableSSL=true
//     for an endpoint without a scheme). awssdk=v2 takes only region, endpoint and profile; both take
//     ssetype and kmskeyid for server-side encryption.
//   - mem://: in memory, for tests.
func OpenStorage(ctx context.Context, rawURL string) (*Storage, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Storage{}
	switch u.Scheme {
	case fileblob.Scheme:
		q := u.Query()
		setDefault(q, "create_dir", "true")
		setDefault(q, "dir_file_mode", "448") // 0700; fileblob parses it in base 10
		setDefault(q, "no_tmp_dir", "true")
		u.RawQuery = q.Encode()
		s.dir = u.Path
		if u.Host == "." {
			s.dir = strings.TrimPrefix(u.Path, "/")
		}
	case memblob.Scheme, s3blob.Scheme:
	default:
		return nil, fmt.Errorf("URL scheme %q is none of file, s3 and mem", u.Scheme)
	}
	if s.bucket, err = blob.OpenBucket(ctx, u.String()); err != nil {
		return nil, err
	}
	return s, nil
}

func setDefault(q url.Values, key, value string) {
	if !q.Has(key) {
		q.Set(key, value)
	}
}

// Key returns the key of the file name of an export; with name "", the prefix of all its files.
func Key(exportID, name string) string { return "exports/" + exportID + "/" + name }

// Put stores what write writes under key, replacing any object there. The object appears only once write
// returned nil and the object was stored whole: when write or the store fails, the write is aborted (its
// context cancelled) and no object, partial or not, is left.
func (s *Storage) Put(ctx context.Context, key string, write func(w io.Writer) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(ctx, key, &blob.WriterOptions{ContentType: contentType(key)})
	if err != nil {
		return storageError(key, err)
	}
	if err := write(w); err != nil {
		cancel()
		_ = w.Close()
		return err
	}
	return storageError(key, w.Close())
}

// Open returns a reader of the object at key; a missing object is ENOTFOUND.
func (s *Storage) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, storageError(key, err)
	}
	return r, nil
}

// Size returns the size in bytes of the object at key; a missing object is ENOTFOUND.
func (s *Storage) Size(ctx context.Context, key string) (int64, error) {
	a, err := s.bucket.Attributes(ctx, key)
	if err != nil {
		return 0, storageError(key, err)
	}
	return a.Size, nil
}

// Exists reports whether there is an object at key.
func (s *Storage) Exists(ctx context.Context, key string) (bool, error) {
	ok, err := s.bucket.Exists(ctx, key)
	return ok, storageError(key, err)
}

// DeleteAll deletes every object whose key starts with prefix; it is idempotent. In a local directory, it
// also removes the directory of the prefix once it is empty, so expired exports leave nothing behind.
func (s *Storage) DeleteAll(ctx context.Context, prefix string) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return storageError(prefix, err)
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return storageError(obj.Key, err)
		}
	}
	if s.dir != "" && strings.HasSuffix(prefix, "/") {
		// Only an empty directory is removed; anything else (another writer's new file) keeps it.
		_ = os.Remove(filepath.Join(s.dir, filepath.FromSlash(path.Clean(prefix))))
	}
	return nil
}

// Close closes the bucket.
func (s *Storage) Close() error { return s.bucket.Close() }

// storageError makes a missing object ENOTFOUND and names the key in any other error.
func storageError(key string, err error) error {
	switch {
	case err == nil:
		return nil
	case gcerrors.Code(err) == gcerrors.NotFound:
		return aicc.Errorf(aicc.ENOTFOUND, "The export file %s does not exist.", path.Base(key))
	}
	return fmt.Errorf("export storage %s: %w", key, err)
}

// contentTypes are the media types of the files of an export, by extension.
var contentTypes = map[string]string{
	".csv":   "text/csv; charset=utf-8",
	".jsonl": "application/jsonl",
	".xlsx":  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".json":  "application/json",
	".zip":   "application/zip",
}

func contentType(key string) string {
	if t, ok := contentTypes[path.Ext(key)]; ok {
		return t
	}
	return "application/octet-stream"
}
