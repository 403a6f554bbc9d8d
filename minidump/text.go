package minidump

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteText prints the contents for people: one section per stream, values
// in the units and spellings crash engineers know from Breakpad.
func (c *Contents) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p("Minidump: %d streams, written %s (version %#x, flags %#x)\n", c.Header.StreamCount, c.Header.Time, uint64(c.Header.Version), uint64(c.Header.Flags))
	p("\nStreams\n")
	for _, s := range c.Streams {
		p("  %3d  %-22s type %#-10x at %#x, %d bytes\n", s.Index, s.Name, uint64(s.Type), uint64(s.RVA), s.Size)
	}
	if s := c.SystemInfo; s != nil {
		p("\nSystem\n")
		p("  OS          %s %s", s.OS, s.OSVersion)
		if s.CSDVersion != "" {
			p(" %s", s.CSDVersion)
		}
		p("\n  CPU         %s, %d processor(s), level %d revision %#x", s.CPU, s.CPUCount, s.ProcessorLevel, uint64(s.ProcessorRevision))
		if s.CPUVendor != "" {
			p(", %s", s.CPUVendor)
		}
		p("\n")
	}
	if m := c.MiscInfo; m != nil {
		p("\nProcess\n")
		if m.Has(MiscInfoProcessID) {
			p("  pid         %d\n", m.ProcessID)
		}
		if t, ok := m.CreateTime(); ok {
			p("  started     %s\n", t.Format("2006-01-02 15:04:05 UTC"))
		}
		if m.BuildString != "" {
			p("  build       %s\n", m.BuildString)
		}
		if m.DbgBldStr != "" {
			p("  writer      %s\n", m.DbgBldStr)
		}
	}
	if e := c.Exception; e != nil {
		p("\nCrash\n")
		p("  reason      %s\n", e.CrashReason)
		p("  address     %#x\n", uint64(e.Address))
		p("  thread      %#x\n", uint64(e.ThreadID))
		p("  code        %#x flags %#x", uint64(e.Code), uint64(e.Flags))
		for i, v := range e.Parameters {
			p(" p%d=%#x", i, uint64(v))
		}
		p("\n")
		if e.Context != nil {
			writeRegisters(bw, "  ", e.Context)
		}
	}
	if a := c.AssertionInfo; a != nil {
		p("\nAssertion\n  %s in %s at %s:%d (type %d)\n", a.Expression, a.Function, a.File, a.Line, a.Type)
	}
	if b := c.BreakpadInfo; b != nil {
		p("\nBreakpad info\n")
		if id, ok := b.DumpThread(); ok {
			p("  dump thread        %#x\n", id)
		}
		if id, ok := b.RequestingThread(); ok {
			p("  requesting thread  %#x\n", id)
		}
	}
	p("\nThreads (%d)\n", len(c.Threads))
	for i, t := range c.Threads {
		p("  [%d] thread %#x", i, uint64(t.ID))
		if t.Name != "" {
			p(" %q", t.Name)
		}
		p("  stack %#x+%#x  teb %#x  suspend %d priority %d\n", uint64(t.StackStart), t.StackSize, uint64(t.Teb), t.SuspendCount, t.Priority)
		if t.Context != nil {
			writeRegisters(bw, "      ", t.Context)
		}
	}
	p("\nModules (%d)\n", len(c.Modules))
	for _, m := range c.Modules {
		p("  0x%016x-0x%016x  %s", uint64(m.Base), uint64(m.Base)+uint64(m.Size), m.CodeFile)
		if m.Version != "" {
			p("  %s", m.Version)
		}
		p("\n      debug %s  %s\n      code  %s", orDash(m.DebugFile), orDash(m.DebugID), orDash(m.CodeID))
		if m.CodeView != "" {
			p("  (%s)", m.CodeView)
		}
		p("\n")
		for _, pr := range m.Problems {
			p("      problem: %s\n", pr)
		}
	}
	if len(c.UnloadedModules) > 0 {
		p("\nUnloaded modules (%d)\n", len(c.UnloadedModules))
		for _, m := range c.UnloadedModules {
			p("  0x%016x-0x%016x  %s\n", m.BaseOfImage, m.BaseOfImage+uint64(m.SizeOfImage), m.Name)
		}
	}
	var total uint64
	for _, r := range c.MemoryRegions {
		total += r.Size
	}
	p("\nMemory (%d regions, %d bytes)\n", len(c.MemoryRegions), total)
	for _, r := range c.MemoryRegions {
		p("  0x%016x-0x%016x  %8d bytes at file offset %#x\n", uint64(r.Base), uint64(r.Base)+r.Size, r.Size, uint64(r.Offset))
	}
	if len(c.MemoryInfo) > 0 {
		p("\nMemory info (%d ranges)\n", len(c.MemoryInfo))
		for _, m := range c.MemoryInfo {
			p("  0x%016x-0x%016x  state %#x protect %#x type %#x\n", m.BaseAddress, m.BaseAddress+m.RegionSize, m.State, m.Protect, m.Type)
		}
	}
	if len(c.Handles) > 0 {
		p("\nHandles (%d)\n", len(c.Handles))
		for _, h := range c.Handles {
			p("  %#x  %s  %s\n", h.Handle, orDash(h.TypeName), h.ObjectName)
		}
	}
	keys := make([]string, 0, len(c.Extra))
	for k := range c.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p("\n%s\n", k)
		writeExtra(bw, c.Extra[k])
	}
	if len(c.Problems) > 0 {
		p("\nProblems (%d)\n", len(c.Problems))
		for _, pr := range c.Problems {
			p("  %s\n", pr)
		}
	}
	return bw.Flush()
}

// writeExtra prints a platform stream: text as it is, lists one per line,
// structures as indented JSON.
func writeExtra(w io.Writer, v any) {
	switch x := v.(type) {
	case string:
		for _, l := range strings.Split(strings.TrimRight(x, "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	case []string:
		for _, l := range x {
			fmt.Fprintf(w, "  %s\n", l)
		}
	case []KeyValue:
		for _, kv := range x {
			fmt.Fprintf(w, "  %s: %s\n", kv.Key, kv.Value)
		}
	case []MapsEntry:
		for _, m := range x {
			fmt.Fprintf(w, "  %08x-%08x %s %08x %02x:%02x %d %s", m.Start, m.End, m.Perms, m.Offset, m.DevMajor, m.DevMinor, m.Inode, m.Path)
			if m.Deleted {
				fmt.Fprint(w, " (deleted)")
			}
			fmt.Fprintln(w)
		}
	case []AuxvEntry:
		for _, e := range x {
			name := e.Name()
			if name == "" {
				name = fmt.Sprintf("AT_%d", e.Type)
			}
			fmt.Fprintf(w, "  %-16s %#x\n", name, e.Value)
		}
	case *CrashpadInfo:
		fmt.Fprintf(w, "  report %s  client %s\n", x.ReportID, x.ClientID)
		for _, kv := range x.SimpleAnnotations {
			fmt.Fprintf(w, "  %s: %s\n", kv.Key, kv.Value)
		}
		for _, m := range x.Modules {
			fmt.Fprintf(w, "  module %d\n", m.ModuleIndex)
			for _, s := range m.ListAnnotations {
				fmt.Fprintf(w, "    %s\n", s)
			}
			for _, kv := range m.SimpleAnnotations {
				fmt.Fprintf(w, "    %s: %s\n", kv.Key, kv.Value)
			}
			for _, a := range m.Annotations {
				fmt.Fprintf(w, "    %s (%d) = %s\n", a.Name, a.Type, a.String())
			}
		}
	case fmt.Stringer:
		writeExtra(w, x.String())
	default:
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			fmt.Fprintf(w, "  (%v)\n", err)
			return
		}
		fmt.Fprintf(w, "  %s\n", b)
	}
}

// writeRegisters prints the valid general registers four to a line; the
// debug, FP-control and home registers are in the JSON output.
func writeRegisters(w io.Writer, indent string, c *ContextView) {
	width := 16
	if c.CPU == "x86" || c.CPU == "arm" {
		width = 8
	}
	fmt.Fprintf(w, "%s%s context, flags %#x", indent, c.CPU, uint64(c.Flags))
	n := 0
	for _, r := range c.Registers {
		if !r.Valid || r.Name == "context_flags" || r.Name == "mx_csr" || strings.Contains(r.Name, ".") ||
			strings.HasPrefix(r.Name, "dr") || strings.HasSuffix(r.Name, "_home") {
			continue
		}
		if n%4 == 0 {
			fmt.Fprintf(w, "\n%s", indent)
		} else {
			fmt.Fprint(w, "  ")
		}
		fmt.Fprintf(w, "%6s 0x%0*x", r.Name, width, uint64(r.Value))
		n++
	}
	fmt.Fprintln(w)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
