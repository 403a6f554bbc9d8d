package stackwalk

import (
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
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
