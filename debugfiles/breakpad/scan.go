package breakpad

import "math"

// Numbers in a symbol file are parsed straight from the line's bytes: the
// strconv functions take strings, and converting every field would allocate
// on the hottest path (one line record per few instructions of code).

// hexVal maps a byte to its hex digit value, or 0xff.
var hexVal = func() (t [256]uint8) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c-'a') + 10
		t[c-'a'+'A'] = uint8(c-'a') + 10
	}
	return t
}()

// skipSpaces returns the index of the first non-space byte at or after i.
// Breakpad tokenizes with strtok, so runs of spaces separate fields like a
// single one does.
func skipSpaces(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

// fieldEnd returns the index of the first space at or after i.
func fieldEnd(b []byte, i int) int {
	for i < len(b) && b[i] != ' ' {
		i++
	}
	return i
}

// parseHex reads a hex number starting at b[i] (an optional 0x prefix is
// accepted, as strtoull does) that must be followed by a space or the end of
// the line. It returns the value and the index after the number.
func parseHex(b []byte, i int) (uint64, int, bool) {
	if i+1 < len(b) && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') {
		i += 2
	}
	start := i
	var v uint64
	// Digits shifted past the top are caught after the loop, by count:
	// checking every digit cost a fifth of parsing a STACK WIN record.
	for ; i < len(b); i++ {
		d := hexVal[b[i]]
		if d == 0xff {
			break
		}
		v = v<<4 | uint64(d)
	}
	if i == start || (i < len(b) && b[i] != ' ') {
		return 0, i, false
	}
	if i-start > 16 {
		// Leading zeros aside, at most 16 digits fit.
		z := start
		for z < i && b[z] == '0' {
			z++
		}
		if i-z > 16 {
			return 0, i, false // overflow
		}
	}
	return v, i, true
}

// parseDec reads an unsigned decimal number at b[i] followed by a space or
// the end of the line; values above max are rejected.
func parseDec(b []byte, i int, max uint64) (uint64, int, bool) {
	start := i
	var v uint64
	for i < len(b) {
		c := b[i] - '0'
		if c > 9 {
			break
		}
		if v > (max-uint64(c))/10 {
			return 0, i, false
		}
		v = v*10 + uint64(c)
		i++
	}
	if i == start || (i < len(b) && b[i] != ' ') {
		return 0, i, false
	}
	return v, i, true
}

// parseFileID reads a decimal file or origin index that may be -1, the value
// Breakpad writes for inlined functions without a source file.
func parseFileID(b []byte, i int) (int64, int, bool) {
	if i+1 < len(b) && b[i] == '-' && b[i+1] == '1' && (i+2 == len(b) || b[i+2] == ' ') {
		return -1, i + 2, true
	}
	v, j, ok := parseDec(b, i, math.MaxInt64-1)
	return int64(v), j, ok
}

// hasPrefix is bytes.HasPrefix for a string prefix without a conversion.
func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}
