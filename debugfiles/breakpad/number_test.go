package breakpad

import (
	"fmt"
	"math"
	"strconv"
	"testing"
)

// TestAppendNumbers checks the writer's number formatting against strconv
// at the edges of every digit count.
func TestAppendNumbers(t *testing.T) {
	hex := []uint64{0, 1, 9, 0xa, 0xf, 0x10, 0xff, 0x100, 0x401000, 0xdeadbeef, 1<<32 - 1, 1 << 32, math.MaxUint64 - 1, math.MaxUint64}
	for i := range 64 {
		hex = append(hex, 1<<i, 1<<i-1)
	}
	for _, v := range hex {
		if got, want := string(appendHex([]byte("x "), v)), "x "+strconv.FormatUint(v, 16); got != want {
			t.Errorf("appendHex(%#x) = %q, want %q", v, got, want)
		}
	}
	for _, v := range []int64{0, 1, 9, 10, 11, 42, 99, 100, 101, 999, 1000, 65535, -1, -10, -100, math.MaxInt64, math.MinInt64} {
		if got, want := string(appendDec([]byte("x "), v)), "x "+strconv.FormatInt(v, 10); got != want {
			t.Errorf("appendDec(%d) = %q, want %q", v, got, want)
		}
	}
	dec := []uint64{0, 1, 9, 10, 99, 100, math.MaxUint32, math.MaxUint64 - 1, math.MaxUint64}
	for p := uint64(1); p <= 1e19; p *= 10 {
		dec = append(dec, p-1, p, p+1)
		if p == 1e19 {
			break
		}
	}
	for i := range 64 {
		dec = append(dec, 1<<i, 1<<i-1)
	}
	for _, v := range hex {
		// With room for 8 bytes and more (a word at a time below 2^32),
		// and with room for the digits alone.
		want := strconv.FormatUint(v, 16)
		for _, room := range []int{25, len(want)} {
			out := make([]byte, 3+room)
			if got := string(out[3:putHex(out, 3, v)]); got != want {
				t.Errorf("putHex(%#x) with room %d = %q, want %q", v, room, got, want)
			}
		}
	}
	for _, v := range dec {
		out := make([]byte, 25)
		if got, want := string(out[3:putDec(out, 3, v)]), strconv.FormatUint(v, 10); got != want {
			t.Errorf("putDec(%d) = %q, want %q", v, got, want)
		}
	}
	for _, v := range hex {
		if got, want := string(appendLine(nil, v, v/3, uint32(v), int64(v%1000)-1)), fmt.Sprintf("%x %x %d %d\n", v, v/3, uint32(v), int64(v%1000)-1); got != want {
			t.Errorf("appendLine(%#x) = %q, want %q", v, got, want)
		}
	}
}

// FuzzParseHex checks the reader's hex numbers against strconv: the value,
// the "0x" prefix strtoull accepts, overflow, and the space or end of line
// that must follow.
func FuzzParseHex(f *testing.F) {
	for _, s := range []string{"0", "1f ", "0x10", "0X10 x", "ffffffffffffffff", "10000000000000000", "0000000000000000000ffff", "000000000000000001ffffffffffffffff", "g", "12g", "0x", " 1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		v, i, ok := parseHex(b, 0)
		digits := s
		if len(digits) > 1 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') {
			digits = digits[2:]
		}
		end := len(digits)
		for k := 0; k < len(digits); k++ {
			c := digits[k]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				end = k
				break
			}
		}
		want, err := strconv.ParseUint(digits[:end], 16, 64)
		wantOK := err == nil && (end == len(digits) || digits[end] == ' ')
		if ok != wantOK || ok && (v != want || i != len(s)-len(digits)+end) {
			t.Fatalf("parseHex(%q) = %#x, %d, %v; want %#x, %d, %v (%v)", s, v, i, ok, want, len(s)-len(digits)+end, wantOK, err)
		}
	})
}
