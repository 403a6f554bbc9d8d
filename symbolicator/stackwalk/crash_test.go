package stackwalk

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
)

// TestCrashFixtures walks the project's own crash dumps (fixtures/src/crash
// built with gcc and clang for x86_64 and aarch64, crashed natively or under
// qemu-user, captured as minidumps) with the binaries and libraries as the
// only debug files: DWARF for symbols and inlines, .eh_frame for unwinding,
// through symcaches and cficaches built in memory. The crashing thread must
// walk to the stack the fixture expects, inlined frames included.
func TestCrashFixtures(t *testing.T) {
	for _, name := range fixtures.CrashNames() {
		t.Run(name, func(t *testing.T) {
			c := fixtures.GetCrash(t, name)
			p := &SymbolPaths{Paths: append([]string{c.Binary}, c.Libs...)}
			defer p.Close()
			data, err := os.ReadFile(c.Dump)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Process(context.Background(), data, p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if r.RequestingThread < 0 {
				t.Fatal("no crashed thread")
			}
			th := &r.Threads[r.RequestingThread]
			var frames []fixtures.StackFrame
			var show []string
			for i := range th.Frames {
				f := &th.Frames[i]
				sf := fixtures.StackFrame{Function: f.Function}
				if f.Module != nil {
					sf.Module = leafName(f.Module.CodeFile)
				}
				frames = append(frames, sf)
				if i < 24 {
					show = append(show, sf.Module+"!"+fixtures.NormalizeFunction(sf.Function)+"("+f.Trust.String()+")")
				}
			}
			if err := c.MatchStack(frames); err != nil {
				t.Errorf("%v\nwalk: %s", err, strings.Join(show, " "))
			}
			for i := range th.Frames {
				f := &th.Frames[i]
				if f.Module != nil && (leafName(f.Module.CodeFile) == "crash" || leafName(f.Module.CodeFile) == "libcrashlib.so") &&
					f.Function != "" && f.Trust == TrustScan {
					t.Errorf("frame %d (%s) was found by scanning; CFI covers the program's own code", i, f.Function)
				}
			}
			if len(r.Threads) < c.Threads {
				t.Errorf("%d threads walked, the dump holds at least %d", len(r.Threads), c.Threads)
			}
		})
	}
}
