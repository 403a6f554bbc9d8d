package issues

import (
	"context"
	"fmt"
	"io"

	"github.com/cairn-dev/cairn/symbolicator/service"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// ServiceSymbolicator is the Symbolicator of the all-in-one server: the
// symbolicator service, in process, walks minidumps and symbolicates
// native frames from the debug files Sources gives for the event's
// project, keeping what it converts (symcaches, cficaches) for the next
// event. Reading a dump's crash, system and modules, and anything the
// service cannot do, is left to Fallback (Unsymbolicated when nil).
type ServiceSymbolicator struct {
	// Service does the walking and symbol lookup. Required.
	Service *service.Service
	// Sources returns the sources of the event's project (ProjectOf ctx):
	// its uploaded files, then the configured sources. Nil means the
	// service's configured sources.
	Sources func(ctx context.Context) []sources.Source
	// Fallback reads dumps and handles what the service does not.
	Fallback Symbolicator
}

var _ Symbolicator = (*ServiceSymbolicator)(nil)

func (s *ServiceSymbolicator) fallback() Symbolicator {
	if s.Fallback != nil {
		return s.Fallback
	}
	return Unsymbolicated{}
}

func (s *ServiceSymbolicator) sources(ctx context.Context) []sources.Source {
	if s.Sources == nil {
		return nil
	}
	return s.Sources(ctx)
}

// Minidump implements Symbolicator: the crash, system and modules as the
// fallback reads them, with every thread's stack replaced by the walked
// and symbolicated one (oldest frame first, inlined calls as frames of
// their own) and every image's debug and unwind status set. A dump the
// stack walker rejects keeps the fallback's stacks and gets a processing
// error.
func (s *ServiceSymbolicator) Minidump(ctx context.Context, dump io.ReaderAt, size int64) (*NativeCrash, error) {
	crash, err := s.fallback().Minidump(ctx, dump, size)
	if err != nil {
		return nil, err
	}
	data := make([]byte, size)
	if _, err := dump.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("issues: read minidump: %w", err)
	}
	resp, err := s.Service.Minidump(ctx, data, s.sources(ctx))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		crash.Errors = append(crash.Errors, EventError{Type: "native_stackwalk_failed", Message: err.Error()})
		return crash, nil
	}
	byID := make(map[uint64]*service.Stacktrace, len(resp.Stacktraces))
	for i := range resp.Stacktraces {
		if st := &resp.Stacktraces[i]; st.ThreadID != nil {
			byID[*st.ThreadID] = st
		}
	}
	for _, th := range crash.Threads {
		id, ok := th.ID.(uint32)
		if !ok {
			continue
		}
		wt := byID[uint64(id)]
		if wt == nil || len(wt.Frames) == 0 {
			continue
		}
		st := &Stacktrace{Frames: sentryFrames(wt.Frames, nil)}
		if th.Stacktrace != nil {
			st.Registers = th.Stacktrace.Registers
		}
		th.Stacktrace = st
		if th.Crashed && crash.Exception != nil {
			crash.Exception.Stacktrace = st
		}
	}
	byAddr := make(map[uint64]*service.Module, len(resp.Modules))
	for i := range resp.Modules {
		byAddr[uint64(resp.Modules[i].ImageAddr)] = &resp.Modules[i]
	}
	for _, im := range crash.Images {
		crash.Errors = appendStatus(crash.Errors, im, byAddr[im.ImageAddr.N])
	}
	return crash, nil
}

// sentryFrames converts the frames the service returned for one stack or
// one input frame (innermost first) into event frames in Sentry's order,
// oldest call first. Each frame starts as a copy of like, when not nil, so
// that what the event said about a frame (in_app, platform) survives its
// symbolication.
func sentryFrames(in []service.Frame, like *Frame) []*Frame {
	out := make([]*Frame, 0, len(in))
	for i := len(in) - 1; i >= 0; i-- {
		sf := &in[i]
		f := &Frame{}
		if like != nil {
			*f = *like
		}
		f.InstructionAddr = A(uint64(sf.InstructionAddr))
		if sf.Trust != "" {
			f.Trust = sf.Trust
		}
		if sf.Package != "" {
			f.Package = sf.Package
		}
		f.Function, f.RawFunction, f.Symbol = sf.Function, sf.Function, sf.Symbol
		f.Filename, f.AbsPath, f.Lineno = sf.Filename, sf.AbsPath, int(sf.Lineno)
		f.SymbolAddr = Addr{}
		if sf.SymAddr != nil {
			f.SymbolAddr = A(uint64(*sf.SymAddr))
		}
		out = append(out, f)
	}
	return out
}

// appendStatus copies a module's debug and unwind status to its image and
// appends the processing error Sentry records for the debug status of an
// image a frame needed. An image the service did not report on was not
// needed.
func appendStatus(errs []EventError, im *DebugImage, m *service.Module) []EventError {
	if m == nil {
		im.DebugStatus, im.UnwindStatus = "unused", "unused"
		return errs
	}
	im.DebugStatus, im.UnwindStatus = m.DebugStatus, m.UnwindStatus
	im.Candidates = candidates(m.Candidates)
	var typ string
	switch m.DebugStatus {
	case "missing":
		typ = "native_missing_dsym"
	case "malformed":
		typ = "native_bad_dsym"
	case "too_large":
		typ = "fetch_too_large"
	case "fetching_failed":
		typ = "fetch_generic_error"
	case "timeout":
		typ = "fetch_timeout"
	case "other":
		typ = "unknown_error"
	default:
		return errs
	}
	return append(errs, EventError{Type: typ, ImagePath: im.CodeFile, ImageUUID: im.DebugID, ImageArch: im.Arch})
}

// candidates keeps the locations the service tried for an image, so the
// issue page can explain a missing debug file.
func candidates(in []service.Candidate) []ImageCandidate {
	if len(in) == 0 {
		return nil
	}
	processing := func(p *service.ProcessingOK) *CandidateDownload {
		if p == nil {
			return nil
		}
		return &CandidateDownload{Status: p.Status, Details: p.Details}
	}
	out := make([]ImageCandidate, 0, len(in))
	for _, c := range in {
		out = append(out, ImageCandidate{Source: c.Source, Location: c.Location,
			Download: CandidateDownload{Status: c.Download.Status, Details: c.Download.Details},
			Debug:    processing(c.Debug), Unwind: processing(c.Unwind)})
	}
	return out
}

// Symbolicate implements Symbolicator: the frames of images without a
// status yet (those of a minidump have theirs) are sent to the service,
// innermost first, and the symbolicated ones written back in place, an
// inlined call becoming a frame of its own before the frame it was
// inlined into; frames the service could not resolve are left as they
// were.
func (s *ServiceSymbolicator) Symbolicate(ctx context.Context, stacks []*Stacktrace, images []*DebugImage) ([]EventError, error) {
	req := &service.SymbolicateRequest{}
	var sent []*DebugImage
	for _, im := range images {
		if info, ok := moduleInfo(im); ok {
			sent = append(sent, im)
			req.Modules = append(req.Modules, info)
		}
	}
	if len(sent) == 0 {
		return s.fallback().Symbolicate(ctx, stacks, images)
	}
	// index[i][j] is the event frame of stack i that request frame j is.
	index := make([][]int, len(stacks))
	for i, st := range stacks {
		in := service.StacktraceIn{Frames: make([]service.FrameIn, 0, len(st.Frames))}
		for j := len(st.Frames) - 1; j >= 0; j-- {
			f := st.Frames[j]
			if !f.InstructionAddr.Set {
				continue
			}
			adjust := adjustment(st.InstructionAddrAdjustment, len(in.Frames) == 0, f.Trust)
			in.Frames = append(in.Frames, service.FrameIn{InstructionAddr: service.Addr(f.InstructionAddr.N),
				AdjustInstructionAddr: &adjust, Trust: f.Trust})
			index[i] = append(index[i], j)
		}
		if len(st.Registers) > 0 {
			in.Registers = make(map[string]service.Addr, len(st.Registers))
			for r, v := range st.Registers {
				in.Registers[r] = service.Addr(v.N)
			}
		}
		req.Stacktraces = append(req.Stacktraces, in)
	}
	resp, err := s.Service.Symbolicate(ctx, req, s.sources(ctx))
	if err != nil {
		return nil, fmt.Errorf("issues: symbolicate: %w", err)
	}
	for i, st := range stacks {
		if i < len(resp.Stacktraces) {
			st.Frames = mergeFrames(st.Frames, resp.Stacktraces[i].Frames, index[i])
		}
	}
	var errs []EventError
	for i, im := range sent {
		var m *service.Module
		if i < len(resp.Modules) {
			m = &resp.Modules[i]
		}
		errs = appendStatus(errs, im, m)
	}
	return errs, nil
}

// nativeImageTypes are the debug image types the symbolicator reads;
// "apple" is the legacy spelling of "macho".
var nativeImageTypes = map[string]string{"elf": "elf", "macho": "macho", "apple": "macho", "pe": "pe", "pdb": "pe", "wasm": "wasm"}

// moduleInfo describes an image for a request; it reports false for
// images that are no native module or were already processed (those of a
// minidump).
func moduleInfo(im *DebugImage) (service.ModuleInfo, bool) {
	typ, ok := nativeImageTypes[im.Type]
	if !ok || im.DebugStatus != "" || !im.ImageAddr.Set {
		return service.ModuleInfo{}, false
	}
	debugID := im.DebugID
	if debugID == "" {
		debugID = im.UUID
	}
	return service.ModuleInfo{Type: typ, CodeID: im.CodeID, CodeFile: im.CodeFile, DebugID: debugID,
		DebugFile: im.DebugFile, Arch: im.Arch, ImageAddr: service.Addr(im.ImageAddr.N), ImageSize: im.ImageSize}, true
}

// adjustment says whether a frame's address is a return address to move
// back into the call, following the stack's instruction_addr_adjustment
// as Sentry does: by default every frame but the innermost (the crashing
// or interrupted instruction) and those whose address came from a
// register context.
func adjustment(mode string, innermost bool, trust string) bool {
	switch mode {
	case "none":
		return false
	case "all":
		return true
	case "all_but_first":
		return !innermost
	}
	return !innermost && trust != "context"
}

// mergeFrames writes the service's frames back into an event stack
// (oldest first): index maps each request frame to its event frame. An
// event frame whose request frame was symbolicated is replaced by the
// frames the service made of it; the others stay.
func mergeFrames(frames []*Frame, resolved []service.Frame, index []int) []*Frame {
	// groups[j] are the service's frames for event frame j, innermost first.
	groups := make(map[int][]service.Frame, len(index))
	for k := 0; k < len(resolved); {
		n := k + 1
		for n < len(resolved) && sameOrigin(&resolved[n], &resolved[k]) {
			n++
		}
		if oi := resolved[k].OriginalIndex; oi != nil && *oi >= 0 && *oi < len(index) && resolved[k].Status == "symbolicated" {
			groups[index[*oi]] = resolved[k:n]
		}
		k = n
	}
	if len(groups) == 0 {
		return frames
	}
	out := make([]*Frame, 0, len(frames)+len(resolved)-len(index))
	for j, f := range frames {
		g, ok := groups[j]
		if !ok {
			out = append(out, f)
			continue
		}
		out = append(out, sentryFrames(g, f)...)
	}
	return out
}

func sameOrigin(a, b *service.Frame) bool {
	return a.OriginalIndex != nil && b.OriginalIndex != nil && *a.OriginalIndex == *b.OriginalIndex
}
