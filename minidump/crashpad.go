package minidump

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// CrashpadInfo is Crashpad's MinidumpCrashpadInfo stream (CrashpadInfoStream):
// report and client identifiers plus the annotations the process and its
// modules registered with Crashpad.
type CrashpadInfo struct {
	Version  uint32 `json:"version"`
	ReportID GUID   `json:"report_id"`
	ClientID GUID   `json:"client_id"`
	// SimpleAnnotations are the process-wide string pairs, in file order.
	// Breakpad keeps the first of repeated keys; all are kept here.
	SimpleAnnotations []KeyValue `json:"simple_annotations"`
	// Modules carries per-module annotations, linked to the module list by
	// index.
	Modules []CrashpadModuleInfo `json:"modules"`
	// AddressMask is the pointer-authentication mask of arm64 processes
	// (zero when the writer predates the field, as in older dumps).
	AddressMask uint64 `json:"address_mask"`
}

// CrashpadModuleInfo is one MinidumpModuleCrashpadInfo with its link.
type CrashpadModuleInfo struct {
	// ModuleIndex indexes the ModuleList stream's modules.
	ModuleIndex uint32 `json:"module_index"`
	Version     uint32 `json:"version"`
	// ListAnnotations are free-form strings (ModuleSnapshot::AnnotationsVector).
	ListAnnotations []string `json:"list_annotations"`
	// SimpleAnnotations are string pairs (ModuleSnapshot::AnnotationsSimpleMap).
	SimpleAnnotations []KeyValue `json:"simple_annotations"`
	// Annotations are typed annotation objects (crashpad::Annotation).
	Annotations []CrashpadAnnotation `json:"annotations"`
}

// Crashpad annotation types (crashpad::Annotation::Type).
const (
	CrashpadAnnotationInvalid     = 0
	CrashpadAnnotationString      = 1
	CrashpadAnnotationUserDefined = 0x8000 // first type applications may define
)

// CrashpadAnnotation is one MinidumpAnnotation: a named, typed byte value.
type CrashpadAnnotation struct {
	Name string `json:"name"`
	Type uint16 `json:"type"`
	// Value is a copy of the annotation's bytes (MinidumpByteArray data).
	Value []byte `json:"value"`
}

// String formats the value as Breakpad's minidump_dump prints it: the text
// of string annotations, uppercase hex digits for every other type.
func (a CrashpadAnnotation) String() string {
	if a.Type == CrashpadAnnotationString {
		return string(a.Value)
	}
	return strings.ToUpper(fmt.Sprintf("%x", a.Value))
}

// Sizes of the fixed parts of Crashpad's structures.
const (
	crashpadInfoMinSize  = 4 + 16 + 16 + 8 + 8 // through module_list
	crashpadModuleV1Size = 4 + 8 + 8           // version, list and simple annotations
	crashpadModuleSize   = crashpadModuleV1Size + 8
)

// CrashpadInfo decodes the CrashpadInfoStream. Like Breakpad, it accepts
// streams that end before the newer reserved and address_mask fields, and
// module records that end before annotation_objects (older Crashpad).
func (f *File) CrashpadInfo() (*CrashpadInfo, error) {
	d, err := f.stream(CrashpadInfoStream)
	if err != nil {
		return nil, err
	}
	if d.remaining() < crashpadInfoMinSize {
		return nil, formatErr(d.what, d.base, "%d bytes is shorter than the %d-byte MinidumpCrashpadInfo", d.remaining(), crashpadInfoMinSize)
	}
	ci := &CrashpadInfo{Version: d.u32(), ReportID: d.guid(), ClientID: d.guid()}
	simple, modules := d.location(), d.location()
	if d.remaining() >= 4+8 {
		d.skip(4) // reserved
		ci.AddressMask = d.u64()
	}
	if d.err != nil {
		return nil, d.err
	}
	budget := newCopyBudget(f)
	// A zero data_size marks an absent list, as Breakpad reads it.
	if simple.DataSize != 0 {
		if ci.SimpleAnnotations, err = f.crashpadDictionary(simple.RVA, budget); err != nil {
			return ci, err
		}
	}
	if modules.DataSize == 0 {
		return ci, nil
	}
	const linkSize = 4 + 8
	links, count, err := f.crashpadList("crashpad module list", modules.RVA, linkSize)
	if err != nil {
		return ci, err
	}
	ci.Modules = make([]CrashpadModuleInfo, 0, count)
	for range count {
		m := CrashpadModuleInfo{ModuleIndex: links.u32()}
		loc := links.location()
		if links.err != nil {
			return ci, links.err
		}
		if err := f.crashpadModule(&m, loc, budget); err != nil {
			return ci, err
		}
		ci.Modules = append(ci.Modules, m)
	}
	return ci, nil
}

// crashpadModule decodes one MinidumpModuleCrashpadInfo into m.
func (f *File) crashpadModule(m *CrashpadModuleInfo, loc Location, budget *copyBudget) error {
	const what = "crashpad module info"
	if loc.DataSize < crashpadModuleV1Size {
		return formatErr(what, int64(loc.RVA), "%d bytes is shorter than the %d-byte version 1 record", loc.DataSize, crashpadModuleV1Size)
	}
	n := min(loc.DataSize, crashpadModuleSize)
	b, err := f.bytes(what, int64(loc.RVA), uint64(n))
	if err != nil {
		return err
	}
	d := newDecoder(what, int64(loc.RVA), b)
	m.Version = d.u32()
	list, simple := d.location(), d.location()
	var objects Location
	if d.remaining() >= 8 {
		objects = d.location()
	}
	if d.err != nil {
		return d.err
	}
	if list.DataSize != 0 {
		rvas, count, err := f.crashpadList("crashpad list annotations", list.RVA, 4)
		if err != nil {
			return err
		}
		m.ListAnnotations = make([]string, 0, count)
		for range count {
			rva := rvas.u32()
			if rvas.err != nil {
				return rvas.err
			}
			s, err := f.crashpadUTF8(rva, budget)
			if err != nil {
				return err
			}
			m.ListAnnotations = append(m.ListAnnotations, s)
		}
	}
	if simple.DataSize != 0 {
		if m.SimpleAnnotations, err = f.crashpadDictionary(simple.RVA, budget); err != nil {
			return err
		}
	}
	if objects.DataSize != 0 {
		if m.Annotations, err = f.crashpadAnnotations(objects.RVA, budget); err != nil {
			return err
		}
	}
	return nil
}

// crashpadList reads the u32 count at rva and returns a decoder over the
// count entries of entrySize bytes that follow it. The entries' total size
// is checked against the file before anything is sized by the count.
func (f *File) crashpadList(what string, rva uint32, entrySize int) (decoder, int, error) {
	b, err := f.bytes(what, int64(rva), 4)
	if err != nil {
		return decoder{}, 0, err
	}
	cd := newDecoder(what, int64(rva), b)
	count := cd.u32()
	off := int64(rva) + 4
	need := uint64(count) * uint64(entrySize)
	if need > uint64(f.size) {
		return decoder{}, 0, formatErr(what, off, "%d %d-byte entries do not fit in a %d-byte file", count, entrySize, f.size)
	}
	b, err = f.bytes(what, off, need)
	if err != nil {
		return decoder{}, 0, err
	}
	return newDecoder(what, off, b), int(count), nil
}

// crashpadDictionary reads a MinidumpSimpleStringDictionary at rva.
func (f *File) crashpadDictionary(rva uint32, budget *copyBudget) ([]KeyValue, error) {
	d, count, err := f.crashpadList("crashpad dictionary", rva, 8)
	if err != nil {
		return nil, err
	}
	out := make([]KeyValue, 0, count)
	for range count {
		k, v := d.u32(), d.u32()
		if d.err != nil {
			return nil, d.err
		}
		key, err := f.crashpadUTF8(k, budget)
		if err != nil {
			return nil, err
		}
		value, err := f.crashpadUTF8(v, budget)
		if err != nil {
			return nil, err
		}
		out = append(out, KeyValue{Key: key, Value: value})
	}
	return out, nil
}

// crashpadAnnotations reads a MinidumpAnnotationList at rva.
func (f *File) crashpadAnnotations(rva uint32, budget *copyBudget) ([]CrashpadAnnotation, error) {
	const entrySize = 4 + 2 + 2 + 4 // name, type, reserved, value
	d, count, err := f.crashpadList("crashpad annotation list", rva, entrySize)
	if err != nil {
		return nil, err
	}
	out := make([]CrashpadAnnotation, 0, count)
	for range count {
		nameRVA, typ := d.u32(), d.u16()
		d.skip(2)
		valueRVA := d.u32()
		if d.err != nil {
			return nil, d.err
		}
		name, err := f.crashpadUTF8(nameRVA, budget)
		if err != nil {
			return nil, err
		}
		value, err := f.crashpadBytes("crashpad annotation value", valueRVA, budget)
		if err != nil {
			return nil, err
		}
		out = append(out, CrashpadAnnotation{Name: name, Type: typ, Value: bytes.Clone(value)})
	}
	return out, nil
}

// crashpadBytes reads a u32-length-prefixed byte run (MinidumpUTF8String,
// MinidumpByteArray) at rva, charging its length to the budget. The result
// aliases the file's bytes when it is memory-resident; callers copy it.
func (f *File) crashpadBytes(what string, rva uint32, budget *copyBudget) ([]byte, error) {
	b, err := f.bytes(what, int64(rva), 4)
	if err != nil {
		return nil, err
	}
	nd := newDecoder(what, int64(rva), b)
	n := nd.u32()
	if err := budget.spend(what, int64(rva), uint64(n)); err != nil {
		return nil, err
	}
	return f.bytes(what, int64(rva)+4, uint64(n))
}

// crashpadUTF8 reads a MinidumpUTF8String at rva. Its length excludes the
// terminating NUL Crashpad writes after the bytes, so that NUL is not read.
func (f *File) crashpadUTF8(rva uint32, budget *copyBudget) (string, error) {
	b, err := f.crashpadBytes("crashpad string", rva, budget)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// MarshalJSON shows the value as text for string annotations and as hex
// otherwise, as minidump_dump does, instead of base64.
func (a CrashpadAnnotation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name  string `json:"name"`
		Type  uint16 `json:"type"`
		Value string `json:"value"`
	}{a.Name, a.Type, a.String()})
}
