package issues

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/cairn-dev/cairn/symbolicator/stackwalk"
	"github.com/cairn-dev/cairn/symbolicator/store"
)

// DebugFileLookup returns the local paths of the debug files (Breakpad
// symbol files, objects, debug companions, caches) known for a module by
// its debug id or code id. It returns nothing when there are none.
type DebugFileLookup func(ctx context.Context, debugID, codeID string) []string

// StoreLookup is a DebugFileLookup over the debug files uploaded to the
// event's project (ProjectOf the context, else defaultProject): it finds
// them in st and gives the path of each one's blob under blobDir, the
// directory of the file-system blob store st uses.
func StoreLookup(st *store.Store, blobDir string, defaultProject int64) DebugFileLookup {
	return func(ctx context.Context, debugID, codeID string) []string {
		projectID := defaultProject
		if id, ok := ProjectOf(ctx); ok {
			projectID = id
		}
		var paths []string
		add := func(debugID, codeID string) {
			files, err := st.Lookup(ctx, projectID, debugID, codeID)
			if err != nil {
				return
			}
			for _, f := range files {
				if p := filepath.Join(blobDir, filepath.FromSlash(f.BlobKey)); !slices.Contains(paths, p) {
					paths = append(paths, p)
				}
			}
		}
		if debugID != "" {
			add(debugID, "")
		}
		if codeID != "" {
			add("", codeID)
		}
		return paths
	}
}

// Stackwalker is the Symbolicator that walks every thread of a minidump
// with call frame information, frame pointers and stack scanning, and
// symbolicates the frames from debug files found by Lookup and in Paths.
// What it cannot do, it leaves to Fallback (Unsymbolicated when nil): a
// dump the stack walker rejects gets Fallback's stacks and a processing
// error, and frames of events without a minidump go to Fallback.
type Stackwalker struct {
	// Lookup finds uploaded debug files; it is asked first. May be nil.
	Lookup DebugFileLookup
	// Paths are symbol directories: Breakpad symbol stores or directories
	// of debug files under any names.
	Paths []string
	// Options tune the walk; the zero value is the default.
	Options stackwalk.Options
	// Fallback reads dumps and symbolicates frames the walker does not.
	Fallback Symbolicator
}

var _ Symbolicator = (*Stackwalker)(nil)

func (s *Stackwalker) fallback() Symbolicator {
	if s.Fallback != nil {
		return s.Fallback
	}
	return Unsymbolicated{}
}

// Minidump implements Symbolicator: the crash, system and modules as the
// fallback reads them, with every thread's stack replaced by the walked
// and symbolicated one (oldest frame first, inlined calls as frames of
// their own) and every image's debug and unwind status set.
func (s *Stackwalker) Minidump(ctx context.Context, dump io.ReaderAt, size int64) (*NativeCrash, error) {
	crash, err := s.fallback().Minidump(ctx, dump, size)
	if err != nil {
		return nil, err
	}
	data := make([]byte, size)
	if _, err := dump.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("issues: read minidump: %w", err)
	}
	p := &modules{lookup: s.Lookup, shared: &stackwalk.SymbolPaths{Paths: s.Paths}}
	defer p.close()
	r, err := stackwalk.Process(ctx, data, p, s.Options)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		crash.Errors = append(crash.Errors, EventError{Type: "native_stackwalk_failed", Message: err.Error()})
		return crash, nil
	}
	byID := map[uint32]*stackwalk.Thread{}
	for i := range r.Threads {
		byID[r.Threads[i].ID] = &r.Threads[i]
	}
	for _, th := range crash.Threads {
		id, ok := th.ID.(uint32)
		if !ok {
			continue
		}
		wt := byID[id]
		if wt == nil || len(wt.Frames) == 0 {
			continue
		}
		st := &Stacktrace{Frames: sentryFrames(wt.Frames)}
		if th.Stacktrace != nil {
			st.Registers = th.Stacktrace.Registers
		}
		th.Stacktrace = st
		if th.Crashed && crash.Exception != nil {
			crash.Exception.Stacktrace = st
		}
	}
	s.setStatuses(crash, r)
	return crash, nil
}

// sentryFrames converts walked frames (innermost first) into event frames
// in Sentry's order, oldest call first.
func sentryFrames(in []stackwalk.Frame) []*Frame {
	out := make([]*Frame, 0, len(in))
	for i := len(in) - 1; i >= 0; i-- {
		f := &in[i]
		ef := &Frame{InstructionAddr: A(f.Instruction), Trust: f.Trust.String(),
			Function: f.Function, RawFunction: f.Function, Filename: f.File, Lineno: int(f.Line)}
		if f.Function != "" {
			ef.SymbolAddr = A(f.FunctionBase)
		}
		if f.Module != nil {
			ef.Package = f.Module.CodeFile
		}
		out = append(out, ef)
	}
	return out
}

// setStatuses sets each image's debug and unwind status from the walk and
// reports the images frames needed whose debug files are missing.
func (s *Stackwalker) setStatuses(crash *NativeCrash, r *stackwalk.Result) {
	used := map[uint64]bool{}
	for i := range r.Threads {
		for j := range r.Threads[i].Frames {
			if m := r.Threads[i].Frames[j].Module; m != nil {
				used[m.Base] = true
			}
		}
	}
	for _, im := range crash.Images {
		var d *stackwalk.Debug
		for _, m := range r.Modules {
			if m.Base == im.ImageAddr.N {
				d = r.Status(m)
				break
			}
		}
		if !used[im.ImageAddr.N] {
			im.DebugStatus, im.UnwindStatus = "unused", "unused"
			if d != nil && d.SymbolStatus == stackwalk.StatusFound {
				im.DebugStatus = "found"
			}
			if d != nil && d.UnwindStatus == stackwalk.StatusFound {
				im.UnwindStatus = "found"
			}
			continue
		}
		im.DebugStatus, im.UnwindStatus = "missing", "missing"
		if d != nil {
			im.DebugStatus, im.UnwindStatus = sentryStatus(d.SymbolStatus), sentryStatus(d.UnwindStatus)
		}
		if im.DebugStatus == "missing" {
			crash.Errors = append(crash.Errors, EventError{Type: "native_missing_dsym", ImagePath: im.CodeFile, ImageUUID: im.DebugID, ImageArch: im.Arch})
		}
	}
}

func sentryStatus(s stackwalk.Status) string {
	switch s {
	case stackwalk.StatusFound:
		return "found"
	case stackwalk.StatusMalformed:
		return "malformed"
	case stackwalk.StatusUnused:
		return "unused"
	}
	return "missing"
}

// Symbolicate implements Symbolicator. Minidump stacks arrive already
// symbolicated with their images' statuses set, which the fallback leaves
// alone; other native frames go to the fallback.
func (s *Stackwalker) Symbolicate(ctx context.Context, stacks []*Stacktrace, images []*DebugImage) ([]EventError, error) {
	return s.fallback().Symbolicate(ctx, stacks, images)
}

// modules finds a module's debug information among the files Lookup
// gives, then in the shared symbol paths.
type modules struct {
	lookup DebugFileLookup
	shared *stackwalk.SymbolPaths
	opened []*stackwalk.SymbolPaths
}

// Find implements stackwalk.Modules.
func (p *modules) Find(ctx context.Context, m *stackwalk.Module) stackwalk.Debug {
	if p.lookup != nil {
		if files := p.lookup(ctx, m.DebugID, m.CodeID); len(files) > 0 {
			sp := &stackwalk.SymbolPaths{Paths: slices.Clone(files)}
			p.opened = append(p.opened, sp)
			if d := sp.Find(ctx, m); d.Symbols != nil || d.Unwinder != nil {
				return d
			}
		}
	}
	if len(p.shared.Paths) == 0 {
		return stackwalk.Debug{}
	}
	return p.shared.Find(ctx, m)
}

func (p *modules) close() {
	for _, sp := range p.opened {
		sp.Close()
	}
	p.shared.Close()
}
