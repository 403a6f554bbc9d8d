package service

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Addr is an address as Sentry's JSON writes it: a "0x…" hex string. It
// also reads plain numbers and decimal strings, which clients send too.
type Addr uint64

// MarshalJSON implements json.Marshaler.
func (a Addr) MarshalJSON() ([]byte, error) {
	return []byte(`"0x` + strconv.FormatUint(uint64(a), 16) + `"`), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (a *Addr) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] != '"' {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("address %s: %w", b, err)
		}
		v, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("address %s: not an unsigned integer", b)
		}
		*a = Addr(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := ParseAddr(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ParseAddr reads "0x1f00", "0X1F00" or "7936".
func ParseAddr(s string) (Addr, error) {
	s = strings.TrimSpace(s)
	var v uint64
	var err error
	if len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") {
		v, err = strconv.ParseUint(s[2:], 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return 0, fmt.Errorf("address %q: want a hex string such as \"0x1f00\" or a number", s)
	}
	return Addr(v), nil
}

// ModuleInfo describes a loaded image, as requests send it and responses
// return it (Symbolicator's RawObjectInfo).
type ModuleInfo struct {
	// Type is the object type: "elf", "macho", "pe" (or "pdb"), "wasm",
	// "breakpad"; "unknown" when the caller cannot tell.
	Type      string `json:"type"`
	CodeID    string `json:"code_id,omitempty"`
	CodeFile  string `json:"code_file,omitempty"`
	DebugID   string `json:"debug_id,omitempty"`
	DebugFile string `json:"debug_file,omitempty"`
	// DebugChecksum is accepted for compatibility and not used.
	DebugChecksum string `json:"debug_checksum,omitempty"`
	Arch          string `json:"arch,omitempty"`
	ImageAddr     Addr   `json:"image_addr"`
	ImageSize     uint64 `json:"image_size,omitempty"`
}

// Features are what the debug files found for a module offer.
type Features struct {
	HasDebugInfo  bool `json:"has_debug_info"`
	HasUnwindInfo bool `json:"has_unwind_info"`
	HasSymbols    bool `json:"has_symbols"`
	HasSources    bool `json:"has_sources"`
}

// Module is a module of a response: what was asked, what became of its
// debug and unwind information, and every location tried.
type Module struct {
	ModuleInfo
	// DebugStatus and UnwindStatus are one of found, unused, missing,
	// malformed, fetching_failed, too_large, timeout, other.
	DebugStatus  string     `json:"debug_status"`
	UnwindStatus string     `json:"unwind_status"`
	Features     Features   `json:"features"`
	Candidates   Candidates `json:"candidates"`
}

// Candidates are the locations tried for a module; never null in JSON.
type Candidates []Candidate

// MarshalJSON writes an empty list as [].
func (c Candidates) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]Candidate(c))
}

// Candidate is one location tried for a module's files: the download's
// outcome and, for a file that was read, whether it served as debug and
// unwind information.
type Candidate struct {
	Source   string        `json:"source"`
	Location string        `json:"location"`
	Download DownloadInfo  `json:"download"`
	Debug    *ProcessingOK `json:"debug,omitempty"`
	Unwind   *ProcessingOK `json:"unwind,omitempty"`
}

// DownloadInfo is a candidate's download outcome: ok, notfound, noperm,
// toolarge, malformed or error, with details for the failures.
type DownloadInfo struct {
	Status   string    `json:"status"`
	Features *Features `json:"features,omitempty"`
	Details  string    `json:"details,omitempty"`
}

// ProcessingOK is what became of a downloaded file used as debug or unwind
// information: ok, malformed or error, with details.
type ProcessingOK struct {
	Status  string `json:"status"`
	Details string `json:"details,omitempty"`
}

// Frame is a symbolicated frame of a response. An input frame with
// inlined calls becomes several frames with the same OriginalIndex,
// innermost first.
type Frame struct {
	// Status is symbolicated, missing (no debug file), unknown_image (no
	// module holds the address), missing_symbol (the debug file does not
	// cover it) or malformed (the debug file could not be read).
	Status          string `json:"status"`
	OriginalIndex   *int   `json:"original_index,omitempty"`
	InstructionAddr Addr   `json:"instruction_addr"`
	Package         string `json:"package,omitempty"`
	Lang            string `json:"lang,omitempty"`
	// Symbol is the raw (mangled) name; Function the demangled one.
	Symbol   string `json:"symbol,omitempty"`
	SymAddr  *Addr  `json:"sym_addr,omitempty"`
	Function string `json:"function,omitempty"`
	Filename string `json:"filename,omitempty"`
	AbsPath  string `json:"abs_path,omitempty"`
	Lineno   uint32 `json:"lineno,omitempty"`
	// Trust says how a minidump frame was found: context, cfi, fp, scan,
	// inline, prewalked.
	Trust string `json:"trust,omitempty"`
}

// Stacktrace is a symbolicated thread.
type Stacktrace struct {
	ThreadID     *uint64         `json:"thread_id,omitempty"`
	ThreadName   string          `json:"thread_name,omitempty"`
	IsRequesting *bool           `json:"is_requesting,omitempty"`
	Registers    map[string]Addr `json:"registers,omitempty"`
	Frames       []Frame         `json:"frames"`
}

// SystemInfo describes the crashed system (minidumps and crash reports).
type SystemInfo struct {
	OSName      string `json:"os_name"`
	OSVersion   string `json:"os_version"`
	OSBuild     string `json:"os_build"`
	CPUArch     string `json:"cpu_arch"`
	DeviceModel string `json:"device_model"`
}

// Response is a completed symbolication (Symbolicator's
// CompletedSymbolicationResponse).
type Response struct {
	Status       string       `json:"status"`
	Timestamp    *int64       `json:"timestamp,omitempty"`
	System       *SystemInfo  `json:"system_info,omitempty"`
	Crashed      *bool        `json:"crashed,omitempty"`
	CrashReason  string       `json:"crash_reason,omitempty"`
	CrashDetails string       `json:"crash_details,omitempty"`
	Assertion    string       `json:"assertion,omitempty"`
	Stacktraces  []Stacktrace `json:"stacktraces"`
	Modules      []Module     `json:"modules"`
	// AppleCrashReport carries what a crash report says beyond the
	// stacks (exception, termination, application-specific info).
	AppleCrashReport map[string]string `json:"apple_crash_report,omitempty"`
}

// FrameIn is a frame of a symbolication request.
type FrameIn struct {
	InstructionAddr Addr `json:"instruction_addr"`
	// AdjustInstructionAddr says whether the address is a return address
	// to be moved back into the call; nil means "all frames but the
	// first", as Symbolicator decides.
	AdjustInstructionAddr *bool `json:"adjust_instruction_addr,omitempty"`
	// Trust is kept for callers that send it ("context" disables the
	// adjustment of the first frame only).
	Trust string `json:"trust,omitempty"`
}

// StacktraceIn is a stack of a symbolication request, innermost frame
// first.
type StacktraceIn struct {
	Registers map[string]Addr `json:"registers,omitempty"`
	Frames    []FrameIn       `json:"frames"`
}

// SymbolicateRequest is the body of POST /symbolicate.
type SymbolicateRequest struct {
	Stacktraces []StacktraceIn  `json:"stacktraces"`
	Modules     []ModuleInfo    `json:"modules"`
	Sources     json.RawMessage `json:"sources,omitempty"`
	Options     RequestOptions  `json:"options"`
	Signal      *int            `json:"signal,omitempty"`
}

// RequestOptions are Symbolicator's per-request options; unknown ones are
// ignored.
type RequestOptions struct {
	DedupeSources      *bool `json:"dedupe_sources,omitempty"`
	ApplySourceContext bool  `json:"apply_source_context,omitempty"`
}
