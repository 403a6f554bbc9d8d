package debugid

import "testing"

func TestFormsAgree(t *testing.T) {
	// Values from Breakpad's minidump_dump and rust-minidump on minidump2.dmp
	// and linux_inline.dmp (see minidump/golden_test.go).
	tests := []struct {
		id              ID
		sentry, breakpd string
	}{
		{FromGUID([16]byte{0xe5, 0x32, 0x98, 0x5a, 0x72, 0x28, 0xc1, 0x41, 0x83, 0x8e, 0xd9, 0x89, 0x14, 0xe9, 0xb7, 0xff}, 1),
			"5a9832e5-2872-41c1-838e-d98914e9b7ff-1", "5A9832E5287241C1838ED98914E9B7FF1"},
		{FromBuildID([]byte{0x10, 0xfa, 0xa6, 0xbb, 0xaa, 0xb8, 0x3d, 0xb3}),
			"bba6fa10-b8aa-b33d-0000-000000000000", "BBA6FA10B8AAB33D00000000000000000"},
		{FromUUID([16]byte{0x50, 0x9c, 0x06, 0x10, 0x94, 0x98, 0x36, 0xf7, 0xb7, 0x0b, 0xd8, 0x8b, 0xcf, 0x03, 0xe5, 0x40}),
			"509c0610-9498-36f7-b70b-d88bcf03e540", "509C0610949836F7B70BD88BCF03E5400"},
		{ID{Age: 0x1a}, "00000000-0000-0000-0000-000000000000-1a", "000000000000000000000000000000001a"},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.sentry {
			t.Errorf("String() = %q, want %q", got, tt.sentry)
		}
		if got := tt.id.Breakpad(); got != tt.breakpd {
			t.Errorf("Breakpad() = %q, want %q", got, tt.breakpd)
		}
		for _, s := range []string{tt.sentry, tt.breakpd} {
			got, err := Parse(s)
			if err != nil || got != tt.id {
				t.Errorf("Parse(%q) = %v, %v; want %v", s, got, err, tt.id)
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "xyz", "5a9832e5-2872-41c1-838e-d98914e9b7f", "5a9832e5-2872-41c1-838e-d98914e9b7ff-", "5A9832E5287241C1838ED98914E9B7FF123456789A", "5A9832E5287241C1838ED98914E9B7FG"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
}

func TestCodeIDs(t *testing.T) {
	if got := CodeIDFromPE(0x45D35F6C, 0x2d000); got != "45d35f6c2d000" {
		t.Errorf("CodeIDFromPE = %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("5a9832e5-2872-41c1-838e-d98914e9b7ff-1")
	f.Add("5A9832E5287241C1838ED98914E9B7FF1")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			return
		}
		// Both renderings must parse back to the same id.
		for _, r := range []string{id.String(), id.Breakpad()} {
			back, err := Parse(r)
			if err != nil || back != id {
				t.Fatalf("%q → %v → %q → %v, %v", s, id, r, back, err)
			}
		}
	})
}
