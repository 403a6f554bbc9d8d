package cfi

import (
	"errors"
	"sort"
)

// hdrTable is the binary search table of .eh_frame_hdr: FDE start
// addresses, sorted, each with the address of its FDE. Entries are decoded
// on demand, so the table costs nothing to open.
type hdrTable struct {
	data    []byte
	addr    uint64
	enc     uint8
	size    int
	count   int
	tableAt int
	t       *Table
}

// parseHdr reads the header of .eh_frame_hdr (version 1): the encoded
// address of .eh_frame, the FDE count and the table. It returns an error
// when there is no usable table: no count, a variable-size encoding, a
// table past the end of the section, or an .eh_frame address that is not
// the section's.
func parseHdr(data []byte, addr uint64, t *Table) (*hdrTable, error) {
	r := &reader{data: data, end: len(data), name: ".eh_frame_hdr", bo: t.opts.ByteOrder}
	version := r.u8()
	ptrEnc, countEnc, tableEnc := r.u8(), r.u8(), r.u8()
	if r.err != nil {
		return nil, r.err
	}
	if version != 1 || !validEncoding(ptrEnc) || !validEncoding(countEnc) || !validEncoding(tableEnc) {
		return nil, errors.New("cfi: .eh_frame_hdr: unknown version or encoding")
	}
	b := &pointerBases{section: addr, data: addr}
	ehAddr, _ := r.pointer(ptrEnc, t.opts.AddressSize, b)
	if countEnc == peOmit || tableEnc == peOmit {
		return nil, errors.New("cfi: .eh_frame_hdr: no search table")
	}
	count, _ := r.pointer(countEnc, t.opts.AddressSize, b)
	if r.err != nil {
		return nil, r.err
	}
	if ehAddr != t.sec.Addr {
		return nil, errors.New("cfi: .eh_frame_hdr describes another .eh_frame")
	}
	size := 0
	switch tableEnc & 0x0f {
	case peUData2, peSData2:
		size = 2
	case peUData4, peSData4:
		size = 4
	case peUData8, peSData8:
		size = 8
	case peAbsptr:
		size = t.opts.AddressSize
	default:
		return nil, errors.New("cfi: .eh_frame_hdr: variable-size table encoding")
	}
	if tableEnc&0x70 == peAligned || tableEnc&peIndirect != 0 {
		return nil, errors.New("cfi: .eh_frame_hdr: unsupported table encoding")
	}
	if count > uint64(r.left())/uint64(2*size) {
		return nil, errors.New("cfi: .eh_frame_hdr: table past the end of the section")
	}
	return &hdrTable{data: data, addr: addr, enc: tableEnc, size: size, count: int(count), tableAt: r.pos, t: t}, nil
}

// entry decodes the i-th pair of the table.
func (h *hdrTable) entry(i int) (start, fde uint64) {
	r := &reader{data: h.data, pos: h.tableAt + 2*h.size*i, end: len(h.data), name: ".eh_frame_hdr", bo: h.t.opts.ByteOrder}
	b := &pointerBases{section: h.addr, data: h.addr}
	start, _ = r.pointer(h.enc, h.t.opts.AddressSize, b)
	fde, _ = r.pointer(h.enc, h.t.opts.AddressSize, b)
	return start, fde
}

// find returns the section offset of the FDE with the greatest start
// address at or below addr.
func (h *hdrTable) find(addr uint64) (uint64, bool) {
	i := sort.Search(h.count, func(i int) bool {
		s, _ := h.entry(i)
		return s > addr
	})
	if i == 0 {
		return 0, false
	}
	_, fde := h.entry(i - 1)
	if fde < h.t.sec.Addr || fde-h.t.sec.Addr >= uint64(len(h.t.sec.Data)) {
		return 0, false
	}
	return fde - h.t.sec.Addr, true
}
