package stackwalk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/cficache"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// TestModuleArch checks that the architecture comes from the first record
// that parses, as the index pass reads it, however the file begins.
func TestModuleArch(t *testing.T) {
	for _, c := range []struct {
		name, data string
		want       unwind.Arch
	}{
		{"plain", "MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 a\nFILE 0 a.c\n", unwind.ArchAMD64},
		{"crlf", "MODULE windows x86 0123456789ABCDEF0123456789ABCDEF1 a.pdb\r\nFILE 0 a.c\r\n", unwind.ArchX86},
		{"empty lines first", "\n\r\n\nMODULE Linux arm64 0123456789ABCDEF0123456789ABCDEF0 a", unwind.ArchARM64},
		{"malformed line first", "junk\nMODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 a\n", unwind.ArchAMD64},
		{"another record first", "FILE 0 a.c\nMODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 a\n", 0},
		{"empty", "", 0},
	} {
		if got := moduleArch([]byte(c.data)); got != c.want {
			t.Errorf("%s: moduleArch = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestParamSizesMatchSymbolStack checks, on the x86 peer symbol files, that
// the parameter sizes a SymbolFile answers (its FUNC records parsed once,
// by the index pass) are those of a SymbolStack parsing the file itself,
// at the start and the end of every FUNC.
func TestParamSizesMatchSymbolStack(t *testing.T) {
	path := filepath.Join(testtools.PeersDir(t), "breakpad/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := NewSymbolFile(data, path, SymbolFileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := cficache.NewSymbolStack(unwind.ArchX86, data)
	n, sized := 0, 0
	rd := breakpad.NewBytesReader(data)
	for rd.Next() {
		rec := rd.Record()
		if rec.Kind != breakpad.KindFunc || rec.Func.Size == 0 {
			continue
		}
		for _, a := range []uint64{rec.Func.Address, rec.Func.Address + rec.Func.Size - 1} {
			got, gotOK := sf.ParamSize(a)
			want, wantOK := st.ParamSize(a)
			if got != want || gotOK != wantOK {
				t.Fatalf("%#x: param size %d %v, want %d %v", a, got, gotOK, want, wantOK)
			}
			if gotOK && got > 0 {
				sized++
			}
			n++
		}
	}
	if n == 0 || sized == 0 {
		t.Fatalf("%d addresses, %d with a parameter size: the file should have both", n, sized)
	}
	t.Logf("%d addresses agree, %d with a parameter size", n, sized)
}
