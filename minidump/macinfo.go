package minidump

import (
	"bytes"
	"fmt"
)

// MacCrashInfoRecord is one record of Mozilla's macOS crash info stream
// (MozMacOSCrashInfo, MDRawMacCrashInfoRecord): the contents of a module's
// __DATA,__crash_info section (<CrashReporterClient.h>'s
// crashreporter_annotations_t), with the strings it pointed at inlined.
// These carry the messages of abort(), assertion failures and Swift
// fatalError() that macOS itself would show in its crash reports.
type MacCrashInfoRecord struct {
	StreamType uint64 `json:"stream_type"` // repeats MozMacOSCrashInfo
	Version    uint64 `json:"version"`
	// Thread, DialogMode and the strings are present from version 4 on.
	Thread     uint64 `json:"thread"`
	DialogMode uint64 `json:"dialog_mode"`
	// AbortCause is present from version 5 on and zero before.
	AbortCause      uint64 `json:"abort_cause"`
	ModulePath      string `json:"module_path"`
	Message         string `json:"message"`
	SignatureString string `json:"signature_string"`
	Backtrace       string `json:"backtrace"`
	Message2        string `json:"message2"`
}

// macCrashInfosMax is MAC_CRASH_INFOS_MAX: the fixed length of the header's
// record array.
const macCrashInfosMax = 20

// MacCrashInfo decodes the MozMacOSCrashInfo stream. Its header gives the
// record count, a record location for each, and record_start_size: the
// offset of the inlined strings within every record, which lets newer
// writers add fixed fields without breaking this reader.
func (f *File) MacCrashInfo() ([]MacCrashInfoRecord, error) {
	d, err := f.stream(MozMacOSCrashInfo)
	if err != nil {
		return nil, err
	}
	d.u32() // stream_type, repeated
	count, start := d.u32(), d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if count > macCrashInfosMax {
		return nil, formatErr(d.what, d.base+4, "record count %d exceeds the %d-entry record array", count, macCrashInfosMax)
	}
	// Only the locations in use are required, so a writer that trims the
	// unused tail of the array is still read.
	locs := make([]Location, count)
	for i := range locs {
		locs[i] = d.location()
	}
	if d.err != nil {
		return nil, d.err
	}
	out := make([]MacCrashInfoRecord, 0, count)
	for i, loc := range locs {
		r, err := f.macCrashInfoRecord(loc, start)
		if err != nil {
			return out, fmt.Errorf("minidump: mac crash info record %d: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (f *File) macCrashInfoRecord(loc Location, start uint32) (MacCrashInfoRecord, error) {
	const what = "mac crash info record"
	var r MacCrashInfoRecord
	b, err := f.locationBytes(what, loc)
	if err != nil {
		return r, err
	}
	d := newDecoder(what, int64(loc.RVA), b)
	r.StreamType, r.Version = d.u64(), d.u64()
	if d.err != nil {
		return r, d.err
	}
	// Fixed fields by version: stream_type and version (16 bytes), then
	// thread and dialog_mode (v4, 32 bytes), then abort_cause (v5, 40).
	fixed := uint32(16)
	switch {
	case r.Version >= 5:
		fixed = 40
	case r.Version >= 4:
		fixed = 32
	}
	if start < fixed {
		return r, formatErr(what, int64(loc.RVA), "record_start_size %d is smaller than the %d fixed bytes of version %d", start, fixed, r.Version)
	}
	if uint64(start) > uint64(len(b)) {
		return r, formatErr(what, int64(loc.RVA), "record_start_size %d exceeds the %d-byte record", start, len(b))
	}
	if r.Version < 4 {
		return r, nil
	}
	r.Thread, r.DialogMode = d.u64(), d.u64()
	if r.Version >= 5 {
		r.AbortCause = d.u64()
	}
	if d.err != nil {
		return r, d.err
	}
	// The strings follow record_start_size as consecutive NUL-terminated
	// runs; anything after the fifth belongs to versions this code predates.
	rest := b[start:]
	off := int64(loc.RVA) + int64(start)
	for _, s := range []*string{&r.ModulePath, &r.Message, &r.SignatureString, &r.Backtrace, &r.Message2} {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return r, formatErr(what, off, "string is not NUL-terminated within the record")
		}
		*s = string(rest[:i])
		rest = rest[i+1:]
		off += int64(i) + 1
	}
	return r, nil
}

// MacBootargs decodes the MozMacOSBootargs stream: the kernel boot arguments
// of the machine (sysctl kern.bootargs), stored as a MINIDUMP_STRING.
//
// The header is {u32 stream_type; u64 bootargs RVA}. rust-minidump reads it
// packed (12 bytes, RVA at offset 4); a C writer without packing would pad
// it to 16 bytes with the RVA at offset 8. The stream's size tells the two
// apart.
func (f *File) MacBootargs() (string, error) {
	d, err := f.stream(MozMacOSBootargs)
	if err != nil {
		return "", err
	}
	d.u32() // stream_type, repeated
	if d.remaining() >= 12 {
		d.skip(4)
	}
	rva := d.u64()
	if d.err != nil {
		return "", d.err
	}
	if rva == 0 {
		return "", nil
	}
	if rva > uint64(f.size) || rva > 0xffffffff {
		return "", formatErr(d.what, d.base, "boot args string at %#x lies outside the %d-byte file", rva, f.size)
	}
	return f.String(uint32(rva))
}
