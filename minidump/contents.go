package minidump

import (
	"errors"
	"fmt"
	"sort"
)

// Hex is an address or other 64-bit value that JSON carries as a "0x…"
// string, because JSON numbers lose precision past 2^53.
type Hex uint64

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) { return fmt.Appendf(nil, "%#x", uint64(h)), nil }

// Contents is everything a dump holds, decoded: what `cairn minidump dump`
// prints. Streams that fail to decode are left empty and explained in
// Problems, so one damaged stream never hides the others.
type Contents struct {
	Header          HeaderView         `json:"header"`
	Streams         []StreamView       `json:"streams"`
	SystemInfo      *SystemInfoView    `json:"system_info,omitempty"`
	MiscInfo        *MiscInfo          `json:"misc_info,omitempty"`
	Exception       *ExceptionView     `json:"exception,omitempty"`
	BreakpadInfo    *BreakpadInfo      `json:"breakpad_info,omitempty"`
	AssertionInfo   *AssertionInfo     `json:"assertion_info,omitempty"`
	Threads         []ThreadView       `json:"threads"`
	Modules         []ModuleView       `json:"modules"`
	UnloadedModules []UnloadedModule   `json:"unloaded_modules,omitempty"`
	MemoryRegions   []MemoryRegionView `json:"memory_regions"`
	MemoryInfo      []MemoryInfo       `json:"memory_info,omitempty"`
	Handles         []HandleDescriptor `json:"handles,omitempty"`
	// Extra holds the platform streams (Linux /proc files, Crashpad and
	// macOS crash info) keyed by stream name.
	Extra    map[string]any `json:"extra,omitempty"`
	Problems []string       `json:"problems,omitempty"`
}

// HeaderView is the header in output form.
type HeaderView struct {
	Version       Hex    `json:"version"`
	StreamCount   uint32 `json:"stream_count"`
	Checksum      Hex    `json:"checksum"`
	TimeDateStamp uint32 `json:"time_date_stamp"`
	Time          string `json:"time"`
	Flags         Hex    `json:"flags"`
}

// StreamView is one directory entry in output form.
type StreamView struct {
	Index int    `json:"index"`
	Type  Hex    `json:"type"`
	Name  string `json:"name"`
	RVA   Hex    `json:"rva"`
	Size  uint32 `json:"size"`
}

// SystemInfoView is the system info in output form.
type SystemInfoView struct {
	CPU               string `json:"cpu"`
	CPUArch           Hex    `json:"cpu_arch"`
	ProcessorLevel    uint16 `json:"processor_level"`
	ProcessorRevision Hex    `json:"processor_revision"`
	CPUCount          uint8  `json:"cpu_count"`
	CPUVendor         string `json:"cpu_vendor,omitempty"`
	OS                string `json:"os"`
	PlatformID        Hex    `json:"platform_id"`
	OSVersion         string `json:"os_version"`
	CSDVersion        string `json:"csd_version,omitempty"`
	ProductType       uint8  `json:"product_type"`
	SuiteMask         Hex    `json:"suite_mask"`
}

// RegisterView is a register in output form.
type RegisterView struct {
	Name  string `json:"name"`
	Value Hex    `json:"value"`
	Valid bool   `json:"valid"`
}

// ContextView is a CPU context in output form.
type ContextView struct {
	CPU       string         `json:"cpu"`
	Flags     Hex            `json:"flags"`
	Registers []RegisterView `json:"registers"`
}

// ExceptionView is the exception in output form.
type ExceptionView struct {
	ThreadID    Hex          `json:"thread_id"`
	Code        Hex          `json:"code"`
	Flags       Hex          `json:"flags"`
	Address     Hex          `json:"address"`
	Parameters  []Hex        `json:"parameters"`
	CrashReason string       `json:"crash_reason"`
	Context     *ContextView `json:"context,omitempty"`
}

// ThreadView is a thread in output form.
type ThreadView struct {
	ID           Hex          `json:"id"`
	Name         string       `json:"name,omitempty"`
	SuspendCount uint32       `json:"suspend_count"`
	Priority     uint32       `json:"priority"`
	Teb          Hex          `json:"teb"`
	StackStart   Hex          `json:"stack_start"`
	StackSize    uint32       `json:"stack_size"`
	Context      *ContextView `json:"context,omitempty"`
}

// ModuleView is a module in output form, with both identifier styles.
type ModuleView struct {
	Base            Hex      `json:"base"`
	Size            Hex      `json:"size"`
	CodeFile        string   `json:"code_file"`
	CodeID          string   `json:"code_id,omitempty"`
	DebugFile       string   `json:"debug_file,omitempty"`
	DebugID         string   `json:"debug_id,omitempty"`
	BreakpadDebugID string   `json:"breakpad_debug_id,omitempty"`
	BreakpadCodeID  string   `json:"breakpad_code_id,omitempty"`
	Version         string   `json:"version,omitempty"`
	TimeDateStamp   Hex      `json:"time_date_stamp"`
	Checksum        Hex      `json:"checksum"`
	CodeView        string   `json:"codeview,omitempty"`
	Problems        []string `json:"problems,omitempty"`
}

// MemoryRegionView is a captured memory region in output form.
type MemoryRegionView struct {
	Base   Hex    `json:"base"`
	Size   uint64 `json:"size"`
	Offset Hex    `json:"offset"`
}

// ReadAll decodes every stream the dump has.
func (f *File) ReadAll() *Contents {
	c := &Contents{Extra: map[string]any{}}
	h := f.Header
	c.Header = HeaderView{Hex(h.Version), h.StreamCount, Hex(h.Checksum), h.TimeDateStamp,
		h.Time().Format("2006-01-02 15:04:05 UTC"), Hex(h.Flags)}
	for i, e := range f.Directory {
		c.Streams = append(c.Streams, StreamView{i, Hex(e.Type), e.Type.String(), Hex(e.Location.RVA), e.Location.DataSize})
	}
	c.Problems = append(c.Problems, f.Warnings...)
	problem := func(what string, err error) bool {
		if err == nil {
			return false
		}
		if !errors.Is(err, ErrNoStream) {
			c.Problems = append(c.Problems, what+": "+err.Error())
		}
		return true
	}

	si, err := f.SystemInfo()
	if si != nil {
		c.SystemInfo = &SystemInfoView{
			CPU: si.ProcessorArch.String(), CPUArch: Hex(si.ProcessorArch), ProcessorLevel: si.ProcessorLevel,
			ProcessorRevision: Hex(si.ProcessorRevision), CPUCount: si.NumberOfProcessors, CPUVendor: si.CPUVendor(),
			OS: si.PlatformID.String(), PlatformID: Hex(si.PlatformID),
			OSVersion:  fmt.Sprintf("%d.%d.%d", si.MajorVersion, si.MinorVersion, si.BuildNumber),
			CSDVersion: si.CSDVersion, ProductType: si.ProductType, SuiteMask: Hex(si.SuiteMask),
		}
	}
	problem("system info", err)
	var platform PlatformID
	if si != nil {
		platform = si.PlatformID
	}

	if m, err := f.MiscInfo(); !problem("misc info", err) {
		c.MiscInfo = m
	}
	if b, err := f.BreakpadInfo(); !problem("breakpad info", err) {
		c.BreakpadInfo = b
	}
	if a, err := f.AssertionInfo(); !problem("assertion info", err) {
		c.AssertionInfo = a
	}
	if e, err := f.Exception(); !problem("exception", err) {
		r := &e.Record
		ev := &ExceptionView{ThreadID: Hex(e.ThreadID), Code: Hex(r.ExceptionCode), Flags: Hex(r.ExceptionFlags),
			Address: Hex(r.ExceptionAddress), CrashReason: e.CrashReason(si), Parameters: []Hex{}}
		for _, p := range r.Parameters() {
			ev.Parameters = append(ev.Parameters, Hex(p))
		}
		if e.ContextLoc.DataSize != 0 {
			ctx, err := f.ExceptionContext(e, si)
			if !problem("exception context", err) {
				ev.Context = contextView(ctx)
			}
		}
		c.Exception = ev
	}

	names := map[uint32]string{}
	tn, err := f.ThreadNames()
	problem("thread names", err)
	for _, n := range tn {
		names[n.ThreadID] = n.Name
	}
	threads, err := f.Threads()
	problem("thread list", err)
	c.Threads = make([]ThreadView, 0, len(threads))
	for i := range threads {
		t := &threads[i]
		tv := ThreadView{ID: Hex(t.ThreadID), Name: names[t.ThreadID], SuspendCount: t.SuspendCount, Priority: t.Priority,
			Teb: Hex(t.Teb), StackStart: Hex(t.Stack.StartOfMemoryRange), StackSize: t.Stack.Memory.DataSize}
		if ctx, err := f.ThreadContext(t, si); !problem("thread context", err) {
			tv.Context = contextView(ctx)
		}
		c.Threads = append(c.Threads, tv)
	}

	mods, err := f.Modules()
	problem("module list", err)
	c.Modules = make([]ModuleView, 0, len(mods))
	for i := range mods {
		m := &mods[i]
		mv := ModuleView{Base: Hex(m.BaseOfImage), Size: Hex(m.SizeOfImage), CodeFile: m.Name, CodeID: m.CodeID(platform),
			DebugFile: m.DebugFile(), DebugID: m.DebugID(), BreakpadDebugID: m.BreakpadDebugID(),
			BreakpadCodeID: m.BreakpadCodeID(platform), Version: m.VersionInfo.Version(),
			TimeDateStamp: Hex(m.TimeDateStamp), Checksum: Hex(m.Checksum), Problems: m.Problems}
		if m.CodeView != nil {
			mv.CodeView = codeViewKind(m.CodeView.Signature)
		}
		c.Modules = append(c.Modules, mv)
	}
	if u, err := f.UnloadedModules(); !problem("unloaded module list", err) {
		c.UnloadedModules = u
	}

	mem, err := f.Memory()
	problem("memory", err)
	c.MemoryRegions = make([]MemoryRegionView, 0, len(mem.Regions()))
	for _, r := range mem.Regions() {
		c.MemoryRegions = append(c.MemoryRegions, MemoryRegionView{Hex(r.Base), r.Size, Hex(r.Offset)})
	}
	if mi, err := f.MemoryInfoList(); !problem("memory info list", err) {
		c.MemoryInfo = mi
	}
	if h, err := f.HandleData(); !problem("handle data", err) {
		c.Handles = h
	}
	for _, x := range f.extraStreams() {
		v, err := x.read()
		if !problem(x.name, err) {
			c.Extra[x.name] = v
		}
	}
	sort.Strings(c.Problems)
	return c
}

// extraStream reads one of the platform-specific streams for ReadAll.
type extraStream struct {
	name string
	read func() (any, error)
}

func contextView(ctx Context) *ContextView {
	v := &ContextView{CPU: ctx.CPU().String(), Flags: Hex(ctx.Flags())}
	for _, r := range ctx.Registers() {
		v.Registers = append(v.Registers, RegisterView{r.Name, Hex(r.Value), r.Valid})
	}
	return v
}

func codeViewKind(sig uint32) string {
	switch sig {
	case CVSignaturePDB70:
		return "RSDS"
	case CVSignaturePDB20:
		return "NB10"
	case CVSignatureELF:
		return "BpEL"
	}
	return fmt.Sprintf("%#08x", sig)
}
