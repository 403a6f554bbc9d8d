package postfix

import (
	"encoding/binary"
	"errors"
	"testing"
)

// memory is a little-endian memory image starting at base.
func memory(base uint64, b []byte) Memory {
	return func(addr uint64, size int) (uint64, bool) {
		if addr < base || addr-base+uint64(size) > uint64(len(b)) {
			return 0, false
		}
		off := addr - base
		if size == 4 {
			return uint64(binary.LittleEndian.Uint32(b[off:])), true
		}
		return binary.LittleEndian.Uint64(b[off:]), true
	}
}

func TestValue(t *testing.T) {
	stack := make([]byte, 64)
	binary.LittleEndian.PutUint64(stack[8:], 0x401234)
	binary.LittleEndian.PutUint64(stack[16:], 0xdead)
	e := Evaluator{Width: 8, Memory: memory(0x1000, stack)}
	vars := Map{"$rsp": 0x1000, ".cfa": 0x1018, "x29": 0x1010, "$rip": 0x5}
	for _, tc := range []struct {
		expr string
		want uint64
	}{
		{"$rsp 24 +", 0x1018},
		{".cfa -16 + ^", 0x401234},
		{".cfa -8 + ^", 0xdead},
		{"x29", 0x1010},
		{"$rsp 8 + $rip 16 % 11 / 8 * +", 0x1008},
		{"$rsp 0x10 -", 0xff0},
		{"$rsp 7 + 8 @", 0x1000},
		{"10 3 %", 1},
		{"-8", ^uint64(7)},
	} {
		got, err := e.Value(tc.expr, vars)
		if err != nil || got != tc.want {
			t.Errorf("%q = %#x, %v; want %#x", tc.expr, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		expr string
		err  error
	}{
		{"$rsp +", ErrStack},
		{"1 2", ErrStack},
		{"$nope", ErrUndefined},
		{"1 0 /", ErrDivideByZero},
		{"0x10 ^", ErrMemory},
		{"$rsp 8 & +", ErrSyntax},
		{"", ErrStack},
	} {
		if _, err := e.Value(tc.expr, vars); !errors.Is(err, tc.err) {
			t.Errorf("%q: %v, want %v", tc.expr, err, tc.err)
		}
	}
}

// TestRunWin runs the program string of a typical STACK WIN FrameData
// record on a 32-bit stack.
func TestRunWin(t *testing.T) {
	stack := make([]byte, 32)
	binary.LittleEndian.PutUint32(stack[0:], 0x2000)  // saved ebp
	binary.LittleEndian.PutUint32(stack[4:], 0x40100) // return address
	e := Evaluator{Width: 4, Memory: memory(0x1000, stack)}
	vars := Map{"$ebp": 0x1000, "$esp": 0xff0}
	prog := "$T0 $ebp = $eip $T0 4 + ^ = $ebp $T0 ^ = $esp $T0 8 + ="
	if err := e.Run(prog, vars); err != nil {
		t.Fatal(err)
	}
	if vars["$eip"] != 0x40100 || vars["$ebp"] != 0x2000 || vars["$esp"] != 0x1008 {
		t.Errorf("vars after the program: %#x", vars)
	}
	if err := e.Run("1 2 =", vars); !errors.Is(err, ErrSyntax) {
		t.Errorf("assignment to a value: %v", err)
	}
	vars[".raSearchStart"] = 0x1004
	if err := e.Run("$eip .raSearchStart ^ =", vars); err != nil || vars["$eip"] != 0x40100 {
		t.Errorf(".raSearchStart: %v %#x", err, vars["$eip"])
	}
	if v, _ := (Evaluator{Width: 4}).Value("0 1 -", vars); v != 0xffffffff {
		t.Errorf("32-bit wrap: %#x", v)
	}
}

func TestValueAllocatesNothing(t *testing.T) {
	e := Evaluator{Width: 8, Memory: func(uint64, int) (uint64, bool) { return 1, true }}
	vars := Map{"$rsp": 8, ".cfa": 16}
	n := testing.AllocsPerRun(100, func() {
		if _, err := e.Value(".cfa -8 + ^", vars); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per evaluation", n)
	}
}

func FuzzPostfix(f *testing.F) {
	for _, s := range []string{"$rsp 8 +", ".cfa -8 + ^", "$T0 $ebp = $eip $T0 4 + ^ =", "1 0 /", "$x 7 @", "-1 ^ ^ ^"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		vars := Map{"$rsp": 0x1000, ".cfa": 0x1008, "$ebp": 4}
		mem := func(addr uint64, size int) (uint64, bool) { return addr ^ 0x55, addr%3 != 0 }
		for _, w := range []int{4, 8} {
			e := Evaluator{Width: w, Memory: mem}
			e.Value(expr, vars)
			e.Run(expr, vars)
		}
	})
}
