package sources

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const minioInstall = "go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// minioBinary finds the MinIO server: $CAIRN_MINIO, the Go bin directory
// (where .ci/run installs it), then $PATH.
func minioBinary(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("CAIRN_MINIO")}
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		cands = append(cands, filepath.Join(gobin, "minio"))
	}
	cands = append(cands, filepath.Join(build.Default.GOPATH, "bin", "minio"))
	if p, err := exec.LookPath("minio"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if st, err := os.Stat(p); p != "" && err == nil && !st.IsDir() {
			return p
		}
	}
	testtools.Missing(t, "MinIO server", minioInstall)
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMinIO runs a MinIO server on a temporary directory for the test and
// returns its host:port.
func startMinIO(t *testing.T, user, pass string) string {
	t.Helper()
	bin := minioBinary(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	console := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+pass, "MINIO_BROWSER=off")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("MinIO did not become healthy: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestS3SourceMinIO(t *testing.T) {
	const user, pass = "cairnadmin", "cairnsecret123"
	addr := startMinIO(t, user, pass)
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
