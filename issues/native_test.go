package issues

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// breakpadMachine is what Breakpad's `minidump_stackwalk -m` says about a
// dump, parsed from its machine-readable output.
type breakpadMachine struct {
	reason, address string
	crashThread     int
	modules         [][]string // name, version, debug file, debug id, base, end, main
	frame0          []string   // module, function, file, line, offset
}

func readMachine(t *testing.T, path string) breakpadMachine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m breakpadMachine
	m.crashThread = -1
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for _, l := range lines {
		parts := strings.Split(l, "|")
		switch parts[0] {
		case "Crash":
			m.reason, m.address = parts[1], parts[2]
			if n, err := strconv.Atoi(parts[3]); err == nil {
				m.crashThread = n
			}
		case "Module":
			m.modules = append(m.modules, parts[1:])
		}
	}
	prefix := fmt.Sprintf("%d|0|", m.crashThread)
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			m.frame0 = strings.Split(rest, "|")
			break
		}
	}
	return m
}

// breakpadDebugID converts Sentry's debug id form to Breakpad's.
func breakpadDebugID(id string) string {
	s := strings.ToUpper(strings.ReplaceAll(id, "-", ""))
	if len(s) == 32 {
		s += "0"
	}
	return s
}

// Every Breakpad reference dump is read into the native event shape with
// the crash reason, crash address, modules and crashing frame that
// Breakpad's own stackwalker reports.
func TestMinidumpAgainstBreakpad(t *testing.T) {
	peers := testtools.PeersDir(t)
	goldens, _ := filepath.Glob(filepath.Join(peers, "golden", "breakpad", "breakpad_*.machine.txt"))
	if len(goldens) == 0 {
		t.Fatal("no Breakpad goldens")
	}
	checked := 0
	for _, g := range goldens {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(g), "breakpad_"), ".machine.txt")
		dump := filepath.Join(peers, "breakpad", name+".dmp")
		if strings.HasPrefix(name, "microdump") {
			continue // Android microdumps are text, not minidumps
		}
		t.Run(name, func(t *testing.T) {
			want := readMachine(t, g)
			data, err := os.ReadFile(dump)
			if err != nil {
				t.Fatal(err)
			}
			crash, err := Unsymbolicated{}.Minidump(context.Background(), strings.NewReader(string(data)), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if len(crash.Images) != len(want.modules) {
				t.Fatalf("%d images, Breakpad has %d modules", len(crash.Images), len(want.modules))
			}
			// Breakpad lists modules by address; the dump's order is kept here.
			byBase := map[uint64]*DebugImage{}
			for _, im := range crash.Images {
				byBase[im.ImageAddr.N] = im
			}
			for _, m := range want.modules {
				base, _ := strconv.ParseUint(m[4], 0, 64)
				end, _ := strconv.ParseUint(m[5], 0, 64)
				im := byBase[base]
				if im == nil {
					t.Errorf("no image at %s (Breakpad: %s)", m[4], m[0])
					continue
				}
				if basename(im.CodeFile) != m[0] || im.ImageAddr.N+im.ImageSize-1 != end {
					t.Errorf("image %s at %#x+%#x; Breakpad: %s %s-%s", im.CodeFile, im.ImageAddr.N, im.ImageSize, m[0], m[4], m[5])
				}
				// Breakpad prints the age in lowercase hex after an uppercase GUID.
				if m[3] != "" && !strings.EqualFold(breakpadDebugID(im.DebugID), m[3]) {
					t.Errorf("image %s: debug id %s (Breakpad form %s), Breakpad %s", m[0], im.DebugID, breakpadDebugID(im.DebugID), m[3])
				}
				if m[2] != "" && basename(im.DebugFile) != m[2] {
					t.Errorf("image %s: debug file %q, Breakpad %q", m[0], im.DebugFile, m[2])
				}
			}
			if want.reason == "No crash" || want.reason == "" {
				if crash.Exception != nil {
					t.Errorf("exception %q where Breakpad sees no crash", crash.Exception.Type)
				}
				return
			}
			if crash.Exception == nil {
				t.Fatalf("no exception; Breakpad: %s", want.reason)
			}
			if crash.Exception.Type != want.reason {
				t.Errorf("type %q, Breakpad %q", crash.Exception.Type, want.reason)
			}
			gotAddr, _ := strconv.ParseUint(crash.Exception.Mechanism.Data["crash_address"].(string), 0, 64)
			wantAddr, _ := strconv.ParseUint(want.address, 0, 64)
			if gotAddr != wantAddr {
				t.Errorf("crash address %#x, Breakpad %s", gotAddr, want.address)
			}
			st := crash.Exception.Stacktrace
			if st == nil || len(st.Frames) == 0 || want.frame0 == nil {
				if want.frame0 != nil {
					t.Fatalf("no crashing frame; Breakpad: %v", want.frame0)
				}
				return
			}
			f := st.Frames[len(st.Frames)-1]
			if f.Trust != "context" {
				t.Errorf("frame 0 trust %q", f.Trust)
			}
			crashed := 0
			for _, th := range crash.Threads {
				if th.Crashed {
					crashed++
					if th.Stacktrace != st {
						t.Error("the crashed thread does not show the exception's stack")
					}
				}
			}
			if crashed != 1 {
				t.Errorf("%d threads marked crashed, want 1", crashed)
			}
			module, function, offset := want.frame0[0], want.frame0[1], want.frame0[4]
			off, _ := strconv.ParseUint(offset, 0, 64)
			switch {
			case module == "":
				if f.Package != "" || f.InstructionAddr.N != off {
					t.Errorf("frame 0 %s at %#x; Breakpad: outside modules at %s", f.Package, f.InstructionAddr.N, offset)
				}
			case function == "":
				im := imageFor(f, crash.Images)
				if basename(f.Package) != module || im == nil || f.InstructionAddr.N-im.ImageAddr.N != off {
					t.Errorf("frame 0 %s at %#x; Breakpad: %s+%s", f.Package, f.InstructionAddr.N, module, offset)
				}
			default:
				if basename(f.Package) != module {
					t.Errorf("frame 0 in %q; Breakpad: %s", f.Package, module)
				}
			}
			checked++
		})
	}
	t.Logf("checked the crashing frame of %d dumps", checked)
}

func TestMinidumpEvent(t *testing.T) {
	peers := testtools.PeersDir(t)
	data, err := os.ReadFile(filepath.Join(peers, "breakpad", "minidump2.dmp"))
	if err != nil {
		t.Fatal(err)
	}
	crash, err := Unsymbolicated{}.Minidump(context.Background(), strings.NewReader(string(data)), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	os := crash.Contexts["os"]
	if os["name"] != "Windows" || os["version"] != "5.1.2600" || os["build"] != "Service Pack 2" {
		t.Errorf("os context %v", os)
	}
	if crash.Contexts["device"]["arch"] != "x86" {
		t.Errorf("device context %v", crash.Contexts["device"])
	}
	im := crash.Images[0]
	if im.Type != "pe" || im.CodeID != "45d35f6c2d000" || im.DebugID != "5a9832e5-2872-41c1-838e-d98914e9b7ff-1" ||
		im.DebugFile != "c:\\test_app.pdb" || im.Arch != "x86" {
		t.Errorf("first image %+v", im)
	}
	if _, ok := crash.Exception.Stacktrace.Registers["eip"]; !ok {
		t.Errorf("registers %v", crash.Exception.Stacktrace.Registers)
	}
	errs, err := Unsymbolicated{}.Symbolicate(context.Background(), []*Stacktrace{crash.Exception.Stacktrace}, crash.Images)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Type != "native_missing_dsym" || errs[0].ImagePath != im.CodeFile {
		t.Errorf("processing errors %+v", errs)
	}
	if im.DebugStatus != "missing" || crash.Images[1].DebugStatus != "unused" {
		t.Errorf("statuses %s, %s", im.DebugStatus, crash.Images[1].DebugStatus)
	}
}

func TestMinidumpGarbage(t *testing.T) {
	if _, err := (Unsymbolicated{}).Minidump(context.Background(), strings.NewReader("MDMP not really"), 15); err == nil {
		t.Fatal("garbage read as a minidump")
	}
}
