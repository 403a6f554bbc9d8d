package minidump

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// This file decodes the streams Breakpad's Linux writer copies verbatim from
// /proc and /etc (cmdline, environ, auxv, status, lsb-release, cpuinfo, maps)
// plus the binary MD_LINUX_DSO_DEBUG stream. The text streams are exactly the
// bytes the kernel served, so parsing is deliberately lenient about layout
// (it varies between kernels and architectures) but never reads outside the
// stream.

// KeyValue is one key and value of a textual stream ("Name:\tfoo" in
// /proc/self/status, "DISTRIB_ID=Ubuntu" in /etc/lsb-release) or of a
// Crashpad string dictionary. Streams are kept as slices rather than maps so
// the writer's order and any repeated keys survive.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LinuxCmdLine returns the process's argv from the LinuxCmdLine stream
// (/proc/self/cmdline): NUL-separated arguments, with the terminating NUL
// dropped so it does not appear as a trailing empty argument.
func (f *File) LinuxCmdLine() ([]string, error) {
	b, err := f.StreamData(LinuxCmdLineStream)
	if err != nil {
		return nil, err
	}
	return splitNULList(b), nil
}

// LinuxEnviron returns the process's environment ("KEY=value" strings) from
// the LinuxEnviron stream (/proc/self/environ), split like LinuxCmdLine.
func (f *File) LinuxEnviron() ([]string, error) {
	b, err := f.StreamData(LinuxEnvironStream)
	if err != nil {
		return nil, err
	}
	return splitNULList(b), nil
}

// splitNULList splits a NUL-terminated list. One terminating NUL is dropped;
// empty elements inside the list are kept because an argument may be "".
// A list the writer cut short (no final NUL) keeps its partial last element.
func splitNULList(b []byte) []string {
	if len(b) == 0 {
		return []string{}
	}
	b = bytes.TrimSuffix(b, []byte{0})
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

// Well-known auxiliary vector entry types (AT_* in <elf.h>), for callers that
// look entries up in LinuxAuxv's result.
const (
	AuxvNull        = 0  // AT_NULL: end of the vector
	AuxvPHDR        = 3  // AT_PHDR: address of the main program's headers
	AuxvPHNum       = 5  // AT_PHNUM: number of program headers
	AuxvPageSize    = 6  // AT_PAGESZ: system page size
	AuxvBase        = 7  // AT_BASE: load address of the dynamic linker
	AuxvEntryPoint  = 9  // AT_ENTRY: the main program's entry point
	AuxvHWCap       = 16 // AT_HWCAP: CPU capability bits
	AuxvHWCap2      = 26 // AT_HWCAP2: more CPU capability bits
	AuxvExecFn      = 31 // AT_EXECFN: address of the executable's filename
	AuxvSysinfoEHDR = 33 // AT_SYSINFO_EHDR: load address of the vDSO
)

var auxvNames = sync.OnceValue(func() map[uint64]string {
	return map[uint64]string{
		0: "AT_NULL", 1: "AT_IGNORE", 2: "AT_EXECFD", 3: "AT_PHDR", 4: "AT_PHENT", 5: "AT_PHNUM",
		6: "AT_PAGESZ", 7: "AT_BASE", 8: "AT_FLAGS", 9: "AT_ENTRY", 10: "AT_NOTELF", 11: "AT_UID",
		12: "AT_EUID", 13: "AT_GID", 14: "AT_EGID", 15: "AT_PLATFORM", 16: "AT_HWCAP", 17: "AT_CLKTCK",
		18: "AT_FPUCW", 19: "AT_DCACHEBSIZE", 20: "AT_ICACHEBSIZE", 21: "AT_UCACHEBSIZE",
		22: "AT_IGNOREPPC", 23: "AT_SECURE", 24: "AT_BASE_PLATFORM", 25: "AT_RANDOM", 26: "AT_HWCAP2",
		27: "AT_RSEQ_FEATURE_SIZE", 28: "AT_RSEQ_ALIGN", 29: "AT_HWCAP3", 30: "AT_HWCAP4",
		31: "AT_EXECFN", 32: "AT_SYSINFO", 33: "AT_SYSINFO_EHDR",
		34: "AT_L1I_CACHESHAPE", 35: "AT_L1D_CACHESHAPE", 36: "AT_L2_CACHESHAPE", 37: "AT_L3_CACHESHAPE",
		40: "AT_L1I_CACHESIZE", 41: "AT_L1I_CACHEGEOMETRY", 42: "AT_L1D_CACHESIZE",
		43: "AT_L1D_CACHEGEOMETRY", 44: "AT_L2_CACHESIZE", 45: "AT_L2_CACHEGEOMETRY",
		46: "AT_L3_CACHESIZE", 47: "AT_L3_CACHEGEOMETRY", 51: "AT_MINSIGSTKSZ",
	}
})

// AuxvEntry is one (type, value) pair of the ELF auxiliary vector. Both are
// widened to 64 bits; 32-bit processes store 32-bit words.
type AuxvEntry struct {
	Type  uint64 `json:"type"`
	Value uint64 `json:"value"`
}

// Name returns the AT_* name of the entry's type, or "" for types this
// package does not know (architectures keep adding them).
func (e AuxvEntry) Name() string { return auxvNames()[e.Type] }

// wordSize is the size of the crashed process's native word, which sizes
// the auxv entries and the DSO debug structures. Those streams carry no size
// of their own: Breakpad writes them with the dumping process's native types,
// so only the CPU architecture in the system info tells the layouts apart.
func (f *File) wordSize(what string) (int, error) {
	si, err := f.SystemInfo()
	if err != nil {
		return 0, fmt.Errorf("minidump: %s: word size needs the system info: %w", what, err)
	}
	switch si.ProcessorArch {
	case ArchX86, ArchARM, ArchMIPS, ArchPPC, ArchRISCV:
		return 4, nil
	case ArchAMD64, ArchARM64, ArchARM64Old, ArchPPC64, ArchMIPS64, ArchRISCV64:
		return 8, nil
	}
	return 0, formatErr(what, 0, "no known word size for CPU architecture %s", si.ProcessorArch)
}

// nativeWord reads one native word of the given size, widened to 64 bits.
func (d *decoder) nativeWord(size int) uint64 {
	if size == 4 {
		return uint64(d.u32())
	}
	return d.u64()
}

// LinuxAuxv decodes the LinuxAuxv stream (/proc/self/auxv) into its entries,
// stopping at the AT_NULL entry that ends the vector. The word size (4 or 8
// bytes) comes from the system info's CPU architecture.
func (f *File) LinuxAuxv() ([]AuxvEntry, error) {
	d, err := f.stream(LinuxAuxvStream)
	if err != nil {
		return nil, err
	}
	ws, err := f.wordSize("auxv")
	if err != nil {
		return nil, err
	}
	n := d.remaining() / (2 * ws)
	if d.remaining()%(2*ws) != 0 {
		return nil, formatErr(d.what, d.base, "%d bytes is not a whole number of %d-byte auxv entries", d.remaining(), 2*ws)
	}
	out := make([]AuxvEntry, 0, n)
	for range n {
		e := AuxvEntry{Type: d.nativeWord(ws), Value: d.nativeWord(ws)}
		if d.err != nil {
			return nil, d.err
		}
		if e.Type == AuxvNull {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// LinuxProcStatus decodes the LinuxProcStatus stream (/proc/self/status):
// one "Key:\tvalue" pair a line, with the value's surrounding white space
// removed. A line without a colon is kept whole as a key with an empty value.
func (f *File) LinuxProcStatus() ([]KeyValue, error) {
	b, err := f.StreamData(LinuxProcStatusStream)
	if err != nil {
		return nil, err
	}
	var out []KeyValue
	for _, line := range textLines(b) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		out = append(out, splitKeyValue(line, ':'))
	}
	return out, nil
}

// LinuxLSBRelease decodes the LinuxLSBRelease stream (/etc/lsb-release, or
// /etc/os-release on newer writers; both are KEY=value lines). Values lose
// one pair of surrounding double or single quotes; blank lines and "#"
// comments are skipped.
func (f *File) LinuxLSBRelease() ([]KeyValue, error) {
	b, err := f.StreamData(LinuxLSBReleaseStream)
	if err != nil {
		return nil, err
	}
	var out []KeyValue
	for _, line := range textLines(b) {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		kv := splitKeyValue(t, '=')
		kv.Value = unquote(kv.Value)
		out = append(out, kv)
	}
	return out, nil
}

// unquote removes one pair of matching surrounding quotes. Shell escapes
// inside are left alone: the files are written for sourcing by sh, but real
// ones hardly ever use them and Breakpad and rust-minidump do not expand them.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// CPUInfoProcessor is one blank-line-separated block of /proc/cpuinfo: on
// most architectures one logical CPU. ARM kernels end the file with a block
// describing the board ("Hardware", "Revision"), which is returned as a
// block of its own.
type CPUInfoProcessor struct {
	Fields []KeyValue `json:"fields"`
}

// Get returns the value of the first field named key (e.g. "model name").
func (p CPUInfoProcessor) Get(key string) (string, bool) {
	for _, kv := range p.Fields {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return "", false
}

// LinuxCPUInfo decodes the LinuxCPUInfo stream (/proc/cpuinfo) into its
// blocks. Keys are padded with tabs before the colon ("model\t\t: 63") and
// values may be empty ("power management:"); both are trimmed.
func (f *File) LinuxCPUInfo() ([]CPUInfoProcessor, error) {
	b, err := f.StreamData(LinuxCPUInfoStream)
	if err != nil {
		return nil, err
	}
	var out []CPUInfoProcessor
	var cur []KeyValue
	for _, line := range textLines(b) {
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, CPUInfoProcessor{Fields: cur})
				cur = nil
			}
			continue
		}
		cur = append(cur, splitKeyValue(line, ':'))
	}
	if len(cur) > 0 {
		out = append(out, CPUInfoProcessor{Fields: cur})
	}
	return out, nil
}

// textLines splits a text stream into lines, tolerating CRLF and a missing
// final newline. These files cannot contain a NUL, so one ends the text: it
// can only be padding or damage, and must not end up inside a value.
func textLines(b []byte) []string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// splitKeyValue splits line at the first sep, trimming white space around
// both halves.
func splitKeyValue(line string, sep byte) KeyValue {
	k, v, ok := strings.Cut(line, string(sep))
	if !ok {
		return KeyValue{Key: strings.TrimSpace(line)}
	}
	return KeyValue{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)}
}

// MapsEntry is one line of /proc/self/maps: a mapping of [Start, End).
type MapsEntry struct {
	Start uint64 `json:"start"`
	End   uint64 `json:"end"`
	// Perms is the four-character permission field, e.g. "r-xp".
	Perms    string `json:"perms"`
	Offset   uint64 `json:"offset"`
	DevMajor uint32 `json:"dev_major"`
	DevMinor uint32 `json:"dev_minor"`
	Inode    uint64 `json:"inode"`
	// Path is the mapped file or pseudo-path ("[heap]", "[vdso]"), "" for
	// anonymous mappings. It may contain spaces.
	Path string `json:"path"`
	// Deleted reports that the kernel marked the file " (deleted)"; the
	// marker is removed from Path.
	Deleted bool `json:"deleted"`
}

// Readable reports the 'r' permission.
func (m MapsEntry) Readable() bool { return len(m.Perms) > 0 && m.Perms[0] == 'r' }

// Writable reports the 'w' permission.
func (m MapsEntry) Writable() bool { return len(m.Perms) > 1 && m.Perms[1] == 'w' }

// Executable reports the 'x' permission.
func (m MapsEntry) Executable() bool { return len(m.Perms) > 2 && m.Perms[2] == 'x' }

// Shared reports a shared ('s') rather than private ('p') mapping.
func (m MapsEntry) Shared() bool { return len(m.Perms) > 3 && m.Perms[3] == 's' }

// Size is the length of the mapping in bytes.
func (m MapsEntry) Size() uint64 {
	if m.End < m.Start {
		return 0
	}
	return m.End - m.Start
}

// LinuxMaps decodes the LinuxMaps stream (/proc/self/maps). A malformed line
// stops decoding: the entries before it are returned with a *FormatError
// giving the line's file offset.
func (f *File) LinuxMaps() ([]MapsEntry, error) {
	e, ok := f.Stream(LinuxMapsStream)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoStream, LinuxMapsStream)
	}
	b, err := f.locationBytes(LinuxMapsStream.String(), e.Location)
	if err != nil {
		return nil, err
	}
	var out []MapsEntry
	off := int64(e.Location.RVA)
	for len(b) > 0 {
		line := b
		next := len(b)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, next = b[:i], i+1
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.Trim(line, " \t\x00")) > 0 {
			m, err := parseMapsLine(string(line))
			if err != nil {
				return out, formatErr(LinuxMapsStream.String(), off, "%v", err)
			}
			out = append(out, m)
		}
		off += int64(next)
		b = b[next:]
	}
	return out, nil
}

// parseMapsLine parses "start-end perms offset major:minor inode   path".
// The path is everything after the inode's trailing spaces, so paths with
// spaces survive; only the kernel's " (deleted)" suffix is interpreted.
func parseMapsLine(line string) (MapsEntry, error) {
	var m MapsEntry
	rest := line
	field := func() string {
		rest = strings.TrimLeft(rest, " \t")
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			i = len(rest)
		}
		f := rest[:i]
		rest = rest[i:]
		return f
	}
	rng, perms, offset, dev, inode := field(), field(), field(), field(), field()
	lo, hi, ok := strings.Cut(rng, "-")
	if !ok {
		return m, fmt.Errorf("maps line %q: no address range", line)
	}
	var err error
	if m.Start, err = strconv.ParseUint(lo, 16, 64); err != nil {
		return m, fmt.Errorf("maps line %q: start address: %v", line, err)
	}
	if m.End, err = strconv.ParseUint(hi, 16, 64); err != nil {
		return m, fmt.Errorf("maps line %q: end address: %v", line, err)
	}
	if len(perms) != 4 {
		return m, fmt.Errorf("maps line %q: permissions %q are not 4 characters", line, perms)
	}
	m.Perms = perms
	if m.Offset, err = strconv.ParseUint(offset, 16, 64); err != nil {
		return m, fmt.Errorf("maps line %q: offset: %v", line, err)
	}
	major, minor, ok := strings.Cut(dev, ":")
	if !ok {
		return m, fmt.Errorf("maps line %q: device %q is not major:minor", line, dev)
	}
	v, err := strconv.ParseUint(major, 16, 32)
	if err != nil {
		return m, fmt.Errorf("maps line %q: device major: %v", line, err)
	}
	m.DevMajor = uint32(v)
	if v, err = strconv.ParseUint(minor, 16, 32); err != nil {
		return m, fmt.Errorf("maps line %q: device minor: %v", line, err)
	}
	m.DevMinor = uint32(v)
	if m.Inode, err = strconv.ParseUint(inode, 10, 64); err != nil {
		return m, fmt.Errorf("maps line %q: inode: %v", line, err)
	}
	m.Path = strings.TrimLeft(rest, " \t")
	if p, ok := strings.CutSuffix(m.Path, " (deleted)"); ok {
		m.Path, m.Deleted = p, true
	}
	return m, nil
}

// DSODebug is the LinuxDSODebug stream: the dynamic linker's r_debug
// structure and its list of loaded objects (struct link_map), as Breakpad
// captured them for converting the dump to a core file. Pointer-sized fields
// are widened to 64 bits.
type DSODebug struct {
	// Version is r_debug.r_version (1 for glibc).
	Version uint32 `json:"version"`
	// MapRVA is where the link map array lies in the file; DSOCount is its
	// length as written.
	MapRVA   uint32 `json:"map_rva"`
	DSOCount uint32 `json:"dso_count"`
	// Brk is r_debug.r_brk, the address debuggers break on to see loads.
	Brk uint64 `json:"brk"`
	// LDBase is r_debug.r_ldbase, the dynamic linker's load address.
	LDBase uint64 `json:"ld_base"`
	// Dynamic is the address of the main program's PT_DYNAMIC section.
	Dynamic uint64 `json:"dynamic"`
	// LinkMaps lists the loaded objects in the linker's order.
	LinkMaps []LinkMap `json:"link_maps"`
	// DynamicSection is a copy of the main program's dynamic section, which
	// Breakpad appends to the stream after the fixed fields.
	DynamicSection []byte `json:"dynamic_section"`
}

// LinkMap is one loaded object from the linker's list (MDRawLinkMap32/64).
type LinkMap struct {
	// Addr is l_addr: the difference between the object's load address and
	// its link-time address (0 for a non-PIE main program).
	Addr uint64 `json:"addr"`
	// NameRVA points at the MINIDUMP_STRING holding Name.
	NameRVA uint32 `json:"name_rva"`
	// Name is l_name, "" for the main program and the vDSO.
	Name string `json:"name"`
	// LD is l_ld, the address of the object's dynamic section.
	LD uint64 `json:"ld"`
}

// LinuxDSODebug decodes the LinuxDSODebug stream. The layout (MDRawDebug32
// or MDRawDebug64, each with C natural alignment) follows the word size of
// the system info's CPU architecture.
func (f *File) LinuxDSODebug() (*DSODebug, error) {
	d, err := f.stream(LinuxDSODebugStream)
	if err != nil {
		return nil, err
	}
	ws, err := f.wordSize("dso debug")
	if err != nil {
		return nil, err
	}
	dd := &DSODebug{Version: d.u32(), MapRVA: d.u32(), DSOCount: d.u32()}
	if ws == 8 {
		d.skip(4) // natural alignment of the 64-bit brk field
	}
	dd.Brk, dd.LDBase, dd.Dynamic = d.nativeWord(ws), d.nativeWord(ws), d.nativeWord(ws)
	if d.err != nil {
		return nil, d.err
	}
	dd.DynamicSection = bytes.Clone(d.take(d.remaining()))

	// MDRawLinkMap32 is {u32 addr, u32 name, u32 ld}; MDRawLinkMap64 is
	// {u64 addr, u32 name, 4 bytes padding, u64 ld}.
	entry := 12
	if ws == 8 {
		entry = 24
	}
	if dd.DSOCount == 0 {
		return dd, nil
	}
	if dd.MapRVA == 0 {
		return dd, formatErr("dso debug link map", 0, "%d objects but no link map", dd.DSOCount)
	}
	b, err := f.bytes("dso debug link map", int64(dd.MapRVA), uint64(dd.DSOCount)*uint64(entry))
	if err != nil {
		return dd, err
	}
	md := newDecoder("dso debug link map", int64(dd.MapRVA), b)
	budget := newCopyBudget(f)
	dd.LinkMaps = make([]LinkMap, dd.DSOCount)
	for i := range dd.LinkMaps {
		lm := &dd.LinkMaps[i]
		lm.Addr = md.nativeWord(ws)
		lm.NameRVA = md.u32()
		if ws == 8 {
			md.skip(4)
		}
		lm.LD = md.nativeWord(ws)
		if md.err != nil {
			return dd, md.err
		}
		if lm.NameRVA == 0 {
			continue
		}
		if err := budget.spendString(f, lm.NameRVA); err != nil {
			return dd, err
		}
		if lm.Name, err = f.String(lm.NameRVA); err != nil {
			return dd, fmt.Errorf("minidump: dso debug link map %d name: %w", i, err)
		}
	}
	return dd, nil
}

// MarshalJSON names the entry's type and shows its value in hex.
func (e AuxvEntry) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type  uint64 `json:"type"`
		Name  string `json:"name,omitempty"`
		Value Hex    `json:"value"`
	}{e.Type, e.Name(), Hex(e.Value)})
}
