package service

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/symoracle"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// oracleCase is a fixture symbolicated through a source of one kind.
type oracleCase struct {
	fixture string
	// debug is the output holding the debug information, bin the one
	// llvm-symbolizer reads.
	debug, bin string
	objType    string
	fileType   sources.FileType
	layout     sources.Layout
	http       bool
	// required is the least agreement with llvm-symbolizer; 0 reports
	// the figure only.
	required float64
}

// TestSymbolicateAgainstLLVM sends 2,000 addresses of an ELF, a Mach-O and
// a PE fixture through Symbolicate, with the debug files found in a
// filesystem or HTTP source under different layouts, and compares every
// frame's function, file, line and inline chain with llvm-symbolizer-14
// --inlines on the same addresses. The PE fixture's known differences are
// llvm-symbolizer 14's faults with PDBs (symoracle.PDBClasses).
func TestSymbolicateAgainstLLVM(t *testing.T) {
	cases := []oracleCase{
		{fixture: "elf-x86_64-gcc-O2", debug: "demo", bin: "demo", objType: "elf", fileType: sources.FileELFDebug, layout: sources.LayoutNative, required: 99.5},
		{fixture: "elf-x86_64-clang-O2", debug: "demo", bin: "demo", objType: "elf", fileType: sources.FileELFCode, layout: sources.LayoutUnified, http: true, required: 99.5},
		{fixture: "macho-arm64", debug: "demo.dSYM/Contents/Resources/DWARF/demo", bin: "demo", objType: "macho", fileType: sources.FileMachDebug, layout: sources.LayoutNative, required: 99.5},
		{fixture: "pe-x86_64-clang-O2", debug: "demo.pdb", bin: "demo.exe", objType: "pe", fileType: sources.FilePDB, layout: sources.LayoutSymstore, http: true, required: 99.5},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			dir := fixtures.GetDir(t, tc.fixture)
			bin, dbg := filepath.Join(dir, tc.bin), filepath.Join(dir, tc.debug)
			a, err := loader.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			code := a.Objects[0]
			id := sources.FileID{DebugID: code.DebugID(), CodeID: code.CodeID(), CodeFile: "/opt/app/" + tc.bin,
				DebugFile: code.DebugFile(), Object: sources.ParseObjectType(tc.objType), Arch: code.Arch()}
			if id.DebugFile == "" {
				id.DebugFile = id.CodeFile
			}
			root := t.TempDir()
			layout := sources.DirectoryLayout{Type: tc.layout}
			place(t, root, layout, tc.fileType, id, dbg)
			var src sources.Source = sources.NewFilesystem("fs", root, layout, sources.Filters{})
			if tc.http {
				srv := httptest.NewServer(http.FileServer(http.Dir(root)))
				defer srv.Close()
				src, err = sources.NewHTTP(sources.HTTPConfig{ID: "web", URL: srv.URL + "/", Layout: layout, AllowPrivate: true})
				if err != nil {
					t.Fatal(err)
				}
			}
			ranges, err := fixtures.TextRanges(bin)
			if err != nil || len(ranges) == 0 {
				t.Fatalf("code range of %s: %v", bin, err)
			}
			load := code.LoadAddress()
			addrs, err := fixtures.RandomTextAddrs(bin, 2000, 7)
			if err != nil {
				t.Fatal(err)
			}
			const base = 0x7f3400000000
			req := &SymbolicateRequest{Modules: []ModuleInfo{{Type: tc.objType, CodeID: id.CodeID, CodeFile: id.CodeFile,
				DebugID: id.DebugID.String(), DebugFile: id.DebugFile, Arch: id.Arch, ImageAddr: base, ImageSize: ranges[0].End - load + 0x1000}}}
			no := false
			st := StacktraceIn{}
			for _, a := range addrs {
				st.Frames = append(st.Frames, FrameIn{InstructionAddr: Addr(base + a - load), AdjustInstructionAddr: &no})
			}
			req.Stacktraces = []StacktraceIn{st}
			s := newService(t)
			resp, err := s.Symbolicate(context.Background(), req, []sources.Source{src})
			if err != nil {
				t.Fatal(err)
			}
			if m := resp.Modules[0]; m.DebugStatus != "found" || m.UnwindStatus != "unused" {
				t.Fatalf("module: debug %s, unwind %s, candidates %+v", m.DebugStatus, m.UnwindStatus, m.Candidates)
			}
			chains := make([][]debugfiles.Frame, len(addrs))
			for _, f := range resp.Stacktraces[0].Frames {
				if f.Status != frameSymbolicated {
					continue
				}
				i := *f.OriginalIndex
				// Addresses relative to the image, as debugfiles
				// gives them.
				chains[i] = append(chains[i], debugfiles.Frame{Function: f.Symbol, File: debugfiles.FileInfo{Name: f.AbsPath},
					Line: f.Lineno, Address: uint64(*f.SymAddr) - base})
			}
			for _, c := range chains {
				for j := range c {
					c[j].Inlined = j < len(c)-1
				}
			}
			want := symoracle.Symbolize(t, bin, addrs)
			symtab, _ := symoracle.SymbolTable(bin, id.Arch)
			index := map[uint64]int{}
			for i, a := range addrs {
				index[a] = i
			}
			// Code without DWARF (GCC's crtstuff.c: deregister_tm_clones
			// and friends) is named from the symbol table, with the file
			// of the STT_FILE entry before a local symbol, as
			// llvm-symbolizer names it: no class of its own.
			opts := symoracle.FixtureOptions(tc.fixture, symtab)
			if tc.fileType == sources.FilePDB {
				// llvm-symbolizer 14's PDB reader has faults of its own,
				// explained from Cairn's reading of the same PDB.
				opts = symoracle.NewPDBOracle(t, bin, dbg, pdbFunctions(t, dbg)).Options()
			}
			res := symoracle.Compare(addrs, want, func(a uint64) []debugfiles.Frame { return chains[index[a]] }, opts)
			t.Logf("%s via %s (%v layout): %s", tc.fixture, src.ID(), tc.layout, res)
			for _, e := range res.Unexplained() {
				if tc.required > 0 || testing.Verbose() {
					t.Logf("UNEXPLAINED %s", e)
				}
			}
			if tc.required > 0 && res.ExplainedPct() < tc.required {
				t.Errorf("%s, want at least %.1f%%", res, tc.required)
			}
			if !strings.Contains(resp.Modules[0].Candidates[len(resp.Modules[0].Candidates)-1].Download.Status, "ok") {
				t.Errorf("last candidate %+v, want the found file", resp.Modules[0].Candidates)
			}
		})
	}
}

// pdbFunctions reads the function trees of a PDB.
func pdbFunctions(t *testing.T, file string) []*debugfiles.Function {
	t.Helper()
	a, err := loader.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	return symoracle.ObjectFunctions(t, a.Objects[0])
}
