// Package s3blob stores blobs as objects in an S3-compatible bucket (AWS S3,
// MinIO, GCS through its S3 interoperability API): the production blob
// backend, reached through minio-go/v7.
//
// S3 gives the guarantees blob.Store asks for without extra machinery: a
// successful PUT (or CompleteMultipartUpload) is durable, and an object is
// replaced atomically, so readers see the old or the new version, never a
// mix. Keys map to object names "PREFIX/KEY".
//
// Known quirks the code deals with:
//   - GetObject is lazy; a missing key only shows on the first request, so
//     Open issues a HEAD first to report blob.ErrNotFound at Open.
//   - A 404 to a HEAD has no body; minio-go synthesises NoSuchKey for it,
//     and some servers answer "NotFound", so both map to blob.ErrNotFound.
//   - Uploads of unknown size are always multipart in minio-go and cost a
//     PartSize buffer; Put therefore sniffs small bodies and sends them as
//     a single PUT.
//   - A multipart upload that fails or is cancelled is aborted by minio-go
//     on a context detached from the cancelled one, so no parts linger. A
//     process killed mid-upload does leave parts behind: give production
//     buckets an AbortIncompleteMultipartUpload lifecycle rule.
//   - minio-go's parallel uploader reads an io.ReaderAt from offset 0, so a
//     partly consumed reader is handed over as a section at its position.
//   - minio.Object.ReadAt latches io.EOF for later Reads once a ReadAt
//     touches the end, so Reader.ReadAt issues its own ranged GETs.
//   - A reader that outlives a replacement of its blob would splice two
//     versions across range requests; every GET after Open carries
//     If-Match with the ETag seen at Open, turning that into an error.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/cairn-dev/cairn/storage/blob"
)

const (
	// DefaultPartSize is the multipart part size when Config.PartSize is 0.
	DefaultPartSize = 16 << 20
	// minPartSize and maxPartSize are S3's limits on a part (the last part
	// may be smaller).
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	// smallPut bounds how much of a body of unknown size Put buffers to
	// decide between a single PUT and a multipart upload: most minidumps
	// fit, and a small blob then costs one request instead of three and no
	// PartSize buffer.
	smallPut = 1 << 20
)

// Config locates a bucket and the credentials to use it. The zero values
// select AWS and its default credentials chain.
type Config struct {
	// Endpoint is host[:port], without scheme; "" means AWS
	// (s3.amazonaws.com).
	Endpoint string
	// Region is the bucket's region; "" lets the client discover it.
	Region string
	// Bucket holds the blobs; required.
	Bucket string
	// Prefix is prepended to every key, joined with "/", so several stores
	// (or installations) can share one bucket. Leading and trailing slashes
	// are ignored; the rest must be a valid blob key.
	Prefix string
	// AccessKey and SecretKey are static credentials; both "" selects the
	// AWS environment, shared credentials file and instance role chain.
	AccessKey, SecretKey string
	// Insecure selects plain HTTP (test servers, MinIO on loopback).
	Insecure bool
	// PartSize is the part size of multipart uploads, used for large or
	// unknown-size blobs (default DefaultPartSize, at least 5 MiB). An
	// upload of unknown size holds one part in memory.
	PartSize uint64
	// CreateBucket makes the bucket if it does not exist (tests, first
	// start); otherwise a missing bucket fails Open.
	CreateBucket bool
}

// String describes the configuration for logs and errors with the secret
// key redacted.
func (c Config) String() string {
	secret := ""
	if c.SecretKey != "" {
		secret = "REDACTED"
	}
	return fmt.Sprintf("s3blob.Config{Endpoint:%q Region:%q Bucket:%q Prefix:%q AccessKey:%q SecretKey:%q Insecure:%v PartSize:%d CreateBucket:%v}",
		c.endpoint(), c.Region, c.Bucket, c.Prefix, c.AccessKey, secret, c.Insecure, c.PartSize, c.CreateBucket)
}

// LogValue keeps the secret key out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.endpoint()),
		slog.String("region", c.Region),
		slog.String("bucket", c.Bucket),
		slog.String("prefix", c.Prefix),
		slog.Bool("static_credentials", c.AccessKey != ""),
		slog.Bool("insecure", c.Insecure),
	)
}

func (c Config) endpoint() string {
	if c.Endpoint == "" {
		return "s3.amazonaws.com"
	}
	return c.Endpoint
}

// Store is a blob.Store over one bucket and prefix. It is safe for
// concurrent use.
type Store struct {
	client   *minio.Client
	bucket   string
	prefix   string // "" or ending in "/"
	endpoint string
	partSize uint64
}

var (
	_ blob.Store      = (*Store)(nil)
	_ blob.FilePutter = (*Store)(nil)
)

// Open validates cfg, connects and checks that the bucket is reachable with
// the credentials given (creating it if cfg.CreateBucket), so a wrong
// configuration fails at start-up rather than on the first crash report.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	endpoint := cfg.endpoint()
	if strings.Contains(endpoint, "://") || strings.Contains(endpoint, "/") {
		return nil, fmt.Errorf("s3blob: endpoint %q: want host[:port] without scheme or path (set Insecure for plain HTTP)", endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3blob: no bucket configured")
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("s3blob: bucket %q: %w", cfg.Bucket, err)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		if !blob.ValidKey(prefix) {
			return nil, fmt.Errorf("s3blob: prefix %q: want slash-separated segments of [A-Za-z0-9._-]", cfg.Prefix)
		}
		prefix += "/"
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("s3blob: set both AccessKey and SecretKey, or neither to use the AWS credentials chain")
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < minPartSize || partSize > maxPartSize {
		return nil, fmt.Errorf("s3blob: part size %d: want 5 MiB to 5 GiB", partSize)
	}

	var creds *credentials.Credentials
	if cfg.AccessKey != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport}},
		})
	}
	tr, err := minio.DefaultTransport(!cfg.Insecure)
	if err != nil {
		return nil, fmt.Errorf("s3blob: transport: %w", err)
	}
	client, err := minio.New(endpoint, &minio.Options{Creds: creds, Secure: !cfg.Insecure, Region: cfg.Region, Transport: tr})
	if err != nil {
		return nil, fmt.Errorf("s3blob: endpoint %s: %w", endpoint, err)
	}
	s := &Store{client: client, bucket: cfg.Bucket, prefix: prefix, endpoint: endpoint, partSize: partSize}
	if err := s.checkBucket(ctx, cfg); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) checkBucket(ctx context.Context, cfg Config) error {
	where := fmt.Sprintf("bucket %q at %s", s.bucket, s.endpoint)
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("s3blob: %s: %w", where, ctx.Err())
		}
		switch minio.ToErrorResponse(err).Code {
		case minio.AccessDenied, "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken":
			return fmt.Errorf("s3blob: %s: credentials rejected; check AccessKey/SecretKey (or the instance role) and the bucket policy: %w", where, err)
		}
		return fmt.Errorf("s3blob: %s: unreachable; check Endpoint, Insecure (HTTP vs HTTPS) and the network: %w", where, err)
	}
	if ok {
		return nil
	}
	if !cfg.CreateBucket {
		return fmt.Errorf("s3blob: %s does not exist; create it or set CreateBucket", where)
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: cfg.Region})
	if err != nil {
		// Two processes starting together may both try to create it.
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return fmt.Errorf("s3blob: create %s: %w", where, err)
	}
	return nil
}

// object returns the object name of key, or ErrInvalidKey.
func (s *Store) object(key string) (string, error) {
	if !blob.ValidKey(key) {
		return "", fmt.Errorf("s3blob: %q: %w", key, blob.ErrInvalidKey)
	}
	return s.prefix + key, nil
}

// Put implements blob.Store. Bodies of known size (bytes and strings
// readers, regular files) go up as one PUT, or as parallel multipart parts
// read with ReadAt when larger than PartSize; other bodies are sniffed up
// to 1 MiB and, when longer, streamed as a multipart upload holding one
// part in memory. The object appears only when the upload completes.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	body, size, err := sized(r)
	if err != nil {
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	if size < 0 {
		var head bytes.Buffer
		n, err := head.ReadFrom(io.LimitReader(ctxReader{ctx, r}, smallPut+1))
		if err != nil {
			return s.fail(ctx, "put", key, err)
		}
		if n <= smallPut {
			body, size = bytes.NewReader(head.Bytes()), n
		} else {
			body = io.MultiReader(&head, ctxReader{ctx, r})
		}
	}
	return s.put(ctx, key, name, body, size)
}

func (s *Store) put(ctx context.Context, key, name string, body io.Reader, size int64) error {
	opts := minio.PutObjectOptions{PartSize: s.partSize, ContentType: "application/octet-stream"}
	if _, err := s.client.PutObject(ctx, s.bucket, name, body, size, opts); err != nil {
		return s.fail(ctx, "put", key, err)
	}
	return nil
}

// PutFile implements blob.FilePutter: the file is uploaded from disk (in
// parallel parts read with ReadAt when larger than PartSize, never loaded
// whole) and removed once the object exists. On failure the file is left
// in place for the caller to retry or remove.
func (s *Store) PutFile(ctx context.Context, key, path string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("s3blob: put %s: %s is not a regular file", key, path)
	}
	err = s.put(ctx, key, name, io.NewSectionReader(f, 0, st.Size()), st.Size())
	f.Close()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("s3blob: put %s: stored, but removing %s: %w", key, path, err)
	}
	return nil
}

// Open implements blob.Store. The returned *Reader streams the object and
// also implements io.ReaderAt and io.Seeker (ranged GETs), so callers that
// parse a blob in place may type-assert io.ReaderAt and take its Size. The
// reader is bound to ctx: cancelling it ends reads in progress.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3blob: open %s: %w", key, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.fail(ctx, "open", key, err)
	}
	// The HEAD behind Stat reports a missing key now rather than on the
	// first Read, and pins the ETag that later range requests must match.
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, s.fail(ctx, "open", key, err)
	}
	return &Reader{obj: obj, s: s, ctx: ctx, key: key, name: name, etag: info.ETag, size: info.Size}, nil
}

// Size implements blob.Store.
func (s *Store) Size(ctx context.Context, key string) (int64, error) {
	name, err := s.object(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("s3blob: size %s: %w", key, err)
	}
	info, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return 0, s.fail(ctx, "size", key, err)
	}
	return info.Size, nil
}

// Delete implements blob.Store. S3 answers a DELETE of a missing object with
// success; a NoSuchKey from a stricter server is treated the same way.
func (s *Store) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: delete %s: %w", key, err)
	}
	err = s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return s.fail(ctx, "delete", key, err)
	}
	return nil
}

// fail wraps err from operation op on key. A cancelled context wins over
// whatever transport error it caused, so callers can test errors.Is with
// context.Canceled; a missing object becomes blob.ErrNotFound.
func (s *Store) fail(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("s3blob: %s %s: %w", op, key, cerr)
	}
	if isNotFound(err) {
		return fmt.Errorf("s3blob: %s %s: %w", op, key, blob.ErrNotFound)
	}
	return fmt.Errorf("s3blob: %s %s: %w", op, key, err)
}

func isNotFound(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, "NotFound":
		return true
	}
	return false
}

// sized returns a body whose length is known without reading it, and that
// length, or r and -1. Readers that also implement io.ReaderAt are handed
// to minio-go as a section starting at their current position, because its
// parallel uploader reads with ReadAt from offset 0.
func sized(r io.Reader) (io.Reader, int64, error) {
	switch v := r.(type) {
	case *bytes.Reader:
		off := v.Size() - int64(v.Len())
		return io.NewSectionReader(v, off, int64(v.Len())), int64(v.Len()), nil
	case *strings.Reader:
		off := v.Size() - int64(v.Len())
		return io.NewSectionReader(v, off, int64(v.Len())), int64(v.Len()), nil
	case *bytes.Buffer:
		return v, int64(v.Len()), nil
	case *os.File:
		st, err := v.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return r, -1, nil
		}
		off, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, 0, err
		}
		n := max(st.Size()-off, 0)
		return io.NewSectionReader(v, off, n), n, nil
	}
	return r, -1, nil
}

// Reader is an open blob. Beyond io.ReadCloser it implements io.Seeker,
// io.ReaderAt (one ranged GET per call; calls may run in parallel) and
// Size. Every request after the first is conditional on the object's ETag,
// so a blob replaced while open makes reads fail instead of mixing two
// versions.
type Reader struct {
	obj  *minio.Object // the sequential stream, for Read and Seek
	s    *Store
	ctx  context.Context
	key  string
	name string
	etag string
	size int64
}

var (
	_ io.ReadSeekCloser = (*Reader)(nil)
	_ io.ReaderAt       = (*Reader)(nil)
)

// Size returns the length of the blob as it was when opened.
func (r *Reader) Size() int64 { return r.size }

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	return n, r.wrap(err)
}

// ReadAt implements io.ReaderAt. It does not go through the minio.Object:
// that one's ReadAt serialises callers and, on a read that touches the end,
// latches io.EOF so the sequential Read stops early.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("s3blob: read %s: negative offset %d", r.key, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), r.size-off))
	if want == 0 {
		return 0, nil
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+int64(want)-1); err != nil {
		return 0, r.wrap(err)
	}
	if r.etag != "" {
		opts.SetMatchETag(r.etag)
	}
	body, _, _, err := minio.Core{Client: r.s.client}.GetObject(r.ctx, r.s.bucket, r.name, opts)
	if err != nil {
		return 0, r.wrap(err)
	}
	defer body.Close()
	n, err := io.ReadFull(body, p[:want])
	if err != nil {
		return n, r.wrap(err)
	}
	if want < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	n, err := r.obj.Seek(offset, whence)
	return n, r.wrap(err)
}

// Close releases the connection.
func (r *Reader) Close() error {
	return r.wrap(r.obj.Close())
}

func (r *Reader) wrap(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if cerr := r.ctx.Err(); cerr != nil {
		return fmt.Errorf("s3blob: read %s: %w", r.key, cerr)
	}
	if minio.ToErrorResponse(err).Code == "PreconditionFailed" {
		return fmt.Errorf("s3blob: read %s: blob replaced while open: %w", r.key, err)
	}
	if isNotFound(err) {
		return fmt.Errorf("s3blob: read %s: deleted while open: %w", r.key, blob.ErrNotFound)
	}
	return fmt.Errorf("s3blob: read %s: %w", r.key, err)
}

// ctxReader stops reading a body of unknown length when its context ends;
// minio-go fills a whole part from the reader before it next looks at ctx.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
