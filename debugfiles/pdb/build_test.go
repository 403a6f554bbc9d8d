package pdb_test

import (
	"debug/pe"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// Tools the tests run; all come with LLVM 14.
const (
	clang          = "clang-14"
	lldLink        = "lld-link-14"
	llvmSymbolizer = "llvm-symbolizer-14"
	llvmPDBUtil    = "llvm-pdbutil-14"
	installLLVM    = "apt-get install llvm-14 lld-14 clang-14"
)

// needTool skips (or fails under CI) when a tool is missing.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		testtools.Missing(t, name, installLLVM)
	}
}

// image is a PE image and the PDB beside it.
type image struct {
	name string
	exe  string
	pdb  string
}

// peFormat is the Format of the fixtures recipes that build PE images.
const peFormat = "pe"

// fixtureImages lists the PE fixtures that come with a PDB.
func fixtureImages() []string {
	var names []string
	for _, n := range fixtures.Names() {
		r, ok := fixtures.Lookup(n)
		if ok && r.Format == peFormat && slices.Contains(r.Outputs, "demo.pdb") {
			names = append(names, n)
		}
	}
	return names
}

// fixtureImage builds (or finds in the cache) a PE fixture.
func fixtureImage(t testing.TB, name string) image {
	t.Helper()
	r, _ := fixtures.Lookup(name)
	dir := fixtures.GetDir(t, name)
	return image{name: name, exe: filepath.Join(dir, r.Outputs[0]), pdb: filepath.Join(dir, "demo.pdb")}
}

// variant is one build of testdata/src, the package's own program: C++
// with namespaces, class and function templates, lambdas, virtual calls
// and always_inline helpers nested three deep across two files.
type variant struct {
	arch string // clang's architecture in the windows-msvc triple
	opt  string
}

func (v variant) String() string { return "own-" + v.arch + "-" + v.opt }

var ownVariants = []variant{
	{"x86_64", "O2"}, {"x86_64", "O1"}, {"x86_64", "O0"}, {"i686", "O2"}, {"aarch64", "O2"},
}

// buildOwn compiles testdata/src for v with clang-14 and links it with
// lld-link-14 in a temporary directory.
func buildOwn(t testing.TB, v variant) image {
	img, _ := buildOwnTwin(t, v, false)
	return img
}

// buildOwnTwin is buildOwn; with twin set the objects carry DWARF as well
// as CodeView, and a second link with /debug:dwarf writes the same code
// with DWARF in the image and no PDB (returned as the second value), for
// llvm-symbolizer's DWARF reader to serve as an oracle independent of its
// PDB reader.
func buildOwnTwin(t testing.TB, v variant, twin bool) (image, string) {
	t.Helper()
	needTool(t, clang)
	needTool(t, lldLink)
	dir := t.TempDir()
	src, err := filepath.Abs("testdata/src")
	if err != nil {
		t.Fatal(err)
	}
	var objs []string
	for _, f := range []string{"main.cpp", "shapes.cpp"} {
		obj := strings.TrimSuffix(f, ".cpp") + ".obj"
		args := []string{"--target=" + v.arch + "-pc-windows-msvc", "-g", "-gcodeview", "-" + v.opt,
			"-ffreestanding", "-fno-exceptions", "-fno-rtti", "-nostdinc", "-c", filepath.Join(src, f), "-o", obj}
		if twin {
			args = append(args, "-gdwarf")
		}
		run(t, dir, clang, args...)
		objs = append(objs, obj)
	}
	link := []string{"/entry:main", "/nodefaultlib", "/subsystem:console"}
	run(t, dir, lldLink, append(append([]string{"/debug", "/out:demo.exe", "/pdb:demo.pdb"}, link...), objs...)...)
	img := image{name: v.String(), exe: filepath.Join(dir, "demo.exe"), pdb: filepath.Join(dir, "demo.pdb")}
	if !twin {
		return img, ""
	}
	run(t, dir, lldLink, append(append([]string{"/debug:dwarf", "/out:dwarf.exe"}, link...), objs...)...)
	return img, filepath.Join(dir, "dwarf.exe")
}

func run(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// peInfo is what the tests read of a PE image with debug/pe.
type peInfo struct {
	base uint64
	// text is the .text section as RVAs.
	textStart, textEnd uint64
}

func readPE(t testing.TB, exe string) peInfo {
	t.Helper()
	f, err := pe.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var info peInfo
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		info.base = oh.ImageBase
	case *pe.OptionalHeader32:
		info.base = uint64(oh.ImageBase)
	default:
		t.Fatalf("%s: no optional header", exe)
	}
	s := f.Section(".text")
	if s == nil {
		t.Fatalf("%s: no .text", exe)
	}
	info.textStart = uint64(s.VirtualAddress)
	info.textEnd = info.textStart + uint64(s.VirtualSize)
	return info
}

// allImages returns every PE fixture with a PDB and the package's own
// builds, in imageNames order.
func allImages(t *testing.T) []func(t *testing.T) image {
	var out []func(t *testing.T) image
	for _, n := range fixtureImages() {
		out = append(out, func(t *testing.T) image { return fixtureImage(t, n) })
	}
	for _, v := range ownVariants {
		out = append(out, func(t *testing.T) image { return buildOwn(t, v) })
	}
	return out
}

// imageNames names allImages' entries in the same order.
func imageNames() []string {
	names := fixtureImages()
	for _, v := range ownVariants {
		names = append(names, v.String())
	}
	return names
}

// peerPDBs lists the PDB files among the peers' fixtures, read in place
// (symbol-store directories named *.pdb are skipped).
func peerPDBs(t *testing.T) []string {
	dir := testtools.PeersDir(t)
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".pdb") {
			return nil
		}
		if b := readHead(p, 32); strings.HasPrefix(string(b), "Microsoft C/C++ MSF 7.00") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func readHead(p string, n int) []byte {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, n)
	k, _ := f.Read(b)
	return b[:k]
}

// execLookPath is exec.LookPath, named for the fuzz seeds.
var execLookPath = exec.LookPath
