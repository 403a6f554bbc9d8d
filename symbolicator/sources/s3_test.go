package sources

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func TestS3SourceMinIO(t *testing.T) {
	const user, pass = "cairnadmin", "cairnsecret123"
	addr := testtools.StartMinIO(t, user, pass)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	admin, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(user, pass, ""), Secure: false})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.MakeBucket(ctx, "symbols", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	pe, _, elf, _ := exampleIDs(t)
	pdb := compressible(3<<20, 9)
	cab := writeCAB(t, true, false, map[string][]byte{"crash.pdb": pdb}, []string{"crash.pdb"})
	debug := compressible(1<<20, 10)
	layout := DirectoryLayout{Type: LayoutUnified}
	put := func(key string, b []byte, size int64) {
		// size -1 makes minio-go stream the upload in parts, the case
		// RESEARCH.md flags for S3 emulators.
		if _, err := admin.PutObject(ctx, "symbols", key, bytes.NewReader(b), size, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pdbKey := "prefix/" + Paths(layout, FilePDB, pe)[0]
	put(pdbKey, cab, int64(len(cab)))
	put("prefix/"+Paths(layout, FileELFDebug, elf)[0], gzipped(debug), -1)

	src, err := NewS3(S3Config{ID: "bucket", Bucket: "symbols", Prefix: "prefix", Layout: layout, Endpoint: addr, Insecure: true, AllowPrivate: true, AccessKey: user, SecretKey: pass})
	if err != nil {
		t.Fatal(err)
	}
	cands := src.Candidates(ctx, pe, []FileType{FilePDB})
	if len(cands) != 2 || cands[1].Path != pdbKey {
		t.Fatalf("candidates %+v", cands)
	}
	if _, err := download(t, src, cands[0]); StatusOf(err) != StatusNotFound {
		t.Errorf("missing key: %v", err)
	}
	if b, err := download(t, src, cands[1]); err != nil || !bytes.Equal(b, pdb) {
		t.Errorf("cab from S3: %d bytes, %v", len(b), err)
	}
	ec := src.Candidates(ctx, elf, []FileType{FileELFDebug})
	if b, err := download(t, src, ec[0]); err != nil || !bytes.Equal(b, debug) {
		t.Errorf("gzip from S3: %d bytes, %v", len(b), err)
	}
	wrong, _ := NewS3(S3Config{ID: "bucket", Bucket: "symbols", Prefix: "prefix", Layout: layout, Endpoint: addr, Insecure: true, AllowPrivate: true, AccessKey: user, SecretKey: "wrong-secret"})
	if _, err := download(t, wrong, cands[1]); StatusOf(err) != StatusDenied {
		t.Errorf("wrong secret: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), pass) {
		t.Error("secret in error")
	}
}
