package dwarf

import "fmt"

// addrRange is a half-open address range [lo, hi).
type addrRange struct{ lo, hi uint64 }

// addrCtx is what decoding addresses of one unit needs: the .debug_addr
// section with the unit's base (the skeleton's, for split units) and the
// unit's address size.
type addrCtx struct {
	addr     []byte
	addrBase uint64
	addrSize uint8
	is64     bool
	be       bool
}

// addrx returns entry idx of the unit's .debug_addr table.
func (c *addrCtx) addrx(idx uint64) (uint64, error) {
	size := uint64(c.addrSize)
	if size == 0 || idx > uint64(len(c.addr))/size {
		return 0, &FormatError{Section: ".debug_addr", Offset: c.addrBase, Msg: fmt.Sprintf("address index %d out of range", idx)}
	}
	b := at(".debug_addr", c.addr, c.addrBase+idx*size, c.be)
	v := b.addr(c.addrSize)
	return v, b.err
}

// tombstone reports addresses linkers write for code they discarded: -1
// (lld for DWARF 5), -2 (lld in .debug_ranges, where -1 selects a base).
func tombstone(a uint64, addrSize uint8) bool {
	max := ^uint64(0)
	if addrSize < 8 {
		max = 1<<(8*uint(addrSize)) - 1
	}
	return a == max || a == max-1
}

// readRanges decodes the DWARF 2–4 range list at off in .debug_ranges,
// appending to out. base is the unit's base address.
func readRanges(sec []byte, off uint64, base uint64, c *addrCtx, out []addrRange, bud *budget) ([]addrRange, error) {
	b := at(".debug_ranges", sec, off, c.be)
	maxAddr := ^uint64(0)
	if c.addrSize < 8 {
		maxAddr = 1<<(8*uint(c.addrSize)) - 1
	}
	for b.err == nil {
		lo := b.addr(c.addrSize)
		hi := b.addr(c.addrSize)
		if b.err != nil {
			break
		}
		if err := bud.spend(1); err != nil {
			return out, err
		}
		switch {
		case lo == 0 && hi == 0:
			return out, nil
		case lo == maxAddr:
			base = hi
		default:
			out = append(out, addrRange{base + lo, base + hi})
		}
	}
	return out, b.err
}

// readRngList decodes the DWARF 5 range list at off in .debug_rnglists,
// appending to out.
func readRngList(sec []byte, off uint64, base uint64, c *addrCtx, out []addrRange, bud *budget) ([]addrRange, error) {
	b := at(".debug_rnglists", sec, off, c.be)
	for b.err == nil {
		// Most entries of a compiler's lists are offset pairs of one or
		// two bytes each: read inline.
		if d := b.data[b.pos:]; len(d) >= 5 && d[0] == rleOffsetPair {
			lo, n := uleb14(d[1:])
			hi, m := uleb14(d[1+n:])
			if n > 0 && m > 0 {
				if err := bud.spend(1); err != nil {
					return out, err
				}
				out = append(out, addrRange{base + lo, base + hi})
				b.pos += 1 + n + m
				continue
			}
		}
		kind := b.u8()
		if b.err != nil {
			break
		}
		if err := bud.spend(1); err != nil {
			return out, err
		}
		var err error
		switch kind {
		case rleEndOfList:
			return out, nil
		case rleBaseAddressx:
			base, err = c.addrx(b.uleb())
		case rleStartxEndx:
			var lo, hi uint64
			lo, err = c.addrx(b.uleb())
			if err == nil {
				hi, err = c.addrx(b.uleb())
			}
			out = append(out, addrRange{lo, hi})
		case rleStartxLength:
			var lo uint64
			lo, err = c.addrx(b.uleb())
			out = append(out, addrRange{lo, lo + b.uleb()})
		case rleOffsetPair:
			lo := b.uleb()
			hi := b.uleb()
			out = append(out, addrRange{base + lo, base + hi})
		case rleBaseAddress:
			base = b.addr(c.addrSize)
		case rleStartEnd:
			lo := b.addr(c.addrSize)
			out = append(out, addrRange{lo, b.addr(c.addrSize)})
		case rleStartLength:
			lo := b.addr(c.addrSize)
			out = append(out, addrRange{lo, lo + b.uleb()})
		default:
			return out, &FormatError{Section: ".debug_rnglists", Offset: b.off() - 1, Msg: fmt.Sprintf("unknown range list entry kind %#x", kind)}
		}
		if err != nil {
			return out, err
		}
	}
	return out, b.err
}

// uleb14 decodes an unsigned LEB128 value of one or two bytes at the
// start of d, which must hold two bytes at least, and returns it with its
// length; 0 for a longer value.
func uleb14(d []byte) (uint64, int) {
	if d[0] < 0x80 {
		return uint64(d[0]), 1
	}
	if d[1] < 0x80 {
		return uint64(d[0]&0x7f) | uint64(d[1])<<7, 2
	}
	return 0, 0
}

// rnglistOffset resolves DW_FORM_rnglistx index idx through the offset
// table at base (the unit's DW_AT_rnglists_base, or the first table of a
// split unit's contribution).
func rnglistOffset(sec []byte, base, idx uint64, is64, be bool) (uint64, error) {
	size := uint64(4)
	if is64 {
		size = 8
	}
	if idx > uint64(len(sec))/size {
		return 0, &FormatError{Section: ".debug_rnglists", Offset: base, Msg: fmt.Sprintf("range list index %d out of range", idx)}
	}
	b := at(".debug_rnglists", sec, base+idx*size, be)
	v := b.offset(is64)
	return base + v, b.err
}
