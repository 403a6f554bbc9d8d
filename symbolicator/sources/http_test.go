package sources

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/klauspost/compress/zstd"
)

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func zstded(b []byte) []byte {
	zw, _ := zstd.NewWriter(nil)
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// symbolServer serves files by path, checking credentials, and records the
// paths asked for.
type symbolServer struct {
	files map[string][]byte
	check func(*http.Request) bool
	mu    sync.Mutex
	asked []string
}

func (s *symbolServer) askedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.asked)
}

func (s *symbolServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.asked = append(s.asked, r.URL.Path)
	check := s.check
	s.mu.Unlock()
	if check != nil && !check(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/boom"):
		w.WriteHeader(http.StatusInternalServerError)
		return
	case strings.HasSuffix(r.URL.Path, "/slow"):
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	b, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func download(t *testing.T, src Source, loc Location) ([]byte, error) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "out")
	if err := Download(t.Context(), src, loc, dst); err != nil {
		if _, serr := os.Stat(dst); serr == nil {
			t.Errorf("failed download left %s", dst)
		}
		return nil, err
	}
	return os.ReadFile(dst)
}

func TestHTTPSource(t *testing.T) {
	pe, _, elf, _ := exampleIDs(t)
	pdb := compressible(100_000, 7)
	cab := writeCAB(t, true, false, map[string][]byte{"crash.pdb": pdb}, []string{"crash.pdb"})
	srv := &symbolServer{
		files: map[string][]byte{
			"/symbols/crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pd_":           cab,
			"/symbols/crash.exe/5AB380779000/crash.exe":                                gzipped([]byte("MZ exe")),
			"/symbols/crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.sym":           zstded([]byte("MODULE windows x86 3249D99D0C4049318610F4E4FB0B69361 crash.pdb\n")),
			"/symbols/libm-2.23.so/E45DB8DFAF2D09FD640C8FE377D572DE0/libm-2.23.so.sym": []byte("MODULE Linux x86_64 E45DB8DFAF2D09FD640C8FE377D572DE0 libm-2.23.so\n"),
		},
		check: func(r *http.Request) bool {
			return r.Header.Get("X-Api-Key") == "k" && r.Header.Get("Authorization") == "Bearer tok"
		},
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	src, err := NewHTTP(HTTPConfig{ID: "ms", URL: ts.URL + "/symbols", Layout: DirectoryLayout{Type: LayoutNative},
		Headers: map[string]string{"X-Api-Key": "k"}, BearerToken: "tok", AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	cands := src.Candidates(t.Context(), pe, []FileType{FilePDB, FilePE, FileBreakpad})
	var paths []string
	for _, c := range cands {
		paths = append(paths, c.Path)
	}
	want := []string{
		"crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb", "crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pd_",
		"crash.exe/5AB380779000/crash.exe", "crash.exe/5AB380779000/crash.ex_",
		"crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.sym",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Fatalf("candidates %q", paths)
	}
	// The plain PDB is missing, the compressed one is a cabinet.
	if _, err := download(t, src, cands[0]); !errors.Is(err, ErrNotFound) || StatusOf(err) != StatusNotFound {
		t.Errorf("plain pdb: %v", err)
	}
	if b, err := download(t, src, cands[1]); err != nil || !bytes.Equal(b, pdb) {
		t.Errorf("cab pdb: %d bytes, %v", len(b), err)
	}
	if b, err := download(t, src, cands[2]); err != nil || string(b) != "MZ exe" {
		t.Errorf("gzip exe: %q %v", b, err)
	}
	if b, err := download(t, src, cands[4]); err != nil || !strings.HasPrefix(string(b), "MODULE windows") {
		t.Errorf("zstd sym: %q %v", b, err)
	}

	// Fan-out over sources: the found candidate wins, all are listed.
	c, err := cache.New(cache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	found, best := Find(t.Context(), []Source{src}, pe, []FileType{FilePDB}, 4, CachedFetch(c, 1))
	if best != 1 || found[0].Status != StatusNotFound || found[1].Status != StatusFound {
		t.Fatalf("Find: best %d, %+v", best, found)
	}
	if b, err := os.ReadFile(found[1].File); err != nil || !bytes.Equal(b, pdb) {
		t.Errorf("cached pdb: %d bytes, %v", len(b), err)
	}
	// The miss is remembered: a second Find asks the server only for
	// nothing new.
	asked := srv.askedCount()
	Find(t.Context(), []Source{src}, pe, []FileType{FilePDB}, 4, CachedFetch(c, 1))
	if n := srv.askedCount(); n != asked {
		t.Errorf("second Find asked the server %d more times", n-asked)
	}

	// Breakpad layout with basic auth instead.
	srv.mu.Lock()
	srv.check = func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "u" && p == "p" }
	srv.mu.Unlock()
	bp, _ := NewHTTP(HTTPConfig{ID: "bp", URL: ts.URL + "/symbols/", Layout: DirectoryLayout{Type: LayoutBreakpad}, Username: "u", Password: "p", AllowPrivate: true})
	c2 := bp.Candidates(t.Context(), elf, FileTypesFor(ObjectELF))
	if len(c2) != 1 {
		t.Fatalf("breakpad candidates %+v", c2)
	}
	if b, err := download(t, bp, c2[0]); err != nil || !strings.HasPrefix(string(b), "MODULE Linux") {
		t.Errorf("breakpad: %q %v", b, err)
	}
	noAuth, _ := NewHTTP(HTTPConfig{ID: "bp", URL: ts.URL + "/symbols/", Layout: DirectoryLayout{Type: LayoutBreakpad}, AllowPrivate: true})
	if _, err := download(t, noAuth, c2[0]); StatusOf(err) != StatusDenied {
		t.Errorf("no credentials: %v", err)
	}
	srv.mu.Lock()
	srv.check = nil
	srv.mu.Unlock()
	if _, err := download(t, bp, Location{SourceID: "bp", Path: "x/boom"}); StatusOf(err) != StatusError || !strings.Contains(err.Error(), "500") {
		t.Errorf("500: %v", err)
	}
	short, _ := NewHTTP(HTTPConfig{ID: "bp", URL: ts.URL, Timeout: 200 * time.Millisecond, AllowPrivate: true})
	if _, err := download(t, short, Location{SourceID: "bp", Path: "x/slow"}); StatusOf(err) != StatusError {
		t.Errorf("timeout: %v", err)
	}
}

func TestHTTPFilters(t *testing.T) {
	pe, _, elf, _ := exampleIDs(t)
	src, _ := NewHTTP(HTTPConfig{ID: "f", URL: "https://symbols.invalid/", Layout: DirectoryLayout{Type: LayoutNative},
		Filters: Filters{FileTypes: []FileType{FilePDB}, PathPatterns: []string{"c:/projects/**"}}})
	if c := src.Candidates(t.Context(), pe, FileTypesFor(ObjectPE)); len(c) != 2 || c[0].Type != FilePDB {
		t.Errorf("pe: %+v", c)
	}
	if c := src.Candidates(t.Context(), elf, FileTypesFor(ObjectELF)); len(c) != 0 {
		t.Errorf("elf passed the filters: %+v", c)
	}
	for _, tc := range []struct {
		pat  string
		want bool
	}{{"c:/windows/*", true}, {"?:/windows/*", true}, {"d:/windows/**", false}, {"*kernel32.dll", true}} {
		f := Filters{PathPatterns: []string{tc.pat}}
		if got := f.Allows(FileID{CodeFile: `C:\Windows\System32\kernel32.dll`}, FilePE); got != tc.want {
			t.Errorf("pattern %q: %v", tc.pat, got)
		}
	}
	dbgd, _ := NewHTTP(HTTPConfig{ID: "d", URL: "https://debuginfod.invalid", Layout: DirectoryLayout{Type: LayoutDebuginfod}})
	c := dbgd.Candidates(t.Context(), elf, []FileType{FileELFDebug})
	if got := dbgd.URLFor(c[0]); got != "https://debuginfod.invalid/buildid/dfb85de42daffd09640c8fe377d572de3e168920/debuginfo" {
		t.Errorf("debuginfod url %s", got)
	}
}

func TestSSRFGuard(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer ts.Close()
	// The URL names a host, so only the connect-time check can refuse it.
	u := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
	src, _ := NewHTTP(HTTPConfig{ID: "x", URL: u})
	_, err := download(t, src, Location{SourceID: "x", Path: "a/b"})
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("loopback reached: %v", err)
	}
	for _, a := range []string{"127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1", "fd00::1", "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1"} {
		if !forbidden(netip.MustParseAddr(a)) {
			t.Errorf("%s allowed", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "2606:4700::1111", "93.184.216.34"} {
		if forbidden(netip.MustParseAddr(a)) {
			t.Errorf("%s refused", a)
		}
	}
	if _, err := NewHTTP(HTTPConfig{ID: "x", URL: "file:///etc/passwd"}); err == nil {
		t.Error("file URL accepted")
	}
}
