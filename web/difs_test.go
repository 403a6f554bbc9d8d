package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/storage/fsblob"
	"github.com/cairn-dev/cairn/storage/meta"
	"github.com/cairn-dev/cairn/storage/sqlite"
	"github.com/cairn-dev/cairn/web"
)

// difServer is a server with the debug-file endpoints on fresh storage.
type difServer struct {
	srv   *httptest.Server
	meta  *sqlite.Meta
	blobs *fsblob.Store
	difs  *web.DebugFiles
	token string
	// chunkPosts counts chunk upload requests.
	chunkPosts atomic.Int64
	org        meta.Organization
	proj       meta.Project
	// dir holds the server's storage.
	dir string
}

func newDifServer(t *testing.T, cfg web.DebugFileConfig) *difServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	m, err := sqlite.OpenMeta(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := sqlite.OpenEvents(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	org, p, _, err := web.EnsureDefaults(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := web.CreateToken(ctx, m, "default", "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	api := web.NewAPI(m, evs, "", nil)
	cfg.Blobs, cfg.Index, cfg.Tokens, cfg.TempDir = blobs, m, m, dir
	jobs, cancel := context.WithCancel(ctx)
	d := api.EnableDebugFiles(jobs, cfg)
	s := &difServer{meta: m, blobs: blobs, difs: d, token: tok, org: org, proj: p, dir: dir}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/chunk-upload/") {
			s.chunkPosts.Add(1)
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { s.srv.Close(); cancel(); d.Wait(); m.Close(); evs.Close() })
	return s
}

// debugFileDir gathers one debug file of every kind the issue names: an
// ELF executable with DWARF, a fat Mach-O dSYM bundle, a PE with its PDB,
// and a Breakpad .sym, plus a text file that is no debug file.
func debugFileDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	link := func(src, dst string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	elfBin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	link(elfBin, filepath.Join(dir, "linux", "demo"))
	macho := fixtures.GetDir(t, "macho-fat")
	link(filepath.Join(macho, "demo.dSYM", "Contents", "Info.plist"), filepath.Join(dir, "mac", "demo.dSYM", "Contents", "Info.plist"))
	link(filepath.Join(macho, "demo.dSYM", "Contents", "Resources", "DWARF", "demo"), filepath.Join(dir, "mac", "demo.dSYM", "Contents", "Resources", "DWARF", "demo"))
	pe := fixtures.GetDir(t, "pe-x86_64-clang-O2")
	link(filepath.Join(pe, "demo.exe"), filepath.Join(dir, "win", "demo.exe"))
	link(filepath.Join(pe, "demo.pdb"), filepath.Join(dir, "win", "demo.pdb"))
	sym, err := exec.Command(testtools.BreakpadTool(t, "dump_syms"), elfBin).Output()
	if err != nil {
		t.Fatalf("dump_syms: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sym"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sym", "demo.sym"), sym, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a debug file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func sentryCLI(t *testing.T, s *difServer, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testtools.SentryCLI(t), args...)
	cmd.Env = append(os.Environ(), "SENTRY_URL="+s.srv.URL, "SENTRY_AUTH_TOKEN="+s.token, "HOME="+t.TempDir(),
		"SENTRY_DISABLE_UPDATE_CHECK=1", "SENTRY_LOAD_DOTENV=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sentryCheckIDs runs `sentry-cli debug-files check --json` on a file and
// returns the debug ids it reports.
func sentryCheckIDs(t *testing.T, s *difServer, path string) []string {
	t.Helper()
	out, err := sentryCLI(t, s, "debug-files", "check", "--json", path)
	if err != nil {
		t.Fatalf("sentry-cli debug-files check %s: %v\n%s", path, err, out)
	}
	var r struct {
		Variants []struct {
			DebugID string `json:"debug_id"`
		} `json:"variants"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check output: %v\n%s", err, out)
	}
	var ids []string
	for _, v := range r.Variants {
		ids = append(ids, v.DebugID)
	}
	return ids
}

// The real sentry-cli uploads every kind of debug file, waits for
// processing, and the index agrees with its own identification.
func TestSentryCLIUpload(t *testing.T) {
	s := newDifServer(t, web.DebugFileConfig{ChunkSize: 64 << 10})
	dir := debugFileDir(t)
	out, err := sentryCLI(t, s, "debug-files", "upload", "--org", "default", "--project", "default", "--wait", dir)
	if err != nil {
		t.Fatalf("sentry-cli debug-files upload: %v\n%s", err, out)
	}
	t.Logf("sentry-cli:\n%s", out)
	if strings.Contains(out, "ERROR") || strings.Contains(out, "error:") {
		t.Errorf("sentry-cli reported an error:\n%s", out)
	}
	files := []string{"linux/demo", "mac/demo.dSYM/Contents/Resources/DWARF/demo", "win/demo.exe", "win/demo.pdb", "sym/demo.sym"}
	for _, f := range files {
		ids := sentryCheckIDs(t, s, filepath.Join(dir, f))
		if len(ids) == 0 {
			t.Errorf("%s: sentry-cli sees no debug id", f)
		}
		for _, id := range ids {
			if !strings.Contains(out, "OK "+id) {
				t.Errorf("%s: sentry-cli did not report OK for %s", f, id)
			}
			got, err := s.meta.ListDebugFiles(context.Background(), s.proj.ID, meta.DebugFileQuery{DebugID: id})
			if err != nil || len(got) == 0 {
				t.Errorf("%s: debug id %s not in the index (%v)", f, id, err)
				continue
			}
			// The API's ?query= finds it too.
			var listed []struct {
				DebugID string `json:"debugId"`
				CPUName string `json:"cpuName"`
			}
			getJSON(t, s, "/api/0/projects/default/default/files/dsyms/?query="+id, &listed)
			if len(listed) == 0 || listed[0].DebugID != id {
				t.Errorf("dsyms?query=%s = %+v", id, listed)
			}
		}
	}
	// Uploading again finds everything already there and sends no chunk.
	s.chunkPosts.Store(0)
	out, err = sentryCLI(t, s, "debug-files", "upload", "--org", "default", "--project", "default", "--wait", dir)
	if err != nil {
		t.Fatalf("second upload: %v\n%s", err, out)
	}
	if n := s.chunkPosts.Load(); n != 0 {
		t.Errorf("second upload sent %d chunk requests; want none\n%s", n, out)
	}
}

func getJSON(t *testing.T, s *difServer, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", s.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v\n%s", path, err, b)
		}
	}
	return resp.StatusCode
}
