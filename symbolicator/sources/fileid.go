package sources

import (
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
)

// ObjectType is the container family of the module a file is wanted for. It
// decides which path conventions apply when a file type alone is ambiguous
// (Breakpad symbols, source bundles).
type ObjectType uint8

// Object types, named as the Symbolicator API spells them.
const (
	ObjectUnknown ObjectType = iota
	ObjectELF
	ObjectMachO
	ObjectPE
	ObjectWasm
)

var objectNames = [...]string{"unknown", "elf", "macho", "pe", "wasm"}

// String is the API name ("elf", "macho", "pe", ...).
func (o ObjectType) String() string {
	if int(o) < len(objectNames) {
		return objectNames[o]
	}
	return fmt.Sprintf("object(%d)", o)
}

// ParseObjectType reads an API object type; "pdb" and "breakpad" modules
// belong to PE and unknown families respectively.
func ParseObjectType(s string) ObjectType {
	switch strings.ToLower(s) {
	case "elf":
		return ObjectELF
	case "macho":
		return ObjectMachO
	case "pe", "pdb":
		return ObjectPE
	case "wasm":
		return ObjectWasm
	}
	return ObjectUnknown
}

// FileType is one kind of file a source can hold for a module.
type FileType uint8

// File types a lookup can ask for.
const (
	FilePE FileType = iota + 1
	FilePDB
	FileMachCode
	FileMachDebug
	FileELFCode
	FileELFDebug
	FileWasmCode
	FileWasmDebug
	FileBreakpad
	FileSourceBundle
)

var fileTypeNames = map[FileType]string{
	FilePE: "pe", FilePDB: "pdb", FileMachCode: "mach_code", FileMachDebug: "mach_debug",
	FileELFCode: "elf_code", FileELFDebug: "elf_debug", FileWasmCode: "wasm_code",
	FileWasmDebug: "wasm_debug", FileBreakpad: "breakpad", FileSourceBundle: "sourcebundle",
}

// String is the name used in source filters ("pe", "elf_debug", ...).
func (t FileType) String() string {
	if s, ok := fileTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("filetype(%d)", t)
}

// ParseFileType reads a filter's file type name.
func ParseFileType(s string) (FileType, error) {
	for t, n := range fileTypeNames {
		if n == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("sources: unknown file type %q", s)
}

// FileTypesFor lists the file types worth asking for a module of the given
// object type, debug files first because they symbolicate best.
func FileTypesFor(o ObjectType) []FileType {
	switch o {
	case ObjectELF:
		return []FileType{FileELFDebug, FileELFCode, FileBreakpad, FileSourceBundle}
	case ObjectMachO:
		return []FileType{FileMachDebug, FileMachCode, FileBreakpad, FileSourceBundle}
	case ObjectPE:
		return []FileType{FilePDB, FilePE, FileBreakpad, FileSourceBundle}
	case ObjectWasm:
		return []FileType{FileWasmDebug, FileWasmCode, FileSourceBundle}
	}
	return []FileType{FileBreakpad}
}

// FileID identifies the module a file is wanted for, as a minidump or a
// symbolication request describes it. Any field may be empty; layouts that
// need a missing field produce no path.
type FileID struct {
	DebugID   debugid.ID
	CodeID    string
	DebugFile string
	CodeFile  string
	Object    ObjectType
	Arch      string
}

// basename is the last component of a path written with either separator,
// or "" when nothing usable is left. Names that could climb out of a symbol
// store directory are refused, since they are used verbatim in paths.
func basename(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		p = p[i+1:]
	}
	if p == "" || p == "." || p == ".." {
		return ""
	}
	return p
}

// Casing is how a source's paths are cased, for stores on case-sensitive
// file systems that were filled with one fixed casing.
type Casing uint8

// Casings.
const (
	CaseDefault Casing = iota
	CaseLower
	CaseUpper
)

// ParseCasing reads "default", "lowercase" or "uppercase".
func ParseCasing(s string) (Casing, error) {
	switch s {
	case "", "default":
		return CaseDefault, nil
	case "lowercase":
		return CaseLower, nil
	case "uppercase":
		return CaseUpper, nil
	}
	return 0, fmt.Errorf("sources: unknown casing %q", s)
}

// Layout is a symbol store's directory convention.
type Layout uint8

// Layouts as named in source configuration.
const (
	LayoutNative Layout = iota
	LayoutSymstore
	LayoutSymstoreIndex2
	LayoutSSQP
	LayoutDebuginfod
	LayoutUnified
	LayoutSlashSymbols
	// LayoutBreakpad is a Breakpad symbol store
	// (name/ID/name.sym) holding nothing but .sym files.
	LayoutBreakpad
)

var layoutNames = [...]string{"native", "symstore", "symstore_index2", "ssqp", "debuginfod", "unified", "slashsymbols", "breakpad"}

// String is the configuration name of the layout.
func (l Layout) String() string {
	if int(l) < len(layoutNames) {
		return layoutNames[l]
	}
	return fmt.Sprintf("layout(%d)", l)
}

// ParseLayout reads a layout name.
func ParseLayout(s string) (Layout, error) {
	for i, n := range layoutNames {
		if n == s {
			return Layout(i), nil
		}
	}
	return 0, fmt.Errorf("sources: unknown layout %q", s)
}

// DirectoryLayout is a layout together with its casing rule.
type DirectoryLayout struct {
	Type   Layout
	Casing Casing
}
