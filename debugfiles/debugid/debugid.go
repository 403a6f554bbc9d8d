// Package debugid represents debug identifiers in the forms Sentry and
// Breakpad use.
//
// A debug id is a 16-byte GUID plus an age. Sentry writes it as the lowercase
// dashed GUID with "-age" (hex) appended when the age is not zero
// ("5a9832e5-2872-41c1-838e-d98914e9b7ff-1"); Breakpad writes the GUID as 32
// uppercase hex digits followed by the age in hex, no dashes
// ("5A9832E5287241C1838ED98914E9B7FF1"). The GUID is stored as Windows lays it
// out: Data1–Data3 little-endian, so the bytes of an ELF build id or a Mach-O
// UUID are byte-swapped in the first three fields when formatted.
package debugid

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ID is a debug identifier. The zero value is the nil id.
type ID struct {
	// GUID holds the 16 bytes in display order (Data1, Data2 and Data3
	// big-endian, as printed).
	GUID [16]byte
	Age  uint32
}

// ErrInvalid reports text that is not a debug id in either form.
var ErrInvalid = errors.New("debugid: invalid debug id")

// IsZero reports whether the id is the nil id.
func (id ID) IsZero() bool { return id == ID{} }

// FromGUID builds an id from a GUID as stored on disk by Windows (PE
// CodeView RSDS, PDB): Data1–Data3 are little-endian.
func FromGUID(raw [16]byte, age uint32) ID {
	var id ID
	binary.BigEndian.PutUint32(id.GUID[0:], binary.LittleEndian.Uint32(raw[0:]))
	binary.BigEndian.PutUint16(id.GUID[4:], binary.LittleEndian.Uint16(raw[4:]))
	binary.BigEndian.PutUint16(id.GUID[6:], binary.LittleEndian.Uint16(raw[6:]))
	copy(id.GUID[8:], raw[8:])
	id.Age = age
	return id
}

// FromUUID builds an id from a Mach-O LC_UUID (bytes in display order).
func FromUUID(uuid [16]byte) ID { return ID{GUID: uuid} }

// FromBuildID builds the id of an ELF file from its GNU build id, as Sentry
// and Breakpad do: the first 16 bytes (zero-padded) read as a little-endian
// GUID, age 0.
func FromBuildID(buildID []byte) ID {
	var raw [16]byte
	copy(raw[:], buildID)
	return FromGUID(raw, 0)
}

// String formats the id in Sentry's form.
func (id ID) String() string {
	var b strings.Builder
	b.Grow(45)
	const hexd = "0123456789abcdef"
	for i, c := range id.GUID {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b.WriteByte('-')
		}
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&0xf])
	}
	if id.Age != 0 {
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(uint64(id.Age), 16))
	}
	return b.String()
}

// Breakpad formats the id in Breakpad's form (MODULE lines, symbol store
// paths): uppercase GUID hex and the age in lowercase hex, as Breakpad's
// processor and dump_syms print it ("%08X%04X%04X…%x") and Symbolicator
// builds store paths; the two spellings differ from age 10 on.
func (id ID) Breakpad() string {
	return strings.ToUpper(hex.EncodeToString(id.GUID[:])) + strconv.FormatUint(uint64(id.Age), 16)
}

// MarshalText implements encoding.TextMarshaler (Sentry form).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (either form).
func (id *ID) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// Parse reads a debug id in Sentry's form (dashed GUID, optional "-age" or
// ".age"), as a bare or braced GUID, or in Breakpad's form (32 hex digits and
// an optional hex age). Case does not matter.
func Parse(s string) (ID, error) {
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	var id ID
	var ageText string
	if len(t) >= 36 && t[8] == '-' && t[13] == '-' && t[18] == '-' && t[23] == '-' {
		h := t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:36]
		if _, err := hex.Decode(id.GUID[:], []byte(h)); err != nil {
			return ID{}, fmt.Errorf("%w: %q", ErrInvalid, s)
		}
		ageText = t[36:]
		if ageText != "" {
			if ageText[0] != '-' && ageText[0] != '.' {
				return ID{}, fmt.Errorf("%w: %q", ErrInvalid, s)
			}
			ageText = ageText[1:]
			if ageText == "" {
				return ID{}, fmt.Errorf("%w: %q", ErrInvalid, s)
			}
		}
	} else {
		if len(t) < 32 {
			return ID{}, fmt.Errorf("%w: %q", ErrInvalid, s)
		}
		if _, err := hex.Decode(id.GUID[:], []byte(t[:32])); err != nil {
			return ID{}, fmt.Errorf("%w: %q", ErrInvalid, s)
		}
		ageText = t[32:]
	}
	if ageText != "" {
		if len(ageText) > 8 {
			return ID{}, fmt.Errorf("%w: age of %q", ErrInvalid, s)
		}
		age, err := strconv.ParseUint(ageText, 16, 32)
		if err != nil {
			return ID{}, fmt.Errorf("%w: age of %q", ErrInvalid, s)
		}
		id.Age = uint32(age)
	}
	return id, nil
}

// CodeIDFromPE is a PE image's code id as Sentry stores it: the
// TimeDateStamp as 8 hex digits followed by SizeOfImage in hex, lowercase.
func CodeIDFromPE(timestamp, sizeOfImage uint32) string {
	return fmt.Sprintf("%08x%x", timestamp, sizeOfImage)
}

// CodeIDFromBytes is the lowercase hex of an ELF build id or Mach-O UUID.
func CodeIDFromBytes(b []byte) string { return hex.EncodeToString(b) }
