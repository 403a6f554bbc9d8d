package minidump

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// VersionInfo is VS_FIXEDFILEINFO as embedded in MINIDUMP_MODULE.
type VersionInfo struct {
	Signature        uint32 `json:"signature"`
	StructVersion    uint32 `json:"struct_version"`
	FileVersionHi    uint32 `json:"file_version_hi"`
	FileVersionLo    uint32 `json:"file_version_lo"`
	ProductVersionHi uint32 `json:"product_version_hi"`
	ProductVersionLo uint32 `json:"product_version_lo"`
	FileFlagsMask    uint32 `json:"file_flags_mask"`
	FileFlags        uint32 `json:"file_flags"`
	FileOS           uint32 `json:"file_os"`
	FileType         uint32 `json:"file_type"`
	FileSubtype      uint32 `json:"file_subtype"`
	FileDateHi       uint32 `json:"file_date_hi"`
	FileDateLo       uint32 `json:"file_date_lo"`
}

// fixedFileInfoSignature marks a VS_FIXEDFILEINFO that carries a version.
const fixedFileInfoSignature = 0xfeef04bd

// Version formats the file version as "a.b.c.d", or "" when the record does
// not carry one (Breakpad's rule: signature and struct version must match).
func (v VersionInfo) Version() string {
	if v.Signature != fixedFileInfoSignature || v.StructVersion&0x10000 == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d.%d", v.FileVersionHi>>16, v.FileVersionHi&0xffff, v.FileVersionLo>>16, v.FileVersionLo&0xffff)
}

// CodeView signatures.
const (
	CVSignaturePDB70 = 0x53445352 // "RSDS"
	CVSignaturePDB20 = 0x3031424e // "NB10"
	CVSignatureELF   = 0x4270454c // "BpEL": Breakpad's ELF build id record
)

// CodeView is a module's CodeView record: the identity of its debug file.
type CodeView struct {
	Signature uint32 `json:"signature"`
	// GUID and Age identify a PDB 7.0 file (RSDS).
	GUID GUID   `json:"guid"`
	Age  uint32 `json:"age"`
	// Offset and Timestamp identify a PDB 2.0 file (NB10), with Age.
	Offset    uint32 `json:"offset"`
	Timestamp uint32 `json:"timestamp"`
	// PDBFileName is the debug file named by RSDS and NB10 records.
	PDBFileName string `json:"pdb_file_name"`
	// BuildID is the ELF GNU build id (BpEL records).
	BuildID []byte `json:"build_id"`
	// Raw is the whole record, for signatures Cairn does not know.
	Raw []byte `json:"raw"`
}

// MiscRecord is IMAGE_DEBUG_MISC: an old-style debug file name.
type MiscRecord struct {
	DataType uint32 `json:"data_type"`
	Length   uint32 `json:"length"`
	Unicode  bool   `json:"unicode"`
	Name     string `json:"name"`
}

// Module is MINIDUMP_MODULE with its name and debug records decoded.
type Module struct {
	BaseOfImage   uint64      `json:"base_of_image"`
	SizeOfImage   uint32      `json:"size_of_image"`
	Checksum      uint32      `json:"checksum"`
	TimeDateStamp uint32      `json:"time_date_stamp"`
	ModuleNameRVA uint32      `json:"module_name_rva"`
	VersionInfo   VersionInfo `json:"version_info"`
	CVRecordLoc   Location    `json:"cv_record_loc"`
	MiscRecordLoc Location    `json:"misc_record_loc"`

	// Name is the code file: the path of the loaded image.
	Name string `json:"name"`
	// CodeView is nil when the module has none or it could not be read.
	CodeView *CodeView `json:"code_view"`
	// Misc is nil when the module has none or it could not be read.
	Misc *MiscRecord `json:"misc"`
	// Problems lists what could not be decoded for this module; the rest of
	// the module is still valid.
	Problems []string `json:"problems"`
}

const moduleSize = 108

// Modules decodes the ModuleList stream.
func (f *File) Modules() ([]Module, error) {
	return f.moduleList(ModuleListStream)
}

func (f *File) moduleList(t StreamType) ([]Module, error) {
	d, err := f.stream(t)
	if err != nil {
		return nil, err
	}
	n := listEntries(&d, moduleSize)
	if d.err != nil {
		return nil, d.err
	}
	mods := make([]Module, n)
	budget := newCopyBudget(f)
	for i := range mods {
		m := &mods[i]
		m.BaseOfImage, m.SizeOfImage, m.Checksum, m.TimeDateStamp, m.ModuleNameRVA = d.u64(), d.u32(), d.u32(), d.u32(), d.u32()
		m.VersionInfo = VersionInfo{d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()}
		m.CVRecordLoc, m.MiscRecordLoc = d.location(), d.location()
		d.skip(16) // Reserved0, Reserved1
		if d.err != nil {
			return nil, d.err
		}
		f.moduleAux(m, budget)
	}
	return mods, nil
}

// moduleAux reads what a module points at; failures become Problems so one
// damaged module does not hide the others.
func (f *File) moduleAux(m *Module, budget *copyBudget) {
	var err error
	if m.Name, err = budget.string(f, m.ModuleNameRVA); err != nil {
		m.Problems = append(m.Problems, "name: "+err.Error())
	}
	if m.CVRecordLoc.DataSize != 0 {
		if err := budget.spend("codeview record", int64(m.CVRecordLoc.RVA), uint64(m.CVRecordLoc.DataSize)); err != nil {
			m.Problems = append(m.Problems, "codeview: "+err.Error())
		} else if m.CodeView, err = f.codeView(m.CVRecordLoc); err != nil {
			m.Problems = append(m.Problems, "codeview: "+err.Error())
		}
	}
	if m.MiscRecordLoc.DataSize != 0 {
		if m.Misc, err = f.miscRecord(m.MiscRecordLoc); err != nil {
			m.Problems = append(m.Problems, "misc record: "+err.Error())
		}
	}
}

func (f *File) codeView(l Location) (*CodeView, error) {
	b, err := f.locationBytes("codeview record", l)
	if err != nil {
		return nil, err
	}
	var d decoder
	// Copies, so the record outlives the mapping of a File opened with Open.
	b = bytes.Clone(b)
	d = newDecoder("codeview record", int64(l.RVA), b)
	cv := &CodeView{Signature: d.u32(), Raw: b}
	switch cv.Signature {
	case CVSignaturePDB70:
		cv.GUID = d.guid()
		cv.Age = d.u32()
		cv.PDBFileName = cstring(d.take(d.remaining()))
	case CVSignaturePDB20:
		cv.Offset, cv.Timestamp, cv.Age = d.u32(), d.u32(), d.u32()
		cv.PDBFileName = cstring(d.take(d.remaining()))
	case CVSignatureELF:
		cv.BuildID = d.take(d.remaining())
	}
	if d.err != nil {
		return nil, d.err
	}
	return cv, nil
}

func (f *File) miscRecord(l Location) (*MiscRecord, error) {
	b, err := f.locationBytes("misc record", l)
	if err != nil {
		return nil, err
	}
	d := newDecoder("misc record", int64(l.RVA), b)
	m := &MiscRecord{DataType: d.u32(), Length: d.u32(), Unicode: d.u8() != 0}
	d.skip(3)
	data := d.take(d.remaining())
	if d.err != nil {
		return nil, d.err
	}
	if m.Unicode {
		m.Name = utf16String(data)
	} else {
		m.Name = cstring(data)
	}
	return m, nil
}

// hasDebugInfo mirrors Breakpad: a module whose CodeView or misc record is
// present but unreadable yields no debug file and no identifiers.
func (m *Module) hasDebugInfo() bool {
	return (m.CVRecordLoc.DataSize == 0 || m.CodeView != nil) && (m.MiscRecordLoc.DataSize == 0 || m.Misc != nil)
}

// DebugFile is the name of the module's debug file: the PDB for Windows
// modules, the module itself for ELF, else the misc record's name.
func (m *Module) DebugFile() string {
	if !m.hasDebugInfo() {
		return ""
	}
	var file string
	if cv := m.CodeView; cv != nil {
		switch cv.Signature {
		case CVSignaturePDB70, CVSignaturePDB20:
			file = cv.PDBFileName
		case CVSignatureELF:
			file = m.Name
		}
	}
	if file == "" && m.Misc != nil {
		file = m.Misc.Name
	}
	return file
}

// debugGUIDAge returns the GUID and age the debug identifier is made of.
func (m *Module) debugGUIDAge() (g GUID, age uint32, ok bool) {
	cv := m.CodeView
	if cv == nil || !m.hasDebugInfo() {
		return GUID{}, 0, false
	}
	switch cv.Signature {
	case CVSignaturePDB70:
		return cv.GUID, cv.Age, true
	case CVSignatureELF:
		// The first 16 bytes of the build id, zero-padded, read as a
		// little-endian GUID: how Breakpad and Sentry name ELF debug files.
		var raw [16]byte
		copy(raw[:], cv.BuildID)
		d := newDecoder("build id", 0, raw[:])
		return d.guid(), 0, true
	}
	return GUID{}, 0, false
}

// BreakpadDebugID is the debug identifier in Breakpad's form: 32 uppercase
// hex digits of the GUID followed by the age in hex (33+ characters), or the
// NB10 signature and age. It is "" when the module has no usable record.
func (m *Module) BreakpadDebugID() string {
	if g, age, ok := m.debugGUIDAge(); ok {
		b := g.breakpadHex(make([]byte, 0, 40))
		return unsafeString(appendHexMin(b, uint64(age), lowerHex))
	}
	if cv := m.CodeView; cv != nil && cv.Signature == CVSignaturePDB20 && m.hasDebugInfo() {
		return fmt.Sprintf("%08X%x", cv.Timestamp, cv.Age)
	}
	return ""
}

// DebugID is the debug identifier in Sentry's form: the lowercase dashed
// GUID, followed by "-age" in hex when the age is not zero.
func (m *Module) DebugID() string {
	if g, age, ok := m.debugGUIDAge(); ok {
		if age == 0 {
			return g.String()
		}
		return g.String() + "-" + unsafeString(appendHexMin(nil, uint64(age), lowerHex))
	}
	if cv := m.CodeView; cv != nil && cv.Signature == CVSignaturePDB20 && m.hasDebugInfo() {
		// Sentry reads NB10 signatures as the first GUID field.
		g := GUID{Data1: cv.Timestamp}
		if cv.Age == 0 {
			return g.String()
		}
		return fmt.Sprintf("%s-%x", g, cv.Age)
	}
	return ""
}

// CodeID is the code identifier as Sentry stores it, always lowercase: for
// PE images the TimeDateStamp ("%08x") followed by SizeOfImage ("%x"); for
// ELF the whole build id in hex; for Mach-O the UUID in hex without dashes.
func (m *Module) CodeID(p PlatformID) string {
	if !m.hasDebugInfo() {
		return ""
	}
	cv := m.CodeView
	apple := p == PlatformMacOS || p == PlatformIOS
	switch {
	case cv != nil && cv.Signature == CVSignatureELF:
		return hex.EncodeToString(cv.BuildID)
	case apple && cv != nil && cv.Signature == CVSignaturePDB70:
		// Crashpad stores the Mach-O LC_UUID as the RSDS GUID.
		return strings.ReplaceAll(cv.GUID.String(), "-", "")
	case p.IsWindows(), cv != nil && (cv.Signature == CVSignaturePDB70 || cv.Signature == CVSignaturePDB20) && m.TimeDateStamp != 0:
		// PE images, including Windows modules loaded under Wine or
		// written by cross-platform tools with an unknown platform.
		return m.peCodeID(lowerHex)
	}
	return ""
}

// BreakpadCodeID is the code identifier exactly as Breakpad's processor
// reports it: PE "%08X%x", the ELF build id on Linux, Android and Fuchsia,
// and the placeholder "id" for Apple and other platforms.
func (m *Module) BreakpadCodeID(p PlatformID) string {
	if !m.hasDebugInfo() {
		return ""
	}
	switch p {
	case PlatformWin32NT, PlatformWin32Windows:
		return m.peCodeID(upperHex)
	case PlatformLinux, PlatformAndroid, PlatformFuchsia:
		if cv := m.CodeView; cv != nil && cv.Signature == CVSignatureELF {
			return hex.EncodeToString(cv.BuildID)
		}
		return "id"
	case PlatformMacOS, PlatformIOS, PlatformSolaris, PlatformNaCl, PlatformPS3:
		return "id"
	}
	return ""
}

// peCodeID is the symbol-server code id of a PE image: "%08X%x" of the
// TimeDateStamp and SizeOfImage; Sentry stores it lowercased.
func (m *Module) peCodeID(digits string) string {
	b := appendHex(make([]byte, 0, 16), uint64(m.TimeDateStamp), 8, digits)
	return unsafeString(appendHexMin(b, uint64(m.SizeOfImage), lowerHex))
}

// End is the first address past the module's image.
func (m *Module) End() uint64 { return m.BaseOfImage + uint64(m.SizeOfImage) }

// UnloadedModule is MINIDUMP_UNLOADED_MODULE.
type UnloadedModule struct {
	BaseOfImage   uint64 `json:"base_of_image"`
	SizeOfImage   uint32 `json:"size_of_image"`
	Checksum      uint32 `json:"checksum"`
	TimeDateStamp uint32 `json:"time_date_stamp"`
	ModuleNameRVA uint32 `json:"module_name_rva"`
	Name          string `json:"name"`
}

// UnloadedModules decodes the UnloadedModuleList stream, whose header gives
// its own header and entry sizes so newer writers can extend the entries.
func (f *File) UnloadedModules() ([]UnloadedModule, error) {
	d, err := f.stream(UnloadedModuleListStream)
	if err != nil {
		return nil, err
	}
	hdrSize, entrySize, count := d.u32(), d.u32(), d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if hdrSize < 12 || entrySize < 24 {
		return nil, formatErr("unloaded module list", d.base, "header size %d / entry size %d too small", hdrSize, entrySize)
	}
	d.off = 0
	d.skip(int(hdrSize))
	if uint64(count)*uint64(entrySize) > uint64(d.remaining()) {
		d.fail(formatCount(count, int(entrySize), d.remaining()))
	}
	if d.err != nil {
		return nil, d.err
	}
	mods := make([]UnloadedModule, count)
	budget := newCopyBudget(f)
	for i := range mods {
		e := newDecoder("unloaded module", d.base+int64(d.off), d.take(int(entrySize)))
		mods[i] = UnloadedModule{BaseOfImage: e.u64(), SizeOfImage: e.u32(), Checksum: e.u32(), TimeDateStamp: e.u32(), ModuleNameRVA: e.u32()}
		mods[i].Name, _ = budget.string(f, mods[i].ModuleNameRVA)
	}
	return mods, nil
}
