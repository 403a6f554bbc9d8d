package issues

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Event is an event in the shape Cairn stores and serves: Sentry's event
// payload after normalization. Fields Cairn reads are typed; every other
// top-level key a client sent is kept verbatim in Other and written back,
// so nothing a newer SDK sends is lost.
type Event struct {
	EventID     string      `json:"event_id"`
	Timestamp   Time        `json:"timestamp"`
	Received    Time        `json:"received"`
	Platform    string      `json:"platform"`
	Level       string      `json:"level"`
	Logger      string      `json:"logger,omitempty"`
	Transaction string      `json:"transaction,omitempty"`
	ServerName  string      `json:"server_name,omitempty"`
	Release     string      `json:"release,omitempty"`
	Dist        string      `json:"dist,omitempty"`
	Environment string      `json:"environment,omitempty"`
	LogEntry    *LogEntry   `json:"logentry,omitempty"`
	Fingerprint []string    `json:"fingerprint,omitempty"`
	Exception   *Exceptions `json:"exception,omitempty"`
	// Stacktrace is the legacy top-level stack trace of events without an
	// exception.
	Stacktrace *Stacktrace               `json:"stacktrace,omitempty"`
	Threads    *Threads                  `json:"threads,omitempty"`
	DebugMeta  *DebugMeta                `json:"debug_meta,omitempty"`
	Tags       Tags                      `json:"tags,omitempty"`
	User       map[string]any            `json:"user,omitempty"`
	Contexts   map[string]map[string]any `json:"contexts,omitempty"`
	Extra      map[string]any            `json:"extra,omitempty"`
	Modules    map[string]string         `json:"modules,omitempty"`
	Request    json.RawMessage           `json:"request,omitempty"`
	SDK        json.RawMessage           `json:"sdk,omitempty"`
	// Breadcrumbs is always {"values": [...]} once normalized.
	Breadcrumbs json.RawMessage `json:"breadcrumbs,omitempty"`
	// Culprit, Title, Type and Metadata are computed by the worker.
	Culprit  string            `json:"culprit,omitempty"`
	Title    string            `json:"title,omitempty"`
	Type     string            `json:"type,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// Hashes are the grouping hashes; Grouping explains the first.
	Hashes   []string  `json:"hashes,omitempty"`
	Grouping *Grouping `json:"grouping,omitempty"`
	// Attachments lists the files stored with the event.
	Attachments []AttachmentInfo `json:"attachments,omitempty"`
	// Errors are problems met while processing the event.
	Errors []EventError `json:"errors,omitempty"`

	// Other holds top-level keys Cairn does not model.
	Other map[string]json.RawMessage `json:"-"`
}

// LogEntry is the message of an event: a template with parameters and the
// formatted result.
type LogEntry struct {
	Formatted string `json:"formatted,omitempty"`
	Message   string `json:"message,omitempty"`
	Params    []any  `json:"params,omitempty"`
}

// Text is the message as people read it.
func (l *LogEntry) Text() string {
	if l == nil {
		return ""
	}
	if l.Formatted != "" {
		return l.Formatted
	}
	return l.Message
}

// Exceptions is the exception interface: a chain, outermost first as
// Sentry orders it (the last value is the one that was raised last).
type Exceptions struct {
	Values []*Exception `json:"values"`
}

// Exception is one exception of the chain.
type Exception struct {
	Type       string      `json:"type,omitempty"`
	Value      string      `json:"value,omitempty"`
	Module     string      `json:"module,omitempty"`
	ThreadID   any         `json:"thread_id,omitempty"`
	Mechanism  *Mechanism  `json:"mechanism,omitempty"`
	Stacktrace *Stacktrace `json:"stacktrace,omitempty"`
	// RawStacktrace is the stack before symbolication, when it differs.
	RawStacktrace *Stacktrace `json:"raw_stacktrace,omitempty"`
}

// Mechanism tells how an exception was caught.
type Mechanism struct {
	Type      string         `json:"type,omitempty"`
	Handled   *bool          `json:"handled,omitempty"`
	Synthetic bool           `json:"synthetic,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
	Meta      map[string]any `json:"meta,omitempty"`
}

// Stacktrace is a list of frames, oldest first (the crashing frame last),
// with the registers of the innermost frame for native stacks.
type Stacktrace struct {
	Frames    []*Frame        `json:"frames"`
	Registers map[string]Addr `json:"registers,omitempty"`
	// InstructionAddrAdjustment says which frames' addresses are return
	// addresses ("auto", "all_but_first", "all", "none"); SDKs that
	// capture stacks themselves know better than the default.
	InstructionAddrAdjustment string `json:"instruction_addr_adjustment,omitempty"`
}

// Frame is one stack frame. Native frames carry an instruction address and
// the module (package) it falls in; symbolicated ones also a function,
// file and line.
type Frame struct {
	Function        string   `json:"function,omitempty"`
	RawFunction     string   `json:"raw_function,omitempty"`
	Symbol          string   `json:"symbol,omitempty"`
	Module          string   `json:"module,omitempty"`
	Package         string   `json:"package,omitempty"`
	Filename        string   `json:"filename,omitempty"`
	AbsPath         string   `json:"abs_path,omitempty"`
	Lineno          int      `json:"lineno,omitempty"`
	Colno           int      `json:"colno,omitempty"`
	InApp           *bool    `json:"in_app,omitempty"`
	InstructionAddr Addr     `json:"instruction_addr,omitzero"`
	SymbolAddr      Addr     `json:"symbol_addr,omitzero"`
	Trust           string   `json:"trust,omitempty"`
	AddrMode        string   `json:"addr_mode,omitempty"`
	Platform        string   `json:"platform,omitempty"`
	ContextLine     string   `json:"context_line,omitempty"`
	PreContext      []string `json:"pre_context,omitempty"`
	PostContext     []string `json:"post_context,omitempty"`
	Vars            any      `json:"vars,omitempty"`
}

// Threads is the threads interface.
type Threads struct {
	Values []*Thread `json:"values"`
}

// Thread is one thread of the crashed process.
type Thread struct {
	ID         any         `json:"id,omitempty"`
	Name       string      `json:"name,omitempty"`
	Crashed    bool        `json:"crashed,omitempty"`
	Current    bool        `json:"current,omitempty"`
	Main       bool        `json:"main,omitempty"`
	Stacktrace *Stacktrace `json:"stacktrace,omitempty"`
}

// DebugMeta lists the modules loaded in the crashed process.
type DebugMeta struct {
	Images []*DebugImage `json:"images"`
}

// DebugImage is one loaded module with the identifiers its debug files are
// found by and the outcome of looking for them.
type DebugImage struct {
	Type         string `json:"type,omitempty"`
	CodeFile     string `json:"code_file,omitempty"`
	CodeID       string `json:"code_id,omitempty"`
	DebugFile    string `json:"debug_file,omitempty"`
	DebugID      string `json:"debug_id,omitempty"`
	ImageAddr    Addr   `json:"image_addr,omitzero"`
	ImageSize    uint64 `json:"image_size,omitempty"`
	ImageVMAddr  Addr   `json:"image_vmaddr,omitzero"`
	Arch         string `json:"arch,omitempty"`
	DebugStatus  string `json:"debug_status,omitempty"`
	UnwindStatus string `json:"unwind_status,omitempty"`
	// UUID is the legacy Apple spelling of the debug id.
	UUID string `json:"uuid,omitempty"`
	// Candidates are the places the symbolicator looked for the image's
	// debug files and what each gave, so a missing file can be explained.
	Candidates []ImageCandidate `json:"candidates,omitempty"`
}

// ImageCandidate is one place a debug file of an image was looked for,
// spelled as Sentry's Symbolicator reports candidates.
type ImageCandidate struct {
	// Source names the configured source ("sentry:project", "microsoft").
	Source string `json:"source"`
	// Location is the path or URL tried.
	Location string            `json:"location,omitempty"`
	Download CandidateDownload `json:"download"`
	// Debug and Unwind say whether a downloaded file served as debug or
	// unwind information ("ok", or "malformed" with details).
	Debug  *CandidateDownload `json:"debug,omitempty"`
	Unwind *CandidateDownload `json:"unwind,omitempty"`
}

// CandidateDownload is the outcome of fetching one candidate.
type CandidateDownload struct {
	// Status is "ok", "notfound", "noperm", "malformed" or "error".
	Status string `json:"status"`
	// Details explains a failure in words.
	Details string `json:"details,omitempty"`
}

// Contains reports whether addr falls inside the image.
func (im *DebugImage) Contains(addr uint64) bool {
	return im.ImageAddr.Set && im.ImageSize > 0 && addr >= im.ImageAddr.N && addr-im.ImageAddr.N < im.ImageSize
}

// AttachmentInfo describes a stored attachment of the event.
type AttachmentInfo struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type,omitempty"`
	Type        string `json:"type"`
	Size        int64  `json:"size"`
	// Key is where the blob store keeps it; empty once Dropped.
	Key string `json:"key"`
	// Dropped marks a minidump deleted after processing, as its project
	// asks (meta.Project.DropMinidumps): the event keeps what was read
	// from it, the blob store no longer has it.
	Dropped bool `json:"dropped,omitempty"`
}

// EventError is a processing error shown with the event, spelled as
// Sentry's event errors are.
type EventError struct {
	Type      string `json:"type"`
	Name      string `json:"name,omitempty"`
	Value     any    `json:"value,omitempty"`
	Message   string `json:"message,omitempty"`
	ImagePath string `json:"image_path,omitempty"`
	ImageUUID string `json:"image_uuid,omitempty"`
	ImageArch string `json:"image_arch,omitempty"`
}

// Grouping records how the event's hash was made, so a surprising group
// can be explained.
type Grouping struct {
	// Method is "fingerprint", "stacktrace", "exception", "message" or
	// "fallback".
	Method     string   `json:"method"`
	Components []string `json:"components"`
}

// Addr is an address, written as a "0x…" string as Sentry does (JSON
// numbers lose precision past 2^53). Set distinguishes address zero (a
// jump to null) from no address.
type Addr struct {
	N   uint64
	Set bool
}

// A makes a set address.
func A(n uint64) Addr { return Addr{N: n, Set: true} }

// IsZero reports an unset address, for omitzero.
func (a Addr) IsZero() bool { return !a.Set }

// MarshalJSON implements json.Marshaler.
func (a Addr) MarshalJSON() ([]byte, error) {
	if !a.Set {
		return []byte("null"), nil
	}
	return []byte(`"0x` + strconv.FormatUint(a.N, 16) + `"`), nil
}

// UnmarshalJSON accepts "0x…" hex strings, decimal strings and numbers.
func (a *Addr) UnmarshalJSON(b []byte) error {
	*a = Addr{}
	if string(b) == "null" {
		return nil
	}
	var n uint64
	var err error
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return nil
		}
		if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
			n, err = strconv.ParseUint(h, 16, 64)
		} else {
			n, err = strconv.ParseUint(s, 10, 64)
		}
	} else {
		n, err = strconv.ParseUint(string(b), 10, 64)
		if err != nil {
			var f float64
			if json.Unmarshal(b, &f) == nil && f >= 0 && f < math.MaxUint64 {
				n, err = uint64(f), nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("address %s: %w", b, err)
	}
	*a = A(n)
	return nil
}

// Time is a timestamp written as Sentry stores it: float seconds since the
// epoch. It reads floats, integers and RFC 3339 strings.
type Time struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(t.UnixMicro())/1e6, 'f', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
			if v, err := time.Parse(layout, s); err == nil {
				t.Time = v.UTC()
				return nil
			}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t.Time = floatTime(f)
			return nil
		}
		return fmt.Errorf("timestamp %q: not RFC 3339 or seconds", s)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	t.Time = floatTime(f)
	return nil
}

func floatTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC()
}

// Tags are key/value pairs, kept in order as Sentry stores them:
// [["key", "value"], ...]. Clients may also send an object.
type Tags [][2]string

// Get returns the value of the first tag named key.
func (t Tags) Get(key string) (string, bool) {
	for _, kv := range t {
		if kv[0] == key {
			return kv[1], true
		}
	}
	return "", false
}

// UnmarshalJSON accepts an object, a list of pairs, or a list of
// {"key":…,"value":…} objects; values that are not strings are written as
// their JSON text.
func (t *Tags) UnmarshalJSON(b []byte) error {
	*t = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(b))
		if _, err := dec.Token(); err != nil {
			return err
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return err
			}
			*t = append(*t, [2]string{fmt.Sprint(k), tagValue(v)})
		}
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	for _, item := range list {
		var pair []json.RawMessage
		if json.Unmarshal(item, &pair) == nil && len(pair) == 2 {
			*t = append(*t, [2]string{tagValue(pair[0]), tagValue(pair[1])})
			continue
		}
		var kv struct {
			Key   json.RawMessage `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if json.Unmarshal(item, &kv) == nil && kv.Key != nil {
			*t = append(*t, [2]string{tagValue(kv.Key), tagValue(kv.Value)})
			continue
		}
		return fmt.Errorf("tag %s: want a pair", item)
	}
	return nil
}

func tagValue(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}
