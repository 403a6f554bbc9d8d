package elf

import (
	stdelf "debug/elf"
	"fmt"

	"github.com/cairn-dev/cairn/debugfiles/dwarf/cfi"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
)

var _ unwind.Source = (*Object)(nil)

// UnwindTables returns the DWARF call frame information of the file:
// .debug_frame (compressed or not) first, then .eh_frame with its
// .eh_frame_hdr search table — the order in which Breakpad's dump_syms reads
// them and its processor prefers them. Sections without contents (the
// SHT_NOBITS .eh_frame of a separate debug file) are skipped. Rows are
// relative to LoadAddress. Architectures other than x86, x86_64, arm and
// arm64 yield unwind.ErrNoUnwind.
func (o *Object) UnwindTables() ([]unwind.Table, error) {
	arch := unwind.ArchFromName(o.arch)
	if arch == unwind.ArchUnknown {
		if o.findSection(".eh_frame") == nil && o.findSection(".debug_frame") == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("elf: %s: %w for %s", o.Name(), unwind.ErrNoUnwind, o.arch)
	}
	opts := cfi.Options{
		Arch:      arch,
		ByteOrder: o.f.ByteOrder,
		Bias:      o.loadAddr,
	}
	opts.AddressSize = 8
	if o.f.Class == stdelf.ELFCLASS32 {
		opts.AddressSize = 4
	}
	if s := o.f.Section(".text"); s != nil {
		opts.TextAddr = s.Addr
	}
	// i386 datarel pointers are relative to the GOT.
	if s := o.f.Section(".got.plt"); s != nil {
		opts.DataAddr = s.Addr
	} else if s := o.f.Section(".got"); s != nil {
		opts.DataAddr = s.Addr
	}
	var tables []unwind.Table
	if s := o.findSection(".debug_frame"); s != nil {
		data, err := o.sectionData(s)
		if err != nil {
			return nil, err
		}
		t, err := cfi.New(cfi.Section{Kind: cfi.DebugFrame, Data: data, Addr: s.Addr}, opts)
		if err != nil {
			return nil, fmt.Errorf("elf: %s: %w", o.Name(), err)
		}
		tables = append(tables, t)
	}
	if s := o.findSection(".eh_frame"); s != nil && s.Flags&stdelf.SHF_COMPRESSED == 0 {
		data, err := o.readAt(s.Offset, s.FileSize)
		if err != nil {
			return nil, fmt.Errorf("elf: section .eh_frame: %w", err)
		}
		eh := opts
		if h := o.findSection(".eh_frame_hdr"); h != nil && h.Flags&stdelf.SHF_COMPRESSED == 0 {
			if hdr, err := o.readAt(h.Offset, h.FileSize); err == nil {
				eh.Hdr, eh.HdrAddr = hdr, h.Addr
			}
		}
		t, err := cfi.New(cfi.Section{Kind: cfi.EHFrame, Data: data, Addr: s.Addr}, eh)
		if err != nil {
			return nil, fmt.Errorf("elf: %s: %w", o.Name(), err)
		}
		tables = append(tables, t)
	}
	return tables, nil
}
