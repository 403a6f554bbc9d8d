package minidumptest_test

import (
	"testing"

	"github.com/cairn-dev/cairn/minidump"
	"github.com/cairn-dev/cairn/minidump/minidumptest"
)

// TestExtendedBuilders reads back what the field-by-field builders write.
func TestExtendedBuilders(t *testing.T) {
	b := minidumptest.New()
	b.SystemInfoEx(minidumptest.SystemInfoData{Arch: 12, Processors: 3, Platform: 0x8201, Major: 6, Minor: 1, Build: 7, CSD: "Linux 6.1.7"})
	ctx := minidumptest.ARM64ContextData{Flags: 0x400007, CPSR: 0x60000000, FPSR: 0x10, FPCR: 0x20}
	ctx.X[31], ctx.X[32] = 0x7000, 0x5000
	ctx.V[31][15] = 0xaa
	b.ThreadTEB(1, 0, 0x7000, make([]byte, 64), ctx.Bytes())
	b.ThreadTEB(2, 0, 0x8000, make([]byte, 64), ctx.Bytes())
	b.ThreadName(1, "main")
	b.ThreadName(2, "worker")
	b.ModuleEx(minidumptest.ModuleData{Base: 0x5000, Size: 0x1000, Name: "/bin/prog", CodeView: minidumptest.CodeViewELF([]byte{1, 2, 3, 4})})
	f, err := minidump.FromBytes(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	si, err := f.SystemInfo()
	if err != nil || si.ProcessorArch != minidump.ArchARM64 || si.NumberOfProcessors != 3 || si.CSDVersion != "Linux 6.1.7" || si.BuildNumber != 7 {
		t.Errorf("system info %+v, %v", si, err)
	}
	threads, err := f.Threads()
	if err != nil || len(threads) != 2 || threads[0].Teb != 0 {
		t.Fatalf("threads %+v, %v", threads, err)
	}
	c, err := f.ThreadContext(&threads[0], si)
	if err != nil {
		t.Fatal(err)
	}
	a := c.(*minidump.ContextARM64)
	if a.PC() != 0x5000 || a.SP() != 0x7000 || a.FPSR != 0x10 || a.FPCR != 0x20 || a.FPRegs[31][15] != 0xaa {
		t.Errorf("context %+v", a)
	}
	names, err := f.ThreadNames()
	if err != nil || len(names) != 2 || names[0].Name != "main" || names[1].Name != "worker" {
		t.Errorf("thread names %+v, %v", names, err)
	}
	mods, err := f.Modules()
	if err != nil || len(mods) != 1 || mods[0].VersionInfo.Version() != "" || mods[0].CodeID(si.PlatformID) != "01020304" {
		t.Errorf("modules %+v, %v", mods, err)
	}
}
