package main

import (
	"debug/elf"
	"debug/gosym"
	"os"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// TestDefaultPGO reads the profile the binary is built with (default.pgo,
// which `go build` applies to this package): it must be a CPU profile, and
// hold samples of each command `go tool task pgo` profiles, in the
// functions that do their work. A rename of one of them leaves the
// compiler nothing to match there, and the test binary, which links them
// all, no symbol of that name: the test then says to remake the profile.
func TestDefaultPGO(t *testing.T) {
	p := readCPUProfile(t, "default.pgo")
	// The command each function serves: a symcache build (the DWARF walk,
	// the flattening, the coding), a .sym file written, addresses
	// looked up, and a stack walk from .sym files. Functions too large to
	// be inlined: one inlined at every call has no symbol of its own.
	syms := ownSymbols(t)
	for fn, cmd := range map[string]string{
		"debugfiles/dwarf.(*builder).walkUnit":   "symcache build",
		"debugfiles/symcache.(*Builder).addTree": "symcache build",
		"debugfiles/symcache.(*follower).code":   "symcache build",
		"debugfiles/breakpad.WriteObject":        "dump-syms",
		"debugfiles/symcache.(*Cache).Lookup":    "symbolicate",
		"symbolicator/stackwalk.NewSymbolFile":   "stackwalk",
		"debugfiles/breakpad.(*Reader).parse":    "stackwalk",
	} {
		name := "github.com/cairn-dev/cairn/" + fn
		if !sampled(p, name) {
			t.Errorf("default.pgo has no sample in %s (%s): remake it with `go tool task pgo`", fn, cmd)
		}
		if syms != nil && !hasPrefix(syms, name) {
			t.Errorf("no function %s (%s) is linked any more: remake default.pgo with `go tool task pgo`, and name the function that took its place here", fn, cmd)
		}
	}
}

// ownSymbols returns the names of the test binary's functions, read from
// its Go symbol table (go test strips the ELF one), or nil when it is not
// an ELF file.
func ownSymbols(t *testing.T) []string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Logf("the functions' names are not checked against the code: %v", err)
		return nil
	}
	defer f.Close()
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		t.Fatal("the test binary has no .gopclntab or .text section")
	}
	data, err := pcln.Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(tab.Funcs))
	for i, fn := range tab.Funcs {
		names[i] = fn.Name
	}
	return names
}

// hasPrefix reports whether one of names starts with prefix, as sampled
// matches them: a function's closures are named after it (F.func1).
func hasPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// readCPUProfile reads the profile at path, which must be a CPU profile
// in pprof's format.
func readCPUProfile(t *testing.T, path string) *profile.Profile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("%s does not parse: %v", path, err)
	}
	if len(p.SampleType) == 0 || p.SampleType[len(p.SampleType)-1].Type != "cpu" {
		t.Fatalf("%s's sample types are %v, want a CPU profile", path, p.SampleType)
	}
	return p
}

// sampled reports whether a sample of p is in a function whose name
// starts with prefix.
func sampled(p *profile.Profile, prefix string) bool {
	for _, s := range p.Sample {
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil && strings.HasPrefix(l.Function.Name, prefix) {
					return true
				}
			}
		}
	}
	return false
}
