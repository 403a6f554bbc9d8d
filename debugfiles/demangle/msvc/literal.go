package msvc

import "strings"

// String literal symbols: "??_C@_" <0|1> <byte length> <crc>@ <chars> @.
// Only the first 32 bytes of a literal are encoded (64 for wide ones) and the
// character width of a narrow-looking literal is not recorded, so the width is
// guessed from where the zero bytes are, as llvm-undname does.

const maxLiteralBytes = 32 * 4 // some compilers encode more than 32 bytes

func (p *parser) stringLiteral() symbol {
	if !p.eatStr("@_") || p.empty() {
		p.fail("expected @_ in string literal")
		return nil
	}
	var wide bool
	switch p.next() {
	case '1':
		wide = true
	case '0':
	default:
		p.fail("bad string literal kind")
		return nil
	}
	size, neg := p.number()
	if p.err != nil || neg || size < 1 || wide && size < 2 {
		p.fail("bad string literal length")
		return nil
	}
	crcEnd := strings.IndexByte(p.rest(), '@')
	if crcEnd < 0 {
		p.fail("unterminated string literal checksum")
		return nil
	}
	p.pos += crcEnd + 1
	if p.empty() {
		p.fail("missing string literal text")
		return nil
	}
	s := &stringSym{}
	var text []byte
	if wide {
		s.kind = charWide
		s.truncated = size > 64
		for !p.eat('@') {
			// Neither an odd length nor running past it is an error: the
			// count only decides whether the terminator is printed.
			if len(p.rest()) < 2 {
				p.fail("bad wide string literal")
				return nil
			}
			hi := p.charLiteral()
			if p.err != nil || p.empty() {
				p.fail("bad wide string literal")
				return nil
			}
			lo := p.charLiteral()
			if p.err != nil {
				return nil
			}
			// The last character is the terminator, printed only when the
			// literal was cut short.
			if size != 2 || s.truncated {
				text = appendEscaped(text, uint32(hi)<<8|uint32(lo))
			}
			size -= 2
		}
	} else {
		var raw [maxLiteralBytes]byte
		n := 0
		for !p.eat('@') {
			if p.empty() || n >= len(raw) {
				p.fail("bad string literal")
				return nil
			}
			raw[n] = p.charLiteral()
			if p.err != nil {
				return nil
			}
			n++
		}
		s.truncated = size > uint64(n)
		width := guessCharWidth(raw[:n], size)
		switch width {
		case 2:
			s.kind = char16
		case 4:
			s.kind = char32
		}
		chars := n / width
		for i := range chars {
			var c uint32
			for j := range width {
				c |= uint32(raw[i*width+j]) << (8 * j)
			}
			if i+1 < chars || s.truncated {
				text = appendEscaped(text, c)
			}
		}
	}
	s.text = string(text)
	return s
}

// guessCharWidth picks 1, 2 or 4 bytes per character for a narrow-encoded
// literal of size bytes whose first bytes are b.
func guessCharWidth(b []byte, size uint64) int {
	if size%2 == 1 {
		return 1
	}
	if size < 32 {
		trailing := 0
		for i := len(b) - 1; i >= 0 && b[i] == 0; i-- {
			trailing++
		}
		if trailing >= 4 && size%4 == 0 {
			return 4
		}
		if trailing >= 2 {
			return 2
		}
		return 1
	}
	// The literal was cut: count zero bytes. Mostly zeros suggests UTF-32,
	// a third UTF-16 (biased towards ASCII text, as any guess must be).
	nulls := 0
	for _, c := range b {
		if c == 0 {
			nulls++
		}
	}
	if nulls >= 2*len(b)/3 && size%4 == 0 {
		return 4
	}
	if nulls >= len(b)/3 {
		return 2
	}
	return 1
}

// charLiteral decodes one byte of literal text: itself, or '?' followed by
// $XY (hex in A–P), a digit (one of ",/\:. \n\t'-") or a letter (Latin-1
// letters with the high bit set).
func (p *parser) charLiteral() byte {
	if !p.eat('?') {
		return p.next()
	}
	if p.empty() {
		p.fail("bad character in string literal")
		return 0
	}
	c := p.peek()
	switch {
	case c == '$':
		s := p.rest()
		if len(s) < 3 || s[1] < 'A' || s[1] > 'P' || s[2] < 'A' || s[2] > 'P' {
			p.fail("bad hex character in string literal")
			return 0
		}
		p.pos += 3
		return (s[1]-'A')<<4 | (s[2] - 'A')
	case c >= '0' && c <= '9':
		p.pos++
		return ",/\\:. \n\t'-"[c-'0']
	case c >= 'a' && c <= 'z':
		p.pos++
		return 0xE1 + (c - 'a')
	case c >= 'A' && c <= 'Z':
		p.pos++
		return 0xC1 + (c - 'A')
	}
	p.fail("bad character in string literal")
	return 0
}

// appendEscaped appends c as it would be written in a C string literal.
func appendEscaped(b []byte, c uint32) []byte {
	switch c {
	case 0:
		return append(b, `\0`...)
	case '\'':
		return append(b, `\'`...)
	case '"':
		return append(b, `\"`...)
	case '\\':
		return append(b, `\\`...)
	case '\a':
		return append(b, `\a`...)
	case '\b':
		return append(b, `\b`...)
	case '\f':
		return append(b, `\f`...)
	case '\n':
		return append(b, `\n`...)
	case '\r':
		return append(b, `\r`...)
	case '\t':
		return append(b, `\t`...)
	case '\v':
		return append(b, `\v`...)
	}
	if c > 0x1F && c < 0x7F {
		return append(b, byte(c))
	}
	// \x and whole bytes of hex, most significant first.
	const hex = "0123456789ABCDEF"
	var digits [8]byte
	n := 0
	for c != 0 {
		digits[n] = hex[c&0xF]
		digits[n+1] = hex[c>>4&0xF]
		c >>= 8
		n += 2
	}
	b = append(b, `\x`...)
	for i := n - 1; i >= 0; i-- {
		b = append(b, digits[i])
	}
	return b
}
