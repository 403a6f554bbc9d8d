package stackwalk

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/minidump"
)

// Result is a processed dump: the system, the crash, every walked thread
// and the modules with what was found for them.
type Result struct {
	// OS is Breakpad's long OS name ("Windows NT", "Linux", "Mac OS X");
	// OSShort its short one ("windows", "linux", "mac"); OSVersion
	// "major.minor.build" followed by the service pack or kernel string.
	OS, OSShort, OSVersion string
	// CPU is "x86", "amd64", "arm", "arm64", ...; CPUInfo the vendor and
	// model ("GenuineIntel family 6 model 13 stepping 8"); CPUCount the
	// number of processors.
	CPU, CPUInfo string
	CPUCount     int
	// Arch is the architecture walked.
	Arch unwind.Arch
	// Crashed is set when the dump has an exception; CrashReason and
	// CrashAddress describe it as Breakpad does.
	Crashed      bool
	CrashReason  string
	CrashAddress uint64
	// Assertion is the assertion or invalid-parameter message the dump
	// records, or "".
	Assertion string
	// RequestingThread is the index in Threads of the crashed thread (or
	// the one that requested the dump), -1 when none.
	RequestingThread int
	// Threads are the walked threads, in dump order, without the thread
	// that wrote the dump (whose stack is the dump writer's own).
	Threads []Thread
	// Modules are the dump's modules in dump order; Unloaded the unloaded
	// ones.
	Modules, Unloaded []*Module
	// ProcessID and the process's creation time (0 when unknown), and the
	// dump's time stamp.
	ProcessID         uint32
	ProcessCreateTime uint32
	TimeDateStamp     uint32
	// Problems lists what could not be read (streams, threads) without
	// stopping the walk.
	Problems []string

	debug *debugCache
}

// Status reports what was found for a module: the debug information
// record, or nil when no frame needed the module.
func (r *Result) Status(m *Module) *Debug {
	if r.debug == nil {
		return nil
	}
	return r.debug.status(m)
}

// MainModule is the module of the executable: the first one listed.
func (r *Result) MainModule() *Module {
	if len(r.Modules) == 0 {
		return nil
	}
	return r.Modules[0]
}

// ErrNoThreads reports a dump without a readable thread list: there is
// nothing to walk (Breakpad's minidump_stackwalk fails on it too).
var ErrNoThreads = errors.New("no thread list")

// Process walks every thread of a minidump held in data (the whole file),
// asking p for the modules' debug information as frames need it.
func Process(ctx context.Context, data []byte, p Modules, opts Options) (*Result, error) {
	f, err := minidump.FromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("stackwalk: %w", err)
	}
	return ProcessFile(ctx, f, data, p, opts)
}

// ProcessFile is Process for a dump already opened from data.
func ProcessFile(ctx context.Context, f *minidump.File, data []byte, p Modules, opts Options) (*Result, error) {
	r := &Result{RequestingThread: -1, TimeDateStamp: f.Header.TimeDateStamp}
	problem := func(what string, err error) {
		if err != nil && !errors.Is(err, minidump.ErrNoStream) {
			r.Problems = append(r.Problems, what+": "+err.Error())
		}
	}
	si, err := f.SystemInfo()
	problem("system info", err)
	if si != nil {
		r.describeSystem(si)
	}
	if mi, err := f.MiscInfo(); err == nil && mi.Has(minidump.MiscInfoProcessTimes) {
		r.ProcessCreateTime = mi.ProcessCreateTime
	}
	if mi, err := f.MiscInfo(); err == nil && mi.Has(minidump.MiscInfoProcessID) {
		r.ProcessID = mi.ProcessID
	}

	platform := minidump.PlatformID(0xffffffff)
	if si != nil {
		platform = si.PlatformID
	}
	mods, err := f.Modules()
	problem("module list", err)
	unl, err := f.UnloadedModules()
	problem("unloaded module list", err)
	set := newModuleSet(mods, unl, platform)
	r.Modules = set.all
	r.Unloaded = set.unloaded
	r.debug = newDebugCache(p)
	defer r.debug.wait()

	var dumpThread, reqThread uint32
	var hasDump, hasReq bool
	if bi, err := f.BreakpadInfo(); err == nil {
		dumpThread, hasDump = bi.DumpThread()
		reqThread, hasReq = bi.RequestingThread()
	}
	exc, err := f.Exception()
	problem("exception", err)
	if exc != nil {
		r.Crashed = true
		reqThread, hasReq = exc.ThreadID, true
		r.CrashReason = exc.CrashReason(si)
		var arch minidump.ProcessorArch
		if si != nil {
			arch = si.ProcessorArch
		}
		r.CrashAddress = minidump.CrashAddress(platform, arch, exc.Record.ExceptionCode, exc.Record.ExceptionAddress, exc.Record.Parameters())
	}
	r.Assertion = assertion(f)

	threads, err := f.Threads()
	if err != nil {
		// Breakpad refuses a dump without threads; the rest of it is
		// still described in r.
		return r, fmt.Errorf("stackwalk: %w: %w", ErrNoThreads, err)
	}
	names := map[uint32]string{}
	if tn, _ := f.ThreadNames(); tn != nil {
		for _, n := range tn {
			if _, ok := names[n.ThreadID]; !ok {
				names[n.ThreadID] = n.Name
			}
		}
	}
	var memory *minidump.Memory
	for i := range threads {
		t := &threads[i]
		if hasDump && t.ThreadID == dumpThread {
			continue
		}
		th := Thread{ID: t.ThreadID, Name: names[t.ThreadID]}
		mc, cerr := f.ThreadContext(t, si)
		if hasReq && t.ThreadID == reqThread && r.RequestingThread < 0 {
			r.RequestingThread = len(r.Threads)
			th.Crashed = true
			if exc != nil {
				if ec, err := f.ExceptionContext(exc, si); err == nil {
					mc, cerr = ec, nil
				}
			}
		}
		stack, base := threadStack(data, t)
		if stack == nil {
			if memory == nil {
				memory, _ = f.Memory()
			}
			if t.Stack.StartOfMemoryRange != 0 {
				if reg, ok := memory.Region(t.Stack.StartOfMemoryRange); ok {
					if b, err := memory.Bytes(reg.Base, reg.Size); err == nil {
						stack, base = b, reg.Base
					}
				}
			}
		}
		th.StackBase, th.StackSize = base, uint64(len(stack))
		if cerr != nil {
			th.Err = cerr
			r.Threads = append(r.Threads, th)
			continue
		}
		c, ok := contextFrom(mc)
		if !ok {
			th.Err = fmt.Errorf("stackwalk: thread %#x: unsupported CPU %s", t.ThreadID, mc.CPU())
			r.Threads = append(r.Threads, th)
			continue
		}
		if r.Arch == unwind.ArchUnknown {
			r.Arch = c.Arch
		}
		if c.Arch == unwind.ArchX86 && base+uint64(len(stack)) > 1<<32 {
			stack = nil // a 32-bit CPU cannot have this stack; Breakpad refuses it too
		}
		if opts.Prefetch > 0 {
			r.debug.prefetch(ctx, likelyModules(&c, stack, base, set, opts.Prefetch), opts.Prefetch)
		}
		w := &walker{ctx: ctx, arch: c.Arch, osShort: r.OSShort, stack: stack, base: base, mods: set, debug: r.debug, opts: opts}
		if stack == nil {
			// Without stack memory only the context frame is known.
			w.opts.MaxFrames = 1
		}
		th.Frames = w.walk(c)
		limit := opts.MaxFrames
		if limit <= 0 {
			limit = DefaultMaxFrames
		}
		th.Truncated = len(th.Frames) >= limit
		r.Threads = append(r.Threads, th)
		if err := ctx.Err(); err != nil {
			return r, fmt.Errorf("stackwalk: %w", err)
		}
	}
	return r, nil
}

// threadStack returns the bytes of a thread's stack as its descriptor
// points at them, or nil when the descriptor is unusable.
func threadStack(data []byte, t *minidump.Thread) ([]byte, uint64) {
	loc := t.Stack.Memory
	start := t.Stack.StartOfMemoryRange
	if loc.RVA == 0 || loc.DataSize == 0 || start+uint64(loc.DataSize) < start {
		return nil, 0
	}
	end := uint64(loc.RVA) + uint64(loc.DataSize)
	if end > uint64(len(data)) {
		return nil, 0
	}
	return data[loc.RVA:end:end], start
}

// describeSystem fills the OS and CPU descriptions as Breakpad's
// processor words them.
func (r *Result) describeSystem(si *minidump.SystemInfo) {
	switch si.PlatformID {
	case minidump.PlatformWin32NT:
		r.OS, r.OSShort = "Windows NT", "windows"
	case minidump.PlatformWin32Windows:
		r.OS, r.OSShort = "Windows", "windows"
	case minidump.PlatformMacOS:
		r.OS, r.OSShort = "Mac OS X", "mac"
	case minidump.PlatformIOS:
		r.OS, r.OSShort = "iOS", "ios"
	case minidump.PlatformLinux:
		r.OS, r.OSShort = "Linux", "linux"
	case minidump.PlatformSolaris:
		r.OS, r.OSShort = "Solaris", "solaris"
	case minidump.PlatformAndroid:
		r.OS, r.OSShort = "Android", "android"
	case minidump.PlatformPS3:
		r.OS, r.OSShort = "PS3", "ps3"
	case minidump.PlatformNaCl:
		r.OS, r.OSShort = "NaCl", "nacl"
	case minidump.PlatformFuchsia:
		r.OS, r.OSShort = "Fuchsia", "fuchsia"
	default:
		r.OS = fmt.Sprintf("0x%08x", uint32(si.PlatformID))
	}
	r.OSVersion = fmt.Sprintf("%d.%d.%d", si.MajorVersion, si.MinorVersion, si.BuildNumber)
	if si.CSDVersionRVA != 0 {
		r.OSVersion += " " + si.CSDVersion
	}
	switch si.ProcessorArch {
	case minidump.ArchX86, minidump.ArchAMD64:
		r.CPU = "x86"
		if si.ProcessorArch == minidump.ArchAMD64 {
			r.CPU = "amd64"
		}
		if v := si.CPUVendor(); v != "" {
			r.CPUInfo = v + " "
		}
		r.CPUInfo += fmt.Sprintf("family %d model %d stepping %d", si.ProcessorLevel, si.ProcessorRevision>>8, si.ProcessorRevision&0xff)
	case minidump.ArchPPC, minidump.ArchPPC64, minidump.ArchSPARC, minidump.ArchARM, minidump.ArchMIPS,
		minidump.ArchMIPS64, minidump.ArchRISCV, minidump.ArchRISCV64:
		r.CPU = si.ProcessorArch.String()
	case minidump.ArchARM64, minidump.ArchARM64Old:
		r.CPU = "arm64"
	default:
		r.CPU = fmt.Sprintf("0x%04x", uint16(si.ProcessorArch))
	}
	r.CPUCount = int(si.NumberOfProcessors)
}

// assertion words the assertion stream as Breakpad does.
func assertion(f *minidump.File) string {
	a, err := f.AssertionInfo()
	if err != nil || a == nil {
		return ""
	}
	var s string
	switch a.Type {
	case minidump.AssertionInvalidParameter:
		s = "Invalid parameter passed to library function"
	case minidump.AssertionPureVirtualCall:
		s = "Pure virtual function called"
	default:
		s = fmt.Sprintf("Unknown assertion type 0x%08x", a.Type)
	}
	if a.Expression != "" {
		s += " " + a.Expression
	}
	if a.Function != "" {
		s += " in function " + a.Function
	}
	if a.File != "" {
		s += ", in file " + a.File
	}
	if a.Line != 0 {
		s += fmt.Sprintf(" at line %d", a.Line)
	}
	return s
}
