package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/symoracle"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// runIn runs a cairn command with stdin.
func runIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func llvmSymbolizer(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(symoracle.Tool); err != nil {
		testtools.Missing(t, symoracle.Tool, symoracle.Install)
	}
	cmd := exec.Command(symoracle.Tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", symoracle.Tool, args, err)
	}
	return string(out)
}

// What Cairn cannot know, erased from llvm-symbolizer's output before the
// byte comparison: columns (LLVM style), discriminators (GNU style), and in
// JSON the column, discriminator, declaration file and line, and the start
// address (llvm's is the DIE's DW_AT_low_pc, empty for DW_AT_ranges; ours
// the start of the range containing the address).
var (
	reColumn = regexp.MustCompile(`(?m)^(.*:\d+):\d+$`)
	reDiscr  = regexp.MustCompile(`(?m) \(discriminator \d+\)$`)
	reJSON   = regexp.MustCompile(`"(Column|Discriminator|StartLine)":\d+|"(StartFileName|StartAddress)":"[^"]*"`)
)

func normalize(style, s string) string {
	switch style {
	case "LLVM":
		return reColumn.ReplaceAllString(s, "$1:0")
	case "GNU":
		return reDiscr.ReplaceAllString(s, "")
	}
	return reJSON.ReplaceAllString(s, `"$1$2":-`)
}

// cliFixtures are the fixtures the output comparison runs on: two
// compilers with inline chains and C++ names, a split-function gcc -O3
// build, a Mach-O binary read through its dSYM, a PE image through its PDB.
var cliFixtures = []string{"elf-x86_64-gcc-O2", "elf-x86_64-clang-O2", "elf-x86_64-gcc-O3", "macho-x86_64", "pe-x86_64-clang-O2"}

// cliAddrs draws code addresses and adds every function symbol's start.
func cliAddrs(t *testing.T, bin string, n int) []uint64 {
	t.Helper()
	addrs, err := fixtures.RandomTextAddrs(bin, n, 42)
	if err != nil {
		t.Fatal(err)
	}
	// Function starts too, where the file has a symbol table (an
	// MSVC-linked image keeps its names in the PDB).
	syms, _ := fixtures.FunctionSymbols(bin)
	for _, s := range syms {
		addrs = append(addrs, s.Addr)
	}
	return append(addrs, 0, 1, ^uint64(0))
}

// TestSymbolicateAgainstLLVMSymbolizer runs `cairn symbolicate` and
// llvm-symbolizer-14 on the same addresses of several fixtures in every
// output style, demangled and not, and requires byte-identical output
// (after erasing what Cairn cannot know, see normalize) for every address
// where the two agree on the frames — function, file and line of every
// frame, which symoracle's tests require for ≥99.5% of addresses — and
// reports the share of identical addresses.
func TestSymbolicateAgainstLLVMSymbolizer(t *testing.T) {
	for _, name := range cliFixtures {
		t.Run(name, func(t *testing.T) {
			bin := fixtures.Get(t, name)
			addrs := cliAddrs(t, bin, 3000)
			var in strings.Builder
			for _, a := range addrs {
				fmt.Fprintf(&in, "0x%x\n", a)
			}
			cache := t.TempDir()
			for _, mangling := range [][]string{nil, {"--no-demangle"}} {
				// Which addresses agree: compare the JSON frames.
				jsonArgs := append([]string{"--output-style=JSON"}, mangling...)
				want := llvmSymbolizer(t, in.String(), append([]string{"--obj=" + bin}, jsonArgs...)...)
				got, err := runIn(t, in.String(), append([]string{"symbolicate", "--obj", bin, "--cache-dir", cache}, jsonArgs...)...)
				if err != nil {
					t.Fatal(err)
				}
				agree := agreeing(t, got, want, len(addrs))
				n := 0
				for _, ok := range agree {
					if ok {
						n++
					}
				}
				t.Logf("%v: frames agree at %d of %d addresses", mangling, n, len(addrs))
				// The rest differ by symbol-table names llvm-symbolizer puts
				// on outer frames ("main.cold") and by names Cairn
				// qualifies; debugfiles/symcache's oracle test explains
				// them and requires 99.5% with them.
				if float64(n) < 0.6*float64(len(addrs)) {
					t.Errorf("frames agree at only %d of %d addresses", n, len(addrs))
				}
				for _, style := range []string{"LLVM", "GNU", "JSON"} {
					args := append([]string{"--output-style=" + style, "-a"}, mangling...)
					want := llvmSymbolizer(t, in.String(), append([]string{"--obj=" + bin}, args...)...)
					got, err := runIn(t, in.String(), append([]string{"symbolicate", "--obj", bin, "--cache-dir", cache}, args...)...)
					if err != nil {
						t.Fatal(err)
					}
					wb, gb := blocks(style, normalize(style, want)), blocks(style, normalize(style, got))
					if len(wb) != len(addrs) || len(gb) != len(addrs) {
						t.Fatalf("%s: %d and %d answers for %d addresses", style, len(gb), len(wb), len(addrs))
					}
					bad := 0
					for i := range addrs {
						if agree[i] && gb[i] != wb[i] {
							bad++
							if bad <= 3 {
								t.Errorf("%s %#x:\ncairn:\n%s\nllvm-symbolizer:\n%s", style, addrs[i], gb[i], wb[i])
							}
						}
					}
					if bad > 0 {
						t.Errorf("%s %v: %d addresses print differently where the frames agree", style, mangling, bad)
					}
				}
			}
		})
	}
}

// TestSymbolicateCodeWithoutDebugInfo checks the code no DWARF describes
// (the C runtime's start-up and shutdown functions linked into every
// fixture) against llvm-symbolizer-14: at the start, middle and last byte
// of every function symbol (the second byte where the symbol records no
// size) where llvm-symbolizer answers from the symbol table (one frame,
// line 0), the output must be byte-identical in every style: the symbol's
// name, and for a local symbol the file of the STT_FILE entry before it
// ("crtstuff.c:0").
func TestSymbolicateCodeWithoutDebugInfo(t *testing.T) {
	for _, name := range []string{"elf-x86_64-gcc-O2", "elf-x86_64-clang-O2", "elf-aarch64-gcc-O2"} {
		t.Run(name, func(t *testing.T) {
			bin := fixtures.Get(t, name)
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			syms, err := f.Symbols()
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			var all []uint64
			for _, s := range syms {
				if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 {
					continue
				}
				// The start-up code's symbols record no size: their
				// second byte, which both take to belong to them.
				all = append(all, s.Value, s.Value+max(s.Size/2, 1), s.Value+max(s.Size, 2)-1)
			}
			// The addresses llvm-symbolizer answers from the symbol table.
			var in strings.Builder
			for _, a := range all {
				fmt.Fprintf(&in, "0x%x\n", a)
			}
			type answer struct {
				Symbol []struct {
					FunctionName, FileName string
					Line                   int
				}
			}
			var answers []answer
			for _, l := range strings.Split(strings.TrimSpace(llvmSymbolizer(t, in.String(), "--obj="+bin, "--output-style=JSON")), "\n") {
				var r answer
				if err := json.Unmarshal([]byte(l), &r); err != nil {
					t.Fatalf("%v: %s", err, l)
				}
				answers = append(answers, r)
			}
			if len(answers) != len(all) {
				t.Fatalf("llvm-symbolizer: %d answers for %d addresses", len(answers), len(all))
			}
			in.Reset()
			var named []string
			for i, r := range answers {
				// The symbol table's answers: no line, and no file or the
				// STT_FILE name (the fixtures' DWARF paths are absolute).
				// The last symbol, which records no size (_fini), has no
				// end in Cairn; llvm-symbolizer gives it every address
				// above.
				if len(r.Symbol) == 1 && r.Symbol[0].Line == 0 && r.Symbol[0].FunctionName != "" &&
					!strings.Contains(r.Symbol[0].FileName, "/") && r.Symbol[0].FunctionName != "_fini" {
					fmt.Fprintf(&in, "0x%x\n", all[i])
					named = append(named, r.Symbol[0].FunctionName)
				}
			}
			if !slices.Contains(named, "frame_dummy") {
				t.Fatalf("llvm-symbolizer names no start-up code from the symbol table (named %v)", named)
			}
			for _, style := range []string{"LLVM", "GNU", "JSON"} {
				args := []string{"--output-style=" + style, "-a"}
				want := llvmSymbolizer(t, in.String(), append([]string{"--obj=" + bin}, args...)...)
				got, err := runIn(t, in.String(), append([]string{"symbolicate", "--no-cache", "--obj", bin}, args...)...)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s, at %d addresses of %v:\ncairn:\n%s\nllvm-symbolizer:\n%s", style, len(named), slices.Compact(named), got, want)
				}
			}
		})
	}
}

// agreeing compares two JSON outputs (one object per line) frame by frame.
func agreeing(t *testing.T, got, want string, n int) []bool {
	t.Helper()
	type frame struct {
		FunctionName, FileName string
		Line                   int
	}
	parse := func(s string) [][]frame {
		var out [][]frame
		sc := bufio.NewScanner(strings.NewReader(s))
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var r struct{ Symbol []frame }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%v: %s", err, sc.Text())
			}
			out = append(out, r.Symbol)
		}
		return out
	}
	g, w := parse(got), parse(want)
	if len(g) != n || len(w) != n {
		t.Fatalf("JSON: %d and %d answers for %d addresses", len(g), len(w), n)
	}
	out := make([]bool, n)
	for i := range out {
		out[i] = fmt.Sprint(g[i]) == fmt.Sprint(w[i])
	}
	return out
}

// blocks splits output printed with -a into one block per address.
func blocks(style, s string) []string {
	if style == "JSON" {
		return strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	}
	var out []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(l, "0x") && !strings.Contains(l, "/") && !strings.Contains(l, ":") {
			out = append(out, "")
		}
		if len(out) > 0 {
			out[len(out)-1] += l
		}
	}
	return out
}

// TestSymbolicateArguments compares the argument forms with
// llvm-symbolizer: addresses on the command line (JSON becomes one array),
// --no-inlines, --functions=none, --relative-address (a no-op outside PE),
// unknown addresses and an unparsable input.
func TestSymbolicateArguments(t *testing.T) {
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	syms, err := fixtures.FunctionSymbols(bin)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	// Symbols without a suffix (".cold", ".isra.0"): llvm-symbolizer
	// names the outermost frame of those after the symbol table.
	syms = slices.DeleteFunc(syms, func(s fixtures.Symbol) bool { return strings.Contains(s.Name, ".") })
	args := []string{"0x0", "12"}
	for range 12 {
		s := syms[rng.IntN(len(syms))]
		args = append(args, fmt.Sprintf("0x%x", s.Addr+rng.Uint64N(s.Size)))
	}
	for _, extra := range [][]string{
		{"--output-style=JSON"}, {"--no-inlines"}, {"--functions=none"}, {"--relative-address"},
		{"--output-style=GNU", "--no-inlines"}, {"-a", "--no-demangle"}, {"--output-style=JSON", "--no-inlines"},
	} {
		want := llvmSymbolizer(t, "", append(append([]string{"--obj=" + bin}, extra...), args...)...)
		got, err := runIn(t, "", append(append([]string{"symbolicate", "--no-cache", "--obj", bin}, extra...), args...)...)
		if err != nil {
			t.Fatal(err)
		}
		style := "LLVM"
		if strings.Contains(strings.Join(extra, " "), "JSON") {
			style = "JSON"
		} else if strings.Contains(strings.Join(extra, " "), "GNU") {
			style = "GNU"
		}
		if normalize(style, got) != normalize(style, want) {
			t.Errorf("%v:\ncairn:\n%s\nllvm-symbolizer:\n%s", extra, got, want)
		}
	}
	// Input that is no address is echoed (JSON: an error object).
	want := llvmSymbolizer(t, "xyz\n0x0\n", "--obj="+bin)
	got, _ := runIn(t, "xyz\n0x0\n", "symbolicate", "--no-cache", "--obj", bin)
	if got != want {
		t.Errorf("bad input: %q, llvm-symbolizer %q", got, want)
	}
	want = llvmSymbolizer(t, "xyz\n", "--obj="+bin, "--output-style=JSON")
	got, _ = runIn(t, "xyz\n", "symbolicate", "--no-cache", "--obj", bin, "--output-style=JSON")
	if got != want {
		t.Errorf("bad input JSON: %q, llvm-symbolizer %q", got, want)
	}
}

// TestSymcacheBuildAndCache builds a symcache file, symbolicates through it
// and through the cache directory, and checks that all three answer alike.
func TestSymcacheBuildAndCache(t *testing.T) {
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	out := filepath.Join(t.TempDir(), "demo.symcache")
	msg, err := run(t, "symcache", "build", bin, "-o", out)
	if err != nil || !strings.Contains(msg, "checksum ok") {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	addrs := cliAddrs(t, bin, 500)
	var in strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&in, "%#x\n", a)
	}
	direct, err := runIn(t, in.String(), "symbolicate", "--no-cache", "--obj", bin)
	if err != nil {
		t.Fatal(err)
	}
	viaFile, err := runIn(t, in.String(), "symbolicate", "--obj", out)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	for i := range 2 { // the second run reads the cache
		viaCache, err := runIn(t, in.String(), "symbolicate", "--cache-dir", cache, "--obj", bin)
		if err != nil {
			t.Fatal(err)
		}
		if viaCache != direct {
			t.Errorf("run %d through the cache directory differs", i)
		}
	}
	if viaFile != direct {
		t.Error("symbolicating through the .symcache file differs")
	}
	if m, _ := filepath.Glob(filepath.Join(cache, "*", "*.symcache")); len(m) != 1 {
		t.Errorf("cache holds %v", m)
	}
	// A damaged cache file is refused with a corrupt-file error.
	data, _ := os.ReadFile(out)
	data[len(data)-1] ^= 0xff
	os.WriteFile(out, data, 0o644)
	if _, err := runIn(t, "0x0\n", "symbolicate", "--obj", out); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("damaged symcache: err = %v", err)
	}
	if _, err := run(t, "symbolicate", "0x0"); err == nil {
		t.Error("no --obj: no error")
	}
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]uint64{
		"0x1a": 0x1a, "0X1A": 0x1a, "26": 26, "032": 26, "  0x10  junk": 0x10, "CODE 0x20": 0x20, "0": 0,
		"0xffffffffffffffff": ^uint64(0),
	} {
		if got, ok := parseAddress([]byte(in)); !ok || got != want {
			t.Errorf("parseAddress(%q) = %#x, %v; want %#x", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "xyz", "0x", "0x1g", "09", "0x10000000000000000", "1_000", "CODE"} {
		if v, ok := parseAddress([]byte(in)); ok {
			t.Errorf("parseAddress(%q) = %#x, want an error", in, v)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		`a"b\c`:             `"a\"b\\c"`,
		"tab\tnl\ncr\r\x01": `"tab\tnl\ncr\r\u0001"`,
		"π <&> \xff":        "\"π <&> \uFFFD\"",
	} {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal(appendJSONString(nil, in), &back); err != nil {
			t.Errorf("%q: not JSON: %v", in, err)
		}
	}
	if got := string(appendJSONString2(nil, "/src/", "a.c")); got != `"/src/a.c"` {
		t.Errorf("appendJSONString2 = %s", got)
	}
}

// TestSymbolicateOffsets checks --offsets (module offsets for every
// format) against absolute addresses on a binary loaded above 0.
func TestSymbolicateOffsets(t *testing.T) {
	bin := fixtures.Get(t, "macho-x86_64")
	start, _, err := fixtures.TextRange(bin)
	if err != nil {
		t.Fatal(err)
	}
	const load = 0x100000000 // the __TEXT vmaddr of the fixture
	abs, err := run(t, "symbolicate", "--no-cache", "--obj", bin, fmt.Sprintf("%#x", start+4))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := run(t, "symbolicate", "--no-cache", "--obj", bin, "--offsets", fmt.Sprintf("%#x", start+4-load))
	if err != nil {
		t.Fatal(err)
	}
	if abs != rel || strings.HasPrefix(abs, "??") {
		t.Errorf("absolute:\n%s\noffset:\n%s", abs, rel)
	}
}

// Streamed input is cut into blocks that several workers symbolicate:
// the answers are those of one worker, in input order, whatever the
// number of workers, for every output style, with lines longer than a
// block, blank and unparsable lines, and a last line without a newline.
func TestSymbolicateStreamWorkers(t *testing.T) {
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	start, end, err := fixtures.TextRange(bin)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadSymcache(bin, "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var in bytes.Buffer
	rng := rand.New(rand.NewPCG(1, 2))
	for in.Len() < 8*streamBlock {
		switch n := rng.IntN(1000); {
		case n == 0:
			in.WriteString(strings.Repeat("7", streamBlock+100) + "\n") // longer than a block
		case n < 5:
			in.WriteString("not-an-address\n\n")
		default:
			fmt.Fprintf(&in, "%#x\n", start+rng.Uint64N(end-start))
		}
	}
	fmt.Fprintf(&in, "%#x", start) // no final newline
	for _, style := range []string{"LLVM", "GNU", "JSON"} {
		f := symbolicateFlags{obj: bin, style: style, inlines: true, demangle: true, functions: "linkage"}
		var want bytes.Buffer
		if err := newSymbolizer(c, f).streamWorkers(&want, bytes.NewReader(in.Bytes()), 1); err != nil {
			t.Fatal(err)
		}
		for _, workers := range []int{2, 3, 8} {
			var got bytes.Buffer
			if err := newSymbolizer(c, f).streamWorkers(&got, iotest.HalfReader(bytes.NewReader(in.Bytes())), workers); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Errorf("%s, %d workers: %d bytes of answers differ from one worker's %d", style, workers, got.Len(), want.Len())
			}
		}
	}
}

// A writer that fails stops the stream with its error.
func TestSymbolicateStreamWriteError(t *testing.T) {
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	c, err := loadSymcache(bin, "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := strings.Repeat("0x1000\n", 2*streamBlock/7)
	err = newSymbolizer(c, symbolicateFlags{obj: bin, style: "LLVM"}).streamWorkers(failingWriter{}, strings.NewReader(in), 2)
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("stream with a failing writer: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// formatOnly is an object of which buildHeapFor may ask only the format.
type formatOnly struct {
	debugfiles.Object
	format debugfiles.Format
}

func (o formatOnly) Format() debugfiles.Format { return o.format }

func TestBuildHeapFor(t *testing.T) {
	elf := formatOnly{format: debugfiles.FormatELF}
	pe := formatOnly{format: debugfiles.FormatPE}
	pdbFile := formatOnly{format: debugfiles.FormatPDB}
	tests := []struct {
		name string
		obj  debugfiles.Object
		want int
	}{
		{"ELF", elf, buildHeap},
		{"mingw PE with DWARF", pe, buildHeap},
		{"Breakpad .sym", formatOnly{format: debugfiles.FormatBreakpad}, buildHeap},
		{"binary and its .debug file", &loader.Companion{Object: elf, Debug: elf}, buildHeap},
		{"PDB", pdbFile, 0},
		{"PE image and its PDB", &loader.Companion{Object: pe, Debug: pdbFile}, 0},
		{"PE image and its PDB, as symbolicate records it", pdbCompanion{&loader.Companion{Object: pe, Debug: pdbFile}}, 0},
	}
	for _, tt := range tests {
		if got := buildHeapFor(tt.obj); got != tt.want {
			t.Errorf("%s: buildHeapFor = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestSymcacheOptions checks that a command builds the symcache of DWARF
// with its intermediate tables in memory and a collection once the
// functions are read, and a PDB's with neither, as its memory goal wants;
// and both with the symbol table naming what the debug information leaves
// out.
func TestSymcacheOptions(t *testing.T) {
	r, _ := fixtures.Lookup("pe-x86_64-clang-O2")
	for _, tc := range []struct {
		name    string
		path    func() string
		want    int64
		collect bool
	}{
		{"DWARF", func() string { return fixtures.Get(t, "elf-x86_64-gcc-O2") }, symcacheSpillMemory, true},
		{"PDB", func() string { return filepath.Join(fixtures.GetDir(t, r.Name), r.Outputs[1]) }, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := loader.Open(tc.path())
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			opts := symcacheOptions(a.Objects[0])
			if opts.SpillMemory != tc.want {
				t.Errorf("SpillMemory %d, want %d", opts.SpillMemory, tc.want)
			}
			if got := opts.AfterReading != nil; got != tc.collect {
				t.Errorf("AfterReading set: %v, want %v", got, tc.collect)
			}
			if !opts.FillFromSymbols {
				t.Error("FillFromSymbols not set: code without debug information would print as ??")
			}
		})
	}
}
