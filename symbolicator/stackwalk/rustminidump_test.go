package stackwalk

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// rustFrame is a frame of rust-minidump's human output.
type rustFrame struct {
	module, function, file, line, trust string
	offset                              string // "" when rust-minidump prints none, or it is not comparable
}

var (
	rustFrameRe = regexp.MustCompile(`^\s*\d+  (.*)$`)
	rustFuncRe  = regexp.MustCompile(`^([^!]*)!(.*) \[(.*) : (\d+)(?: \+ (0x[0-9a-f]+))?\]$`)
	rustPlainRe = regexp.MustCompile(`^([^!]*)(?:!(.*))? \+ (0x[0-9a-f]+)$`)
)

var rustTrust = map[string]string{
	"given as instruction pointer in context": "context",
	"call frame info":                         "cfi",
	"call frame info with scanning":           "cfi_scan",
	"previous frame's frame pointer":          "fp",
	"stack scanning":                          "scan",
	"inlining":                                "inline",
}

// readRustSnapshot parses the threads of a rust-minidump human snapshot,
// keyed by thread number.
func readRustSnapshot(t *testing.T, path string) map[int][]rustFrame {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	threads := map[int][]rustFrame{}
	header := regexp.MustCompile(`^Thread (\d+)`)
	ti := -1
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		if m := header.FindStringSubmatch(line); m != nil {
			ti, _ = strconv.Atoi(m[1])
			continue
		}
		if ti < 0 {
			continue
		}
		if desc, ok := strings.CutPrefix(line, "    Found by: "); ok {
			fs := threads[ti]
			fs[len(fs)-1].trust = rustTrust[desc]
			continue
		}
		m := rustFrameRe.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "     ") {
			continue
		}
		var f rustFrame
		switch text := m[1]; {
		case rustFuncRe.MatchString(text):
			p := rustFuncRe.FindStringSubmatch(text)
			f = rustFrame{module: p[1], function: p[2], file: p[3], line: p[4]}
		case rustPlainRe.MatchString(text):
			p := rustPlainRe.FindStringSubmatch(text)
			f = rustFrame{module: p[1], function: p[2], offset: p[3]}
		default:
			f = rustFrame{offset: text}
		}
		threads[ti] = append(threads[ti], f)
	}
	return threads
}

// TestRustMinidumpSnapshots compares Cairn's frames with rust-minidump's
// human snapshots of the same dumps, walked with the same symbols (none
// for test.dmp and linux-mini.dmp; test_app.sym; crash-client.sym with
// inline records).
//
// Module, function, source file, line and how each frame was found agree
// on every frame. Offsets are conventions that differ on purpose:
//
//   - rust-minidump prints a caller frame's offset from the address it
//     looked up (the return address minus one on x86 and amd64); Breakpad
//     and Cairn print it from the return address. The test checks that
//     Cairn's is exactly rust-minidump's plus that adjustment.
//   - For frames with a source line, rust-minidump measures the offset
//     from a line record of its own choosing (for frames that inline
//     calls, not the record holding the address; frame 4 of the macOS
//     dump reads "main.rs : 142 + 0x562" there and "+ 0x5" in Breakpad)
//     and prints none for inlined frames; Breakpad's convention, which
//     Cairn follows, is the record holding the address. Those offsets are
//     not compared.
func TestRustMinidumpSnapshots(t *testing.T) {
	peers := testtools.PeersDir(t)
	rust := filepath.Join(peers, "rust-minidump")
	snaps := filepath.Join(rust, "minidump-stackwalk", "tests", "snapshots")
	for _, c := range []struct{ snap, dump, symbols string }{
		{"test_minidump_stackwalk__human.snap", "test.dmp", ""},
		{"test_minidump_stackwalk__human-symbols.snap", "test.dmp", "symbols"},
		{"test_minidump_stackwalk__linux_human.snap", "linux-mini.dmp", ""},
		{"test_minidump_stackwalk__macos_inlines_human.snap", "pipeline-inlines-macos-segv.dmp", "symbols"},
	} {
		t.Run(c.snap, func(t *testing.T) {
			p := &SymbolPaths{}
			if c.symbols != "" {
				p.Paths = []string{filepath.Join(rust, c.symbols)}
			}
			defer p.Close()
			r := walkPeer(t, filepath.Join(rust, c.dump), p)
			want := readRustSnapshot(t, filepath.Join(snaps, c.snap))
			agree, total := 0, 0
			for ti, wf := range want {
				if ti >= len(r.Threads) {
					t.Errorf("thread %d missing", ti)
					continue
				}
				gf := r.Threads[ti].Frames
				if len(gf) != len(wf) {
					t.Errorf("thread %d: %d frames, rust-minidump %d", ti, len(gf), len(wf))
				}
				for fi := range min(len(gf), len(wf)) {
					total++
					g, w := &gf[fi], wf[fi]
					got := rustFrame{trust: g.Trust.String()}
					if g.Module != nil {
						got.module, got.function = leafName(g.Module.CodeFile), g.Function
						if g.Function != "" && g.File != "" {
							got.file, got.line = leafName(g.File), strconv.Itoa(int(g.Line))
						}
					}
					if w.file == "" {
						// rust-minidump's offset is from the looked-up address.
						adj := g.BreakpadAddress() - g.Instruction
						got.offset = fmt.Sprintf("0x%x", g.BreakpadOffset()-adj)
						if g.Module == nil {
							got.offset = fmt.Sprintf("0x%016x", g.Instruction)
						}
					}
					if got != w {
						t.Errorf("thread %d frame %d: rust-minidump %+v, Cairn %+v", ti, fi, w, got)
						continue
					}
					agree++
				}
			}
			t.Logf("%d/%d frames agree with rust-minidump", agree, total)
		})
	}
}
