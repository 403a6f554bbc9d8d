package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/debugfiles/demangle"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/symbolicator/cache"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// blockingSource holds every fetch until its context ends.
type blockingSource struct{ id string }

func (b blockingSource) ID() string { return b.id }
func (b blockingSource) Candidates(_ context.Context, id sources.FileID, types []sources.FileType) []sources.Location {
	var out []sources.Location
	for _, t := range types {
		out = append(out, sources.Location{SourceID: b.id, Type: t, Path: "wait/" + t.String()})
	}
	return out
}
func (b blockingSource) Fetch(ctx context.Context, _ sources.Location, _ io.Writer) error {
	<-ctx.Done()
	return ctx.Err()
}

// slowSource gives up on every fetch after its own download deadline, as
// an HTTP source with a timeout does.
type slowSource struct{ id string }

func (s slowSource) ID() string { return s.id }
func (s slowSource) Candidates(ctx context.Context, id sources.FileID, types []sources.FileType) []sources.Location {
	return blockingSource(s).Candidates(ctx, id, types)
}
func (s slowSource) Fetch(ctx context.Context, loc sources.Location, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	<-ctx.Done()
	return fmt.Errorf("fetch %s: %w", loc.Path, ctx.Err())
}

// failingSource answers every fetch with an error.
type failingSource struct{ id string }

func (f failingSource) ID() string { return f.id }
func (f failingSource) Candidates(ctx context.Context, id sources.FileID, types []sources.FileType) []sources.Location {
	return blockingSource(f).Candidates(ctx, id, types)
}
func (f failingSource) Fetch(context.Context, sources.Location, io.Writer) error {
	return errors.New("connection refused")
}

// TestModuleStatuses checks each module status and its candidate list:
// found, missing, malformed, fetching_failed, too_large and timeout.
func TestModuleStatuses(t *testing.T) {
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	a, err := loader.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	obj := a.Objects[0]
	id := sources.FileID{DebugID: obj.DebugID(), CodeID: obj.CodeID(), CodeFile: "/usr/bin/demo", DebugFile: "/usr/bin/demo", Object: sources.ObjectELF}
	native := sources.DirectoryLayout{Type: sources.LayoutNative}
	syms, err := fixtures.FunctionSymbols(bin)
	if err != nil {
		t.Fatal(err)
	}
	const base = 0x7f0000000000
	req := func() *SymbolicateRequest {
		return &SymbolicateRequest{
			Stacktraces: []StacktraceIn{{Frames: []FrameIn{{InstructionAddr: Addr(base + syms[len(syms)/2].Addr + 1)}, {InstructionAddr: 0x10}}}},
			Modules: []ModuleInfo{{Type: "elf", CodeID: id.CodeID, CodeFile: id.CodeFile, DebugID: id.DebugID.String(),
				ImageAddr: base, ImageSize: 1 << 24}},
		}
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("\x7fELF but not really an ELF file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		src      func(t *testing.T) sources.Source
		maxSize  int64
		timeout  time.Duration
		status   string
		download []string // statuses every candidate must have one of
		frame    string
	}{
		{name: "found", src: func(t *testing.T) sources.Source {
			root := t.TempDir()
			place(t, root, native, sources.FileELFDebug, id, bin)
			return sources.NewFilesystem("fs", root, native, sources.Filters{})
		}, status: "found", download: []string{"ok"}, frame: frameSymbolicated},
		{name: "missing", src: func(t *testing.T) sources.Source {
			return sources.NewFilesystem("fs", t.TempDir(), native, sources.Filters{})
		}, status: "missing", download: []string{"notfound"}, frame: frameMissing},
		{name: "malformed", src: func(t *testing.T) sources.Source {
			root := t.TempDir()
			place(t, root, native, sources.FileELFDebug, id, garbage)
			return sources.NewFilesystem("fs", root, native, sources.Filters{})
		}, status: "malformed", download: []string{"ok", "notfound"}, frame: frameMalformed},
		{name: "fetching_failed", src: func(*testing.T) sources.Source { return failingSource{"flaky"} },
			status: "fetching_failed", download: []string{"error"}, frame: frameMissing},
		{name: "too_large", src: func(t *testing.T) sources.Source {
			root := t.TempDir()
			place(t, root, native, sources.FileELFDebug, id, bin)
			return sources.NewFilesystem("fs", root, native, sources.Filters{})
		}, maxSize: 1024, status: "too_large", download: []string{"toolarge", "notfound"}, frame: frameMissing},
		{name: "timeout", src: func(*testing.T) sources.Source { return slowSource{"slow"} },
			status: "timeout", download: []string{"error"}, frame: frameMissing},
		{name: "request deadline", src: func(*testing.T) sources.Source { return blockingSource{"stuck"} },
			timeout: 200 * time.Millisecond, frame: frameMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cache.New(cache.Config{Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{Cache: c, MaxDownloadSize: tc.maxSize})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			resp, err := s.Symbolicate(ctx, req(), []sources.Source{tc.src(t)})
			if tc.timeout > 0 {
				// The request itself ran out of time; the module status
				// says why when a caller collects it anyway.
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want the deadline", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m := resp.Modules[0]
			if m.DebugStatus != tc.status || m.UnwindStatus != "unused" {
				t.Errorf("debug %s unwind %s; want %s unused", m.DebugStatus, m.UnwindStatus, tc.status)
			}
			if len(m.Candidates) == 0 {
				t.Fatal("no candidates")
			}
			for _, cand := range m.Candidates {
				ok := false
				for _, d := range tc.download {
					ok = ok || cand.Download.Status == d
				}
				if !ok {
					t.Errorf("candidate %s: download %+v, want one of %v", cand.Location, cand.Download, tc.download)
				}
				if cand.Download.Status == "error" && cand.Download.Details == "" || cand.Download.Status == "toolarge" && cand.Download.Details == "" {
					t.Errorf("candidate %s: %s without details", cand.Location, cand.Download.Status)
				}
			}
			if tc.status == "malformed" {
				found := false
				for _, cand := range m.Candidates {
					found = found || cand.Debug != nil && cand.Debug.Status == "malformed" && cand.Debug.Details != ""
				}
				if !found {
					t.Errorf("no candidate reports the malformed file: %+v", m.Candidates)
				}
			}
			frames := resp.Stacktraces[0].Frames
			if frames[0].Status != tc.frame {
				t.Errorf("frame 0 status %s, want %s", frames[0].Status, tc.frame)
			}
			if last := frames[len(frames)-1]; last.Status != frameUnknownImage {
				t.Errorf("frame outside every module: %s, want %s", last.Status, frameUnknownImage)
			}
			if name := strings.TrimSuffix(syms[len(syms)/2].Name, ".cold"); tc.status == "found" &&
				frames[0].Symbol != name && frames[0].Function != demangle.Demangle(name, demangle.NoParams) {
				t.Errorf("frame 0 is %q, the symbol table says %s", frames[0].Function, name)
			}
		})
	}
}

// TestPrepare converts a module's files ahead of its first crash: the
// next request finds the derived caches and builds nothing.
func TestPrepare(t *testing.T) {
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	a, err := loader.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	obj := a.Objects[0]
	id := sources.FileID{DebugID: obj.DebugID(), CodeID: obj.CodeID(), CodeFile: "/usr/bin/demo", Object: sources.ObjectELF}
	root := t.TempDir()
	native := sources.DirectoryLayout{Type: sources.LayoutNative}
	place(t, root, native, sources.FileELFCode, id, bin)
	dir := t.TempDir()
	c, err := cache.New(cache.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Cache: c, Sources: []sources.Source{sources.NewFilesystem("fs", root, native, sources.Filters{})}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := s.Prepare(context.Background(), ModuleInfo{Type: "elf", DebugID: id.DebugID.String(), CodeID: id.CodeID, CodeFile: id.CodeFile}, nil)
	if m.DebugStatus != "found" || m.UnwindStatus != "found" {
		t.Fatalf("prepared module: debug %s unwind %s", m.DebugStatus, m.UnwindStatus)
	}
	for _, kind := range []string{kindSymcache, kindCficache} {
		if n := countFiles(t, filepath.Join(dir, kind)); n == 0 {
			t.Errorf("no %s built ahead", kind)
		}
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".meta") {
			n++
		}
		return nil
	})
	return n
}

// dirShared is a SharedCache over a directory, as the S3 store is for the
// production topology.
type dirShared string

func (d dirShared) Get(_ context.Context, key string, w io.Writer) (bool, error) {
	f, err := os.Open(filepath.Join(string(d), filepath.FromSlash(key)))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err == nil, err
}

func (d dirShared) Put(_ context.Context, key string, r io.Reader) error {
	p := filepath.Join(string(d), filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// TestSharedDerivedCaches: a second symbolicator process with its own
// local cache fetches the caches the first one built from the shared
// store, builds nothing, and answers the same.
func TestSharedDerivedCaches(t *testing.T) {
	bin := fixtures.Get(t, "elf-x86_64-gcc-O2")
	a, err := loader.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	obj := a.Objects[0]
	id := sources.FileID{DebugID: obj.DebugID(), CodeID: obj.CodeID(), CodeFile: "/usr/bin/demo", Object: sources.ObjectELF}
	root := t.TempDir()
	native := sources.DirectoryLayout{Type: sources.LayoutNative}
	place(t, root, native, sources.FileELFCode, id, bin)
	src := sources.NewFilesystem("fs", root, native, sources.Filters{})
	shared := dirShared(t.TempDir())
	info := ModuleInfo{Type: "elf", DebugID: id.DebugID.String(), CodeID: id.CodeID, CodeFile: id.CodeFile}
	var mods [2]Module
	var built [2]int64
	for i := range 2 {
		c, err := cache.New(cache.Config{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(Config{Cache: c, Sources: []sources.Source{src}, Shared: shared})
		if err != nil {
			t.Fatal(err)
		}
		mods[i] = s.Prepare(context.Background(), info, nil)
		built[i] = s.Built()
		s.Close()
	}
	if built[0] != 2 || built[1] != 0 {
		t.Errorf("built %d caches in the first process and %d in the second; want 2 and 0", built[0], built[1])
	}
	if mods[1].DebugStatus != "found" || mods[1].UnwindStatus != "found" || mods[1].Features != mods[0].Features {
		t.Errorf("second process: %+v, first: %+v", mods[1], mods[0])
	}
}
