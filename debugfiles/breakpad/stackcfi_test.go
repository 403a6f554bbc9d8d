package breakpad

import (
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
)

// ruleText renders a row's rules as STACK CFI would, for comparisons; a
// same-value rule is the same as none.
func ruleText(arch unwind.Arch, r *unwind.Row) string {
	row := *r
	row.Regs = nil
	for _, rr := range r.Regs {
		if rr.Rule.Kind != unwind.RuleSameValue || rr.Reg == r.RA {
			row.Regs = append(row.Regs, rr)
		}
	}
	rules := newRuleNamer(arch).ruleStrings(&row)
	var g cfiGrouper
	b, _ := g.writeRules(nil, rules, nil, arch.BreakpadName(r.RA))
	return string(b)
}

// TestStackCFIRoundTrip writes the STACK CFI records of real binaries and
// reads them back: at every row the rules must be the ones written.
func TestStackCFIRoundTrip(t *testing.T) {
	for _, name := range []string{"elf-x86_64-gcc-O2", "elf-x86_64-clang-O2", "elf-aarch64-gcc-O2-pac", "elf-aarch64-clang-O2"} {
		t.Run(name, func(t *testing.T) {
			o, err := elf.Open(fixtures.Get(t, name))
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			tables, err := o.UnwindTables()
			if err != nil {
				t.Fatal(err)
			}
			lines, bad := StackCFI(tables)
			if bad != 0 || len(lines) == 0 {
				t.Fatalf("%d records, %d malformed entries", len(lines), bad)
			}
			text := "MODULE Linux x86_64 0123456789ABCDEF0123456789ABCDEF0 m\n" + strings.Join(lines, "\n") + "\n"
			st, err := ReadStackTable(NewBytesReader([]byte(text)), tables[0].Arch())
			if err != nil {
				t.Fatal(err)
			}
			arch := st.Arch()
			rows := 0
			for _, tb := range tables {
				for row, err := range tb.Rows() {
					if err != nil {
						t.Fatal(err)
					}
					if row.CFA.Kind == unwind.RuleValExpression {
						continue // not expressible: the record ends there
					}
					got, ok, err := st.Lookup(row.Start)
					if err != nil || !ok {
						t.Fatalf("%x: not found back (%v)", row.Start, err)
					}
					if g, w := ruleText(arch, &got), ruleText(arch, &row); g != w {
						t.Errorf("%x: read back %q, wrote %q", row.Start, g, w)
					}
					rows++
				}
			}
			t.Logf("%d rows round-tripped through %d records", rows, len(lines))
		})
	}
}

func TestStackTableRules(t *testing.T) {
	text := `MODULE windows x86 0123456789ABCDEF0123456789ABCDEF0 m.pdb
STACK CFI INIT 1000 20 .cfa: $esp 4 + .ra: .cfa -4 + ^
STACK CFI 1001 .cfa: $esp 8 + $ebp: .cfa -8 + ^
STACK CFI 1003 .cfa: $ebp 8 + $ebx: $ebp 12 - ^
STACK WIN 4 2000 40 6 0 8 4 10 0 1 $T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + =
STACK WIN 0 3000 10 1 0 4 0 0 0 0 1
`
	st, err := ReadStackTable(NewBytesReader([]byte(text)), unwind.ArchX86)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr uint64
		want string
	}{
		{0x1000, " .cfa: $esp 4 + .ra: .cfa -4 + ^"},
		{0x1002, " $ebp: .cfa -8 + ^ .cfa: $esp 8 + .ra: .cfa -4 + ^"},
		{0x101f, " $ebp: .cfa -8 + ^ $ebx: $ebp 12 - ^ .cfa: $ebp 8 + .ra: .cfa -4 + ^"},
	} {
		row, ok, err := st.Lookup(tc.addr)
		if err != nil || !ok {
			t.Fatalf("%x: %v %v", tc.addr, ok, err)
		}
		if got := ruleText(unwind.ArchX86, &row); got != tc.want {
			t.Errorf("%x: %q, want %q", tc.addr, got, tc.want)
		}
	}
	row, ok, _ := st.Lookup(0x2010)
	if !ok || row.Win == nil || row.Win.Type != 4 || !strings.HasPrefix(row.Win.Program, "$T0 $ebp =") || row.Win.LocalSize != 0x10 {
		t.Errorf("STACK WIN 4: %+v %+v", row, row.Win)
	}
	row, ok, _ = st.Lookup(0x3000)
	if !ok || row.Win == nil || row.Win.Type != 0 || !row.Win.AllocatesBasePointer {
		t.Errorf("STACK WIN 0: %+v", row.Win)
	}
	if _, ok, _ := st.Lookup(0x1020); ok {
		t.Error("address past the INIT record found")
	}
}
