package minidump

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goldenBlock is one block of Breakpad minidump_dump output: a name line
// ("MDRawModule") followed by "  key = value" lines.
type goldenBlock struct {
	name   string
	fields map[string]string
	order  []string
}

func parseGoldenDump(t *testing.T, path string) []*goldenBlock {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var blocks []*goldenBlock
	var cur *goldenBlock
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "0x") {
			// The hex bytes of a "Memory" or "Stack" block.
			if cur != nil && (cur.name == "Memory" || cur.name == "Stack") {
				cur.fields["hex"] = line[2:]
			}
			continue
		}
		if !strings.HasPrefix(line, " ") {
			cur = &goldenBlock{name: strings.TrimSpace(line), fields: map[string]string{}}
			blocks = append(blocks, cur)
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || cur == nil {
			continue
		}
		k = strings.TrimSpace(k)
		cur.fields[k] = strings.TrimSpace(v)
		cur.order = append(cur.order, k)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return blocks
}

// goldenNum parses "0x1f", "31" or "0x45d35f73 2007-02-14 19:13:55".
func goldenNum(v string) (uint64, bool) {
	v, _, _ = strings.Cut(v, " ")
	if strings.HasPrefix(v, "-") {
		// Breakpad prints some uint32 fields with %d.
		n, err := strconv.ParseInt(v, 10, 32)
		return uint64(uint32(n)), err == nil
	}
	n, err := strconv.ParseUint(v, 0, 64)
	return n, err == nil
}

// goldenStr parses a quoted value or (null).
func goldenStr(v string) string {
	if v == "(null)" {
		return ""
	}
	// Breakpad prints strings between quotes without escaping them.
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

type diffs struct {
	list   []string
	checks int
}

func (d *diffs) num(what string, golden string, ours uint64) {
	d.checks++
	g, ok := goldenNum(golden)
	if !ok {
		d.list = append(d.list, fmt.Sprintf("%s: golden value %q unparsable", what, golden))
		return
	}
	if g != ours {
		d.list = append(d.list, fmt.Sprintf("%s: breakpad %#x, cairn %#x", what, g, ours))
	}
}

func (d *diffs) str(what, golden, ours string) {
	d.checks++
	if g := goldenStr(golden); g != ours {
		d.list = append(d.list, fmt.Sprintf("%s: breakpad %q, cairn %q", what, g, ours))
	}
}

func (d *diffs) add(format string, args ...any) {
	d.list = append(d.list, fmt.Sprintf(format, args...))
}

// knownDifferences lists dumps where Cairn deliberately reads more or
// differently than Breakpad's minidump_dump, with the reason. Every listed
// difference must still occur, so the list cannot go stale.
var knownDifferences = map[string]string{}

// TestBreakpadGolden compares what Cairn reads from every peer minidump with
// Breakpad's minidump_dump output for the same file: modules, threads and
// their register contexts, the exception and the system info.
func TestBreakpadGolden(t *testing.T) {
	peers := peersDir(t)
	goldenDir := filepath.Join(peers, "golden", "breakpad")
	var dumps []string
	for _, dir := range []string{"breakpad", "rust-minidump"} {
		m, _ := filepath.Glob(filepath.Join(peers, dir, "*.dmp"))
		for _, p := range m {
			if strings.HasPrefix(filepath.Base(p), "microdump-") {
				continue // Android microdumps: text inside logcat, not minidumps.
			}
			dumps = append(dumps, p)
		}
	}
	if len(dumps) < 50 {
		t.Fatalf("found only %d peer dumps", len(dumps))
	}
	compared, checks := 0, 0
	for _, path := range dumps {
		name := filepath.Base(filepath.Dir(path)) + "_" + strings.TrimSuffix(filepath.Base(path), ".dmp")
		golden := filepath.Join(goldenDir, name+".dump.txt")
		if _, err := os.Stat(golden); err != nil {
			t.Errorf("%s: no golden %s", name, golden)
			continue
		}
		t.Run(name, func(t *testing.T) {
			d := compareWithGolden(t, path, parseGoldenDump(t, golden))
			checks += d.checks
			reason, known := knownDifferences[name]
			switch {
			case len(d.list) > 0 && !known:
				t.Errorf("%d difference(s) from Breakpad:\n  %s", len(d.list), strings.Join(d.list, "\n  "))
			case len(d.list) == 0 && known:
				t.Errorf("listed as differing from Breakpad (%s) but now agrees; remove it from knownDifferences", reason)
			case known:
				t.Logf("known difference (%s):\n  %s", reason, strings.Join(d.list, "\n  "))
			}
		})
		compared++
	}
	t.Logf("compared %d values of %d dumps with Breakpad's minidump_dump", checks, compared)
	if checks < 10000 {
		t.Errorf("only %d values compared; the golden parser has likely stopped matching Breakpad's output", checks)
	}
}

func compareWithGolden(t *testing.T, path string, blocks []*goldenBlock) *diffs {
	d := &diffs{}
	f, err := Open(path)
	if err != nil {
		if len(blocks) > 0 && blocks[0].name == "MDRawHeader" {
			d.add("open failed where Breakpad read a header: %v", err)
		}
		return d
	}
	defer f.Close()
	si, siErr := f.SystemInfo()
	var platform PlatformID
	if si != nil {
		platform = si.PlatformID
	}
	mods, _ := f.Modules()
	threads, _ := f.Threads()
	exc, _ := f.Exception()
	misc, _ := f.MiscInfo()
	bpi, _ := f.BreakpadInfo()

	memList, _ := f.MemoryList()
	mem, _ := f.Memory()
	threadNames, _ := f.ThreadNames()
	memInfo, _ := f.MemoryInfoList()
	var modIdx, threadIdx, regionIdx, nameIdx, infoIdx int
	var lastRegion *MemoryDescriptor
	var lastOwner string // "thread" or "exception": which context block comes next
	var lastThread *Thread
	for _, b := range blocks {
		fl := b.fields
		switch b.name {
		case "MDRawHeader":
			d.num("header.stream_count", fl["stream_count"], uint64(f.Header.StreamCount))
			d.num("header.time_date_stamp", fl["time_date_stamp"], uint64(f.Header.TimeDateStamp))
		case "MDRawModule":
			m, p := nextEntry(d, "module", &modIdx, mods)
			if m == nil {
				continue
			}
			d.num(p+"base_of_image", fl["base_of_image"], m.BaseOfImage)
			d.num(p+"size_of_image", fl["size_of_image"], uint64(m.SizeOfImage))
			d.num(p+"checksum", fl["checksum"], uint64(m.Checksum))
			d.num(p+"time_date_stamp", fl["time_date_stamp"], uint64(m.TimeDateStamp))
			d.str(p+"code_file", fl["(code_file)"], m.Name)
			d.str(p+"code_identifier", fl["(code_identifier)"], m.BreakpadCodeID(platform))
			d.str(p+"debug_file", fl["(debug_file)"], m.DebugFile())
			d.str(p+"debug_identifier", fl["(debug_identifier)"], m.BreakpadDebugID())
			d.str(p+"version", fl["(version)"], m.VersionInfo.Version())
		case "MDMemoryDescriptor":
			r, p := nextEntry(d, "region", &regionIdx, memList)
			lastRegion = r
			if r == nil {
				continue
			}
			d.num(p+"start", fl["start_of_memory_range"], r.StartOfMemoryRange)
			d.num(p+"size", fl["memory.data_size"], uint64(r.Memory.DataSize))
			d.num(p+"rva", fl["memory.rva"], uint64(r.Memory.RVA))
		case "Memory":
			// Region bytes, read back through the address index.
			if lastRegion == nil || fl["hex"] == "" || mem == nil {
				continue
			}
			d.checks++
			b, err := mem.Bytes(lastRegion.StartOfMemoryRange, uint64(lastRegion.Memory.DataSize))
			if err != nil {
				d.add("memory at %#x: %v", lastRegion.StartOfMemoryRange, err)
			} else if hex.EncodeToString(b) != fl["hex"] {
				d.add("memory at %#x: bytes differ", lastRegion.StartOfMemoryRange)
			}
		case "MDRawThreadName":
			n, p := nextEntry(d, "thread_name", &nameIdx, threadNames)
			if n == nil {
				continue
			}
			d.num(p+"thread_id", fl["thread_id"], uint64(n.ThreadID))
			d.num(p+"rva", fl["thread_name_rva"], n.NameRVA)
			d.str(p+"name", fl["thread_name"], n.Name)
		case "MDRawMemoryInfo":
			m, p := nextEntry(d, "info", &infoIdx, memInfo)
			if m == nil {
				continue
			}
			d.num(p+"base_address", fl["base_address"], m.BaseAddress)
			d.num(p+"allocation_base", fl["allocation_base"], m.AllocationBase)
			d.num(p+"allocation_protection", fl["allocation_protection"], uint64(m.AllocationProtect))
			d.num(p+"region_size", fl["region_size"], m.RegionSize)
			d.num(p+"state", fl["state"], uint64(m.State))
			d.num(p+"protection", fl["protection"], uint64(m.Protect))
			d.num(p+"type", fl["type"], uint64(m.Type))
		case "MDRawThread":
			th, p := nextEntry(d, "thread", &threadIdx, threads)
			lastOwner, lastThread = "thread", th
			if th == nil {
				continue
			}
			d.num(p+"thread_id", fl["thread_id"], uint64(th.ThreadID))
			d.num(p+"suspend_count", fl["suspend_count"], uint64(th.SuspendCount))
			d.num(p+"priority", fl["priority"], uint64(th.Priority))
			d.num(p+"teb", fl["teb"], th.Teb)
			d.num(p+"stack.start", fl["stack.start_of_memory_range"], th.Stack.StartOfMemoryRange)
			d.num(p+"stack.size", fl["stack.memory.data_size"], uint64(th.Stack.Memory.DataSize))
		case "MDException":
			lastOwner = "exception"
			if exc == nil {
				d.add("exception: Breakpad read it, Cairn did not")
				continue
			}
			r := &exc.Record
			d.num("exception.thread_id", fl["thread_id"], uint64(exc.ThreadID))
			d.num("exception.code", fl["exception_record.exception_code"], uint64(r.ExceptionCode))
			d.num("exception.flags", fl["exception_record.exception_flags"], uint64(r.ExceptionFlags))
			d.num("exception.address", fl["exception_record.exception_address"], r.ExceptionAddress)
			d.num("exception.number_parameters", fl["exception_record.number_parameters"], uint64(r.NumberParameters))
			for i := range r.ExceptionInformation {
				if v, ok := fl[fmt.Sprintf("exception_record.exception_information[%2d]", i)]; ok {
					d.num(fmt.Sprintf("exception.information[%d]", i), v, r.ExceptionInformation[i])
				}
			}
		case "MDRawContextX86", "MDRawContextAMD64", "MDRawContextARM", "MDRawContextARM64":
			var ctx Context
			var err error
			what := lastOwner + " context"
			switch {
			case lastOwner == "thread" && lastThread != nil:
				what = fmt.Sprintf("thread %#x context", lastThread.ThreadID)
				ctx, err = f.ThreadContext(lastThread, si)
			case lastOwner == "exception" && exc != nil:
				ctx, err = f.ExceptionContext(exc, si)
			default:
				continue
			}
			if err != nil {
				d.add("%s: %v", what, err)
				continue
			}
			compareContext(d, what, b, ctx)
		case "MDRawSystemInfo":
			if si == nil {
				d.add("system info: Breakpad read it, Cairn did not: %v", siErr)
				continue
			}
			d.num("system.processor_architecture", fl["processor_architecture"], uint64(si.ProcessorArch))
			d.num("system.processor_level", fl["processor_level"], uint64(si.ProcessorLevel))
			d.num("system.processor_revision", fl["processor_revision"], uint64(si.ProcessorRevision))
			d.num("system.number_of_processors", fl["number_of_processors"], uint64(si.NumberOfProcessors))
			d.num("system.major_version", fl["major_version"], uint64(si.MajorVersion))
			d.num("system.minor_version", fl["minor_version"], uint64(si.MinorVersion))
			d.num("system.build_number", fl["build_number"], uint64(si.BuildNumber))
			d.num("system.platform_id", fl["platform_id"], uint64(si.PlatformID))
			d.str("system.csd_version", fl["(csd_version)"], si.CSDVersion)
			d.str("system.cpu_vendor", fl["(cpu_vendor)"], si.CPUVendor())
		case "MDRawMiscInfo":
			if misc == nil {
				d.add("misc info: Breakpad read it, Cairn did not")
				continue
			}
			d.num("misc.size_of_info", fl["size_of_info"], uint64(misc.SizeOfInfo))
			d.num("misc.flags1", fl["flags1"], uint64(misc.Flags1))
			d.num("misc.process_id", fl["process_id"], uint64(misc.ProcessID))
			d.num("misc.process_create_time", fl["process_create_time"], uint64(misc.ProcessCreateTime))
			if v, ok := fl["processor_max_mhz"]; ok {
				d.num("misc.processor_max_mhz", v, uint64(misc.ProcessorMaxMhz))
			}
			if v, ok := fl["build_string"]; ok {
				d.str("misc.build_string", `"`+v+`"`, misc.BuildString)
			}
		case "MDAssertion":
			a, err := f.AssertionInfo()
			if err != nil {
				d.add("assertion: Breakpad read it, Cairn did not: %v", err)
				continue
			}
			d.str("assertion.expression", `"`+fl["expression"]+`"`, a.Expression)
			d.str("assertion.function", `"`+fl["function"]+`"`, a.Function)
			d.str("assertion.file", `"`+fl["file"]+`"`, a.File)
			d.num("assertion.line", fl["line"], uint64(a.Line))
			d.num("assertion.type", fl["type"], uint64(a.Type))
		case "MDRawBreakpadInfo":
			if bpi == nil {
				d.add("breakpad info: Breakpad read it, Cairn did not")
				continue
			}
			d.num("breakpad.validity", fl["validity"], uint64(bpi.Validity))
			if v, ok := fl["dump_thread_id"]; ok && !strings.HasPrefix(v, "(") {
				d.num("breakpad.dump_thread_id", v, uint64(bpi.DumpThreadID))
			}
			if v, ok := fl["requesting_thread_id"]; ok && !strings.HasPrefix(v, "(") {
				d.num("breakpad.requesting_thread_id", v, uint64(bpi.RequestingThreadID))
			}
		}
	}
	if modIdx != len(mods) && modIdx > 0 {
		d.add("modules: Breakpad printed %d, Cairn read %d", modIdx, len(mods))
	}
	if regionIdx != len(memList) && regionIdx > 0 {
		d.add("memory regions: Breakpad printed %d, Cairn read %d", regionIdx, len(memList))
	}
	if infoIdx != len(memInfo) && infoIdx > 0 {
		d.add("memory info: Breakpad printed %d, Cairn read %d", infoIdx, len(memInfo))
	}
	if threadIdx != len(threads) && threadIdx > 0 {
		d.add("threads: Breakpad printed %d, Cairn read %d", threadIdx, len(threads))
	}
	return d
}

// nextEntry returns the next of Cairn's entries for a Breakpad block and the
// field prefix to report it under, or nil (recording the miss) when Cairn
// read fewer entries than Breakpad printed.
func nextEntry[T any](d *diffs, what string, idx *int, list []T) (*T, string) {
	i := *idx
	*idx++
	if i >= len(list) {
		d.add("%s[%d]: Breakpad read it, Cairn has only %d", what, i, len(list))
		return nil, ""
	}
	return &list[i], fmt.Sprintf("%s[%d].", what, i)
}

// compareContext checks every register Breakpad printed against ours.
func compareContext(d *diffs, what string, b *goldenBlock, ctx Context) {
	wantType := map[ProcessorArch]string{ArchX86: "MDRawContextX86", ArchAMD64: "MDRawContextAMD64", ArchARM: "MDRawContextARM", ArchARM64: "MDRawContextARM64"}[ctx.CPU()]
	if wantType != b.name {
		d.add("%s: Breakpad read %s, Cairn %T", what, b.name, ctx)
		return
	}
	regs := map[string]uint64{}
	for _, r := range ctx.Registers() {
		regs[r.Name] = r.Value
	}
	for _, k := range b.order {
		v := b.fields[k]
		var i int
		if _, err := fmt.Sscanf(k, "iregs[%d]", &i); err == nil && ctx.CPU() == ArchARM64 {
			// Breakpad prints ARM64 registers by index.
			k = map[int]string{29: "fp", 30: "lr", 31: "sp", 32: "pc"}[i]
			if k == "" {
				k = fmt.Sprintf("x%d", i)
			}
		}
		switch k {
		case "float_save.fpsr", "float_save.fpcr", "float_save.fpscr":
			k = strings.TrimPrefix(k, "float_save.")
		}
		if strings.HasSuffix(k, "]") && strings.Contains(k, "[") {
			// Byte arrays: x86 FP register area and extended registers.
			if x, ok := ctx.(*ContextX86); ok {
				var raw []byte
				switch k {
				case "float_save.register_area[80]":
					raw = x.FloatSave.RegisterArea[:]
				case "extended_registers[512]":
					raw = x.ExtendedRegisters[:]
				}
				if raw != nil && strings.TrimPrefix(v, "0x") != hex.EncodeToString(raw) {
					d.add("%s: %s differs", what, k)
				}
				continue
			}
			continue
		}
		ours, ok := regs[k]
		if !ok {
			d.add("%s: Cairn has no register %q", what, k)
			continue
		}
		d.num(what+"."+k, v, ours)
	}
}
