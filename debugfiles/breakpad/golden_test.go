package breakpad

import (
	"bufio"
	"cmp"
	"fmt"
	"github.com/cairn-dev/cairn/internal/testtools"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

// stackResolver answers "what frames does minidump_stackwalk print for this
// module offset" from an Object, following BasicSourceLineResolver: the
// FUNC containing the address (an earlier FUNC wins over a later one that
// overlaps it), else the nearest PUBLIC below it that is above the nearest
// FUNC below it; then the inline chain of the FUNC with the file:line
// shuffling of ConstructInlineFrames. It is the reference the future
// symbolizer is held to, written here only to check that the Functions
// tree carries everything needed.
type stackResolver struct {
	funcs   []*debugfiles.Function // accepted FUNCs sorted by address
	publics []debugfiles.Symbol    // PUBLIC records sorted by address
}

func newStackResolver(t testing.TB, o *Object, opts SessionOptions) *stackResolver {
	t.Helper()
	sess := o.Session(opts)
	r := &stackResolver{}
	for f, err := range sess.Functions() {
		if err != nil {
			t.Fatal(err)
		}
		// Breakpad's RangeMap refuses a FUNC overlapping one stored before.
		i := sort.Search(len(r.funcs), func(k int) bool { return r.funcs[k].Address >= f.Address })
		if (i > 0 && r.funcs[i-1].End() > f.Address) || (i < len(r.funcs) && r.funcs[i].Address < f.End()) {
			continue
		}
		r.funcs = slices.Insert(r.funcs, i, f)
	}
	rd := o.Reader()
	for rd.Next() {
		if rec := rd.Record(); rec.Kind == KindPublic && rec.Public.Address != 0 {
			r.publics = append(r.publics, debugfiles.Symbol{Name: string(rec.Public.Name), Address: rec.Public.Address})
		}
	}
	slices.SortStableFunc(r.publics, func(a, b debugfiles.Symbol) int { return cmp.Compare(a.Address, b.Address) })
	r.publics = slices.CompactFunc(r.publics, func(a, b debugfiles.Symbol) bool { return a.Address == b.Address })
	return r
}

// stackFrame is one line of minidump_stackwalk -m output, past the module.
type stackFrame struct {
	Function, File string
	Line           uint32
	Offset         uint64
}

func (f stackFrame) String() string {
	line := ""
	if f.File != "" {
		line = strconv.Itoa(int(f.Line))
	}
	return fmt.Sprintf("%s|%s|%s|%#x", f.Function, f.File, line, f.Offset)
}

// frames returns the frames for a lookup at module offset addr of an
// instruction whose return address is ret (also a module offset) in a module
// loaded at base, innermost first.
func (r *stackResolver) frames(addr, ret, base uint64) []stackFrame {
	strip := func(s string) string { return strings.ReplaceAll(s, "|", "_") }
	i := sort.Search(len(r.funcs), func(k int) bool { return r.funcs[k].Address > addr }) - 1
	if i < 0 || addr >= r.funcs[i].End() {
		j := sort.Search(len(r.publics), func(k int) bool { return r.publics[k].Address > addr }) - 1
		if j >= 0 && (i < 0 || r.publics[j].Address > r.funcs[i].Address) {
			p := r.publics[j]
			return []stackFrame{{Function: strip(p.Name), Offset: ret - p.Address}}
		}
		return []stackFrame{{Offset: ret}}
	}
	f := r.funcs[i]
	var file string
	var line uint32
	var lineBase uint64
	hasLine := false
	if k := sort.Search(len(f.Lines), func(k int) bool { return f.Lines[k].Address+f.Lines[k].Size > addr }); k < len(f.Lines) && f.Lines[k].Address <= addr {
		l := f.Lines[k]
		file, line, lineBase, hasLine = l.File.Name, l.Line, l.Address, true
	}
	// The inline chain, outermost first.
	var chain []*debugfiles.Function
	for list := f.Inlinees; ; {
		k := sort.Search(len(list), func(k int) bool { return list[k].Address > addr }) - 1
		if k < 0 || addr >= list[k].End() {
			break
		}
		chain = append(chain, list[k])
		list = list[k].Inlinees
	}
	// Inline frames are plain StackFrame copies whose ReturnAddress is the
	// lookup address itself, not the CPU frame's return address: their
	// offsets are one less in caller frames on x86.
	mk := func(name string, base uint64, file string, line uint32, inline bool) stackFrame {
		ret := ret
		if inline {
			ret = addr
		}
		fr := stackFrame{Function: strip(name), File: strip(file), Line: line}
		if file != "" && hasLine {
			fr.Offset = ret - lineBase
		} else if file != "" {
			fr.Offset = base + ret // source_line_base stays 0 without a line record
		} else {
			fr.Offset = ret - base
		}
		return fr
	}
	var out []stackFrame
	curFile, curLine := file, line
	for k := len(chain) - 1; k >= 0; k-- {
		in := chain[k]
		out = append(out, mk(in.Name, in.Address, curFile, curLine, true))
		// The next frame out shows this inlinee's call site; without a
		// call file Breakpad repeats the innermost line record's file.
		curLine = in.CallLine
		if in.CallFile.Name != "" {
			curFile = in.CallFile.Name
		} else {
			curFile = file
		}
	}
	return append(out, mk(f.Name, f.Address, curFile, curLine, false))
}

// walkModule is a module line of minidump_stackwalk -m output.
type walkModule struct {
	debugFile, debugID string
	base               uint64
}

// walkOutput is what minidump_stackwalk printed for one dump: -m frames by
// thread, and from the human output the instruction pointer of every frame
// that has registers and whether it came from the context.
type walkOutput struct {
	modules map[string]walkModule // by code file base name
	threads map[int][]walkLine
	pc      map[[2]int]uint64
	context map[[2]int]bool
}

type walkLine struct {
	module string
	frame  stackFrame
}

var (
	humanFrameRE = regexp.MustCompile(`^\s*(\d+)  \S`)
	humanThread  = regexp.MustCompile(`^Thread (\d+)`)
	humanPC      = regexp.MustCompile(`\b(?:rip|eip) = (0x[0-9a-f]+)`)
)

func parseWalk(t testing.TB, machine, human string) *walkOutput {
	t.Helper()
	w := &walkOutput{modules: map[string]walkModule{}, threads: map[int][]walkLine{}, pc: map[[2]int]uint64{}, context: map[[2]int]bool{}}
	for _, l := range strings.Split(machine, "\n") {
		f := strings.Split(l, "|")
		switch {
		case len(f) == 8 && f[0] == "Module":
			base, err := strconv.ParseUint(strings.TrimPrefix(f[5], "0x"), 16, 64)
			if err != nil {
				t.Fatalf("module line %q: %v", l, err)
			}
			w.modules[f[1]] = walkModule{debugFile: f[3], debugID: f[4], base: base}
		case len(f) == 7 && f[0] != "" && f[0][0] >= '0' && f[0][0] <= '9':
			th, _ := strconv.Atoi(f[0])
			line, _ := strconv.Atoi(f[5])
			off, err := strconv.ParseUint(strings.TrimPrefix(f[6], "0x"), 16, 64)
			if err != nil {
				t.Fatalf("frame line %q: %v", l, err)
			}
			w.threads[th] = append(w.threads[th], walkLine{module: f[2], frame: stackFrame{Function: f[3], File: f[4], Line: uint32(line), Offset: off}})
		}
	}
	thread, frame := -1, -1
	sc := bufio.NewScanner(strings.NewReader(human))
	for sc.Scan() {
		l := sc.Text()
		if m := humanThread.FindStringSubmatch(l); m != nil {
			thread, _ = strconv.Atoi(m[1])
			frame = -1
			continue
		}
		if strings.HasPrefix(l, "Loaded modules") {
			thread = -1
		}
		if thread < 0 {
			continue
		}
		if m := humanFrameRE.FindStringSubmatch(l); m != nil {
			frame, _ = strconv.Atoi(m[1])
			continue
		}
		if m := humanPC.FindStringSubmatch(l); m != nil && frame >= 0 {
			v, _ := strconv.ParseUint(strings.TrimPrefix(m[1], "0x"), 16, 64)
			w.pc[[2]int{thread, frame}] = v
		}
		if strings.Contains(l, "Found by: given as instruction pointer in context") {
			w.context[[2]int{thread, frame}] = true
		}
	}
	return w
}

// checkWalk compares, for every frame minidump_stackwalk printed in a
// module that symbols(debugFile, debugID) resolves, the printed frames
// (inline frames included) with the resolver's. It returns how many frames
// were compared, and how many of them were inline frames.
func checkWalk(t *testing.T, w *walkOutput, symbols func(debugFile, debugID string) *stackResolver) (int, int) {
	t.Helper()
	checked, inline := 0, 0
	for th, lines := range w.threads {
		start := 0 // first frame of the current group of inline frames
		for j, wl := range lines {
			pc, ok := w.pc[[2]int{th, j}]
			if !ok {
				continue // an inline frame; its real frame follows
			}
			group := lines[start : j+1]
			start = j + 1
			mod, ok := w.modules[wl.module]
			if !ok {
				continue
			}
			r := symbols(mod.debugFile, mod.debugID)
			if r == nil {
				continue
			}
			ret := pc - mod.base
			addr := ret
			if !w.context[[2]int{th, j}] {
				addr-- // caller frames are looked up at the return address - 1
			}
			got := r.frames(addr, ret, mod.base)
			var want []stackFrame
			for _, g := range group {
				want = append(want, g.frame)
			}
			if !slices.Equal(got, want) {
				t.Errorf("thread %d frame %d (%s+%#x):\n got %v\nwant %v", th, j, wl.module, addr, got, want)
			}
			checked += len(group)
			inline += len(group) - 1
		}
	}
	return checked, inline
}

// symbolStore resolves modules from a Breakpad symbol store directory
// (<debug file>/<debug id>/<debug file without .pdb>.sym).
func symbolStore(t *testing.T, dir string, opts SessionOptions) func(debugFile, debugID string) *stackResolver {
	cache := map[string]*stackResolver{}
	return func(debugFile, debugID string) *stackResolver {
		name := strings.TrimSuffix(debugFile, ".pdb") + ".sym"
		p := filepath.Join(dir, debugFile, debugID, name)
		if r, ok := cache[p]; ok {
			return r
		}
		var r *stackResolver
		if _, err := os.Stat(p); err == nil {
			o, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if o.DebugID().Breakpad() != debugID {
				t.Errorf("%s: debug id %s, store says %s", p, o.DebugID().Breakpad(), debugID)
			}
			r = newStackResolver(t, o, opts)
		}
		cache[p] = r
		return r
	}
}

// TestGoldenStackwalk holds the Functions tree to what Breakpad's
// minidump_stackwalk printed for the peers' dumps with the peers' symbol
// files (golden/breakpad/*.machine.txt and the human *.txt for the
// instruction pointers): function names, files, lines and offsets of every
// frame in a module with symbols, inline frames included.
func TestGoldenStackwalk(t *testing.T) {
	root := peersDir(t)
	golden := filepath.Join(root, "golden", "breakpad")
	machines, err := filepath.Glob(filepath.Join(golden, "*.machine.txt"))
	if err != nil || len(machines) == 0 {
		t.Fatalf("no goldens in %s: %v", golden, err)
	}
	// Both placements of out-of-order INLINE records give the goldens'
	// frames: no frame of these dumps falls in a record Breakpad drops.
	for _, opts := range []SessionOptions{{}, {BreakpadInlineOrder: true}} {
		total, inlined := 0, 0
		for _, mp := range machines {
			base := strings.TrimSuffix(filepath.Base(mp), ".machine.txt")
			peer, _, _ := strings.Cut(base, "_")
			machine, err := os.ReadFile(mp)
			if err != nil {
				t.Fatal(err)
			}
			human, err := os.ReadFile(filepath.Join(golden, base+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(machine), "CPU|amd64") && !strings.Contains(string(machine), "CPU|x86") {
				continue // the lookup adjustment below is x86's and amd64's
			}
			t.Run(fmt.Sprintf("%s/breakpad-order=%v", base, opts.BreakpadInlineOrder), func(t *testing.T) {
				w := parseWalk(t, string(machine), string(human))
				n, in := checkWalk(t, w, symbolStore(t, filepath.Join(root, peer, "symbols"), opts))
				total += n
				inlined += in
			})
		}
		// pipeline-inlines-macos-segv alone has 158 frames in crash-client,
		// 112 of them inline; minidump2 and the Linux dumps add FUNC and
		// PUBLIC frames.
		if total < 180 || inlined < 112 {
			t.Errorf("only %d frames compared (%d inline)", total, inlined)
		}
		t.Logf("%d frames (%d inline) compared with minidump_stackwalk's goldens", total, inlined)
	}
}

// breakpadTool finds a Breakpad processor tool (see testtools.BreakpadTool).
func breakpadTool(t testing.TB, name string) string {
	t.Helper()
	return testtools.BreakpadTool(t, name)
}

// stackwalk runs minidump_stackwalk on dump with a symbol store holding the
// .sym files of base (a store directory, or "") and the given .sym contents
// (keyed by debug file and debug id, replacing base's), and returns its
// machine and human outputs.
func stackwalk(t *testing.T, dump, base string, syms map[[2]string][]byte) (string, string) {
	t.Helper()
	tool := breakpadTool(t, "minidump_stackwalk")
	store := t.TempDir()
	if base != "" {
		found, err := filepath.Glob(filepath.Join(base, "*", "*", "*.sym"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range found {
			rel, _ := filepath.Rel(base, p)
			if err := os.MkdirAll(filepath.Join(store, filepath.Dir(rel)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(p, filepath.Join(store, rel)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, data := range syms {
		dir := filepath.Join(store, k[0], k[1])
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.TrimSuffix(k[0], ".pdb")+".sym")
		os.Remove(p)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		out, err := exec.Command(tool, args...).Output()
		if err != nil && len(out) == 0 {
			t.Fatalf("%s %v: %v", tool, args, err)
		}
		return string(out)
	}
	return run("-m", dump, store), run(dump, store)
}

// TestStackwalkLinuxInline runs Breakpad on linux_inline.dmp with each of
// the two generations of INLINE records (the peers store them under names
// Breakpad does not look up, so no golden has them symbolicated).
func TestStackwalkLinuxInline(t *testing.T) {
	root := peersDir(t)
	dir := filepath.Join(root, "breakpad", "symbols", "linux_inline", "BBA6FA10B8AAB33D00000000000000000")
	for _, name := range []string{"linux_inline.old.sym", "linux_inline.new.sym"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			key := [2]string{"linux_inline", "BBA6FA10B8AAB33D00000000000000000"}
			machine, human := stackwalk(t, filepath.Join(root, "breakpad", "linux_inline.dmp"), "", map[[2]string][]byte{key: data})
			w := parseWalk(t, machine, human)
			o, err := NewObject(byteReaderAt(data), int64(len(data)), name)
			if err != nil {
				t.Fatal(err)
			}
			r := newStackResolver(t, o, SessionOptions{})
			n, _ := checkWalk(t, w, func(df, id string) *stackResolver {
				if df == key[0] && id == key[1] {
					return r
				}
				return nil
			})
			if n != 4 {
				t.Errorf("%d frames compared, want 4 (func, bar, foo, main):\n%s", n, machine)
			}
		})
	}
}

// byteReaderAt is an in-memory file with the Bytes method mapped files
// have, so NewObject parses it in place.
type byteReaderAt []byte

func (b byteReaderAt) Bytes() []byte { return b }

func (b byteReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(b)) {
		return 0, fmt.Errorf("EOF")
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, fmt.Errorf("EOF")
	}
	return n, nil
}

// TestStackwalkFromObject writes the peers' symbol files again through
// FromObject (keeping their STACK records, which FromObject does not make)
// and has Breakpad walk the dumps with them: the frames must be the ones
// Breakpad printed with the original files.
func TestStackwalkFromObject(t *testing.T) {
	root := peersDir(t)
	cases := []struct{ dump, golden, sym string }{
		{"rust-minidump/pipeline-inlines-macos-segv.dmp", "rust-minidump_pipeline-inlines-macos-segv", "rust-minidump/symbols/crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym"},
		{"breakpad/minidump2.dmp", "breakpad_minidump2", "breakpad/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym"},
		{"breakpad/linux_overflow.dmp", "breakpad_linux_overflow", "breakpad/symbols/overflow/B0E1FC01EF48E39CAF5C881D2DF0C3840/overflow.sym"},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			o, err := Open(filepath.Join(root, tc.sym))
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			m, err := FromObject(o, ConvertOptions{})
			if err != nil {
				t.Fatal(err)
			}
			orig, err := ReadModule(o.Reader())
			if err != nil {
				t.Fatal(err)
			}
			m.Stack = orig.Stack
			var buf strings.Builder
			if err := WriteModule(&buf, m); err != nil {
				t.Fatal(err)
			}
			key := [2]string{o.Name(), o.DebugID().Breakpad()}
			peer, _, _ := strings.Cut(tc.sym, "/")
			machine, _ := stackwalk(t, filepath.Join(root, tc.dump), filepath.Join(root, peer, "symbols"), map[[2]string][]byte{key: []byte(buf.String())})
			want, err := os.ReadFile(filepath.Join(root, "golden", "breakpad", tc.golden+".machine.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if machine != string(want) {
				t.Errorf("output with the rewritten file:\n%s\nwith the original:\n%s", machine, want)
			}
		})
	}
}
