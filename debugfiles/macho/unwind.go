package macho

import (
	"fmt"

	"github.com/cairn-dev/cairn/debugfiles/dwarf/cfi"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

var _ unwind.Source = (*Object)(nil)

// UnwindTables returns the image's unwind information in order of
// preference: the compact unwind table (__TEXT,__unwind_info, which defers
// to __eh_frame for the functions it cannot describe), then __eh_frame,
// then __DWARF,__debug_frame (dSYMs and object files). Rows are relative
// to LoadAddress. Architectures other than x86_64, arm64 (compact unwind
// and DWARF), x86 and arm (DWARF only) yield unwind.ErrNoUnwind.
func (o *Object) UnwindTables() ([]unwind.Table, error) {
	arch := unwind.ArchFromName(o.Arch())
	if arch == unwind.ArchUnknown {
		return nil, fmt.Errorf("macho: %s: %w for %s", o.name, unwind.ErrNoUnwind, o.Arch())
	}
	opts := cfi.Options{Arch: arch, ByteOrder: o.bo, AddressSize: 4}
	if o.is64 {
		opts.AddressSize = 8
	}
	if _, text, ok := o.Section("__TEXT", "__text"); ok {
		opts.TextAddr = text
	}
	var (
		tables []unwind.Table
		eh     *cfi.Table
	)
	if data, addr, ok := o.Section("__TEXT", "__eh_frame"); ok {
		t, err := cfi.New(cfi.Section{Kind: cfi.EHFrame, Data: data, Addr: addr}, opts)
		if err != nil {
			return nil, fmt.Errorf("macho: %s: %w", o.name, err)
		}
		eh = t
	}
	if data, _, ok := o.Section("__TEXT", "__unwind_info"); ok && (arch == unwind.ArchAMD64 || arch == unwind.ArchARM64) {
		t, err := ParseCompactUnwind(arch, data, eh, o.code)
		if err != nil {
			return nil, fmt.Errorf("macho: %s: %w", o.name, err)
		}
		tables = append(tables, t)
	}
	if eh != nil {
		tables = append(tables, eh)
	}
	if data, _, ok := o.Section("__DWARF", "__debug_frame"); ok {
		// .debug_frame addresses are absolute: subtract the load address.
		df := opts
		df.Bias = o.loadAddr
		t, err := cfi.New(cfi.Section{Kind: cfi.DebugFrame, Data: data}, df)
		if err != nil {
			return nil, fmt.Errorf("macho: %s: %w", o.name, err)
		}
		tables = append(tables, t)
	}
	return tables, nil
}

// code returns n bytes of the section holding addr (relative to the load
// address), or nil.
func (o *Object) code(addr uint64, n int) []byte {
	for i := range o.sections {
		s := &o.sections[i]
		if !s.present || s.seg != "__TEXT" {
			continue
		}
		start := s.addr - o.loadAddr
		if addr < start || addr-start >= s.size || uint64(n) > s.size-(addr-start) {
			continue
		}
		b, err := o.src.bytes(s.off+(addr-start), uint64(n))
		if err != nil {
			return nil
		}
		return b
	}
	return nil
}
