package testtools

import (
	"bytes"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// MinIOInstall is the command that installs the MinIO server the S3 tests
// start (.ci/run runs it).
const MinIOInstall = "go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIOBinary finds the MinIO server: $CAIRN_MINIO, the Go bin directory
// (where .ci/run installs it), then $PATH. A missing server skips the test
// (fails it under CI).
func MinIOBinary(t testing.TB) string {
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
	Missing(t, "MinIO server", MinIOInstall)
	return ""
}

// StartMinIO runs a MinIO server on a temporary directory for the test,
// with the given root credentials, and returns its host:port once it
// answers its health check. The server stops with the test.
func StartMinIO(t testing.TB, user, pass string) string {
	t.Helper()
	bin := MinIOBinary(t)
	addr, console := FreeAddr(t), FreeAddr(t)
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
		// "live" answers as soon as the HTTP server listens; the object
		// layer may still be starting ("Server not initialized yet", 503
		// on S3 requests), so wait for "ready" and an S3 request that is
		// answered by the object layer (an anonymous ListBuckets: 403).
		err := minioReady(addr)
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("MinIO did not become healthy: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// minioReady reports whether the MinIO server at addr serves S3 requests.
func minioReady(addr string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/minio/health/ready", addr))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health/ready: %s", resp.Status)
	}
	resp, err = http.Get(fmt.Sprintf("http://%s/", addr))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable {
		return fmt.Errorf("ListBuckets: %s", resp.Status)
	}
	return nil
}
