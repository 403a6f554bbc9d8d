package service

import (
	"cmp"
	"context"
	"path"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/cairn-dev/cairn/debugfiles/demangle"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// Frame statuses.
const (
	frameSymbolicated  = "symbolicated"
	frameMissing       = "missing"
	frameUnknownImage  = "unknown_image"
	frameMissingSymbol = "missing_symbol"
	frameMalformed     = "malformed"
)

// Symbolicate resolves the frames of stack traces against the modules the
// request lists, looking the modules' debug files up in srcs (the
// configured sources when nil). Modules no frame points into are reported
// unused and cost nothing.
func (s *Service) Symbolicate(ctx context.Context, req *SymbolicateRequest, srcs []sources.Source) (*Response, error) {
	r := s.newSession(srcs)
	defer r.close()
	mods := newModuleMap(req.Modules)
	// Look up every module a frame points into, a few at a time.
	need := map[*lookup]bool{}
	for _, st := range req.Stacktraces {
		for _, f := range st.Frames {
			if l := mods.find(uint64(f.InstructionAddr)); l != nil {
				need[l] = true
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.ModuleParallel)
	for _, l := range mods.all {
		if need[l] {
			g.Go(func() error { r.resolve(gctx, l, false); return nil })
		}
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := &Response{Status: "completed", Stacktraces: make([]Stacktrace, 0, len(req.Stacktraces))}
	var buf []symcache.Frame
	for _, st := range req.Stacktraces {
		out := Stacktrace{Registers: st.Registers, Frames: make([]Frame, 0, len(st.Frames))}
		for i, f := range st.Frames {
			adjust := i > 0
			if f.AdjustInstructionAddr != nil {
				adjust = *f.AdjustInstructionAddr
			}
			out.Frames, buf = symbolicateFrame(out.Frames, buf, mods, i, uint64(f.InstructionAddr), adjust)
		}
		resp.Stacktraces = append(resp.Stacktraces, out)
	}
	resp.Modules = mods.modules()
	return resp, nil
}

// symbolicateFrame appends the frames of one input frame: one per inlined
// call and one for the function holding them, innermost first.
func symbolicateFrame(out []Frame, buf []symcache.Frame, mods *moduleMap, index int, addr uint64, adjust bool) ([]Frame, []symcache.Frame) {
	idx := index
	base := Frame{OriginalIndex: &idx, InstructionAddr: Addr(addr)}
	l := mods.find(addr)
	if l == nil {
		base.Status = frameUnknownImage
		return append(out, base), buf
	}
	base.Package = l.info.CodeFile
	if l.sym == nil {
		base.Status = frameMissing
		if l.symStatus == statusMalformed {
			base.Status = frameMalformed
		}
		return append(out, base), buf
	}
	lookupAddr := addr
	if adjust {
		lookupAddr = callerAddress(addr, l.arch())
	}
	rel := lookupAddr - uint64(l.info.ImageAddr)
	buf = l.sym.Lookup(rel, buf[:0])
	if len(buf) == 0 {
		base.Status = frameMissingSymbol
		return append(out, base), buf
	}
	for i := range buf {
		sf := &buf[i]
		f := base
		f.Status = frameSymbolicated
		f.Symbol = strings.Clone(sf.Function)
		f.Function = demangle.Demangle(f.Symbol, demangle.Full)
		symAddr := Addr(uint64(l.info.ImageAddr) + sf.Address)
		f.SymAddr = &symAddr
		f.Lang = langName(sf.Lang)
		if p := sf.Path(); p != "" {
			f.AbsPath = strings.Clone(p)
			f.Filename = path.Base(strings.ReplaceAll(f.AbsPath, `\`, "/"))
		}
		f.Lineno = sf.Line
		out = append(out, f)
	}
	return out, buf
}

// callerAddress moves a return address back into the call instruction, so
// that lines and inlines are those of the call.
func callerAddress(addr uint64, arch string) uint64 {
	if addr == 0 {
		return 0
	}
	switch {
	case strings.HasPrefix(arch, "arm64"):
		return (addr &^ 3) - 4
	case strings.HasPrefix(arch, "arm"):
		return (addr &^ 1) - 2
	}
	return addr - 1
}

func langName(l symcache.Language) string {
	if l == symcache.LangUnknown {
		return ""
	}
	return l.String()
}

// arch is the module's architecture: as the request says, else as its
// debug file says.
func (l *lookup) arch() string {
	if l.info.Arch != "" && l.info.Arch != "unknown" {
		return l.info.Arch
	}
	if l.sym != nil {
		return l.sym.Arch()
	}
	return ""
}

// moduleMap finds the module holding an address.
type moduleMap struct {
	all    []*lookup // request order
	sorted []*lookup // by image address, zero-sized ones left out
}

func newModuleMap(infos []ModuleInfo) *moduleMap {
	m := &moduleMap{}
	for _, info := range infos {
		l := newLookup(info)
		m.all = append(m.all, l)
		if info.ImageSize > 0 {
			m.sorted = append(m.sorted, l)
		}
	}
	slices.SortStableFunc(m.sorted, func(a, b *lookup) int { return cmp.Compare(a.info.ImageAddr, b.info.ImageAddr) })
	return m
}

func (m *moduleMap) find(addr uint64) *lookup {
	i, _ := slices.BinarySearchFunc(m.sorted, addr, func(l *lookup, a uint64) int {
		if uint64(l.info.ImageAddr) > a {
			return 1
		}
		return -1
	})
	if i == 0 {
		return nil
	}
	l := m.sorted[i-1]
	if addr-uint64(l.info.ImageAddr) >= l.info.ImageSize {
		return nil
	}
	return l
}

func (m *moduleMap) modules() []Module {
	out := make([]Module, 0, len(m.all))
	for _, l := range m.all {
		out = append(out, l.module())
	}
	return out
}
