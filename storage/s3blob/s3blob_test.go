package s3blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/storage/blob"
	"github.com/cairn-dev/cairn/storage/s3blob"
	"github.com/cairn-dev/cairn/storage/storagetest"
)

const (
	user = "cairn-test"
	pass = "cairn-test-secret-0123"
)

// server is one MinIO for a test and its subtests; each store gets its own
// bucket so subtests start empty.
type server struct {
	addr    string
	buckets atomic.Int64
}

func startServer(t testing.TB) *server {
	return &server{addr: testtools.StartMinIO(t, user, pass)}
}

func (s *server) config() s3blob.Config {
	return s3blob.Config{
		Endpoint: s.addr, Region: "us-east-1", Insecure: true,
		Bucket:    fmt.Sprintf("cairn-%d", s.buckets.Add(1)),
		AccessKey: user, SecretKey: pass, CreateBucket: true,
	}
}

func (s *server) open(t testing.TB, cfg s3blob.Config) *s3blob.Store {
	t.Helper()
	st, err := s3blob.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// client is a plain minio-go client for looking behind the store.
func (s *server) client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(user, pass, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStore(t *testing.T) {
	srv := startServer(t)
	ctx := t.Context()

	t.Run("Conformance", func(t *testing.T) {
		storagetest.TestBlob(t, func(t *testing.T) blob.Store { return srv.open(t, srv.config()) })
	})

	t.Run("PrefixIsolation", func(t *testing.T) {
		cfg := srv.config()
		cfg.Prefix = "/tenant-a/"
		a := srv.open(t, cfg)
		cfg.Prefix, cfg.CreateBucket = "tenant-b", false
		b := srv.open(t, cfg)
		if err := a.Put(ctx, "k/1", strings.NewReader("from a")); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Size(ctx, "k/1"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("b sees a's key: %v", err)
		}
		if err := b.Put(ctx, "k/1", strings.NewReader("from b")); err != nil {
			t.Fatal(err)
		}
		if got, err := blob.ReadAll(ctx, a, "k/1"); err != nil || string(got) != "from a" {
			t.Fatalf("a reads %q, %v", got, err)
		}
		if err := b.Delete(ctx, "k/1"); err != nil {
			t.Fatal(err)
		}
		if got, err := blob.ReadAll(ctx, a, "k/1"); err != nil || string(got) != "from a" {
			t.Fatalf("after b's delete a reads %q, %v", got, err)
		}
		// The prefix is joined with exactly one slash.
		if _, err := srv.client(t).StatObject(ctx, cfg.Bucket, "tenant-a/k/1", minio.StatObjectOptions{}); err != nil {
			t.Fatalf("object not at tenant-a/k/1: %v", err)
		}
	})

	t.Run("PutFile", func(t *testing.T) {
		s := srv.open(t, srv.config())
		data := random(40 << 20)
		path := filepath.Join(t.TempDir(), "assembled")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var fp blob.FilePutter = s
		if err := fp.PutFile(ctx, "difs/big", path); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("file still at path after PutFile: %v", err)
		}
		checkBlob(t, s, "difs/big", data)
	})

	t.Run("UnknownSizeMultipart", func(t *testing.T) {
		cfg := srv.config()
		s := srv.open(t, cfg)
		data := random(40 << 20)
		if err := s.Put(ctx, "big", onlyReader{bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		checkBlob(t, s, "big", data)
		// A multipart object's ETag ends in "-<parts>": 40 MB in 16 MiB parts.
		info, err := srv.client(t).StatObject(ctx, cfg.Bucket, "big", minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(info.ETag, "-3") {
			t.Fatalf("ETag %q: not a 3-part multipart upload", info.ETag)
		}
		// A small body of unknown size is a single PUT.
		if err := s.Put(ctx, "small", onlyReader{strings.NewReader("tiny")}); err != nil {
			t.Fatal(err)
		}
		info, err = srv.client(t).StatObject(ctx, cfg.Bucket, "small", minio.StatObjectOptions{})
		if err != nil || strings.Contains(info.ETag, "-") {
			t.Fatalf("small blob: ETag %q, %v", info.ETag, err)
		}
	})

	t.Run("PartiallyReadReader", func(t *testing.T) {
		s := srv.open(t, srv.config())
		data := random(20 << 20) // above PartSize: the parallel ReadAt path
		br := bytes.NewReader(data)
		if _, err := br.Seek(1000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "k", br); err != nil {
			t.Fatal(err)
		}
		checkBlob(t, s, "k", data[1000:])
	})

	t.Run("WrongCredentials", func(t *testing.T) {
		cfg := srv.config()
		cfg.SecretKey = "not-the-secret-9876"
		_, err := s3blob.Open(ctx, cfg)
		if err == nil {
			t.Fatal("Open with a wrong secret key succeeded")
		}
		msg := err.Error()
		t.Log(msg)
		for _, want := range []string{cfg.Bucket, srv.addr, "credentials"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
		if strings.Contains(msg, cfg.SecretKey) || strings.Contains(cfg.String(), cfg.SecretKey) {
			t.Errorf("secret key revealed: %q / %s", msg, cfg)
		}
	})

	t.Run("MissingBucket", func(t *testing.T) {
		cfg := srv.config()
		cfg.CreateBucket = false
		_, err := s3blob.Open(ctx, cfg)
		if err == nil {
			t.Fatal("Open of a missing bucket succeeded")
		}
		msg := err.Error()
		t.Log(msg)
		for _, want := range []string{cfg.Bucket, srv.addr, "does not exist", "CreateBucket"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		cfg := srv.config()
		cfg.Endpoint = testtools.FreeAddr(t)
		start := time.Now()
		_, err := s3blob.Open(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), cfg.Endpoint) {
			t.Fatalf("Open of a closed port: %v", err)
		}
		t.Logf("%v after %v", err, time.Since(start))
	})

	t.Run("BadConfig", func(t *testing.T) {
		for _, cfg := range []s3blob.Config{
			{Endpoint: srv.addr},
			{Endpoint: "http://" + srv.addr, Bucket: "b"},
			{Endpoint: srv.addr, Bucket: "B_ad"},
			{Endpoint: srv.addr, Bucket: "bucket", Prefix: "a//b"},
			{Endpoint: srv.addr, Bucket: "bucket", AccessKey: "x"},
			{Endpoint: srv.addr, Bucket: "bucket", PartSize: 1 << 20},
		} {
			_, err := s3blob.Open(ctx, cfg)
			if err == nil {
				t.Errorf("Open(%s) succeeded", cfg)
				continue
			}
			t.Log(err)
		}
	})

	t.Run("ReaderAt", func(t *testing.T) {
		s := srv.open(t, srv.config())
		data := random(3 << 20)
		if err := s.Put(ctx, "dif", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Open(ctx, "dif")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		ra, ok := rc.(io.ReaderAt)
		if !ok {
			t.Fatalf("%T does not implement io.ReaderAt", rc)
		}
		if n := rc.(interface{ Size() int64 }).Size(); n != int64(len(data)) {
			t.Fatalf("Size = %d, want %d", n, len(data))
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 50 {
			off := rng.IntN(len(data))
			buf := make([]byte, rng.IntN(64<<10)+1)
			n, err := ra.ReadAt(buf, int64(off))
			want := data[off:min(off+len(buf), len(data))]
			if n != len(want) || !bytes.Equal(buf[:n], want) {
				t.Fatalf("ReadAt(%d bytes, %d) = %d bytes, %v; want %d bytes", len(buf), off, n, err, len(want))
			}
			if n < len(buf) && err != io.EOF || n == len(buf) && err != nil && err != io.EOF {
				t.Fatalf("ReadAt(%d bytes, %d): err %v", len(buf), off, err)
			}
		}
		// A read over the end reports io.EOF with the bytes that exist.
		tail := make([]byte, 1000)
		if n, err := ra.ReadAt(tail, int64(len(data)-10)); n != 10 || err != io.EOF || !bytes.Equal(tail[:10], data[len(data)-10:]) {
			t.Fatalf("ReadAt over the end = %d, %v", n, err)
		}
		if n, err := ra.ReadAt(tail, int64(len(data))); n != 0 || err != io.EOF {
			t.Fatalf("ReadAt at the end = %d, %v", n, err)
		}
		// Parallel ReadAt, as io.ReaderAt allows.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				off := i * len(data) / 8
				buf := make([]byte, 256<<10)
				if n, err := ra.ReadAt(buf, int64(off)); err != nil || !bytes.Equal(buf[:n], data[off:off+n]) {
					t.Errorf("parallel ReadAt at %d: %d, %v", off, n, err)
				}
			})
		}
		wg.Wait()
		// ReadAt leaves the stream position alone, even after touching the end.
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Read after ReadAt: %d bytes, %v", len(got), err)
		}
		// Seek then Read.
		seeker := rc.(io.Seeker)
		if _, err := seeker.Seek(12345, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		if _, err := io.ReadFull(rc, buf); err != nil || !bytes.Equal(buf, data[12345:12445]) {
			t.Fatalf("Read after Seek: %v", err)
		}
	})

	t.Run("ReplacedWhileOpen", func(t *testing.T) {
		s := srv.open(t, srv.config())
		old := random(1 << 20)
		if err := s.Put(ctx, "k", bytes.NewReader(old)); err != nil {
			t.Fatal(err)
		}
		rc, err := s.Open(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if err := s.Put(ctx, "k", strings.NewReader("new version")); err != nil {
			t.Fatal(err)
		}
		// The read after the replacement must not return the new bytes
		// under the old size, nor splice them into the old.
		got, err := io.ReadAll(rc)
		if err == nil {
			t.Fatalf("read %d bytes of a replaced blob without error", len(got))
		}
		if !strings.Contains(err.Error(), "replaced") {
			t.Fatalf("error %v does not say the blob was replaced", err)
		}
		if _, err := rc.(io.ReaderAt).ReadAt(make([]byte, 10), 0); err == nil {
			t.Fatal("ReadAt of a replaced blob succeeded")
		}
	})

	t.Run("CancelPut", func(t *testing.T) {
		cfg := srv.config()
		s := srv.open(t, cfg)
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		// An endless body: the Put can only end by cancellation, after the
		// multipart upload has started and a part has gone up.
		body := &endless{after: 20 << 20, cancel: cancel}
		start := time.Now()
		err := s.Put(cctx, "cancelled", body)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("cancelled Put took %v", d)
		}
		if _, err := s.Size(ctx, "cancelled"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Size after cancelled Put: %v, want ErrNotFound", err)
		}
		for up := range srv.client(t).ListIncompleteUploads(ctx, cfg.Bucket, "", true) {
			if up.Err != nil {
				t.Fatal(up.Err)
			}
			t.Errorf("multipart upload %s of %s left behind", up.UploadID, up.Key)
		}
	})

	t.Run("FailedMultipartLeavesNothing", func(t *testing.T) {
		cfg := srv.config()
		s := srv.open(t, cfg)
		body := io.MultiReader(bytes.NewReader(random(20<<20)), failing{})
		if err := s.Put(ctx, "broken", body); err == nil {
			t.Fatal("Put with a failing reader succeeded")
		}
		if _, err := s.Size(ctx, "broken"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Size after failed Put: %v, want ErrNotFound", err)
		}
		for up := range srv.client(t).ListIncompleteUploads(ctx, cfg.Bucket, "", true) {
			if up.Err != nil {
				t.Fatal(up.Err)
			}
			t.Errorf("multipart upload %s of %s left behind", up.UploadID, up.Key)
		}
	})

	t.Run("CanceledOpen", func(t *testing.T) {
		s := srv.open(t, srv.config())
		if err := s.Put(ctx, "k", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Open(cctx, "k"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Open = %v", err)
		}
		if _, err := s.Size(cctx, "k"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Size = %v", err)
		}
	})
}

func BenchmarkPutGet(b *testing.B) {
	srv := startServer(b)
	s := srv.open(b, srv.config())
	ctx := b.Context()
	data := random(8 << 20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprintf("bench/%d", i%4)
		if err := s.Put(ctx, key, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		rc, err := s.Open(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}

// checkBlob streams the blob back and compares digests, so 40 MB blobs are
// not held twice.
func checkBlob(t *testing.T, s blob.Store, key string, want []byte) {
	t.Helper()
	ctx := t.Context()
	if n, err := s.Size(ctx, key); err != nil || n != int64(len(want)) {
		t.Fatalf("Size(%s) = %d, %v; want %d", key, n, err, len(want))
	}
	rc, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatal(err)
	}
	if wantSum := sha256.Sum256(want); n != int64(len(want)) || !bytes.Equal(h.Sum(nil), wantSum[:]) {
		t.Fatalf("%s: read %d bytes with a different digest; want %d bytes", key, n, len(want))
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(b)
	return b
}

// onlyReader hides every method but Read, so the size is unknown.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// endless yields bytes forever and cancels once it has given after bytes.
type endless struct {
	n, after int
	cancel   func()
}

func (e *endless) Read(p []byte) (int, error) {
	e.n += len(p)
	if e.n >= e.after {
		e.cancel()
	}
	return len(p), nil
}
