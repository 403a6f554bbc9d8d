package service

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// newService returns a service with its own cache directory.
func newService(t testing.TB, srcs ...sources.Source) *Service {
	t.Helper()
	c, err := cache.New(cache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Cache: c, Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// elfID is the lookup identity of a crash fixture's module.
func elfID(m fixtures.CrashModule) sources.FileID {
	b, _ := hex.DecodeString(m.ID)
	return sources.FileID{DebugID: debugid.FromBuildID(b), CodeID: strings.ToLower(m.ID), CodeFile: m.Name,
		DebugFile: m.Name, Object: sources.ObjectELF}
}

// place links file into root at the first path layout l gives for type t.
func place(t testing.TB, root string, l sources.DirectoryLayout, ft sources.FileType, id sources.FileID, file string) string {
	t.Helper()
	ps := sources.Paths(l, ft, id)
	if len(ps) == 0 {
		t.Fatalf("layout %v gives no path for %v of %+v", l, ft, id)
	}
	dst := filepath.Join(root, filepath.FromSlash(ps[0]))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(file, dst); err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

// crashStore builds a native-layout symbol directory with every module of
// the crash that has a file, as a code file.
func crashStore(t testing.TB, c fixtures.CrashFixture) string {
	root := t.TempDir()
	native := sources.DirectoryLayout{Type: sources.LayoutNative}
	for _, m := range c.Modules {
		if m.File == "" || m.ID == "" {
			continue
		}
		place(t, root, native, sources.FileELFCode, elfID(m), m.File)
	}
	return root
}

func crashingFrames(t *testing.T, resp *Response) []fixtures.StackFrame {
	t.Helper()
	for _, st := range resp.Stacktraces {
		if st.IsRequesting != nil && *st.IsRequesting {
			var out []fixtures.StackFrame
			for _, f := range st.Frames {
				out = append(out, fixtures.StackFrame{Module: filepath.Base(f.Package), Function: f.Function})
			}
			return out
		}
	}
	t.Fatal("no requesting thread in the response")
	return nil
}

func moduleNamed(t *testing.T, resp *Response, base string) Module {
	t.Helper()
	for _, m := range resp.Modules {
		if filepath.Base(m.CodeFile) == base {
			return m
		}
	}
	t.Fatalf("no module %s in the response", base)
	return Module{}
}

// TestMinidumpCrashFixtures walks the crash fixtures with debug files
// found through a filesystem source, and checks the crashing stack against
// the fixture's expected stack (verified against Breakpad's stackwalker).
func TestMinidumpCrashFixtures(t *testing.T) {
	for _, name := range fixtures.CrashNames() {
		if !strings.HasPrefix(name, "crash-x86_64-gcc-O2-") && !strings.HasPrefix(name, "crash-aarch64-gcc-O2-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			c := fixtures.GetCrash(t, name)
			src := sources.NewFilesystem("local", crashStore(t, c), sources.DirectoryLayout{Type: sources.LayoutNative}, sources.Filters{})
			s := newService(t, src)
			data, err := os.ReadFile(c.Dump)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := s.Minidump(context.Background(), data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.MatchStack(crashingFrames(t, resp)); err != nil {
				t.Error(err)
			}
			m := moduleNamed(t, resp, "crash")
			if m.DebugStatus != "found" || m.UnwindStatus != "found" {
				t.Errorf("crash module: debug %s, unwind %s; want found, found", m.DebugStatus, m.UnwindStatus)
			}
			if !m.Features.HasDebugInfo || !m.Features.HasUnwindInfo {
				t.Errorf("crash module features %+v", m.Features)
			}
			// The debug file was asked for first (not there), then the code file.
			var statuses []string
			for _, cand := range m.Candidates {
				statuses = append(statuses, cand.Download.Status)
			}
			if !slices.Contains(statuses, "notfound") || !slices.Contains(statuses, "ok") {
				t.Errorf("crash module candidates %+v: want a notfound debug file and an ok code file", m.Candidates)
			}
			if resp.System == nil || resp.System.OSName != "Linux" {
				t.Errorf("system info %+v", resp.System)
			}
			if resp.Crashed == nil || !*resp.Crashed || resp.CrashReason == "" {
				t.Errorf("crashed %v reason %q", resp.Crashed, resp.CrashReason)
			}
		})
	}
}
