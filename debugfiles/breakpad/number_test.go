package breakpad

import (
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
}
