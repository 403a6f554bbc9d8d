package applecrash

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotAReport reports input that is neither a text nor a JSON crash report.
// Callers branch on it with errors.Is to tell "wrong kind of file" from a
// damaged report.
var ErrNotAReport = errors.New("applecrash: not an Apple crash report")

// ErrTooLarge reports input longer than the limit given to Parse.
var ErrTooLarge = errors.New("applecrash: report exceeds size limit")

// DefaultMaxBytes is the limit Parse applies when given none. Real reports
// are tens to hundreds of KiB; 16 MiB leaves room for huge thread counts.
const DefaultMaxBytes = 16 << 20

// Format names of Report.Format.
const (
	FormatText = "crash" // legacy text report
	FormatIPS  = "ips"   // JSON report, or a bug_type 109 .ips wrapping a text report
)

// Report is one crash report, whichever format it came in. Frame addresses are
// absolute, so ImageAt maps any of them back to the image that holds it.
type Report struct {
	// Format is FormatText for a .crash file and FormatIPS for a .ips file,
	// including a bug_type 109 .ips whose body is text (see BugType).
	Format string
	// BugType is the ips header's bug_type ("309", "109"); "" for text.
	BugType string

	IncidentID, Process, Path, Identifier, Version, ParentProcess string
	PID                                                           int

	// CodeType is the report's CPU name without its "(Native)" or
	// "(Translated)" qualifier: "ARM-64", "X86-64".
	CodeType string
	// Arch is the normalized CPU name: "arm64", "arm64e", "x86_64", "x86",
	// "arm", or "" if unknown. Reports say "ARM-64" for arm64e processes too,
	// so the main executable's image architecture refines it when known.
	Arch string

	// OSName is kept as written ("macOS", "iPhone OS", "Mac OS X"); OSVersion
	// and OSBuild are "13.1" and "22C65".
	OSName, OSVersion, OSBuild string
	HardwareModel              string

	// Time is the crash time; zero when absent or unreadable.
	Time time.Time
	// LaunchTime is the process start time; zero when absent or unreadable.
	LaunchTime time.Time

	// ExceptionType is the Mach exception ("EXC_BAD_ACCESS") and Signal the
	// signal that text reports write after it in parentheses.
	ExceptionType, ExceptionCodes, ExceptionSubtype, Signal, TerminationReason string
	// ApplicationSpecificInfo is the "Application Specific Information" block,
	// or the ips "asi" messages, one per line.
	ApplicationSpecificInfo string

	// CrashedThread is the index of the thread that crashed, -1 when unknown.
	CrashedThread int
	Threads       []Thread
	// LastExceptionBacktrace is the backtrace of the uncaught Objective-C or
	// Swift exception that led to the crash, when the report has one.
	LastExceptionBacktrace []Frame
	// Images is the binary image table in report order.
	Images []Image

	// Metadata holds every header key/value of the text format (and the ips
	// header's fields), for display. The first occurrence of a key wins;
	// multi-line blocks are joined with "\n".
	Metadata map[string]string
}

// Thread is one thread of the crashed process.
type Thread struct {
	// Index is the thread number as the report writes it ("Thread 3"); for
	// ips reports, the position in the threads array.
	Index int
	// ID is the kernel thread id of ips reports; 0 for text reports.
	ID          uint64
	Name, Queue string
	Crashed     bool
	// Frames are innermost first, as in the report.
	Frames []Frame
	// Registers holds the thread state under lower-case names ("x0".."x28",
	// "fp", "lr", "sp", "pc", "cpsr", "far", "esr", "rip", "rsp", "rbp",
	// "rflags", ...); nil for threads the report gives no state for.
	Registers map[string]uint64
}

// Frame is one stack frame.
type Frame struct {
	Index int
	// Module is the image name as written; "???" is kept, and ips frames whose
	// image has no name get "???" too.
	Module string
	// Address is the absolute instruction address; for ips reports, image
	// base + imageOffset, and 0 when the frame's image index is invalid.
	Address uint64
	// ImageOffset is Address minus the image's load address when the report
	// states it (ips frames, unsymbolicated text frames); else 0.
	ImageOffset uint64
	// Symbol and SymbolOffset are filled when the report is already
	// symbolicated; Symbol is "" otherwise.
	Symbol       string
	SymbolOffset uint64
	File         string
	Line         int
	// Inline marks a frame of a function inlined into the next frame.
	Inline bool
}

// Image is one loaded binary. It covers [Base, Base+Size).
type Image struct {
	// Size is end - base + 1 for text reports, whose table gives the
	// inclusive end address.
	Base, Size                          uint64
	Name, Path, Arch, Version, BundleID string
	// UUID is lowercase with dashes, 8-4-4-4-12 (the debug id form), "" when
	// absent, malformed or all zero.
	UUID string
	// App marks the app's own binaries: "+" in text reports, source "P" in
	// ips reports.
	App bool
}

// Contains reports whether addr lies inside the image.
func (im *Image) Contains(addr uint64) bool {
	return addr >= im.Base && addr-im.Base < im.Size
}

// ImageAt returns the image holding addr, or nil. When images overlap (old
// reports list a catch-all "???" range), the smallest one wins. The scan is
// linear and allocation-free; image tables hold at most a few thousand entries.
func (r *Report) ImageAt(addr uint64) *Image {
	var best *Image
	for i := range r.Images {
		im := &r.Images[i]
		if im.Contains(addr) && (best == nil || im.Size < best.Size) {
			best = im
		}
	}
	return best
}

// Parse reads a report of either format, sniffing the first non-blank byte: a
// JSON report starts with '{'. It accepts at most maxBytes (<= 0 means
// DefaultMaxBytes) and fails with ErrTooLarge beyond that, having read one
// byte past the limit to tell.
func Parse(r io.Reader, maxBytes int64) (*Report, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	// io.ReadAll grows with what is actually read, so a short input never
	// costs a maxBytes allocation; one byte past the limit tells "exactly at
	// the limit" from "over it".
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("applecrash: read: %w", err)
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, maxBytes)
	}
	if isJSON(data) {
		return ParseIPS(data)
	}
	return ParseText(data)
}

// utf8BOM is skipped when sniffing: reports saved by some editors carry it.
var utf8BOM = []byte{0xef, 0xbb, 0xbf}

func trimLeft(data []byte) []byte {
	data = bytes.TrimPrefix(data, utf8BOM)
	return bytes.TrimLeft(data, " \t\r\n")
}

func isJSON(data []byte) bool {
	d := trimLeft(data)
	return len(d) > 0 && d[0] == '{'
}

func newReport(format string) *Report {
	return &Report{Format: format, CrashedThread: -1, Metadata: map[string]string{}}
}

// finish derives the fields that depend on the whole report.
func (r *Report) finish() {
	if r.CrashedThread < 0 {
		for _, t := range r.Threads {
			if t.Crashed {
				r.CrashedThread = t.Index
				break
			}
		}
	} else {
		for i := range r.Threads {
			if r.Threads[i].Index == r.CrashedThread {
				r.Threads[i].Crashed = true
			}
		}
	}
	if r.Arch == "arm64" {
		if im := r.mainImage(); im != nil && normalizeArch(im.Arch) == "arm64e" {
			r.Arch = "arm64e"
		}
	}
}

// mainImage is the image of the crashed executable: the one at the process
// path, else the first app image.
func (r *Report) mainImage() *Image {
	if r.Path != "" {
		for i := range r.Images {
			if r.Images[i].Path == r.Path {
				return &r.Images[i]
			}
		}
	}
	for i := range r.Images {
		if r.Images[i].App {
			return &r.Images[i]
		}
	}
	return nil
}
