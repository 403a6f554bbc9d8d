package stackwalk

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// peerFrame is one frame as minidump_stackwalk prints it: the fields of
// its -m line and the "Found by" of its human report.
type peerFrame struct {
	module, function, file, line, offset, trust string
}

func (f peerFrame) String() string {
	return fmt.Sprintf("%s|%s|%s|%s|%s (%s)", f.module, f.function, f.file, f.line, f.offset, f.trust)
}

// goldenCase is a peer dump with Breakpad's outputs.
type goldenCase struct {
	name, dump, symbols, machine, human string
}

// goldenCases lists the dumps of ../shared/fixtures/peers/golden/breakpad
// whose dump is present.
func goldenCases(t *testing.T) []goldenCase {
	peers := testtools.PeersDir(t)
	files, err := filepath.Glob(filepath.Join(peers, "golden", "breakpad", "*.machine.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no goldens in %s: %v", peers, err)
	}
	var out []goldenCase
	for _, m := range files {
		base := strings.TrimSuffix(filepath.Base(m), ".machine.txt")
		dir, name, _ := strings.Cut(base, "_")
		dump := filepath.Join(peers, dir, name+".dmp")
		if _, err := os.Stat(dump); err != nil {
			continue
		}
		out = append(out, goldenCase{base, dump, filepath.Join(peers, dir, "symbols"), m, strings.TrimSuffix(m, ".machine.txt") + ".txt"})
	}
	return out
}

var trustByDescription = func() map[string]string {
	m := map[string]string{}
	for t := TrustNone; t <= TrustLeaf; t++ {
		m[t.Description()] = t.String()
	}
	return m
}()

// readGolden parses Breakpad's -m output for frames and its human report
// for how each was found; threads are keyed by Breakpad's index.
func readGolden(t *testing.T, c goldenCase) map[int][]peerFrame {
	threads := map[int][]peerFrame{}
	data, err := os.ReadFile(c.machine)
	if err != nil {
		t.Fatal(err)
	}
	inFrames := false
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			inFrames = true
			continue
		}
		if !inFrames {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 7 {
			t.Fatalf("%s: bad frame line %q", c.machine, line)
		}
		ti, _ := strconv.Atoi(f[0])
		threads[ti] = append(threads[ti], peerFrame{module: f[2], function: f[3], file: f[4], line: f[5], offset: f[6]})
	}
	human, err := os.ReadFile(c.human)
	if err != nil {
		t.Fatal(err)
	}
	header := regexp.MustCompile(`^Thread (\d+)`)
	ti, fi := -1, 0
	sc := bufio.NewScanner(strings.NewReader(string(human)))
	for sc.Scan() {
		line := sc.Text()
		if m := header.FindStringSubmatch(line); m != nil {
			ti, _ = strconv.Atoi(m[1])
			fi = 0
			continue
		}
		if desc, ok := strings.CutPrefix(line, "    Found by: "); ok && ti >= 0 {
			if fi < len(threads[ti]) {
				threads[ti][fi].trust = trustByDescription[desc]
			}
			fi++
		}
	}
	return threads
}

// ourFrames renders a result's frames with Breakpad's fields.
func ourFrames(r *Result) map[int][]peerFrame {
	out := map[int][]peerFrame{}
	for ti := range r.Threads {
		for fi := range r.Threads[ti].Frames {
			f := &r.Threads[ti].Frames[fi]
			pf := peerFrame{offset: fmt.Sprintf("0x%x", f.BreakpadOffset()), trust: f.Trust.String()}
			if f.Module != nil {
				pf.module = leafName(f.Module.CodeFile)
				pf.function = f.Function
				if f.Function != "" && f.File != "" {
					pf.file, pf.line = f.File, strconv.Itoa(int(f.Line))
				}
			}
			out[ti] = append(out[ti], pf)
		}
	}
	return out
}

func walkPeer(t *testing.T, dump string, p Modules) *Result {
	t.Helper()
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Process(context.Background(), data, p, Options{})
	if err != nil {
		t.Logf("%s: %v", filepath.Base(dump), err)
	}
	return r
}

// compareFrames reports the frames that differ, and how many agree.
func compareFrames(want, got map[int][]peerFrame) (agree, total int, diffs []string) {
	var tids []int
	for ti := range want {
		tids = append(tids, ti)
	}
	for ti := range got {
		if _, ok := want[ti]; !ok {
			tids = append(tids, ti)
		}
	}
	sort.Ints(tids)
	for _, ti := range tids {
		w, g := want[ti], got[ti]
		for fi := 0; fi < max(len(w), len(g)); fi++ {
			total++
			switch {
			case fi >= len(w):
				diffs = append(diffs, fmt.Sprintf("thread %d frame %d: extra %v", ti, fi, g[fi]))
			case fi >= len(g):
				diffs = append(diffs, fmt.Sprintf("thread %d frame %d: missing %v", ti, fi, w[fi]))
			case w[fi] != g[fi]:
				diffs = append(diffs, fmt.Sprintf("thread %d frame %d: Breakpad %v, Cairn %v", ti, fi, w[fi], g[fi]))
			default:
				agree++
			}
		}
	}
	return agree, total, diffs
}

// TestBreakpadGoldens walks every peer dump with the symbols beside it and
// compares each thread's frames — module, function, file, line, offset and
// how the frame was found — with Breakpad's minidump_stackwalk.
//
// Cairn is configured as Breakpad looks for symbols: only the store layout
// (StoreOnly) and Breakpad's INLINE ordering rule. With those, every frame
// of every dump agrees. TestBreakpadGoldensDefaults checks what Cairn's
// defaults change, and why they are right.
//
// Two dumps (rust-minidump's invalid-range and invalid-record-count) have
// no thread list: Breakpad prints nothing and fails; Process returns
// ErrNoThreads, so both give no frames.
func TestBreakpadGoldens(t *testing.T) {
	var agreeAll, totalAll int
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			p := &SymbolPaths{Paths: []string{c.symbols}, StoreOnly: true, Options: SymbolFileOptions{BreakpadInlineOrder: true}}
			defer p.Close()
			r := walkPeer(t, c.dump, p)
			got := map[int][]peerFrame{}
			if r != nil {
				got = ourFrames(r)
			}
			agree, total, diffs := compareFrames(readGolden(t, c), got)
			agreeAll += agree
			totalAll += total
			t.Logf("%d/%d frames agree", agree, total)
			for _, d := range diffs {
				t.Error(d)
			}
		})
	}
	t.Logf("all dumps: %d/%d frames agree with Breakpad", agreeAll, totalAll)
}

// TestBreakpadGoldensDefaults walks the goldens with Cairn's defaults:
// symbol directories indexed by debug id, every INLINE record kept.
// Exactly one dump changes:
//
//   - breakpad/linux_inline.dmp: the store holds linux_inline.new.sym and
//     linux_inline.old.sym under the module's id, but no linux_inline.sym,
//     so Breakpad's supplier finds nothing and prints one frame at module
//     offset 0x161b6. Cairn's index finds the files by debug id and walks
//     main with its inlined foo(), bar() and func() — the frames Breakpad's
//     own resolver test (basic_source_line_resolver_unittest.cc,
//     TestLoadAndResolveNewInlines) expects at that address: func() at
//     linux_inline.cpp:27, bar() at c.cpp:32, foo() at b.cpp:39, main at
//     a.cpp:42. Cairn is right; Breakpad only lacked the file.
//
// Keeping INLINE records that skip a depth changes no golden frame: the
// records Breakpad drops from crash-client.sym cover none of the walked
// addresses.
func TestBreakpadGoldensDefaults(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			p := &SymbolPaths{Paths: []string{c.symbols}}
			defer p.Close()
			r := walkPeer(t, c.dump, p)
			got := map[int][]peerFrame{}
			if r != nil {
				got = ourFrames(r)
			}
			_, _, diffs := compareFrames(readGolden(t, c), got)
			if c.name != "breakpad_linux_inline" {
				for _, d := range diffs {
					t.Error(d)
				}
				return
			}
			want := []peerFrame{
				{"linux_inline", "func()", "linux_inline.cpp", "27", "0x0", "inline"},
				{"linux_inline", "bar()", "c.cpp", "32", "0x0", "inline"},
				{"linux_inline", "foo()", "b.cpp", "39", "0x0", "inline"},
				{"linux_inline", "main", "a.cpp", "42", "0x0", "context"},
			}
			for i, w := range want {
				if i >= len(got[0]) || got[0][i] != w {
					t.Errorf("frame %d: %v, want %v", i, got[0][min(i, len(got[0])-1)], w)
				}
			}
		})
	}
}

// TestCachesAgree converts the symbols of every peer dump into symcaches
// and cficaches, walks the dump again from the caches alone, and checks
// that every frame is the same: module, function, file, line, offset
// (from the line record, found by Cache.RunStart, for frames with a source
// line) and trust.
func TestCachesAgree(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cache := t.TempDir()
			direct := &SymbolPaths{Paths: []string{c.symbols}}
			defer direct.Close()
			want := walkPeer(t, c.dump, direct)
			conv := &SymbolPaths{Paths: []string{c.symbols}, CacheDir: cache}
			walkPeer(t, c.dump, conv)
			conv.Close()
			cached := &SymbolPaths{CacheDir: cache}
			defer cached.Close()
			got := walkPeer(t, c.dump, cached)
			if want == nil || got == nil {
				if (want == nil) != (got == nil) {
					t.Fatalf("direct %v, cached %v", want != nil, got != nil)
				}
				return
			}
			_, _, diffs := compareFrames(ourFrames(want), ourFrames(got))
			for _, d := range diffs {
				t.Error(d)
			}
		})
	}
}

// TestIndexFindsCachesByHeader copies the caches of every peer dump into
// one directory under names that say nothing, and walks the dump from that
// directory: the index must find each cache by the debug id in its header
// and give the frames the store layout gives.
func TestIndexFindsCachesByHeader(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			cache := t.TempDir()
			conv := &SymbolPaths{Paths: []string{c.symbols}, CacheDir: cache}
			walkPeer(t, c.dump, conv)
			conv.Close()
			flat := t.TempDir()
			n := 0
			err := filepath.WalkDir(cache, func(path string, de fs.DirEntry, err error) error {
				if err != nil || de.IsDir() {
					return err
				}
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				n++
				return os.WriteFile(filepath.Join(flat, fmt.Sprintf("file%d.bin", n)), data, 0o644)
			})
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return // no symbols for this dump
			}
			stored := &SymbolPaths{CacheDir: cache}
			defer stored.Close()
			want := walkPeer(t, c.dump, stored)
			indexed := &SymbolPaths{Paths: []string{flat}}
			defer indexed.Close()
			got := walkPeer(t, c.dump, indexed)
			if want == nil || got == nil {
				t.Fatalf("store layout %v, index %v", want != nil, got != nil)
			}
			_, _, diffs := compareFrames(ourFrames(want), ourFrames(got))
			for _, d := range diffs {
				t.Error(d)
			}
		})
	}
}

// TestAllPeerDumpsBounded processes every file the peers ship as a dump
// (microdumps, which are not minidumps, and rust-minidump's invalid ones
// included) with their symbols: each must end with an error or a walk
// within the frame limit, without a panic.
func TestAllPeerDumpsBounded(t *testing.T) {
	peers := testtools.PeersDir(t)
	dumps, _ := filepath.Glob(filepath.Join(peers, "*", "*.dmp"))
	if len(dumps) == 0 {
		t.Fatal("no dumps")
	}
	for _, d := range dumps {
		p := &SymbolPaths{Paths: []string{filepath.Join(filepath.Dir(d), "symbols")}}
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Process(context.Background(), data, p, Options{MaxFrames: 2000})
		p.Close()
		frames := 0
		if r != nil {
			for _, th := range r.Threads {
				if len(th.Frames) > 2000 {
					t.Errorf("%s: %d frames", filepath.Base(d), len(th.Frames))
				}
				frames += len(th.Frames)
			}
		}
		t.Logf("%-45s %5d frames, error %v", filepath.Base(d), frames, err)
	}
}
