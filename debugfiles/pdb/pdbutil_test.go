package pdb_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
)

// pdbutil runs llvm-pdbutil-14 with args on a PDB and returns its output.
func pdbutil(t testing.TB, args ...string) string {
	t.Helper()
	needTool(t, llvmPDBUtil)
	out, err := exec.Command(llvmPDBUtil, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", llvmPDBUtil, strings.Join(args, " "), err)
	}
	return string(out)
}

// pdbSources lists every PDB the comparison tests read: the PE fixtures',
// the package's own builds and the peers' PDB files (read in place).
func pdbSources(t *testing.T) (names []string, get []func(t *testing.T) string) {
	for i, g := range allImages(t) {
		names = append(names, imageNames()[i])
		get = append(get, func(t *testing.T) string { return g(t).pdb })
	}
	if peers := peerPDBs(t); len(peers) > 0 {
		for _, p := range peers {
			names = append(names, "peer-"+filepath.Base(filepath.Dir(p))+"-"+filepath.Base(p))
			get = append(get, func(*testing.T) string { return p })
		}
	} else {
		t.Logf("no PDB files among the peers' fixtures (their *.pdb entries are symbol-store directories)")
	}
	return names, get
}

var (
	reSummary = map[string]*regexp.Regexp{
		"block size": regexp.MustCompile(`Block Size: (\d+)`),
		"blocks":     regexp.MustCompile(`Number of blocks: (\d+)`),
		"streams":    regexp.MustCompile(`Number of streams: (\d+)`),
		"signature":  regexp.MustCompile(`Signature: (\d+)`),
		"age":        regexp.MustCompile(`\n\s+Age: (\d+)`),
		"guid":       regexp.MustCompile(`GUID: \{([0-9A-F-]+)\}`),
	}
	reStream    = regexp.MustCompile(`(?m)^\s+Stream\s+(\d+) \(\s*(\d+) bytes\): \[(.*)\]$`)
	reModule    = regexp.MustCompile("(?m)^\\s*Mod (\\d{4}) \\| `(.*)`: \\n\\s*Obj: `(.*)`: \\n\\s*debug stream: (\\d+), # files: (\\d+)")
	rePublic    = regexp.MustCompile("(?m)^\\s+\\d+ \\| S_PUB32 \\[size = \\d+\\] `(.*)`\\n\\s+flags = (.*), addr = ([0-9]{4}):([0-9]{4,})$")
	reGlobal    = regexp.MustCompile("(?m)^\\s+\\d+ \\| (S_[A-Z0-9_]+) \\[size = \\d+\\] `(.*)`$")
	reSecHeader = regexp.MustCompile(`(?m)^\s+(\S*) name\n\s+([0-9A-F]+) virtual size\n\s+([0-9A-F]+) virtual address`)
	reContrib   = regexp.MustCompile(`(?m)SC\[.*\]\s+\| mod = (\d+), ([0-9]{4}):([0-9]{4,}), size = (\d+)`)
)

// publicFlags names CV_PUBSYMFLAGS as llvm-pdbutil prints them.
func publicFlags(f uint32) string {
	var parts []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{{1, "code"}, {2, "function"}, {4, "managed"}, {8, "msil"}} {
		if f&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " | ")
}

// globalKinds names the global symbol kinds llvm-pdbutil prints.
var globalKinds = map[uint16]string{
	0x1107: "S_CONSTANT", 0x1108: "S_UDT", 0x110c: "S_LDATA32", 0x110d: "S_GDATA32",
	0x1112: "S_LTHREAD32", 0x1113: "S_GTHREAD32", 0x1125: "S_PROCREF", 0x1126: "S_DATAREF", 0x1127: "S_LPROCREF",
}

// TestAgainstPDBUtil compares the identity, directory, module list,
// section headers and contributions, publics and globals with
// llvm-pdbutil-14's dumps of every PDB.
func TestAgainstPDBUtil(t *testing.T) {
	needTool(t, llvmPDBUtil)
	names, get := pdbSources(t)
	for i := range names {
		t.Run(names[i], func(t *testing.T) {
			t.Parallel()
			path := get[i](t)
			o, err := pdb.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			checkSummary(t, o, pdbutil(t, "dump", "--summary", path))
			checkStreams(t, o, pdbutil(t, "dump", "--streams", path))
			checkModules(t, o, pdbutil(t, "dump", "--modules", path))
			checkSections(t, o, pdbutil(t, "dump", "--section-headers", "--section-contribs", path))
			checkPublics(t, o, pdbutil(t, "dump", "--publics", path))
			checkGlobals(t, o, pdbutil(t, "dump", "--globals", path))
		})
	}
}

func checkSummary(t *testing.T, o *pdb.Object, out string) {
	info := o.Info()
	id := debugid.FromGUID(info.GUID, 0)
	g := strings.ToUpper(id.String())
	ours := map[string]string{
		"block size": fmt.Sprint(o.BlockSize()),
		"blocks":     fmt.Sprint(o.NumBlocks()),
		"streams":    fmt.Sprint(o.NumStreams()),
		"signature":  fmt.Sprint(info.Signature),
		"age":        fmt.Sprint(info.Age),
		"guid":       g,
	}
	for k, re := range reSummary {
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("summary: no %s in llvm-pdbutil output", k)
			continue
		}
		if m[1] != ours[k] {
			t.Errorf("summary %s: ours %s, llvm-pdbutil %s", k, ours[k], m[1])
		}
	}
}

func checkStreams(t *testing.T, o *pdb.Object, out string) {
	ms := reStream.FindAllStringSubmatch(out, -1)
	if len(ms) != o.NumStreams() {
		t.Errorf("streams: ours %d, llvm-pdbutil lists %d", o.NumStreams(), len(ms))
	}
	named := map[int]string{}
	for n, idx := range o.Info().NamedStreams {
		named[int(idx)] = n
	}
	modules := map[int]string{}
	for _, m := range o.Modules() {
		modules[m.Stream] = m.Name
	}
	for _, m := range ms {
		i, _ := strconv.Atoi(m[1])
		size, _ := strconv.ParseInt(m[2], 10, 64)
		if got := max(o.StreamSize(i), 0); got != size {
			t.Errorf("stream %d: ours %d bytes, llvm-pdbutil %d", i, got, size)
		}
		label := m[3]
		switch {
		case strings.HasPrefix(label, `Named Stream "`):
			if want := strings.TrimSuffix(strings.TrimPrefix(label, `Named Stream "`), `"`); named[i] != want {
				t.Errorf("stream %d: ours named %q, llvm-pdbutil %q", i, named[i], want)
			}
		case strings.HasPrefix(label, `Module "`):
			if want := strings.TrimSuffix(strings.TrimPrefix(label, `Module "`), `"`); modules[i] != want {
				t.Errorf("stream %d: ours module %q, llvm-pdbutil %q", i, modules[i], want)
			}
		}
	}
}

func checkModules(t *testing.T, o *pdb.Object, out string) {
	ms := reModule.FindAllStringSubmatch(out, -1)
	mods := o.Modules()
	if len(ms) != len(mods) {
		t.Fatalf("modules: ours %d, llvm-pdbutil %d", len(mods), len(ms))
	}
	for i, m := range ms {
		stream := mods[i].Stream
		if stream < 0 {
			stream = 0xffff
		}
		got := fmt.Sprintf("%04d %s %s %d %d", i, mods[i].Name, mods[i].ObjFile, stream, mods[i].SourceFiles)
		want := fmt.Sprintf("%s %s %s %s %s", m[1], m[2], m[3], m[4], m[5])
		if got != want {
			t.Errorf("module: ours %q, llvm-pdbutil %q", got, want)
		}
	}
}

func checkSections(t *testing.T, o *pdb.Object, out string) {
	hs := reSecHeader.FindAllStringSubmatch(out, -1)
	secs := o.SectionHeaders()
	if len(hs) != len(secs) {
		t.Errorf("section headers: ours %d, llvm-pdbutil %d", len(secs), len(hs))
	}
	for i := range min(len(hs), len(secs)) {
		got := fmt.Sprintf("%s %X %X", secs[i].Name, secs[i].VirtualSize, secs[i].VirtualAddress)
		// A name of the full 8 bytes has no NUL; llvm-pdbutil 14 prints
		// the bytes after it as part of the name.
		name := hs[i][1]
		if len(name) > 8 {
			name = name[:8]
		}
		want := name + " " + hs[i][2] + " " + hs[i][3]
		if got != want {
			t.Errorf("section header %d: ours %q, llvm-pdbutil %q", i+1, got, want)
		}
	}
	cs := reContrib.FindAllStringSubmatch(out, -1)
	ours, err := o.SectionContributions()
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(ours) {
		t.Errorf("section contributions: ours %d, llvm-pdbutil %d", len(ours), len(cs))
	}
	for i := range min(len(cs), len(ours)) {
		c := ours[i]
		got := fmt.Sprintf("%d %04d:%04d %d", c.Module, c.Section, c.Offset, c.Size)
		want := fmt.Sprintf("%s %s:%s %s", cs[i][1], cs[i][2], cs[i][3], cs[i][4])
		if got != want {
			t.Errorf("section contribution %d: ours %q, llvm-pdbutil %q", i, got, want)
		}
	}
}

func checkPublics(t *testing.T, o *pdb.Object, out string) {
	pubs, err := o.Publics()
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, p := range pubs {
		got = append(got, fmt.Sprintf("%s %s %04d:%04d", p.Name, publicFlags(p.Flags), p.Segment, p.Offset))
	}
	for _, m := range rePublic.FindAllStringSubmatch(out, -1) {
		want = append(want, fmt.Sprintf("%s %s %s:%s", m[1], m[2], m[3], m[4]))
	}
	compareSets(t, "publics", got, want)
}

func checkGlobals(t *testing.T, o *pdb.Object, out string) {
	gs, err := o.Globals()
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, g := range gs {
		k, ok := globalKinds[g.Kind]
		if !ok {
			k = fmt.Sprintf("kind %#x", g.Kind)
		}
		got = append(got, k+" "+g.Name)
	}
	for _, m := range reGlobal.FindAllStringSubmatch(out, -1) {
		want = append(want, m[1]+" "+m[2])
	}
	compareSets(t, "globals", got, want)
}

// compareSets compares two lists as multisets, reporting a few
// differences.
func compareSets(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if slices.Equal(got, want) {
		t.Logf("%s: %d agree", what, len(got))
		return
	}
	t.Errorf("%s: ours %d, llvm-pdbutil %d", what, len(got), len(want))
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, w := range want {
		count[w]--
	}
	n := 0
	for k, c := range count {
		if c != 0 && n < 10 {
			t.Logf("  %s: %+d %q", what, c, k)
			n++
		}
	}
}
