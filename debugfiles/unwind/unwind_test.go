package unwind

import "testing"

func TestRegisterNames(t *testing.T) {
	for _, tc := range []struct {
		arch            Arch
		reg             Reg
		dwarf, breakpad string
	}{
		{ArchAMD64, 7, "rsp", "$rsp"},
		{ArchAMD64, 16, "rip", "$rip"},
		{ArchAMD64, 17, "xmm0", "$xmm0"},
		{ArchX86, 4, "esp", "$esp"},
		{ArchX86, 8, "eip", "$eip"},
		{ArchARM64, 29, "x29", "x29"},
		{ArchARM64, 31, "sp", "sp"},
		{ArchARM64, 64, "v0", "v0"},
		{ArchARM, 13, "sp", "sp"},
		{ArchARM, 14, "lr", "lr"},
		{ArchARM, 256, "d0", "d0"},
		{ArchARM64, 40, "reg40", "unnamed_register40"},
	} {
		if got := tc.arch.RegName(tc.reg); got != tc.dwarf {
			t.Errorf("%s RegName(%d) = %q, want %q", tc.arch, tc.reg, got, tc.dwarf)
		}
		if got := tc.arch.BreakpadName(tc.reg); got != tc.breakpad {
			t.Errorf("%s BreakpadName(%d) = %q, want %q", tc.arch, tc.reg, got, tc.breakpad)
		}
		if r, ok := tc.arch.ParseBreakpadName(tc.breakpad); !ok || r != tc.reg {
			t.Errorf("%s ParseBreakpadName(%q) = %d, %v", tc.arch, tc.breakpad, r, ok)
		}
	}
	for _, tc := range []struct {
		arch Arch
		name string
		reg  Reg
	}{{ArchARM64, "$x29", 29}, {ArchARM64, "fp", 29}, {ArchARM64, "lr", 30}, {ArchARM, "$r11", 11}, {ArchARM, "fp", 11}} {
		if r, ok := tc.arch.ParseBreakpadName(tc.name); !ok || r != tc.reg {
			t.Errorf("%s ParseBreakpadName(%q) = %d, %v", tc.arch, tc.name, r, ok)
		}
	}
	for name, want := range map[string]Arch{"x86_64": ArchAMD64, "x86": ArchX86, "arm64e": ArchARM64, "armv7": ArchARM, "ppc": ArchUnknown} {
		if got := ArchFromName(name); got != want {
			t.Errorf("ArchFromName(%q) = %v", name, got)
		}
	}
}

func TestLookupPrefersFirstTable(t *testing.T) {
	row, ok, err := Lookup(nil, 0)
	if ok || err != nil || row.Regs != nil {
		t.Errorf("no tables: %v %v", ok, err)
	}
	r := Row{Regs: []RegRule{{Reg: 3, Rule: Rule{Kind: RuleOffset, Offset: -16}}, {Reg: 6, Rule: Rule{Kind: RuleSameValue}}}}
	if got := r.Rule(3); !got.Equal(Rule{Kind: RuleOffset, Offset: -16}) {
		t.Errorf("Rule(3) = %+v", got)
	}
	if got := r.Rule(4); got.Kind != RuleUnspecified {
		t.Errorf("Rule(4) = %+v", got)
	}
	c := r.Clone()
	c.Regs[0].Rule.Offset = 0
	if r.Regs[0].Rule.Offset != -16 {
		t.Error("Clone shares Regs")
	}
}
