//go:build !cairncli

package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/storage/s3blob"
)

// The workers' shared derived-cache store round-trips through a real S3
// server (MinIO) and tells a missing key from a failure.
func TestBlobSharedOnS3(t *testing.T) {
	const user, pass = "cairnadmin", "cairnsecret123"
	addr := testtools.StartMinIO(t, user, pass)
	ctx := context.Background()
	st, err := s3blob.Open(ctx, s3blob.Config{Endpoint: addr, Bucket: "shared", AccessKey: user, SecretKey: pass, Insecure: true, CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}
	sh := blobShared{st}
	var buf bytes.Buffer
	if found, err := sh.Get(ctx, "derived/symcache/v1/abc", &buf); found || err != nil {
		t.Fatalf("missing key: found %v, %v", found, err)
	}
	data := bytes.Repeat([]byte("cache"), 100000)
	if err := sh.Put(ctx, "derived/symcache/v1/abc", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if found, err := sh.Get(ctx, "derived/symcache/v1/abc", &buf); !found || err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("round trip: found %v, %v, %d bytes", found, err, buf.Len())
	}
}
