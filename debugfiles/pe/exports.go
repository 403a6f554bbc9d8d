package pe

import (
	"encoding/binary"
	"fmt"
)

// exportDirSize is the size of IMAGE_EXPORT_DIRECTORY.
const exportDirSize = 40

// maxName bounds an exported or DLL name.
const maxName = 4096

// Export is one entry of the export address table.
type Export struct {
	// Name is the exported name, "" for an export by ordinal only.
	Name string
	// Ordinal is the biased ordinal (the ordinal base plus the index).
	Ordinal uint32
	// RVA is the address of the exported code or data; for a forwarder,
	// of the forwarder string.
	RVA uint32
	// Forwarder is "DLL.Name" or "DLL.#ordinal" when the export forwards
	// to another DLL; such an export has no code in this image.
	Forwarder string
}

// Exports returns the export address table in ordinal order, without the
// empty slots (RVA 0), with names from the name table. An image without an
// export directory has none.
func (o *Object) Exports() ([]Export, error) {
	o.readExports()
	return o.exports, o.expErr
}

// DLLName is the name the export directory records for the image.
func (o *Object) DLLName() string {
	o.readExports()
	return o.dllName
}

func (o *Object) readExports() {
	o.expOnce.Do(func() { o.exports, o.dllName, o.expErr = o.decodeExports() })
}

func (o *Object) decodeExports() ([]Export, string, error) {
	d := dataDirectory(o.f, dirExport)
	if d.VirtualAddress == 0 || d.Size == 0 {
		return nil, "", nil
	}
	hdr, err := o.readRVA(d.VirtualAddress, exportDirSize)
	if err != nil {
		return nil, "", fmt.Errorf("pe: export directory: %w", err)
	}
	b := buf{b: hdr}
	b.bytes(12) // Characteristics, TimeDateStamp, MajorVersion, MinorVersion
	nameRVA := b.u32()
	base := b.u32()
	nFuncs := b.u32()
	nNames := b.u32()
	funcsRVA := b.u32()
	namesRVA := b.u32()
	ordsRVA := b.u32()
	dll, _ := o.cstring(nameRVA, maxName)

	// Each table must lie in the file: that bounds every count by the
	// file size before anything is allocated for it.
	funcs, err := o.readRVA(funcsRVA, uint64(nFuncs)*4)
	if err != nil {
		return nil, dll, fmt.Errorf("pe: export address table: %w", err)
	}
	names, err := o.readRVA(namesRVA, uint64(nNames)*4)
	if err != nil && nNames > 0 {
		return nil, dll, fmt.Errorf("pe: export name table: %w", err)
	}
	ords, err := o.readRVA(ordsRVA, uint64(nNames)*2)
	if err != nil && nNames > 0 {
		return nil, dll, fmt.Errorf("pe: export ordinal table: %w", err)
	}
	nameOf := make(map[uint32]string, nNames)
	for i := range nNames {
		idx := uint32(binary.LittleEndian.Uint16(ords[2*i:]))
		if idx >= nFuncs {
			continue
		}
		if _, dup := nameOf[idx]; dup {
			continue
		}
		n, err := o.cstring(binary.LittleEndian.Uint32(names[4*i:]), maxName)
		if err != nil {
			continue
		}
		nameOf[idx] = n
	}
	var out []Export
	for i := range nFuncs {
		rva := binary.LittleEndian.Uint32(funcs[4*i:])
		if rva == 0 {
			continue
		}
		e := Export{Name: nameOf[i], Ordinal: base + i, RVA: rva}
		// An address inside the export directory is a forwarder string.
		if rva >= d.VirtualAddress && uint64(rva) < uint64(d.VirtualAddress)+uint64(d.Size) {
			e.Forwarder, _ = o.cstring(rva, maxName)
			if e.Forwarder == "" {
				e.Forwarder = "?"
			}
		}
		out = append(out, e)
	}
	return out, dll, nil
}
