package upload_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/upload"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web"
)

// countingTransport counts chunk POSTs and calls after once n succeeded.
type countingTransport struct {
	n     int64
	posts atomic.Int64
	after func()
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/chunk-upload/") {
		if c.posts.Add(1) == c.n && c.after != nil {
			c.after()
		}
	}
	return resp, err
}

func server(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := web.EnsureDefaults(ctx, m); err != nil {
		t.Fatal(err)
	}
	tok, _, err := web.CreateToken(ctx, m, "default", "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	api := web.NewAPI(m, nil, "", nil)
	jobs, cancel := context.WithCancel(ctx)
	d := api.EnableDebugFiles(jobs, web.DebugFileConfig{Blobs: blobs, Index: m, Tokens: m, TempDir: dir,
		ChunkSize: 16 << 10, ChunksPerRequest: 4, Concurrency: 1})
	srv := httptest.NewServer(api)
	t.Cleanup(func() { srv.Close(); cancel(); d.Wait(); m.Close() })
	return srv, tok
}

// An upload cut off after a few chunk requests resumes: the second run
// sends only the chunks the first did not, and every file reaches ok.
func TestInterruptedUploadResumes(t *testing.T) {
	srv, tok := server(t)
	pe := fixtures.GetDir(t, "pe-x86_64-clang-O2")
	paths := []string{fixtures.Get(t, "elf-x86_64-gcc-O2"), filepath.Join(pe, "demo.exe")}
	files, _, err := upload.Find(paths)
	if err != nil || len(files) != 3 {
		t.Fatalf("Find = %d files, %v; want ELF, exe and its pdb", len(files), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := &countingTransport{n: 1, after: cancel}
	c := &upload.Client{URL: srv.URL, Org: "default", Project: "default", Token: tok, HTTP: &http.Client{Transport: tr}}
	_, err = c.Upload(ctx, files, upload.Options{Wait: true, Concurrency: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted upload returned %v; want context.Canceled", err)
	}
	first := tr.posts.Load()

	files, _, _ = upload.Find(paths)
	tr2 := &countingTransport{}
	c.HTTP = &http.Client{Transport: tr2}
	results, err := c.Upload(context.Background(), files, upload.Options{Wait: true, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	var total, sent int64
	for _, r := range results {
		if r.State != "ok" {
			t.Errorf("%s: %s %s", r.Path, r.State, r.Detail)
		}
		total += r.Size
		sent += r.SentBytes
	}
	if sent >= total || sent == 0 {
		t.Errorf("resumed run sent %d of %d bytes; want only what the first run (%d requests) had not", sent, total, first)
	}
	t.Logf("first run: %d chunk requests; resumed run: %d requests, %d of %d bytes", first, tr2.posts.Load(), sent, total)
}

// Non-debug files are skipped when walking and reported when named.
func TestFindSkips(t *testing.T) {
	files, skipped, err := upload.Find([]string{"upload_test.go"})
	if err != nil || len(files) != 0 || len(skipped) != 1 {
		t.Fatalf("Find = %v, %v, %v", files, skipped, err)
	}
	files, skipped, err = upload.Find([]string{"."})
	if err != nil || len(files) != 0 || len(skipped) != 0 {
		t.Fatalf("walking a source directory: %v, %v, %v", files, skipped, err)
	}
}
