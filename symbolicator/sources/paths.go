package sources

import (
	"encoding/hex"
	"strconv"
	"strings"
)

// The path rules below follow Sentry Symbolicator's directory layouts so a
// bucket or server filled for Symbolicator (or by symstore, symsorter,
// Breakpad's symupload, debuginfod) works unchanged with Cairn.

// gdbPath is GDB's build-id layout: the first two hex digits of the build id
// as a directory, the rest as the file name.
func gdbPath(id FileID) string {
	c := strings.ToLower(id.CodeID)
	if len(c) < 2 {
		return ""
	}
	return c[:2] + "/" + c[2:]
}

// machUUID is the Mach-O UUID: the code id when it parses as one, otherwise
// the GUID of the debug id (they are the same bytes for Mach-O).
func machUUID(id FileID) ([16]byte, bool) {
	if id.CodeID != "" {
		var u [16]byte
		h := strings.ReplaceAll(id.CodeID, "-", "")
		if len(h) == 32 {
			if _, err := hex.Decode(u[:], []byte(h)); err == nil {
				return u, true
			}
		}
		return u, false
	}
	if id.DebugID.IsZero() {
		return [16]byte{}, false
	}
	return id.DebugID.GUID, true
}

// lldbPath is LLDB's "file mapped UUID directories" layout:
// XXXX/XXXX/XXXX/XXXX/XXXX/XXXXXXXXXXXX in uppercase.
func lldbPath(id FileID) string {
	u, ok := machUUID(id)
	if !ok {
		return ""
	}
	h := strings.ToUpper(hex.EncodeToString(u[:]))
	return h[0:4] + "/" + h[4:8] + "/" + h[8:12] + "/" + h[12:16] + "/" + h[16:20] + "/" + h[20:]
}

// guidHex is the debug id's GUID as 32 hex digits.
func guidHex(id FileID) string { return hex.EncodeToString(id.DebugID.GUID[:]) }

// ageHex is the age in hex without padding.
func ageHex(id FileID) string { return strconv.FormatUint(uint64(id.DebugID.Age), 16) }

// breakpadID is the id as Breakpad's symbol stores spell it: the GUID in
// uppercase and the age in lowercase hex, as dump_syms prints it.
func breakpadID(id FileID) string { return strings.ToUpper(guidHex(id)) + ageHex(id) }

// pdbSymstorePath is the Microsoft symbol server path of a PDB. The SSQP
// convention lowercases the name and GUID (and uppercases the age); the
// classic one uppercases the GUID and lowercases the age.
func pdbSymstorePath(id FileID, ssqp bool) string {
	name := basename(id.DebugFile)
	if name == "" || id.DebugID.IsZero() {
		return ""
	}
	var sig string
	if ssqp {
		name = strings.ToLower(name)
		sig = guidHex(id) + strings.ToUpper(ageHex(id))
	} else {
		sig = strings.ToUpper(guidHex(id)) + ageHex(id)
	}
	return name + "/" + sig + "/" + name
}

// peSymstorePath is the symbol server path of a PE image, keyed by its
// TimeDateStamp (8 digits, uppercase) and SizeOfImage (lowercase).
func peSymstorePath(id FileID, ssqp bool) string {
	name := basename(id.CodeFile)
	if name == "" || len(id.CodeID) < 8 {
		return ""
	}
	code := id.CodeID
	if ssqp {
		name = strings.ToLower(name)
	} else {
		code = strings.ToUpper(code[:8]) + strings.ToLower(code[8:])
	}
	return name + "/" + code + "/" + name
}

// breakpadPath is the Breakpad symbol store path: the debug file's leaf,
// the Breakpad id, and the leaf with ".pdb" replaced by ".sym" (or ".sym"
// appended).
func breakpadPath(id FileID) string {
	if id.Object == ObjectWasm {
		return ""
	}
	name := basename(id.DebugFile)
	if name == "" || id.DebugID.IsZero() {
		return ""
	}
	return name + "/" + breakpadID(id) + "/" + strings.TrimSuffix(name, ".pdb") + ".sym"
}

// cutExt drops everything from the last dot on, as source bundle paths are
// derived from the debug file's path.
func cutExt(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return p
}

func nonEmpty(ps ...string) []string {
	var out []string
	for _, p := range ps {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func nativePaths(t FileType, id FileID) []string {
	switch t {
	case FileELFCode, FileWasmCode:
		return nonEmpty(gdbPath(id))
	case FileELFDebug, FileWasmDebug:
		if p := gdbPath(id); p != "" {
			return []string{p + ".debug"}
		}
	case FileMachCode:
		if p := lldbPath(id); p != "" {
			return []string{p + ".app"}
		}
	case FileMachDebug:
		return nonEmpty(lldbPath(id))
	case FilePDB:
		return nonEmpty(pdbSymstorePath(id, false))
	case FilePE:
		return nonEmpty(peSymstorePath(id, false))
	case FileBreakpad:
		return nonEmpty(breakpadPath(id))
	case FileSourceBundle:
		var primary string
		switch id.Object {
		case ObjectPE:
			if p := pdbSymstorePath(id, false); p != "" {
				primary = cutExt(p)
			}
		case ObjectMachO:
			primary = lldbPath(id)
		case ObjectELF, ObjectWasm:
			primary = gdbPath(id)
		}
		if primary == "" {
			return nil
		}
		primary += ".src.zip"
		var out []string
		if bp := breakpadPath(id); bp != "" {
			bp = strings.TrimSuffix(bp, ".sym") + ".src.zip"
			if bp != primary {
				out = append(out, bp)
			}
		}
		return append(out, primary)
	}
	return nil
}

func symstorePath(t FileType, id FileID, ssqp bool) string {
	lowerIf := func(s string) string {
		if ssqp {
			return strings.ToLower(s)
		}
		return s
	}
	switch t {
	case FileELFCode:
		name := lowerIf(basename(id.CodeFile))
		if name == "" || id.CodeID == "" {
			return ""
		}
		return name + "/elf-buildid-" + strings.ToLower(id.CodeID) + "/" + name
	case FileELFDebug:
		if id.CodeID == "" {
			return ""
		}
		return "_.debug/elf-buildid-sym-" + strings.ToLower(id.CodeID) + "/_.debug"
	case FileMachCode:
		name := lowerIf(basename(id.CodeFile))
		u, ok := machUUID(id)
		if name == "" || !ok {
			return ""
		}
		return name + "/mach-uuid-" + hex.EncodeToString(u[:]) + "/" + name
	case FileMachDebug:
		u, ok := machUUID(id)
		if !ok {
			return ""
		}
		return "_.dwarf/mach-uuid-sym-" + hex.EncodeToString(u[:]) + "/_.dwarf"
	case FilePDB:
		return pdbSymstorePath(id, ssqp)
	case FilePE:
		return peSymstorePath(id, ssqp)
	case FileSourceBundle:
		if id.Object != ObjectPE {
			return ""
		}
		if p := pdbSymstorePath(id, ssqp); p != "" {
			return cutExt(p) + ".src.zip"
		}
	}
	return ""
}

// symstoreIndex2Path is the two-tier symbol store layout (a store whose root
// holds index2.txt): the first two characters of the file name as an extra
// directory, or only the first when the second is '/' or '.'.
func symstoreIndex2Path(t FileType, id FileID) string {
	p := symstorePath(t, id, false)
	if len(p) < 2 {
		return p
	}
	if p[1] == '/' || p[1] == '.' {
		return p[:1] + "/" + p
	}
	return p[:2] + "/" + p
}

func debuginfodPath(t FileType, id FileID) string {
	if id.CodeID == "" {
		return ""
	}
	switch t {
	case FileELFCode:
		return strings.ToLower(id.CodeID) + "/executable"
	case FileELFDebug:
		return strings.ToLower(id.CodeID) + "/debuginfo"
	}
	return ""
}

// unifiedID is the key of the unified layout: the lowercase Breakpad id for
// Windows files (code ids are not unique enough without the file name), the
// UUID for Mach-O and Wasm, the build id for ELF.
func unifiedID(t FileType, id FileID) string {
	switch t {
	case FileSourceBundle, FileBreakpad:
		switch id.Object {
		case ObjectELF:
			t = FileELFCode
		case ObjectMachO:
			t = FileMachCode
		case ObjectPE:
			t = FilePE
		case ObjectWasm:
			t = FileWasmCode
		default:
			return ""
		}
	}
	switch t {
	case FilePE, FilePDB:
		if id.DebugID.IsZero() {
			return ""
		}
		return strings.ToLower(breakpadID(id))
	case FileMachCode, FileMachDebug, FileWasmCode, FileWasmDebug:
		if id.CodeID != "" {
			return strings.ToLower(id.CodeID)
		}
		if id.DebugID.IsZero() {
			return ""
		}
		return guidHex(id)
	case FileELFCode, FileELFDebug:
		return strings.ToLower(id.CodeID)
	}
	return ""
}

func unifiedPath(t FileType, id FileID) string {
	var suffix string
	switch t {
	case FileELFCode, FileMachCode, FilePE, FileWasmCode:
		suffix = "executable"
	case FileELFDebug, FileMachDebug, FilePDB, FileWasmDebug:
		suffix = "debuginfo"
	case FileBreakpad:
		suffix = "breakpad"
	case FileSourceBundle:
		suffix = "sourcebundle"
	default:
		return ""
	}
	k := unifiedID(t, id)
	if len(k) < 2 {
		return ""
	}
	return k[:2] + "/" + k[2:] + "/" + suffix
}

func slashSymbolsPath(id FileID) string {
	name := basename(id.CodeFile)
	if name == "" || id.CodeID == "" {
		return ""
	}
	return name + "/" + strings.ToLower(id.CodeID) + "/symbols"
}

// Paths returns the relative paths under which a store with the given
// layout keeps a file of type t for id, lowest priority first (the
// compressed ".pd_"/".ex_" spelling of a PDB or PE comes before the plain
// one). It returns nothing when id lacks what the layout needs.
func Paths(l DirectoryLayout, t FileType, id FileID) []string {
	var ps []string
	switch l.Type {
	case LayoutNative:
		ps = nativePaths(t, id)
	case LayoutSymstore:
		ps = nonEmpty(symstorePath(t, id, false))
	case LayoutSymstoreIndex2:
		ps = nonEmpty(symstoreIndex2Path(t, id))
	case LayoutSSQP:
		ps = nonEmpty(symstorePath(t, id, true))
	case LayoutDebuginfod:
		ps = nonEmpty(debuginfodPath(t, id))
	case LayoutUnified:
		ps = nonEmpty(unifiedPath(t, id))
	case LayoutSlashSymbols:
		ps = nonEmpty(slashSymbolsPath(id))
	case LayoutBreakpad:
		if t == FileBreakpad {
			ps = nonEmpty(breakpadPath(id))
		}
	}
	for i, p := range ps {
		switch l.Casing {
		case CaseLower:
			ps[i] = strings.ToLower(p)
		case CaseUpper:
			ps[i] = strings.ToUpper(p)
		}
	}
	if t == FilePDB || t == FilePE {
		out := make([]string, 0, 2*len(ps))
		for _, p := range ps {
			out = append(out, p[:len(p)-1]+"_", p)
		}
		ps = out
	}
	if len(ps) == 0 {
		return nil
	}
	return ps
}
