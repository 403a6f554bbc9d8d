package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/service"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// newService returns a service with its own cache directory and the
// given configured sources.
func newService(t testing.TB, srcs ...sources.Source) *service.Service {
	t.Helper()
	c, err := cache.New(cache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := service.New(service.Config{Cache: c, Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newAPI returns an API server for svc; cfg.Service is filled in.
func newAPI(t testing.TB, svc *service.Service, cfg Config) *Server {
	t.Helper()
	cfg.Service = svc
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// serve starts a loopback HTTP server for s.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// reply is an HTTP answer with its JSON body decoded generically, so the
// tests check the wire format rather than the Go types.
type reply struct {
	code   int
	header http.Header
	raw    []byte
	body   map[string]any
}

func do(t testing.TB, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{code: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v: %s", req.Method, req.URL, err, raw)
		}
	}
	return r
}

func get(t testing.TB, url string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func postJSON(t testing.TB, url string, body any) reply {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

// multipartBody builds a form with a file part and string fields.
func multipartBody(t testing.TB, filePart string, file []byte, fields map[string]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if filePart != "" {
		fw, err := mw.CreateFormFile(filePart, "upload")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func postForm(t testing.TB, url, filePart string, file []byte, fields map[string]string) reply {
	t.Helper()
	body, ct := multipartBody(t, filePart, file, fields)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	return do(t, req)
}

// JSON accessors that fail the test on a shape mismatch.

func field(t testing.TB, v any, key string) any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("want an object with %q, got %T %v", key, v, v)
	}
	return m[key]
}

func str(t testing.TB, v any, key string) string {
	t.Helper()
	s, _ := field(t, v, key).(string)
	return s
}

func list(t testing.TB, v any, key string) []any {
	t.Helper()
	l, ok := field(t, v, key).([]any)
	if !ok {
		t.Fatalf("%q is %T, want a list: %v", key, field(t, v, key), v)
	}
	return l
}

// wantFailed checks a Symbolicator failure answer.
func wantFailed(t testing.TB, r reply, code int, msgPart string) {
	t.Helper()
	if r.code != code {
		t.Errorf("status %d, want %d: %s", r.code, code, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if r.body["status"] != "failed" || !strings.Contains(fmt.Sprint(r.body["message"]), msgPart) {
		t.Errorf("body %s, want status failed with a message containing %q", r.raw, msgPart)
	}
}

// wantHexAddr checks that an address is written as Sentry writes it.
func wantHexAddr(t testing.TB, v any, key string) {
	t.Helper()
	if s, ok := field(t, v, key).(string); !ok || !strings.HasPrefix(s, "0x") {
		t.Errorf("%s is %#v, want a \"0x…\" string", key, field(t, v, key))
	}
}

// place links file into root where layout l looks for type ft of id.
func place(t testing.TB, root string, l sources.DirectoryLayout, ft sources.FileType, id sources.FileID, file string) string {
	t.Helper()
	ps := sources.Paths(l, ft, id)
	if len(ps) == 0 {
		t.Fatalf("layout %v gives no path for %v of %+v", l, ft, id)
	}
	dst := filepath.Join(root, filepath.FromSlash(ps[0]))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, dst); err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

var native = sources.DirectoryLayout{Type: sources.LayoutNative}

// crashStore is a native-layout directory with every module of the crash
// that has a file, as a code file, except those named in leaveOut.
func crashStore(t testing.TB, c fixtures.CrashFixture, leaveOut ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, m := range c.Modules {
		if m.File == "" || m.ID == "" || slices.Contains(leaveOut, filepath.Base(m.Name)) {
			continue
		}
		b, _ := hex.DecodeString(m.ID)
		id := sources.FileID{DebugID: debugid.FromBuildID(b), CodeID: strings.ToLower(m.ID), CodeFile: m.Name,
			DebugFile: m.Name, Object: sources.ObjectELF}
		place(t, root, native, sources.FileELFCode, id, m.File)
	}
	return root
}

func fsSources(dir string) string {
	b, _ := json.Marshal([]map[string]any{{"type": "filesystem", "id": "local", "path": dir, "layout": map[string]string{"type": "native"}}})
	return string(b)
}

// TestMinidump sends a crash fixture's minidump to /minidump with its
// modules in a filesystem source given in the request, and checks the
// answer as JSON: the crashing stack, the addresses' spelling, and every
// module's statuses and candidates.
func TestMinidump(t *testing.T) {
	c := fixtures.GetCrash(t, "crash-x86_64-gcc-O2-null")
	dump, err := os.ReadFile(c.Dump)
	if err != nil {
		t.Fatal(err)
	}
	store := crashStore(t, c, "libc.so.6")
	s := newAPI(t, newService(t), Config{SourceOptions: sources.ConfigOptions{AllowFilesystem: true}})
	url := serve(t, s)

	r := postForm(t, url+"/minidump?timeout=60&scope=test", "upload_file_minidump", dump,
		map[string]string{"sources": fsSources(store), "options": `{"dif_candidates": true, "unknown_option": 1}`})
	if r.code != http.StatusOK || r.body["status"] != "completed" {
		t.Fatalf("status %d: %.500s", r.code, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if r.body["crashed"] != true || str(t, r.body, "crash_reason") == "" {
		t.Errorf("crashed %v, crash_reason %v", r.body["crashed"], r.body["crash_reason"])
	}
	if osName := str(t, field(t, r.body, "system_info"), "os_name"); osName != "Linux" {
		t.Errorf("system_info.os_name %q", osName)
	}

	// The crashing stack.
	var crashing []any
	for _, st := range list(t, r.body, "stacktraces") {
		wantHexAddr(t, field(t, st, "registers"), "rip")
		if field(t, st, "is_requesting") == true {
			crashing = list(t, st, "frames")
		}
	}
	if crashing == nil {
		t.Fatalf("no requesting thread: %.1000s", r.raw)
	}
	var frames []fixtures.StackFrame
	for _, f := range crashing {
		wantHexAddr(t, f, "instruction_addr")
		if str(t, f, "status") == "symbolicated" {
			wantHexAddr(t, f, "sym_addr")
		}
		frames = append(frames, fixtures.StackFrame{Module: filepath.Base(str(t, f, "package")), Function: str(t, f, "function")})
	}
	if err := c.MatchStack(frames); err != nil {
		t.Error(err)
	}
	if st := str(t, crashing[0], "status"); st != "symbolicated" || str(t, crashing[0], "trust") != "context" {
		t.Errorf("first frame status %q trust %q, want symbolicated from the context", st, str(t, crashing[0], "trust"))
	}

	// Every module: the crash program found through its code file (the
	// debug file is asked for first, and is not there); the C library,
	// left out of the store, missing after every location was tried; the
	// modules no frame needed, unused and never looked up.
	for _, m := range list(t, r.body, "modules") {
		wantHexAddr(t, m, "image_addr")
		name := filepath.Base(str(t, m, "code_file"))
		debug, unwind := str(t, m, "debug_status"), str(t, m, "unwind_status")
		cands := list(t, m, "candidates")
		var got []string
		for _, cand := range cands {
			if str(t, cand, "source") != "local" {
				t.Errorf("%s: candidate source %q, want local", name, str(t, cand, "source"))
			}
			got = append(got, str(t, field(t, cand, "download"), "status")+" "+str(t, cand, "location"))
		}
		stored := false
		for _, cm := range c.Modules {
			stored = stored || filepath.Base(cm.Name) == name && cm.File != "" && cm.ID != ""
		}
		switch {
		case name == "crash" && debug != "found":
			t.Errorf("%s: debug %s, want found", name, debug)
		case name != "libc.so.6" && stored && debug != "unused":
			// Found through its code file; one with only a symbol table
			// serves until something better turns up, so Breakpad
			// symbols are tried after it.
			id := crashModuleID(t, c, name)
			want := []string{"notfound " + sources.Paths(native, sources.FileELFDebug, id)[0], "ok " + sources.Paths(native, sources.FileELFCode, id)[0]}
			feats := field(t, m, "features")
			if field(t, feats, "has_debug_info") != true {
				want = append(want, "notfound "+sources.Paths(native, sources.FileBreakpad, id)[0])
			}
			if debug != "found" || unwind != "found" || !equalStrings(got, want) {
				t.Errorf("%s: debug %s, unwind %s, candidates %v; want found, found, %v", name, debug, unwind, got, want)
				continue
			}
			ok := cands[1]
			if str(t, field(t, ok, "debug"), "status") != "ok" || str(t, field(t, ok, "unwind"), "status") != "ok" {
				t.Errorf("%s: found candidate %v, want debug and unwind ok", name, ok)
			}
			if field(t, field(t, ok, "download"), "features") == nil || field(t, feats, "has_unwind_info") != true || field(t, feats, "has_symbols") != true {
				t.Errorf("%s: features %v, candidate %v", name, feats, ok)
			}
			if name == "crash" && field(t, feats, "has_debug_info") != true {
				t.Errorf("%s: features %v, want debug info", name, feats)
			}
		case name == "libc.so.6":
			id := crashModuleID(t, c, name)
			want := []string{
				"notfound " + sources.Paths(native, sources.FileELFDebug, id)[0],
				"notfound " + sources.Paths(native, sources.FileELFCode, id)[0],
				"notfound " + sources.Paths(native, sources.FileBreakpad, id)[0],
			}
			if debug != "missing" || unwind != "missing" || !equalStrings(got, want) {
				t.Errorf("%s: debug %s, unwind %s, candidates %v; want missing, missing, %v", name, debug, unwind, got, want)
			}
			for _, cand := range cands {
				if field(t, cand, "debug") != nil || field(t, cand, "unwind") != nil || str(t, field(t, cand, "download"), "details") != "" {
					t.Errorf("%s: candidate %v, want a bare notfound", name, cand)
				}
			}
		case stored:
			if unwind != "unused" || len(cands) != 0 {
				t.Errorf("%s: debug %s, unwind %s, candidates %v; want unused, unused, none", name, debug, unwind, got)
			}
		default:
			// No file (the vDSO): unused, or missing if a frame needed it.
			if debug != "unused" && debug != "missing" {
				t.Errorf("%s: debug %s, want unused or missing", name, debug)
			}
			for _, g := range got {
				if !strings.HasPrefix(g, "notfound ") {
					t.Errorf("%s: candidate %s, want notfound", name, g)
				}
			}
		}
	}
	var libcFrames int
	for _, f := range crashing {
		if filepath.Base(str(t, f, "package")) == "libc.so.6" {
			libcFrames++
			if st := str(t, f, "status"); st != "missing" {
				t.Errorf("libc frame status %q, want missing", st)
			}
		}
	}
	if libcFrames == 0 {
		t.Errorf("no frame in libc.so.6 in the crashing stack")
	}
}

// crashModuleID is the lookup identity of a crash fixture's module.
func crashModuleID(t testing.TB, c fixtures.CrashFixture, base string) sources.FileID {
	t.Helper()
	for _, m := range c.Modules {
		if filepath.Base(m.Name) == base {
			b, _ := hex.DecodeString(m.ID)
			return sources.FileID{DebugID: debugid.FromBuildID(b), CodeID: strings.ToLower(m.ID), CodeFile: m.Name,
				DebugFile: m.Name, Object: sources.ObjectELF}
		}
	}
	t.Fatalf("no module %s in %s", base, c.Name)
	return sources.FileID{}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// elfModule is the request description of a module.
type elfModule struct {
	id        sources.FileID
	base      uint64
	size      uint64
	codeFile  string
	debugFile string
}

func (m elfModule) json() map[string]any {
	return map[string]any{"type": "elf", "code_id": m.id.CodeID, "code_file": m.codeFile, "debug_id": m.id.DebugID.String(),
		"debug_file": m.debugFile, "image_addr": fmt.Sprintf("0x%x", m.base), "image_size": m.size}
}

// fakeModule is a module whose build id (and so every path) is made up.
func fakeModule(name string, seed byte, base uint64) elfModule {
	b := make([]byte, 20)
	for i := range b {
		b[i] = seed + byte(i)
	}
	file := "/opt/app/" + name
	return elfModule{id: sources.FileID{DebugID: debugid.FromBuildID(b), CodeID: hex.EncodeToString(b), CodeFile: file, DebugFile: file,
		Object: sources.ObjectELF}, base: base, size: 0x10000, codeFile: file, debugFile: file}
}

// symbolLookupPaths are the native-layout paths a /symbolicate lookup of
// an ELF module tries, in order.
func symbolLookupPaths(id sources.FileID) []string {
	var out []string
	for _, ft := range []sources.FileType{sources.FileELFDebug, sources.FileELFCode, sources.FileBreakpad} {
		out = append(out, sources.Paths(native, ft, id)[0])
	}
	return out
}

// candidateSummary is "source status location" per candidate.
func candidateSummary(t testing.TB, m any) []string {
	t.Helper()
	var out []string
	for _, c := range list(t, m, "candidates") {
		out = append(out, str(t, c, "source")+" "+str(t, field(t, c, "download"), "status")+" "+str(t, c, "location"))
	}
	return out
}

// closedURL is the URL of a loopback port nobody listens on.
func closedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String() + "/"
	l.Close()
	return u
}

// TestSymbolicate sends stack traces to /symbolicate with an HTTP source
// in the request and checks every module's status and candidate list:
// found, missing, malformed (garbage where the layout looks), unused, and
// in a second request fetching_failed (a source on a closed port).
func TestSymbolicate(t *testing.T) {
	dir := fixtures.GetDir(t, "elf-x86_64-gcc-O2")
	bin := filepath.Join(dir, "demo")
	a, err := loader.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	code := a.Objects[0]
	ranges, err := fixtures.TextRanges(bin)
	if err != nil || len(ranges) == 0 {
		t.Fatalf("code range of %s: %v", bin, err)
	}
	load := code.LoadAddress()
	const demoBase = 0x7f3400000000
	demo := elfModule{id: sources.FileID{DebugID: code.DebugID(), CodeID: code.CodeID(), CodeFile: "/opt/app/demo", DebugFile: "/opt/app/demo",
		Object: sources.ObjectELF}, base: demoBase, size: ranges[0].End - load + 0x1000, codeFile: "/opt/app/demo", debugFile: "/opt/app/demo"}
	missing := fakeModule("libmissing.so", 0x10, 0x7f3500000000)
	malformed := fakeModule("libmalformed.so", 0x40, 0x7f3600000000)
	unused := fakeModule("libunused.so", 0x70, 0x7f3700000000)

	root := t.TempDir()
	demoPath := place(t, root, native, sources.FileELFDebug, demo.id, bin)
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not an object file "), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	badPath := place(t, root, native, sources.FileELFDebug, malformed.id, garbage)
	web := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer web.Close()

	syms, err := fixtures.FunctionSymbols(bin)
	if err != nil {
		t.Fatal(err)
	}
	var sym fixtures.Symbol
	for _, sy := range syms {
		if sy.Name == "main" {
			sym = sy
		}
	}
	if sym.Name == "" {
		t.Fatalf("no main in %s", bin)
	}
	no := false
	frame := func(addr uint64) map[string]any {
		return map[string]any{"instruction_addr": fmt.Sprintf("0x%x", addr), "adjust_instruction_addr": no}
	}
	mainAddr := demoBase + sym.Addr - load
	req := map[string]any{
		"stacktraces": []any{map[string]any{
			"registers": map[string]string{"rip": fmt.Sprintf("0x%x", mainAddr)},
			"frames":    []any{frame(mainAddr), frame(missing.base + 0x100), frame(malformed.base + 0x200), frame(0x1000)},
		}},
		"modules": []any{demo.json(), missing.json(), malformed.json(), unused.json()},
		"sources": []any{map[string]any{"type": "http", "id": "web", "url": web.URL + "/", "layout": map[string]string{"type": "native"}}},
		"options": map[string]any{"dedupe_sources": true, "apply_source_context": false, "unknown": "tolerated"},
	}
	s := newAPI(t, newService(t), Config{SourceOptions: sources.ConfigOptions{AllowPrivate: true}})
	url := serve(t, s)
	r := postJSON(t, url+"/symbolicate?timeout=60&scope=test", req)
	if r.code != http.StatusOK || r.body["status"] != "completed" {
		t.Fatalf("status %d: %.1000s", r.code, r.raw)
	}

	// Frames: main symbolicated; one frame each in the missing and the
	// malformed module; one outside every module.
	st := list(t, r.body, "stacktraces")
	if len(st) != 1 {
		t.Fatalf("%d stack traces, want 1", len(st))
	}
	wantHexAddr(t, field(t, st[0], "registers"), "rip")
	statusOf := map[float64]string{}
	var mainFrame any
	for _, f := range list(t, st[0], "frames") {
		wantHexAddr(t, f, "instruction_addr")
		idx, _ := field(t, f, "original_index").(float64)
		statusOf[idx] = str(t, f, "status")
		if idx == 0 {
			mainFrame = f // the last of index 0 is the function itself, after its inlinees
		}
	}
	if str(t, mainFrame, "function") != "main" || str(t, mainFrame, "sym_addr") != fmt.Sprintf("0x%x", mainAddr) ||
		str(t, mainFrame, "package") != "/opt/app/demo" || str(t, mainFrame, "abs_path") == "" || field(t, mainFrame, "lineno") == nil {
		t.Errorf("main frame %v", mainFrame)
	}
	if field(t, mainFrame, "instruction_addr") != fmt.Sprintf("0x%x", mainAddr) {
		t.Errorf("main frame instruction_addr %v, want 0x%x", field(t, mainFrame, "instruction_addr"), mainAddr)
	}
	wantStatus := map[float64]string{0: "symbolicated", 1: "missing", 2: "malformed", 3: "unknown_image"}
	for i, want := range wantStatus {
		if statusOf[i] != want {
			t.Errorf("frame %v status %q, want %q", i, statusOf[i], want)
		}
	}

	mods := list(t, r.body, "modules")
	if len(mods) != 4 {
		t.Fatalf("%d modules, want 4", len(mods))
	}
	for _, m := range mods {
		wantHexAddr(t, m, "image_addr")
		if str(t, m, "unwind_status") != "unused" {
			t.Errorf("%s: unwind_status %s, want unused (no stack walk)", str(t, m, "code_file"), str(t, m, "unwind_status"))
		}
	}
	// Found: the debug file, first place looked, read fine.
	if got, want := candidateSummary(t, mods[0]), []string{"web ok " + demoPath}; str(t, mods[0], "debug_status") != "found" || !equalStrings(got, want) {
		t.Errorf("demo: debug_status %s, candidates %v; want found, %v", str(t, mods[0], "debug_status"), got, want)
	} else {
		c := list(t, mods[0], "candidates")[0]
		if str(t, field(t, c, "debug"), "status") != "ok" || field(t, field(t, mods[0], "features"), "has_debug_info") != true ||
			field(t, field(t, field(t, c, "download"), "features"), "has_debug_info") != true {
			t.Errorf("demo: candidate %v, features %v", c, field(t, mods[0], "features"))
		}
	}
	if str(t, mods[0], "code_id") != demo.id.CodeID || str(t, mods[0], "debug_id") != demo.id.DebugID.String() {
		t.Errorf("demo: ids not echoed: %v", mods[0])
	}
	// Missing: every place looked, nothing there.
	var want []string
	for _, p := range symbolLookupPaths(missing.id) {
		want = append(want, "web notfound "+p)
	}
	if got := candidateSummary(t, mods[1]); str(t, mods[1], "debug_status") != "missing" || !equalStrings(got, want) {
		t.Errorf("missing: debug_status %s, candidates %v; want missing, %v", str(t, mods[1], "debug_status"), got, want)
	}
	// Malformed: the garbage downloads fine and fails to read; the other
	// places are still tried.
	paths := symbolLookupPaths(malformed.id)
	want = []string{"web ok " + badPath, "web notfound " + paths[1], "web notfound " + paths[2]}
	if badPath != paths[0] {
		t.Fatalf("garbage at %s, first lookup path %s", badPath, paths[0])
	}
	if got := candidateSummary(t, mods[2]); str(t, mods[2], "debug_status") != "malformed" || !equalStrings(got, want) {
		t.Errorf("malformed: debug_status %s, candidates %v; want malformed, %v", str(t, mods[2], "debug_status"), got, want)
	} else {
		c := list(t, mods[2], "candidates")[0]
		if str(t, field(t, c, "debug"), "status") != "malformed" || str(t, field(t, c, "debug"), "details") == "" {
			t.Errorf("malformed: candidate %v, want debug status malformed with details", c)
		}
	}
	// Unused: no frame in it, never looked up.
	if got := candidateSummary(t, mods[3]); str(t, mods[3], "debug_status") != "unused" || len(got) != 0 {
		t.Errorf("unused: debug_status %s, candidates %v", str(t, mods[3], "debug_status"), got)
	}

	// Unreachable: the same main frame with the source on a closed port.
	req["sources"] = []any{map[string]any{"type": "http", "id": "down", "url": closedURL(t), "layout": map[string]string{"type": "native"}}}
	req["modules"] = []any{demo.json()}
	req["stacktraces"] = []any{map[string]any{"frames": []any{frame(mainAddr)}}}
	r = postJSON(t, url+"/symbolicate", req)
	if r.code != http.StatusOK || r.body["status"] != "completed" {
		t.Fatalf("status %d: %.1000s", r.code, r.raw)
	}
	m := list(t, r.body, "modules")[0]
	want = nil
	for _, p := range symbolLookupPaths(demo.id) {
		want = append(want, "down error "+p)
	}
	if got := candidateSummary(t, m); str(t, m, "debug_status") != "fetching_failed" || !equalStrings(got, want) {
		t.Errorf("unreachable: debug_status %s, candidates %v; want fetching_failed, %v", str(t, m, "debug_status"), got, want)
	}
	for _, c := range list(t, m, "candidates") {
		if str(t, field(t, c, "download"), "details") == "" || field(t, c, "debug") != nil {
			t.Errorf("unreachable: candidate %v, want an error with details", c)
		}
	}
	if f := list(t, list(t, r.body, "stacktraces")[0], "frames")[0]; str(t, f, "status") != "missing" {
		t.Errorf("unreachable: frame %v, want missing", f)
	}
}

// blockingSource holds every fetch until release is closed, then answers
// "not found"; a fetch whose context ends first reports it on cancelled.
type blockingSource struct {
	release   chan struct{}
	started   chan struct{}
	cancelled chan struct{}
}

func newBlockingSource() *blockingSource {
	return &blockingSource{release: make(chan struct{}), started: make(chan struct{}, 64), cancelled: make(chan struct{}, 64)}
}

func (b *blockingSource) ID() string { return "blocking" }

func (b *blockingSource) Candidates(_ context.Context, id sources.FileID, types []sources.FileType) []sources.Location {
	var out []sources.Location
	for _, t := range types {
		out = append(out, sources.Location{SourceID: "blocking", Type: t, Path: id.CodeID + "/" + t.String()})
	}
	return out
}

func (b *blockingSource) Fetch(ctx context.Context, loc sources.Location, _ io.Writer) error {
	select {
	case b.started <- struct{}{}:
	default:
	}
	select {
	case <-b.release:
		return fmt.Errorf("blocking: %s: %w", loc.Path, sources.ErrNotFound)
	case <-ctx.Done():
		select {
		case b.cancelled <- struct{}{}:
		default:
		}
		return ctx.Err()
	}
}

// waitFor fails the test if ch yields nothing within a few seconds.
func waitFor(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// lookupBody is a /symbolicate body with one frame in one module, so the
// module is looked up in the configured sources.
func lookupBody(seed byte) map[string]any {
	m := fakeModule(fmt.Sprintf("lib%d.so", seed), seed, 0x7f0000000000)
	return map[string]any{
		"stacktraces": []any{map[string]any{"frames": []any{map[string]any{"instruction_addr": "0x7f0000000010"}}}},
		"modules":     []any{m.json()},
	}
}

func wantPending(t testing.TB, r reply) string {
	t.Helper()
	id, _ := r.body["request_id"].(string)
	if r.code != http.StatusOK || r.body["status"] != "pending" || r.body["retry_after"] != float64(30) || len(id) != 36 || id[14] != '4' {
		t.Fatalf("want 200 pending with a UUID v4 request_id and retry_after 30, got %d %s", r.code, r.raw)
	}
	return id
}

// TestAsync checks Symbolicator's polling protocol: a job not done within
// the request's timeout is answered "pending" and goes on; GET
// /requests/{id} waits again and delivers the result once.
func TestAsync(t *testing.T) {
	src := newBlockingSource()
	s := newAPI(t, newService(t, src), Config{})
	url := serve(t, s)

	id := wantPending(t, postJSON(t, url+"/symbolicate?timeout=0", lookupBody(1)))
	// The job runs on after its HTTP request was answered.
	waitFor(t, src.started, "the job's first fetch")
	if again := wantPending(t, get(t, url+"/requests/"+id+"?timeout=0.05")); again != id {
		t.Errorf("second pending answer has id %s, want %s", again, id)
	}
	close(src.release)
	r := get(t, url+"/requests/"+id+"?timeout=5")
	if r.code != http.StatusOK || r.body["status"] != "completed" {
		t.Fatalf("status %d: %s", r.code, r.raw)
	}
	m := list(t, r.body, "modules")[0]
	if str(t, m, "debug_status") != "missing" || len(list(t, m, "candidates")) != 3 {
		t.Errorf("module %v, want missing with three notfound candidates", m)
	}
	select {
	case <-src.cancelled:
		t.Error("a fetch of the pending job was cancelled")
	default:
	}
	// Delivered once.
	wantFailed(t, get(t, url+"/requests/"+id+"?timeout=1"), http.StatusNotFound, "unknown request id")
	wantFailed(t, get(t, url+"/requests/00000000-0000-4000-8000-000000000000"), http.StatusNotFound, "unknown request id")
}

// TestResultExpires checks that a result nobody fetches is dropped after
// ResultTTL.
func TestResultExpires(t *testing.T) {
	src := newBlockingSource()
	s := newAPI(t, newService(t, src), Config{ResultTTL: 50 * time.Millisecond})
	url := serve(t, s)
	id := wantPending(t, postJSON(t, url+"/symbolicate?timeout=0", lookupBody(2)))
	j := s.jobs.get(id)
	if j == nil {
		t.Fatal("pending job not registered")
	}
	close(src.release)
	waitFor(t, j.done, "the job to finish")
	deadline := time.Now().Add(5 * time.Second)
	for s.jobs.get(id) != nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	wantFailed(t, get(t, url+"/requests/"+id), http.StatusNotFound, "unknown request id")
}

// metricValue sums the samples of a metric whose labels include want.
func metricValue(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestOverload checks the 503 beyond MaxConcurrent: a pending job keeps
// its slot until it is done, not only while a handler waits for it.
func TestOverload(t *testing.T) {
	src := newBlockingSource()
	reg := prometheus.NewRegistry()
	s := newAPI(t, newService(t, src), Config{MaxConcurrent: 1, Registerer: reg})
	url := serve(t, s)

	id := wantPending(t, postJSON(t, url+"/symbolicate?timeout=0", lookupBody(3)))
	r := postJSON(t, url+"/symbolicate?timeout=0", lookupBody(4))
	wantFailed(t, r, http.StatusServiceUnavailable, "too many concurrent requests; retry later")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	wantFailed(t, postForm(t, url+"/minidump", "upload_file_minidump", []byte("MDMP"), nil), http.StatusServiceUnavailable, "too many concurrent")
	if h := get(t, url+"/healthcheck"); h.code != http.StatusOK {
		t.Errorf("healthcheck while busy: %d", h.code)
	}
	if v := metricValue(t, reg, "cairn_symbolicator_api_jobs_running", nil); v != 1 {
		t.Errorf("jobs running %v, want 1", v)
	}

	close(src.release)
	if r := get(t, url+"/requests/"+id+"?timeout=5"); r.body["status"] != "completed" {
		t.Fatalf("first job: %d %s", r.code, r.raw)
	}
	if r := postJSON(t, url+"/symbolicate", lookupBody(5)); r.code != http.StatusOK || r.body["status"] != "completed" {
		t.Fatalf("after release: %d %s", r.code, r.raw)
	}
	if v := metricValue(t, reg, "cairn_symbolicator_api_rejected_total", nil); v != 2 {
		t.Errorf("rejected_total %v, want 2", v)
	}
	if v := metricValue(t, reg, "cairn_symbolicator_api_requests_total", map[string]string{"endpoint": "symbolicate", "outcome": "overloaded"}); v != 1 {
		t.Errorf("requests_total{symbolicate,overloaded} %v, want 1", v)
	}
	if v := metricValue(t, reg, "cairn_symbolicator_api_requests_total", map[string]string{"endpoint": "requests", "outcome": "completed"}); v != 1 {
		t.Errorf("requests_total{requests,completed} %v, want 1", v)
	}
	if v := metricValue(t, reg, "cairn_symbolicator_api_job_duration_seconds", map[string]string{"endpoint": "symbolicate", "outcome": "completed"}); v != 2 {
		t.Errorf("job_duration_seconds{symbolicate,completed} count %v, want 2", v)
	}
	if v := metricValue(t, reg, "cairn_symbolicator_api_jobs_running", nil); v != 0 {
		t.Errorf("jobs running %v, want 0", v)
	}
}

// TestClientGoneCancels checks that a job whose client hangs up before
// it was answered is cancelled and frees its slot.
func TestClientGoneCancels(t *testing.T) {
	src := newBlockingSource()
	s := newAPI(t, newService(t, src), Config{MaxConcurrent: 1})
	url := serve(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	body, _ := json.Marshal(lookupBody(6))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/symbolicate", bytes.NewReader(body))
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, src.started, "the job's first fetch")
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client request: %v, want cancelled", err)
	}
	waitFor(t, src.cancelled, "the job's fetch to be cancelled")
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := postJSON(t, url+"/symbolicate?timeout=0", lookupBody(7))
		if r.code != http.StatusServiceUnavailable {
			wantPending(t, r)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancelled job kept its slot")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBadRequests checks the answers to requests the server cannot
// read, and that none of them leaks a slot.
func TestBadRequests(t *testing.T) {
	s := newAPI(t, newService(t), Config{MaxConcurrent: 1, MaxUploadBytes: 1024})
	url := serve(t, s)
	big := bytes.Repeat([]byte{'x'}, 4096)

	wantFailed(t, postJSON(t, url+"/symbolicate", "{"), http.StatusBadRequest, "not a valid symbolication request")
	wantFailed(t, postJSON(t, url+"/symbolicate", "[]"), http.StatusBadRequest, "want a JSON object")
	wantFailed(t, postJSON(t, url+"/symbolicate", `{"stacktraces": 3}`), http.StatusBadRequest, "stacktraces")
	wantFailed(t, postJSON(t, url+"/symbolicate", `{"modules": [{"image_addr": "0xzz"}]}`), http.StatusBadRequest, "address")
	wantFailed(t, postJSON(t, url+"/symbolicate", `{"sources": [{"type": "ftp", "id": "x"}]}`), http.StatusBadRequest, "invalid sources")
	wantFailed(t, postJSON(t, url+"/symbolicate", `{"sources": {"type": "http"}}`), http.StatusBadRequest, "invalid sources")
	wantFailed(t, postJSON(t, url+"/symbolicate", `{"sources": [{"type": "filesystem", "id": "fs", "path": "/"}]}`), http.StatusBadRequest, "not allowed")
	wantFailed(t, postJSON(t, url+"/symbolicate", `{"sources": [{"type": "http", "id": "a", "url": "http://x/"}, {"type": "http", "id": "a", "url": "http://y/"}]}`), http.StatusBadRequest, "unique")
	wantFailed(t, postJSON(t, url+"/symbolicate", big), http.StatusRequestEntityTooLarge, "larger than 1024 bytes")
	for _, q := range []string{"abc", "-1", "", "NaN"} {
		wantFailed(t, postJSON(t, url+"/symbolicate?timeout="+q, "{}"), http.StatusBadRequest, "timeout")
	}
	wantFailed(t, get(t, url+"/requests/x?timeout=soon"), http.StatusBadRequest, "timeout")

	wantFailed(t, postForm(t, url+"/minidump", "", nil, map[string]string{"sources": "[]"}), http.StatusBadRequest, `missing file part "upload_file_minidump"`)
	wantFailed(t, postForm(t, url+"/minidump", "minidump", []byte("MDMP"), nil), http.StatusBadRequest, `"upload_file_minidump"`)
	wantFailed(t, postJSON(t, url+"/minidump", "{}"), http.StatusBadRequest, "multipart/form-data")
	wantFailed(t, postForm(t, url+"/minidump", "upload_file_minidump", []byte("MDMP"), map[string]string{"sources": "nope"}), http.StatusBadRequest, "invalid sources")
	wantFailed(t, postForm(t, url+"/minidump", "upload_file_minidump", []byte("MDMP"), map[string]string{"options": "nope"}), http.StatusBadRequest, "options")
	wantFailed(t, postForm(t, url+"/minidump", "upload_file_minidump", big, nil), http.StatusRequestEntityTooLarge, "upload limit of 1024 bytes")
	wantFailed(t, postForm(t, url+"/minidump?timeout=5", "upload_file_minidump", []byte("this is not a minidump"), nil), http.StatusBadRequest, "minidump")
	wantFailed(t, postForm(t, url+"/minidump", "upload_file_minidump", nil, nil), http.StatusBadRequest, "minidump")
	wantFailed(t, postForm(t, url+"/applecrashreport", "upload_file_minidump", []byte("x"), nil), http.StatusBadRequest, `missing file part "apple_crash_report"`)
	wantFailed(t, postForm(t, url+"/applecrashreport", "apple_crash_report", []byte("\x00\x01 not a crash report"), nil), http.StatusBadRequest, "")
	wantFailed(t, postForm(t, url+"/applecrashreport", "apple_crash_report", big, nil), http.StatusRequestEntityTooLarge, "upload limit")

	h := get(t, url+"/healthcheck")
	if h.code != http.StatusOK || string(h.raw) != "ok" || !strings.HasPrefix(h.header.Get("Content-Type"), "text/plain") {
		t.Errorf("healthcheck: %d %q %q", h.code, h.header.Get("Content-Type"), h.raw)
	}
	wantFailed(t, get(t, url+"/nope"), http.StatusNotFound, "no endpoint GET /nope")
	wantFailed(t, get(t, url+"/requests/"), http.StatusNotFound, "no endpoint")
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodGet, "/symbolicate", "POST"},
		{http.MethodPut, "/minidump", "POST"},
		{http.MethodGet, "/applecrashreport", "POST"},
		{http.MethodPost, "/healthcheck", "GET, HEAD"},
		{http.MethodPost, "/requests/abc", "GET"},
	} {
		req, _ := http.NewRequest(c.method, url+c.path, nil)
		r := do(t, req)
		wantFailed(t, r, http.StatusMethodNotAllowed, "not allowed")
		if r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, r.header.Get("Allow"), c.allow)
		}
	}

	// No refused request kept the only slot.
	if r := postJSON(t, url+"/symbolicate", "{}"); r.code != http.StatusOK || r.body["status"] != "completed" {
		t.Errorf("after the bad requests: %d %s", r.code, r.raw)
	}
}

// TestClose checks that Close ends a pending job and refuses new ones.
func TestClose(t *testing.T) {
	src := newBlockingSource()
	svc := newService(t, src)
	s, err := New(Config{Service: svc})
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, s)
	id := wantPending(t, postJSON(t, url+"/symbolicate?timeout=0", lookupBody(8)))
	j := s.jobs.get(id)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-j.done:
	default:
		t.Fatal("Close returned before the job ended")
	}
	if !strings.Contains(string(j.body), "shut down") {
		t.Errorf("job result after Close: %s", j.body)
	}
	wantFailed(t, postJSON(t, url+"/symbolicate", "{}"), http.StatusServiceUnavailable, "shutting down")
}

// FuzzSymbolicateBody posts arbitrary bodies to /symbolicate: the server
// must answer 200 (completed or failed) or 400, and never panic.
func FuzzSymbolicateBody(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"stacktraces":[],"modules":[]}`, `null`, `{`, `[]`, `"x"`,
		`{"stacktraces":[{"registers":{"rip":"0x10"},"frames":[{"instruction_addr":"0x7f0000000010"},{"instruction_addr":16}]}],` +
			`"modules":[{"type":"elf","code_id":"0011","debug_id":"00112233-4455-6677-8899-aabbccddeeff","code_file":"/a","image_addr":"0x7f0000000000","image_size":4096}]}`,
		`{"modules":[{"type":"pe","image_addr":"18446744073709551615","image_size":18446744073709551615}],"stacktraces":[{"frames":[{"instruction_addr":"0xffffffffffffffff"}]}]}`,
		`{"sources":[{"type":"http","id":"a","url":"http://127.0.0.1:1/","layout":{"type":"native"}}]}`,
		`{"sources":[{"type":"s3","id":"a","bucket":"b"}],"options":{"dedupe_sources":false}}`,
		`{"sources":null,"signal":11}`,
	} {
		f.Add([]byte(seed))
	}
	s := newAPI(f, newService(f), Config{MaxProcessing: 10 * time.Second,
		SourceOptions: sources.ConfigOptions{HTTPTimeout: 2 * time.Second}})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/symbolicate", bytes.NewReader(body))
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.Bytes())
		}
		var out struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || (out.Status != "completed" && out.Status != "failed") {
			t.Fatalf("answer %q for %q", rec.Body.Bytes(), body)
		}
		if rec.Code == http.StatusBadRequest && out.Status != "failed" {
			t.Fatalf("400 with status %q", out.Status)
		}
	})
}

// BenchmarkSymbolicateHTTP posts a crash fixture's minidump to /minidump
// through the handler with warm caches: the API's overhead (multipart
// parsing, temporary file, mapping, job bookkeeping, JSON encoding) on top
// of the stack walk.
func BenchmarkSymbolicateHTTP(b *testing.B) {
	c := fixtures.GetCrash(b, "crash-x86_64-gcc-O2-null")
	dump, err := os.ReadFile(c.Dump)
	if err != nil {
		b.Fatal(err)
	}
	s := newAPI(b, newService(b), Config{SourceOptions: sources.ConfigOptions{AllowFilesystem: true}})
	body, ct := multipartBody(b, "upload_file_minidump", dump, map[string]string{"sources": fsSources(crashStore(b, c))})
	post := func() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/minidump", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"status":"completed"`)) {
			b.Fatalf("status %d: %.300s", rec.Code, rec.Body.Bytes())
		}
	}
	post() // fill the caches
	b.ReportAllocs()
	b.SetBytes(int64(len(dump)))
	n := 0
	for b.Loop() {
		post()
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "minidumps/s")
}

// TestAppleCrashReport sends a crash report with no sources: the answer
// keeps the report's threads and images, every image missing or unused.
func TestAppleCrashReport(t *testing.T) {
	report, err := os.ReadFile(filepath.Join("..", "..", "applecrash", "testdata", "macos_x86_64.crash"))
	if err != nil {
		t.Fatal(err)
	}
	s := newAPI(t, newService(t), Config{})
	url := serve(t, s)
	r := postForm(t, url+"/applecrashreport?timeout=30", "apple_crash_report", report, map[string]string{"sources": "[]", "options": "{}"})
	if r.code != http.StatusOK || r.body["status"] != "completed" {
		t.Fatalf("status %d: %.500s", r.code, r.raw)
	}
	sts := list(t, r.body, "stacktraces")
	if len(sts) == 0 || len(list(t, sts[0], "frames")) == 0 {
		t.Fatalf("no frames: %.500s", r.raw)
	}
	for _, st := range sts {
		for _, f := range list(t, st, "frames") {
			wantHexAddr(t, f, "instruction_addr")
		}
	}
	mods := list(t, r.body, "modules")
	if len(mods) == 0 {
		t.Fatal("no modules")
	}
	for _, m := range mods {
		wantHexAddr(t, m, "image_addr")
		if d := str(t, m, "debug_status"); str(t, m, "type") != "macho" || (d != "missing" && d != "unused") || len(list(t, m, "candidates")) != 0 {
			t.Errorf("module %v, want a macho module, missing or unused, with no candidates (no sources)", m)
		}
	}
}
