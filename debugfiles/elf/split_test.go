package elf

import (
	stddwarf "debug/dwarf"
	"errors"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/dwarf"
)

// skeleton is what a skeleton unit says about its split data.
type skeleton struct {
	name, compDir string
	id            uint64
}

// skeletons lists the skeleton units of o, read with debug/dwarf (names)
// and from the unit headers (DWARF 5 DWO ids).
func skeletons(t *testing.T, o *Object) []skeleton {
	t.Helper()
	d, err := o.f.DWARF()
	if err != nil {
		t.Fatalf("debug/dwarf: %v", err)
	}
	info, _, err := o.Section(".debug_info")
	if err != nil {
		t.Fatal(err)
	}
	var out []skeleton
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			t.Fatalf("debug/dwarf: %v", err)
		}
		if e == nil {
			break
		}
		if e.Tag != stddwarf.TagCompileUnit && e.Tag != stddwarf.TagSkeletonUnit {
			r.SkipChildren()
			continue
		}
		h, ok := readUnitHeader(info, o.f.ByteOrder)
		if !ok {
			t.Fatalf("bad unit header")
		}
		info = info[h.next:]
		s := skeleton{id: h.dwoID}
		s.compDir, _ = e.Val(stddwarf.AttrCompDir).(string)
		for _, a := range []stddwarf.Attr{stddwarf.AttrDwoName, 0x2130} { // DW_AT_GNU_dwo_name
			if n, ok := e.Val(a).(string); ok {
				s.name = n
			}
		}
		if id, ok := e.Val(0x2131).(int64); ok { // DW_AT_GNU_dwo_id
			s.id = uint64(id)
		}
		if s.name != "" {
			out = append(out, s)
		}
		r.SkipChildren()
	}
	return out
}

// TestSplitDWARF resolves the split units of a gcc DWARF 5 binary from its
// .dwo file, of a clang DWARF 5 binary from its .dwp package (built by
// llvm-dwp) and of a gcc DWARF 4 binary from its .dwp (built by GNU dwp);
// the .dwo files of the package variants are deleted after packaging.
func TestSplitDWARF(t *testing.T) {
	fx := fixtures(t)
	for _, v := range []string{"split", "csplit", "split4"} {
		t.Run(v, func(t *testing.T) {
			o := fx.open(t, v)
			sk := skeletons(t, o)
			if len(sk) == 0 {
				t.Fatal("no skeleton units")
			}
			r := newDWOResolver(fx.path(t, v))
			for _, s := range sk {
				if s.id == 0 {
					t.Errorf("skeleton %s has no DWO id", s.name)
				}
				sec, err := r.resolve(s.name, s.compDir, s.id)
				if err != nil {
					t.Errorf("resolve(%s, %s, %#x): %v", s.name, s.compDir, s.id, err)
					continue
				}
				if len(sec.Info) == 0 || len(sec.Abbrev) == 0 || len(sec.Str) == 0 {
					t.Errorf("%s: incomplete sections", s.name)
				}
				if _, err := r.resolve(s.name, s.compDir, s.id^0xff); !errors.Is(err, dwarf.ErrNoDWO) {
					t.Errorf("resolve with a wrong id = %v", err)
				}
			}

			s, err := o.DebugSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			syms := symbolMap(o)
			found := map[string]bool{}
			for fn, err := range s.Functions() {
				if err != nil {
					t.Skipf("dwarf session cannot read these functions yet: %v", err)
				}
				if a, ok := syms[fn.Name]; ok && a == fn.Address {
					found[fn.Name] = true
				}
			}
			for _, name := range []string{"main", "compute", "helper"} {
				if !found[name] {
					t.Errorf("session has no %s at its symbol address (split unit not resolved?)", name)
				}
			}
		})
	}
}
