package service

import (
	"context"
	"errors"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/minidump"
	"github.com/cairn-dev/cairn/symbolicator/sources"
	"github.com/cairn-dev/cairn/symbolicator/stackwalk"
)

// Minidump walks every thread of a minidump held in data and symbolicates
// the frames, looking each module's debug and unwind files up in srcs
// (the configured sources when nil) the first time the walk needs the
// module. A dump that cannot be read is an error matching ErrBadInput.
func (s *Service) Minidump(ctx context.Context, data []byte, srcs []sources.Source) (*Response, error) {
	f, err := minidump.FromBytes(data)
	if err != nil {
		return nil, badInput("minidump: %v", err)
	}
	r := s.newSession(srcs)
	defer r.close()
	objType, arch := "unknown", ""
	if si, err := f.SystemInfo(); err == nil {
		objType, arch = objectTypeOf(si.PlatformID), archOf(si)
	}
	dm := &dumpModules{r: r, objType: objType, arch: arch, byMod: map[moduleKey]*lookup{}}
	dm.prefetch(ctx, f)
	res, err := stackwalk.ProcessFile(ctx, f, data, dm, s.cfg.Walk)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, stackwalk.ErrNoThreads) {
			return nil, badInput("minidump: %v", err)
		}
		return nil, err
	}
	return dm.response(res), nil
}

// objectTypeOf is the object type of a platform's modules.
func objectTypeOf(p minidump.PlatformID) string {
	switch p {
	case minidump.PlatformWin32NT, minidump.PlatformWin32Windows, minidump.PlatformWin32CE, minidump.PlatformWin32S:
		return "pe"
	case minidump.PlatformMacOS, minidump.PlatformIOS:
		return "macho"
	case minidump.PlatformLinux, minidump.PlatformAndroid, minidump.PlatformSolaris, minidump.PlatformFuchsia, minidump.PlatformUnix:
		return "elf"
	}
	return "unknown"
}

// archOf is the dump's CPU in Sentry's spelling.
func archOf(si *minidump.SystemInfo) string {
	switch si.ProcessorArch {
	case minidump.ArchX86:
		return "x86"
	case minidump.ArchAMD64:
		return "x86_64"
	case minidump.ArchARM:
		return "arm"
	case minidump.ArchARM64, minidump.ArchARM64Old:
		return "arm64"
	}
	return ""
}

// dumpModules is the stack walker's view of the service: it looks a
// module up when a frame first needs it.
type dumpModules struct {
	r       *session
	objType string
	arch    string

	mu    sync.Mutex
	byMod map[moduleKey]*lookup
}

// moduleKey identifies a module of the dump across the prefetch and the
// walk, which read the module list separately.
type moduleKey struct {
	base uint64
	file string
}

func (d *dumpModules) lookupFor(m *stackwalk.Module) *lookup {
	return d.lookupOf(m.Base, m.Size, m.CodeFile, m.DebugFile, m.DebugID, m.CodeID)
}

// lookupOf returns the lookup of a module, creating it on first use;
// breakpadID is the debug id in Breakpad's form.
func (d *dumpModules) lookupOf(base, size uint64, codeFile, debugFile, breakpadID, codeID string) *lookup {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := moduleKey{base, codeFile}
	if l := d.byMod[k]; l != nil {
		return l
	}
	info := ModuleInfo{Type: d.objType, CodeID: codeID, CodeFile: codeFile, DebugFile: debugFile,
		Arch: d.arch, ImageAddr: Addr(base), ImageSize: size}
	if id, err := debugid.Parse(breakpadID); err == nil && !id.IsZero() {
		info.DebugID = id.String()
	}
	l := newLookup(info)
	d.byMod[k] = l
	return l
}

// prefetch looks up, concurrently, the modules every thread's instruction
// pointer is in: the walk needs them first, and one at a time it would
// wait for each download in turn. Modules only the walk discovers are
// looked up when it reaches them.
func (d *dumpModules) prefetch(ctx context.Context, f *minidump.File) {
	si, err := f.SystemInfo()
	if err != nil {
		return
	}
	mods, err := f.Modules()
	if err != nil {
		return
	}
	var pcs []uint64
	if threads, err := f.Threads(); err == nil {
		for i := range threads {
			if c, err := f.ThreadContext(&threads[i], si); err == nil {
				pcs = append(pcs, c.PC())
			}
		}
	}
	if e, err := f.Exception(); err == nil {
		if c, err := f.ExceptionContext(e, si); err == nil {
			pcs = append(pcs, c.PC())
		}
	}
	want := map[int]bool{}
	for _, pc := range pcs {
		for i := range mods {
			if m := &mods[i]; pc >= m.BaseOfImage && pc-m.BaseOfImage < uint64(m.SizeOfImage) {
				want[i] = true
			}
		}
	}
	if len(want) < 2 {
		return // nothing to overlap
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.r.s.cfg.ModuleParallel)
	for i := range want {
		m := &mods[i]
		l := d.lookupOf(m.BaseOfImage, uint64(m.SizeOfImage), m.Name, m.DebugFile(), m.BreakpadDebugID(), m.CodeID(si.PlatformID))
		g.Go(func() error { d.r.resolve(gctx, l, true); return nil })
	}
	_ = g.Wait()
}

// Find implements stackwalk.Modules.
func (d *dumpModules) Find(ctx context.Context, m *stackwalk.Module) stackwalk.Debug {
	l := d.lookupFor(m)
	d.r.resolve(ctx, l, true)
	dbg := stackwalk.Debug{SymbolStatus: walkStatus(l.symStatus), UnwindStatus: walkStatus(l.cfiStatus)}
	if l.sym != nil {
		dbg.Symbols = stackwalk.NewSymcacheSymbols(l.sym)
	}
	if l.cfi != nil {
		dbg.Unwinder = stackwalk.CacheUnwinder{C: l.cfi}
	}
	return dbg
}

func walkStatus(s string) stackwalk.Status {
	switch s {
	case statusFound:
		return stackwalk.StatusFound
	case statusMalformed:
		return stackwalk.StatusMalformed
	case statusUnused:
		return stackwalk.StatusUnused
	}
	return stackwalk.StatusMissing
}

// response turns a walk into Symbolicator's response.
func (d *dumpModules) response(res *stackwalk.Result) *Response {
	resp := &Response{Status: "completed", System: systemOf(res), Assertion: res.Assertion}
	if res.TimeDateStamp != 0 {
		ts := int64(res.TimeDateStamp)
		resp.Timestamp = &ts
	}
	crashed := res.Crashed
	resp.Crashed = &crashed
	if res.Crashed {
		resp.CrashReason = res.CrashReason
		resp.CrashDetails = ""
	}
	resp.Stacktraces = make([]Stacktrace, 0, len(res.Threads))
	for ti := range res.Threads {
		th := &res.Threads[ti]
		id := uint64(th.ID)
		requesting := ti == res.RequestingThread
		st := Stacktrace{ThreadID: &id, ThreadName: th.Name, IsRequesting: &requesting, Frames: make([]Frame, 0, len(th.Frames))}
		if len(th.Frames) > 0 {
			st.Registers = registersOf(&th.Frames[0].Context)
		}
		d.frames(&st, th.Frames)
		resp.Stacktraces = append(resp.Stacktraces, st)
	}
	resp.Modules = make([]Module, 0, len(res.Modules))
	for _, m := range res.Modules {
		resp.Modules = append(resp.Modules, d.lookupFor(m).module())
	}
	return resp
}

// frames converts walked frames; an inlined frame carries the address and
// index of the physical frame it belongs to.
func (d *dumpModules) frames(st *Stacktrace, in []stackwalk.Frame) {
	// physical[i] is the index of the physical frame holding frame i.
	physical := make([]int, len(in))
	next := len(in) - 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i].Trust != stackwalk.TrustInline {
			next = i
		}
		physical[i] = next
	}
	index := -1
	for i := range in {
		f := &in[i]
		if i == 0 || in[i-1].Trust != stackwalk.TrustInline {
			index++
		}
		p := &in[physical[i]]
		idx := index
		out := Frame{OriginalIndex: &idx, InstructionAddr: Addr(p.ReturnAddress()), Trust: f.Trust.String()}
		if p.Trust == stackwalk.TrustInline {
			out.InstructionAddr = Addr(f.Instruction)
		}
		switch {
		case f.Module == nil:
			out.Status = frameUnknownImage
		case f.Function != "":
			out.Status = frameSymbolicated
			out.Package = f.Module.CodeFile
			out.Function, out.Symbol = f.Function, f.Function
			sa := Addr(f.FunctionBase)
			out.SymAddr = &sa
			if f.File != "" {
				out.AbsPath = f.File
				out.Filename = f.File[strings.LastIndexAny(f.File, `/\`)+1:]
			}
			out.Lineno = f.Line
		default:
			out.Package = f.Module.CodeFile
			out.Status = frameMissingSymbol
			if l := d.byMod[moduleKey{f.Module.Base, f.Module.CodeFile}]; l == nil || l.sym == nil {
				out.Status = frameMissing
				if l != nil && l.symStatus == statusMalformed {
					out.Status = frameMalformed
				}
			}
		}
		st.Frames = append(st.Frames, out)
	}
}

// systemOf describes the dump's system as Sentry's os context names it.
func systemOf(res *stackwalk.Result) *SystemInfo {
	si := &SystemInfo{OSName: osName(res.OSShort, res.OS), CPUArch: sentryArch(res.CPU)}
	si.OSVersion, si.OSBuild, _ = strings.Cut(res.OSVersion, " ")
	if res.OSShort == "windows" {
		// "10.0.19041" is version 10.0.19041; Sentry keeps it whole.
		si.OSBuild = ""
	}
	return si
}

func osName(short, long string) string {
	switch short {
	case "windows":
		return "Windows"
	case "mac":
		return "macOS"
	case "ios":
		return "iOS"
	case "linux":
		return "Linux"
	case "android":
		return "Android"
	}
	return long
}

func sentryArch(cpu string) string {
	switch cpu {
	case "amd64":
		return "x86_64"
	case "":
		return "unknown"
	}
	return cpu
}

// registersOf lists the known registers of a context.
func registersOf(c *stackwalk.Context) map[string]Addr {
	out := map[string]Addr{}
	for r := range stackwalk.NumRegs {
		if v, ok := c.Get(unwind.Reg(r)); ok {
			if name := stackwalk.RegisterName(c.Arch, unwind.Reg(r)); name != "" {
				out[name] = Addr(v)
			}
		}
	}
	return out
}
