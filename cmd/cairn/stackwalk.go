package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/internal/mmapfile"
	"github.com/cairn-dev/cairn/symbolicator/stackwalk"
	"github.com/spf13/cobra"
)

// stackwalkFlags are the options of `cairn stackwalk`.
type stackwalkFlags struct {
	machine, asJSON, pretty, crashedOnly bool
	cacheDir                             string
	breakpadInlineOrder, storeOnly       bool
	maxFrames, prefetch                  int
}

func newStackwalkCommand() *cobra.Command {
	var f stackwalkFlags
	cmd := &cobra.Command{
		Use:   "stackwalk DUMP [SYMBOL PATH...]",
		Short: "Walk and symbolicate every thread of a minidump (Breakpad minidump_stackwalk compatible)",
		Long: `Walk the stack of every thread of a minidump and symbolicate the frames, as
Breakpad's minidump_stackwalk does: call frame information first (Breakpad
STACK CFI and STACK WIN, DWARF CFI, Mach-O compact unwind, PE unwind codes),
then frame pointers, then stack scanning. Each frame says how it was found.

Symbol paths may be Breakpad symbol stores (<debug file>/<DEBUGID>/<name>.sym),
directories of debug files under any names (ELF, Mach-O and dSYMs, PE, PDB,
.sym; indexed by debug id and code id when first needed), or cache directories
of symcaches and cficaches in the store layout. With --cache-dir, found debug
information is converted into caches there once, and later walks only map them.

Output is minidump_stackwalk's (human), its pipe-delimited -m format
(--machine), or JSON shaped like rust-minidump's minidump-stackwalk (--json).`,
		Example: `  cairn stackwalk crash.dmp ./symbols
  cairn stackwalk --machine crash.dmp ./symbols
  cairn stackwalk --json --crashed-only crash.dmp ./build ./symbols
  cairn stackwalk --cache-dir ~/.cache/cairn/stackwalk crash.dmp ./symbols`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.machine && f.asJSON {
				return fmt.Errorf("stackwalk: --machine and --json exclude each other")
			}
			// One walk allocates a few megabytes and exits: collecting them
			// early costs more than it saves.
			defer debug.SetGCPercent(debug.SetGCPercent(800))
			m, err := mmapfile.Open(args[0])
			if err != nil {
				return fmt.Errorf("stackwalk: %w", err)
			}
			p := &stackwalk.SymbolPaths{Paths: args[1:], CacheDir: f.cacheDir, StoreOnly: f.storeOnly,
				Options: stackwalk.SymbolFileOptions{BreakpadInlineOrder: f.breakpadInlineOrder}}
			if !exitsAfterCommand {
				defer m.Close()
				defer p.Close()
			}
			r, err := stackwalk.Process(cmd.Context(), m.Bytes(), p, stackwalk.Options{MaxFrames: f.maxFrames, Prefetch: f.prefetch})
			if err != nil {
				return fmt.Errorf("%w (is %s a minidump?)", err, args[0])
			}
			w := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			switch {
			case f.machine:
				writeMachine(w, r, f.crashedOnly)
			case f.asJSON:
				if err := writeStackwalkJSON(w, r, f.crashedOnly, f.pretty); err != nil {
					return err
				}
			default:
				writeHuman(w, r, f.crashedOnly)
			}
			return w.Flush()
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.machine, "machine", "m", false, "print minidump_stackwalk's pipe-delimited format (its -m)")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON shaped like rust-minidump's minidump-stackwalk")
	fl.BoolVar(&f.pretty, "pretty", false, "indent the JSON")
	fl.BoolVar(&f.crashedOnly, "crashed-only", false, "print only the crashed (or dump-requesting) thread")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "read symcaches and cficaches here first, and convert found debug files into them")
	fl.BoolVar(&f.breakpadInlineOrder, "breakpad-inline-order", false, "drop INLINE records that skip a depth, as Breakpad does (for output identical to minidump_stackwalk)")
	fl.BoolVar(&f.storeOnly, "store-only", false, "look for symbols only where the Breakpad store layout says, as minidump_stackwalk does (no directory index)")
	fl.IntVar(&f.maxFrames, "max-frames", stackwalk.DefaultMaxFrames, "most frames to walk per thread")
	fl.IntVar(&f.prefetch, "prefetch", 4, "load up to this many modules' debug information ahead of the walk, on other cores: those the stacks point into (0: only when a frame needs one)")
	return cmd
}

// leaf is the file name of a Windows or Unix path (Breakpad's
// PathnameStripper).
func leaf(p string) string { return p[strings.LastIndexAny(p, `/\`)+1:] }

// stripSep removes the machine format's separator and newlines from a
// field, as minidump_stackwalk does.
func stripSep(s string) string {
	if !strings.ContainsAny(s, "|\n") {
		return s
	}
	return strings.NewReplacer("|", "", "\n", "").Replace(s)
}

// threadOrder lists the thread indexes in print order: the crashed thread
// first, then the others in dump order.
func threadOrder(r *stackwalk.Result, crashedOnly bool) []int {
	var out []int
	if r.RequestingThread >= 0 {
		out = append(out, r.RequestingThread)
	}
	if crashedOnly {
		return out
	}
	for i := range r.Threads {
		if i != r.RequestingThread {
			out = append(out, i)
		}
	}
	return out
}

// sortedModules lists the loaded modules by address, as Breakpad prints
// them.
func sortedModules(r *stackwalk.Result) []*stackwalk.Module {
	mods := slices.Clone(r.Modules)
	slices.SortStableFunc(mods, func(a, b *stackwalk.Module) int { return cmp.Compare(a.Base, b.Base) })
	return mods
}

// writeMachine prints minidump_stackwalk -m's format.
func writeMachine(w io.Writer, r *stackwalk.Result, crashedOnly bool) {
	fmt.Fprintf(w, "OS|%s|%s\n", stripSep(r.OS), stripSep(r.OSVersion))
	fmt.Fprintf(w, "CPU|%s|%s|%d\n", stripSep(r.CPU), stripSep(r.CPUInfo), r.CPUCount)
	fmt.Fprintf(w, "GPU|||\n")
	switch {
	case r.Crashed:
		fmt.Fprintf(w, "Crash|%s|0x%x|", stripSep(r.CrashReason), r.CrashAddress)
	case r.Assertion != "":
		fmt.Fprintf(w, "Crash|%s||", stripSep(r.Assertion))
	default:
		fmt.Fprintf(w, "Crash|No crash||")
	}
	if r.RequestingThread >= 0 {
		fmt.Fprintf(w, "%d\n", r.RequestingThread)
	} else {
		fmt.Fprintln(w)
	}
	main := r.MainModule()
	for _, m := range sortedModules(r) {
		isMain := 0
		if main != nil && m.Base == main.Base {
			isMain = 1
		}
		fmt.Fprintf(w, "Module|%s|%s|%s|%s|0x%08x|0x%08x|%d\n", stripSep(leaf(m.CodeFile)), stripSep(m.Version),
			stripSep(leaf(m.DebugFile)), stripSep(m.DebugID), m.Base, m.Base+m.Size-1, isMain)
	}
	fmt.Fprintln(w)
	for _, ti := range threadOrder(r, crashedOnly) {
		for fi := range r.Threads[ti].Frames {
			f := &r.Threads[ti].Frames[fi]
			fmt.Fprintf(w, "%d|%d|", ti, fi)
			switch {
			case f.Module == nil:
				fmt.Fprintf(w, "||||0x%x\n", f.BreakpadOffset())
			case f.Function == "":
				fmt.Fprintf(w, "%s||||0x%x\n", stripSep(leaf(f.Module.CodeFile)), f.BreakpadOffset())
			case f.File != "":
				fmt.Fprintf(w, "%s|%s|%s|%d|0x%x\n", stripSep(leaf(f.Module.CodeFile)), stripSep(f.Function), stripSep(f.File), f.Line, f.BreakpadOffset())
			default:
				fmt.Fprintf(w, "%s|%s|||0x%x\n", stripSep(leaf(f.Module.CodeFile)), stripSep(f.Function), f.BreakpadOffset())
			}
		}
	}
}

// writeHuman prints minidump_stackwalk's default report.
func writeHuman(w io.Writer, r *stackwalk.Result, crashedOnly bool) {
	fmt.Fprintf(w, "Operating system: %s\n                  %s\n", r.OS, r.OSVersion)
	fmt.Fprintf(w, "CPU: %s\n", r.CPU)
	if r.CPUInfo != "" {
		fmt.Fprintf(w, "     %s\n", r.CPUInfo)
	}
	s := "s"
	if r.CPUCount == 1 {
		s = ""
	}
	fmt.Fprintf(w, "     %d CPU%s\n\nGPU: UNKNOWN\n\n", r.CPUCount, s)
	if r.Crashed {
		fmt.Fprintf(w, "Crash reason:  %s\nCrash address: 0x%x\n", r.CrashReason, r.CrashAddress)
	} else {
		fmt.Fprintf(w, "No crash\n")
	}
	if r.Assertion != "" {
		fmt.Fprintf(w, "Assertion: %s\n", r.Assertion)
	}
	if r.TimeDateStamp != 0 && r.ProcessCreateTime != 0 && r.TimeDateStamp >= r.ProcessCreateTime {
		fmt.Fprintf(w, "Process uptime: %d seconds\n", r.TimeDateStamp-r.ProcessCreateTime)
	} else {
		fmt.Fprintf(w, "Process uptime: not available\n")
	}
	touched := map[*stackwalk.Module]bool{}
	for _, ti := range threadOrder(r, crashedOnly) {
		t := &r.Threads[ti]
		switch {
		case ti == r.RequestingThread && r.Crashed:
			fmt.Fprintf(w, "\nThread %d (crashed)\n", ti)
		case ti == r.RequestingThread:
			fmt.Fprintf(w, "\nThread %d (requested dump, did not crash)\n", ti)
		default:
			fmt.Fprintf(w, "\nThread %d\n", ti)
		}
		if len(t.Frames) == 0 {
			fmt.Fprintf(w, " <no frames>\n")
		}
		for fi := range t.Frames {
			f := &t.Frames[fi]
			if f.Module != nil {
				touched[f.Module] = true
			}
			writeHumanFrame(w, f, fi)
		}
	}
	// Breakpad warns about the modules frames needed symbols for and did
	// not get, matching modules by debug file and identifier (so modules
	// without either all match one another).
	type ident struct{ file, id string }
	missing, corrupt := map[ident]bool{}, map[ident]bool{}
	for m := range touched {
		if d := r.Status(m); d != nil {
			if d.SymbolStatus == stackwalk.StatusMissing {
				missing[ident{m.DebugFile, m.DebugID}] = true
			} else if d.Corrupt {
				corrupt[ident{m.DebugFile, m.DebugID}] = true
			}
		}
	}
	fmt.Fprintf(w, "\nLoaded modules:\n")
	main := r.MainModule()
	for _, m := range sortedModules(r) {
		version := m.Version
		if version == "" {
			version = "???"
		}
		mark := ""
		if main != nil && m.Base == main.Base {
			mark = "  (main)"
		}
		switch id := (ident{m.DebugFile, m.DebugID}); {
		case missing[id]:
			mark += fmt.Sprintf("  (WARNING: No symbols, %s, %s)", leaf(m.DebugFile), m.DebugID)
		case corrupt[id]:
			mark += fmt.Sprintf("  (WARNING: Corrupt symbols, %s, %s)", leaf(m.DebugFile), m.DebugID)
		}
		fmt.Fprintf(w, "0x%08x - 0x%08x  %s  %s%s\n", m.Base, m.Base+m.Size-1, leaf(m.CodeFile), version, mark)
	}
}

// writeHumanFrame prints one frame: its header, its registers and how it
// was found.
func writeHumanFrame(w io.Writer, f *stackwalk.Frame, i int) {
	fmt.Fprintf(w, "%2d  ", i)
	switch {
	case f.Module == nil:
		fmt.Fprintf(w, "0x%x", f.BreakpadAddress())
	case f.Function == "":
		fmt.Fprintf(w, "%s + 0x%x", leaf(f.Module.CodeFile), f.BreakpadOffset())
	case f.File != "":
		fmt.Fprintf(w, "%s!%s [%s : %d + 0x%x]", leaf(f.Module.CodeFile), f.Function, leaf(f.File), f.Line, f.BreakpadOffset())
	default:
		fmt.Fprintf(w, "%s!%s + 0x%x", leaf(f.Module.CodeFile), f.Function, f.BreakpadOffset())
	}
	fmt.Fprintf(w, "\n ")
	if !f.Inlined() {
		c := &f.Context
		col := 0
		wide := c.Arch.PointerSize() == 8
		for _, reg := range stackwalk.PrintOrder(c.Arch) {
			if !c.Has(reg) {
				continue
			}
			name := stackwalk.RegisterName(c.Arch, reg)
			if c.Arch == unwind.ArchX86 {
				if reg == 0 || reg == 1 || reg == 2 || reg == 9 {
					if !c.All() {
						continue
					}
					if reg == 9 {
						name = "efl"
					}
				}
			}
			var cell string
			if wide {
				cell = fmt.Sprintf(" %5s = 0x%016x", name, c.Regs[reg])
			} else {
				cell = fmt.Sprintf(" %5s = 0x%08x", name, uint32(c.Regs[reg]))
			}
			if col+len(cell) > 80 {
				col = 0
				fmt.Fprintf(w, "\n ")
			}
			io.WriteString(w, cell)
			col += len(cell)
		}
	}
	fmt.Fprintf(w, "\n    Found by: %s\n", f.Trust.Description())
}

// JSON output, shaped like rust-minidump's minidump-stackwalk --json.

type swJSON struct {
	Status         string          `json:"status"`
	SystemInfo     swSystem        `json:"system_info"`
	CrashInfo      swCrash         `json:"crash_info"`
	CrashingThread *swThread       `json:"crashing_thread"`
	ThreadCount    int             `json:"thread_count"`
	Threads        []swThread      `json:"threads"`
	MainModule     *int            `json:"main_module"`
	Modules        []swModule      `json:"modules"`
	Unloaded       []swModule      `json:"unloaded_modules"`
	PID            uint32          `json:"pid"`
	ProcessUptime  *uint32         `json:"process_uptime"`
	SoftErrors     json.RawMessage `json:"soft_errors"`
}

type swSystem struct {
	OS       string `json:"os"`
	OSVer    string `json:"os_ver"`
	CPUArch  string `json:"cpu_arch"`
	CPUInfo  string `json:"cpu_info"`
	CPUCount int    `json:"cpu_count"`
}

type swCrash struct {
	Type           *string `json:"type"`
	Address        *string `json:"address"`
	CrashingThread *int    `json:"crashing_thread"`
	Assertion      *string `json:"assertion"`
}

type swThread struct {
	FrameCount int       `json:"frame_count"`
	Frames     []swFrame `json:"frames"`
	ThreadID   uint32    `json:"thread_id"`
	ThreadName *string   `json:"thread_name"`
	Truncated  bool      `json:"truncated,omitempty"`
	Error      string    `json:"error,omitempty"`
}

type swFrame struct {
	Frame          int               `json:"frame"`
	Module         *string           `json:"module"`
	Function       *string           `json:"function"`
	File           *string           `json:"file"`
	Line           *uint32           `json:"line"`
	Offset         string            `json:"offset"`
	ModuleOffset   *string           `json:"module_offset"`
	FunctionOffset *string           `json:"function_offset"`
	MissingSymbols bool              `json:"missing_symbols"`
	Trust          string            `json:"trust"`
	Inlines        []swInline        `json:"inlines"`
	Registers      map[string]string `json:"registers,omitempty"`
}

type swInline struct {
	Function string  `json:"function"`
	File     *string `json:"file"`
	Line     *uint32 `json:"line"`
}

type swModule struct {
	BaseAddr       string `json:"base_addr"`
	EndAddr        string `json:"end_addr"`
	Filename       string `json:"filename"`
	CodeID         string `json:"code_id"`
	DebugFile      string `json:"debug_file"`
	DebugID        string `json:"debug_id"`
	Version        string `json:"version,omitempty"`
	LoadedSymbols  bool   `json:"loaded_symbols"`
	MissingSymbols bool   `json:"missing_symbols"`
	CorruptSymbols bool   `json:"corrupt_symbols"`
	DebugStatus    string `json:"debug_status"`
	UnwindStatus   string `json:"unwind_status"`
	SymbolFile     string `json:"symbol_file,omitempty"`
}

// rustTrust spells trust as rust-minidump's JSON does.
func rustTrust(t stackwalk.Trust) string {
	if t == stackwalk.TrustFP {
		return "frame_pointer"
	}
	return t.String()
}

func writeStackwalkJSON(w io.Writer, r *stackwalk.Result, crashedOnly, pretty bool) error {
	wide := r.Arch.PointerSize() == 8
	hexw := func(v uint64) string {
		if wide {
			return fmt.Sprintf("0x%016x", v)
		}
		return fmt.Sprintf("0x%08x", uint32(v))
	}
	ptr := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	out := swJSON{Status: "OK", PID: r.ProcessID, SoftErrors: json.RawMessage("null"),
		SystemInfo: swSystem{OS: r.OS, OSVer: r.OSVersion, CPUArch: r.CPU, CPUInfo: r.CPUInfo, CPUCount: r.CPUCount}}
	if r.TimeDateStamp != 0 && r.ProcessCreateTime != 0 && r.TimeDateStamp >= r.ProcessCreateTime {
		up := r.TimeDateStamp - r.ProcessCreateTime
		out.ProcessUptime = &up
	}
	if r.Crashed {
		out.CrashInfo.Type = ptr(r.CrashReason)
		out.CrashInfo.Address = ptr(hexw(r.CrashAddress))
	}
	out.CrashInfo.Assertion = ptr(r.Assertion)
	if r.RequestingThread >= 0 {
		rt := r.RequestingThread
		out.CrashInfo.CrashingThread = &rt
	}
	thread := func(ti int) swThread {
		t := &r.Threads[ti]
		st := swThread{ThreadID: t.ID, ThreadName: ptr(t.Name), Frames: []swFrame{}, Truncated: t.Truncated}
		if t.Err != nil {
			st.Error = t.Err.Error()
		}
		var pending []swInline
		for fi := range t.Frames {
			f := &t.Frames[fi]
			if f.Inlined() {
				in := swInline{Function: f.Function, File: ptr(f.File)}
				if f.Line != 0 {
					line := f.Line
					in.Line = &line
				}
				pending = append(pending, in)
				continue
			}
			sf := swFrame{Frame: len(st.Frames), Offset: hexw(f.Instruction), Trust: rustTrust(f.Trust), Inlines: pending}
			pending = nil
			if f.Module != nil {
				sf.Module = ptr(leaf(f.Module.CodeFile))
				sf.ModuleOffset = ptr(hexw(f.Instruction - f.Module.Base))
				sf.MissingSymbols = r.Status(f.Module) == nil || r.Status(f.Module).Symbols == nil
			}
			if f.Function != "" {
				sf.Function = ptr(f.Function)
				sf.FunctionOffset = ptr(hexw(f.Instruction - f.FunctionBase))
				sf.File = ptr(f.File)
				if f.Line != 0 {
					line := f.Line
					sf.Line = &line
				}
			}
			if f.Trust == stackwalk.TrustContext {
				sf.Registers = map[string]string{}
				for _, reg := range stackwalk.PrintOrder(f.Context.Arch) {
					if f.Context.Has(reg) {
						name := stackwalk.RegisterName(f.Context.Arch, reg)
						if f.Context.Arch == unwind.ArchX86 && reg == 9 {
							name = "eflags"
						}
						sf.Registers[name] = hexw(f.Context.Regs[reg])
					}
				}
			}
			st.Frames = append(st.Frames, sf)
		}
		st.FrameCount = len(st.Frames)
		return st
	}
	out.Threads = []swThread{}
	if crashedOnly {
		if r.RequestingThread >= 0 {
			out.Threads = append(out.Threads, thread(r.RequestingThread))
		}
	} else {
		for ti := range r.Threads {
			out.Threads = append(out.Threads, thread(ti))
		}
	}
	out.ThreadCount = len(r.Threads)
	if r.RequestingThread >= 0 {
		ct := thread(r.RequestingThread)
		out.CrashingThread = &ct
	}
	if len(r.Modules) > 0 {
		zero := 0
		out.MainModule = &zero
	}
	module := func(m *stackwalk.Module) swModule {
		sm := swModule{BaseAddr: hexw(m.Base), EndAddr: hexw(m.Base + m.Size), Filename: leaf(m.CodeFile),
			CodeID: m.CodeID, DebugFile: leaf(m.DebugFile), DebugID: m.DebugID, Version: m.Version,
			DebugStatus: stackwalk.StatusUnused.String(), UnwindStatus: stackwalk.StatusUnused.String()}
		if d := r.Status(m); d != nil {
			sm.LoadedSymbols = d.Symbols != nil
			sm.MissingSymbols = d.SymbolStatus == stackwalk.StatusMissing
			sm.CorruptSymbols = d.Corrupt
			sm.DebugStatus, sm.UnwindStatus = d.SymbolStatus.String(), d.UnwindStatus.String()
			sm.SymbolFile = d.Source
		}
		return sm
	}
	out.Modules = []swModule{}
	for _, m := range r.Modules {
		out.Modules = append(out.Modules, module(m))
	}
	out.Unloaded = []swModule{}
	for _, m := range r.Unloaded {
		out.Unloaded = append(out.Unloaded, module(m))
	}
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(out)
}
