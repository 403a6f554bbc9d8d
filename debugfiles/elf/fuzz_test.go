package elf

import (
	"bytes"
	"cmp"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles"
)

// maxSeed is the largest seed handed to the fuzzers; longer files are cut.
const maxSeed = 64 << 10

// peersDir is where the peer fixtures live relative to this package.
var peersDir = filepath.Join("..", "..", "..", "shared", "fixtures", "peers")

// addSeeds adds the built variants (cut to maxSeed) and a few of the peer
// fixtures, which are not ELF files.
func addSeeds(f *testing.F) {
	if fx := seedFixtures(); fx != nil {
		for _, v := range variants {
			if !fx.ok[v.name] {
				continue
			}
			b, err := os.ReadFile(filepath.Join(fx.dir, v.name))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b[:min(len(b), maxSeed)])
		}
	}
	for _, pat := range []string{"breakpad/*.dmp", "rust-minidump/*.dmp", "breakpad/symbols/*/*/*.sym"} {
		matches, _ := filepath.Glob(filepath.Join(peersDir, pat))
		for _, m := range matches[:min(len(matches), 4)] {
			b, err := os.ReadFile(m)
			if err == nil {
				f.Add(b[:min(len(b), maxSeed)])
			}
		}
	}
	f.Add([]byte("\x7fELF"))
}

// seedFixtures builds the test binaries for seeding, except in fuzz worker
// processes: the coordinator owns the seed corpus, and a worker building
// every variant again only delays fuzzing.
func seedFixtures() *builtSet {
	if fl := flag.Lookup("test.fuzzworker"); fl != nil && fl.Value.String() == "true" {
		return nil
	}
	return builtFixtures()
}

// FuzzOpen opens arbitrary bytes as an ELF file and exercises everything an
// Object offers; nothing may panic and the invariants must hold.
func FuzzOpen(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := NewObject(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			return
		}
		defer o.Close()
		_ = o.Kind().String()
		_ = o.Arch()
		_ = o.DebugID().String()
		if (o.CodeID() == "") != (len(o.BuildID()) == 0) {
			t.Errorf("code id %q for build id %x", o.CodeID(), o.BuildID())
		}
		_ = o.BuildIDPath()
		_, _, _ = o.DebugLink()
		_ = o.Features().String()
		checkAgainstDebugELF(t, o)
		syms, _ := o.SymbolTable()
		if !slices.IsSortedFunc(syms, func(a, b debugfiles.Symbol) int { return cmp.Compare(a.Address, b.Address) }) {
			t.Errorf("symbols not sorted")
		}
		for _, name := range []string{".eh_frame", ".eh_frame_hdr", ".debug_frame", ".debug_info", ".gnu_debugdata", ".text"} {
			_, _, _ = o.Section(name)
		}
		s, err := o.DebugSession()
		if err != nil {
			return
		}
		n := 0
		for fn, err := range s.Functions() {
			if err != nil || n > 10000 {
				break
			}
			if fn == nil {
				t.Fatal("nil function without error")
			}
			n++
		}
		s.Close()
	})
}

// FuzzXZ decodes arbitrary bytes as the xz stream of .gnu_debugdata.
func FuzzXZ(f *testing.F) {
	if fx := seedFixtures(); fx != nil && fx.ok["minidebug"] {
		b, err := os.ReadFile(filepath.Join(fx.dir, "mini.xz"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := decodeXZ(data)
		if err == nil && uint64(len(out)) > min(uint64(len(data))*maxDebugDataExpansion, maxDebugDataSize) {
			t.Errorf("decoded %d bytes from %d", len(out), len(data))
		}
	})
}

// TestConcurrentUse reads one Object from several goroutines (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	fx := fixtures(t)
	for _, v := range []string{"zdebug", "minidebug", "prog.o"} {
		o := fx.open(t, v)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range o.Symbols() {
				}
				if _, _, err := o.Section(".eh_frame"); err != nil {
					t.Errorf("%s: %v", v, err)
				}
				s, err := o.DebugSession()
				if err != nil {
					t.Errorf("%s: %v", v, err)
					return
				}
				for range s.Functions() {
				}
				s.Close()
			})
		}
		wg.Wait()
	}
}
