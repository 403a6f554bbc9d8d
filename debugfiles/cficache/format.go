package cficache

import (
	"errors"
	"fmt"
	"hash/crc32"
)

// Version is the format version this package writes and reads. Any change
// to the layout, or to what the builder puts into a cache for the same
// input, bumps it: a cficache is derived data, so a reader never upgrades
// an old one, it refuses it (ErrVersion) and the cache is rebuilt.
const Version = 2

// magic opens every cficache file.
const magic = "CAIRNCFI"

// The fixed header; SPEC.md documents every field.
const (
	headerSize = 96

	offMagic      = 0
	offVersion    = 8
	offHeaderSize = 12
	offChecksum   = 16
	offFileSize   = 20
	offArch       = 24
	offFlags      = 25
	offGUID       = 28
	offAge        = 44
	offCFI        = 48 // index offset, count
	offRules      = 56 // blob offset, length
	offWin        = 64 // index offset, count
	offWinData    = 72 // blob offset, length
	offParams     = 80 // index offset, count
	offReserved   = 88 // 8 bytes

	// indexRecord is one entry of an address index: start, reference.
	indexRecord = 8
)

// none is the reference of an index entry that starts a gap: the
// addresses from its start to the next entry have no information.
const none = 0xffffffff

// Row flags as encoded (the first byte of a rule set).
const (
	encRASigned    = 1 << 0
	encSignalFrame = 1 << 1
)

// WinFrame flags as encoded.
const (
	encAllocatesBP = 1 << 0
)

// maxRegs bounds the register rules of one encoded row: no architecture
// has more registers with rules than this, and a corrupt count must not
// make a lookup loop or grow the caller's buffer without bound.
const maxRegs = 128

// castagnoli is the CRC-32C table (hardware-accelerated where available).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is the error every *FormatError matches with errors.Is: the
// bytes are not a well-formed cficache.
var ErrCorrupt = errors.New("cficache: corrupt file")

// ErrVersion reports a cficache written in another format version; it
// must be rebuilt from its debug file.
var ErrVersion = errors.New("cficache: unsupported format version")

// ErrTooLarge reports an object the format cannot describe: addresses
// relative to the load address beyond 4 GiB, or a file beyond 4 GiB.
var ErrTooLarge = errors.New("cficache: too large")

// FormatError describes malformed cficache bytes: the offset where reading
// failed and what was wrong.
type FormatError struct {
	Offset int64
	Msg    string
}

// Error formats the error with its offset.
func (e *FormatError) Error() string {
	return fmt.Sprintf("cficache: corrupt file at offset %#x: %s", e.Offset, e.Msg)
}

// Unwrap makes every FormatError match ErrCorrupt.
func (e *FormatError) Unwrap() error { return ErrCorrupt }

func corrupt(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}
