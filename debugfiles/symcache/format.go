package symcache

import (
	"errors"
	"fmt"
	"strings"
)

// Version is the format version this package writes and reads. Any change
// to the layout, or to what the builder puts into a cache for the same
// input, bumps it: caches are derived data, so a reader never upgrades an
// old one, it rebuilds it (Open reports ErrVersion).
const Version = 9

// magic opens every symcache file.
const magic = "CAIRNSYM"

// The fixed header; SPEC.md documents every field.
const (
	headerSize = 212

	offMagic       = 0
	offVersion     = 8
	offHeaderSize  = 12
	offChecksum    = 16
	offLenWidth    = 20 // width in bits of a string length in the file and function tables
	offGroupWidths = 21 // two bytes: widths in bits of a directory block's file and line
	offFlagWidth   = 23 // width in bits (0 or 1) of a site row's exception flag
	offLoadAddress = 24
	offGUID        = 32
	offAge         = 48
	offFormat      = 52
	offPageShift   = 53
	offWidths      = 54 // six bytes: column widths in bits of the node and site tables
	offArch        = 60 // 16 bytes, NUL-padded
	offStrings     = 76 // offset, length
	offFiles       = 84 // offset, count
	offFuncs       = 92
	offNodes       = 100
	offRegions     = 108
	offDir         = 116 // offset, number of pages (there is one more page offset)
	offStream      = 124 // offset, length
	offEntries     = 132 // number of range entries (informational)
	offFileSize    = 136
	offSites       = 140 // offset, count
	offAbs         = 148 // absolute address table: offset, count
	offAbsWidth    = 156 // its entry width in bytes
	offDirWidth    = 157 // width in bits of a page offset
	offCodes       = 158 // offset, length of the decode tables
	offCodeBits    = 166 // one byte per alphabet: 8 when its decode table is present, else 0
	offTop         = 181 // top-level table: offset, count
	offTopWidths   = 189 // three bytes: widths in bits of a top-level row's function, address, first site
	offNodeBytes   = 192 // length in bytes of the node table
	offNodeDir     = 196 // offset of the node directory
	offExceptions  = 200 // site exceptions: offset, count
	offLineBase    = 208 // width in bits of a function row's line base, then its shift
	offTopBase     = 210 // width in bits of a top-level block's base address
	offLangWidth   = 211 // width in bits of a function row's language

	archLen = 16

	// langBits is the widest a function's language may be.
	langBits     = 3
	regionRecord = 20 // start, end, first page
	// exceptionRecord is the size of a site exception: the site, its
	// call file and its call line, 4 bytes each.
	exceptionRecord = 12
	// groupPages is the number of pages of a directory group.
	groupPages = 16
	// topBlock is the number of top-level rows whose addresses are
	// differences from one base, which precedes them in the table.
	topBlockShift = 4
	topBlock      = 1 << topBlockShift
	// maxColBits bounds a column of the node and site tables.
	maxColBits = 32
	// nodeBlock is the number of node rows sharing column widths, a
	// power of two (nodeBlockShift). A node directory entry holds a
	// block's offset, then its row width in rowWidthBits bits and the
	// widths of its parent and site columns in colWidthBits bits each.
	nodeBlockShift = 4
	nodeBlock      = 1 << nodeBlockShift
	rowWidthBits   = 7
	colWidthBits   = 6
	nodeDirFields  = rowWidthBits + 2*colWidthBits
)

// Columns of the node table (colSite..colParent) and of the site table
// (colFunc, colCallLine), in record order, and the file column of the
// function table (colCallFile: a function's calls are in it); the header
// gives each a width.
const (
	colSite = iota
	colAddr
	colParent
	colFunc
	colCallFile
	colCallLine
	numCols

	numNodeCols = colParent + 1
)

// maxChain bounds the inline chain a lookup follows, as debugfiles.Index
// bounds it: real chains are far shorter, and a corrupt file whose parent
// links form a cycle cannot make a lookup loop.
const maxChain = 256

// ErrCorrupt is the error every *FormatError matches with errors.Is: the
// bytes are not a well-formed symcache.
var ErrCorrupt = errors.New("symcache: corrupt file")

// ErrVersion reports a symcache written in another format version; the
// cache must be rebuilt from its debug file.
var ErrVersion = errors.New("symcache: unsupported format version")

// FormatError describes malformed symcache bytes: the offset where reading
// failed and what was wrong.
type FormatError struct {
	Offset int64
	Msg    string
}

// Error formats the error with its offset.
func (e *FormatError) Error() string {
	return fmt.Sprintf("symcache: corrupt file at offset %#x: %s", e.Offset, e.Msg)
}

// Unwrap makes every FormatError match ErrCorrupt.
func (e *FormatError) Unwrap() error { return ErrCorrupt }

func corrupt(off int64, format string, args ...any) error {
	return &FormatError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// Language is the source language of a function, when the builder can
// tell. Debug information readers do not report languages yet, so the
// builder infers it from the mangling scheme of the name; plain names stay
// LangUnknown.
type Language uint8

// Languages.
const (
	LangUnknown Language = iota
	LangC
	LangCPlusPlus
	LangRust
	LangSwift
	LangObjC
	LangGo
)

var langNames = [...]string{"unknown", "c", "cpp", "rust", "swift", "objc", "go"}

// String names the language as Sentry's frame "lang" field does.
func (l Language) String() string {
	if int(l) < len(langNames) {
		return langNames[l]
	}
	return fmt.Sprintf("lang(%d)", l)
}

// languageOf infers a language from a mangled name: Rust's v0 scheme
// (_R and a path tag), the legacy Rust scheme (an Itanium name ending in a 17-character
// hash segment "17h<16 hex>E"), Itanium C++ (_Z), Swift (_$s, $s).
func languageOf(name string) Language {
	n := name
	if len(n) > 2 && n[0] == '_' && n[1] == '_' {
		n = n[1:] // Mach-O's extra underscore
	}
	switch {
	case len(n) > 2 && n[0] == '_' && n[1] == 'R' && strings.IndexByte("0123456789CMXYNIB", n[2]) >= 0:
		// A v0 name's path starts with one of these tags, after
		// an optional version: C names beginning with _R, as
		// CPython's _RAISE_SYNTAX_ERROR_INVALID_TARGET, do not.
		return LangRust
	case len(n) > 2 && n[0] == '_' && n[1] == 'Z':
		if isLegacyRustHash(n) {
			return LangRust
		}
		return LangCPlusPlus
	case len(name) > 3 && (name[:3] == "_$s" || name[:2] == "$s"):
		return LangSwift
	}
	return LangUnknown
}

// isLegacyRustHash reports a name ending in "17h" + 16 hex digits + "E".
func isLegacyRustHash(n string) bool {
	const tail = 3 + 16 + 1
	if len(n) < tail+4 || n[len(n)-1] != 'E' || n[len(n)-tail:len(n)-tail+3] != "17h" {
		return false
	}
	for _, c := range n[len(n)-17 : len(n)-1] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
