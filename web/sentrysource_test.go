package web_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/demangle"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/service"
	"github.com/cairn-dev/cairn/symbolicator/sources"
	"github.com/cairn-dev/cairn/web"
)

// TestSentrySourceSymbolicates uploads debug files with the real
// sentry-cli, then symbolicates through a "sentry" source pointed at this
// server's dsyms endpoint, as Symbolicator reads a Sentry project's files:
// the list filtered by debug_id/code_id, then the download by ?id=.
func TestSentrySourceSymbolicates(t *testing.T) {
	s := newDifServer(t, web.DebugFileConfig{ChunkSize: 64 << 10})
	dir := debugFileDir(t)
	if out, err := sentryCLI(t, s, "debug-files", "upload", "--org", "default", "--project", "default", "--wait", dir); err != nil {
		t.Fatalf("sentry-cli debug-files upload: %v\n%s", err, out)
	}
	src, err := sources.NewSentry(sources.SentryConfig{ID: "sentry:project", URL: s.srv.URL + "/api/0/projects/default/default/files/dsyms/",
		Token: s.token, AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Config{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	bin := filepath.Join(dir, "linux", "demo")
	a, err := loader.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	obj := a.Objects[0]
	syms, err := fixtures.FunctionSymbols(bin)
	if err != nil || len(syms) == 0 {
		t.Fatalf("function symbols: %v", err)
	}
	const base = 0x555500000000
	no := false
	var st service.StacktraceIn
	var want []string
	for _, sym := range syms {
		if sym.Size < 2 {
			continue
		}
		st.Frames = append(st.Frames, service.FrameIn{InstructionAddr: service.Addr(base + sym.Addr - obj.LoadAddress()), AdjustInstructionAddr: &no})
		want = append(want, sym.Name)
	}
	req := &service.SymbolicateRequest{Stacktraces: []service.StacktraceIn{st}, Modules: []service.ModuleInfo{{
		Type: "elf", CodeID: obj.CodeID(), DebugID: obj.DebugID().String(), CodeFile: "/usr/bin/demo",
		ImageAddr: base, ImageSize: 1 << 24}}}
	resp, err := svc.Symbolicate(context.Background(), req, []sources.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Modules[0]
	if m.DebugStatus != "found" {
		t.Fatalf("debug status %s; candidates %+v", m.DebugStatus, m.Candidates)
	}
	// The outermost frame of each address names the symbol there (a
	// function's .cold part is named after the function).
	outer := map[int]string{}
	for _, f := range resp.Stacktraces[0].Frames {
		outer[*f.OriginalIndex] = f.Symbol
	}
	bad := 0
	for i, name := range want {
		name = strings.TrimSuffix(name, ".cold")
		// DWARF names functions of anonymous namespaces without a
		// linkage name.
		if outer[i] != name && outer[i] != demangle.Demangle(name, demangle.NoParams) {
			bad++
			if bad < 5 {
				t.Errorf("frame %d: %q, want %q", i, outer[i], name)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d functions misnamed", bad, len(want))
	}
}
