package stackwalk

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/cficache"
	"github.com/cairn-dev/cairn/debugfiles/pe"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/minidump/minidumptest"
)

// TestPEDirectory walks a synthetic Windows x64 crash in a fixture PE
// image with the fixture's directory as the symbol path: the directory
// index finds the image (x64 unwind codes) and its PDB (symbols) by debug
// id, and the caller is found by CFI made from the unwind codes.
func TestPEDirectory(t *testing.T) {
	dir := fixtures.GetDir(t, "pe-x86_64-clang-O2")
	exe := filepath.Join(dir, "demo.exe")
	o, err := pe.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := cficache.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cficache.New(data)
	if err != nil {
		t.Fatal(err)
	}
	ut, err := o.UnwindTable()
	if err != nil {
		t.Fatal(err)
	}
	// A function whose body has a frame (its CFA is rsp plus more than
	// the return address), and another to return into.
	var callee, caller pe.RuntimeFunction
	var row unwind.Row
	for _, rf := range ut.Functions() {
		chain, err := o.X64UnwindChain(rf)
		if err != nil || len(chain) == 0 {
			continue
		}
		body := uint64(rf.Begin) + uint64(chain[0].PrologSize)
		if callee.End == 0 && body < uint64(rf.End) && c.Lookup(body, &row) && row.CFA.Reg == 7 && row.CFA.Offset > 8 {
			callee = rf
			continue
		}
		if caller.End == 0 && rf.End-rf.Begin > 16 {
			caller = rf
		}
	}
	if callee.End == 0 || caller.End == 0 {
		t.Skip("fixture has no suitable functions")
	}
	chain, _ := o.X64UnwindChain(callee)
	base := o.LoadAddress()
	rip := base + uint64(callee.Begin) + uint64(chain[0].PrologSize)
	c.Lookup(rip-base, &row)
	const sp = 0x10000
	ret := base + uint64(caller.Begin) + 8
	stack := make([]byte, 0x400)
	binary.LittleEndian.PutUint64(stack[row.CFA.Offset-8:], ret)

	id := o.DebugID()
	var guid [16]byte
	guid[0], guid[1], guid[2], guid[3] = id.GUID[3], id.GUID[2], id.GUID[1], id.GUID[0]
	guid[4], guid[5], guid[6], guid[7] = id.GUID[5], id.GUID[4], id.GUID[7], id.GUID[6]
	copy(guid[8:], id.GUID[8:])
	d := minidumptest.New()
	d.SystemInfo(cpuAMD64, osWindows, 10, 0, 19041, "")
	var regs [17]uint64
	regs[4], regs[16] = sp, rip
	d.Thread(1, sp, stack, minidumptest.AMD64Context(0x10003f, regs))
	d.Module(base, o.SizeOfImage(), o.TimeDateStamp(), `C:\build\demo.exe`, minidumptest.CodeViewRSDS(guid, id.Age, `C:\build\demo.pdb`))
	p := &SymbolPaths{Paths: []string{dir}}
	defer p.Close()
	r, err := Process(context.Background(), d.Bytes(), p, Options{MaxFrames: 2})
	if err != nil {
		t.Fatal(err)
	}
	th := &r.Threads[0]
	if len(th.Frames) < 2 {
		t.Fatalf("%d frames:%s", len(th.Frames), describe(th))
	}
	f := &th.Frames[len(th.Frames)-1]
	if f.Trust != TrustCFI || f.Context.PC() != ret || f.Context.SP() != sp+uint64(row.CFA.Offset) {
		t.Errorf("caller %s pc %#x sp %#x, want cfi %#x %#x", f.Trust, f.Context.PC(), f.Context.SP(), ret, sp+uint64(row.CFA.Offset))
	}
	st := r.Status(r.Modules[0])
	if st == nil || st.UnwindStatus != StatusFound {
		t.Fatalf("module status %+v", st)
	}
	t.Logf("symbols %s from %s; frames:%s", st.SymbolStatus, st.Source, describe(th))
	if st.SymbolStatus == StatusFound && th.Frames[0].Function == "" {
		t.Error("symbols found but the crashing frame has no function")
	}
}
