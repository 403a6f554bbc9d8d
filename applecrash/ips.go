package applecrash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// ipsHeader is the one-line JSON object that opens every .ips file.
type ipsHeader struct {
	AppName      string          `json:"app_name"`
	Name         string          `json:"name"`
	Timestamp    string          `json:"timestamp"`
	AppVersion   string          `json:"app_version"`
	BuildVersion string          `json:"build_version"`
	BundleID     string          `json:"bundleID"`
	OSVersion    string          `json:"os_version"`
	IncidentID   string          `json:"incident_id"`
	BugType      json.RawMessage `json:"bug_type"`
}

// ipsBody is the part of the bug_type 309 body a symbolicator needs; other
// keys (vmSummary, trialInfo, ...) are ignored.
type ipsBody struct {
	ProcName    string `json:"procName"`
	ProcPath    string `json:"procPath"`
	ParentProc  string `json:"parentProc"`
	PID         int    `json:"pid"`
	CPUType     string `json:"cpuType"`
	ModelCode   string `json:"modelCode"`
	CaptureTime string `json:"captureTime"`
	ProcLaunch  string `json:"procLaunch"`
	Incident    string `json:"incident"`
	OSVersion   struct {
		Train string `json:"train"`
		Build string `json:"build"`
	} `json:"osVersion"`
	BundleInfo struct {
		ShortVersion string `json:"CFBundleShortVersionString"`
		Version      string `json:"CFBundleVersion"`
		Identifier   string `json:"CFBundleIdentifier"`
	} `json:"bundleInfo"`
	Exception struct {
		Codes   string `json:"codes"`
		Type    string `json:"type"`
		Signal  string `json:"signal"`
		Subtype string `json:"subtype"`
	} `json:"exception"`
	Termination struct {
		Namespace string  `json:"namespace"`
		Code      *uint64 `json:"code"`
		Indicator string  `json:"indicator"`
	} `json:"termination"`
	FaultingThread         *int                `json:"faultingThread"`
	Threads                []ipsThread         `json:"threads"`
	UsedImages             []ipsImage          `json:"usedImages"`
	ASI                    map[string][]string `json:"asi"`
	LastExceptionBacktrace []ipsFrame          `json:"lastExceptionBacktrace"`
}

type ipsThread struct {
	ID          uint64                     `json:"id"`
	Triggered   bool                       `json:"triggered"`
	Name        string                     `json:"name"`
	Queue       string                     `json:"queue"`
	ThreadState map[string]json.RawMessage `json:"threadState"`
	Frames      []ipsFrame                 `json:"frames"`
}

type ipsFrame struct {
	ImageOffset    uint64 `json:"imageOffset"`
	ImageIndex     *int   `json:"imageIndex"`
	Symbol         string `json:"symbol"`
	SymbolLocation uint64 `json:"symbolLocation"`
	SourceFile     string `json:"sourceFile"`
	SourceLine     int    `json:"sourceLine"`
	Inline         bool   `json:"inline"`
}

type ipsImage struct {
	Source       string `json:"source"`
	Arch         string `json:"arch"`
	Base         uint64 `json:"base"`
	Size         uint64 `json:"size"`
	UUID         string `json:"uuid"`
	Name         string `json:"name"`
	Path         string `json:"path"`
	BundleID     string `json:"CFBundleIdentifier"`
	ShortVersion string `json:"CFBundleShortVersionString"`
}

// ParseIPS reads a JSON crash report (.ips): the header line and either a
// JSON body (bug_type 309) or a legacy text body (bug_type 109). A body
// object without a header line is accepted too, as some tools strip it.
func ParseIPS(data []byte) (*Report, error) {
	start := len(data) - len(trimLeft(data))
	if start == len(data) || data[start] != '{' {
		return nil, ErrNotAReport
	}
	dec := json.NewDecoder(bytes.NewReader(data[start:]))
	var first map[string]json.RawMessage
	if err := dec.Decode(&first); err != nil {
		return nil, fmt.Errorf("%w: ips header: %w", ErrNotAReport, jsonErr(err, start))
	}
	firstEnd := start + int(dec.InputOffset())

	r := newReport(FormatIPS)
	if isBody(first) {
		if err := decodeBody(r, data[start:firstEnd], start); err != nil {
			return nil, err
		}
		r.finish()
		return r, nil
	}

	var h ipsHeader
	if err := json.Unmarshal(data[start:firstEnd], &h); err != nil && !isTypeErr(err) {
		return nil, fmt.Errorf("applecrash: ips header: %w", err)
	}
	r.BugType = rawText(h.BugType)
	for k, v := range first {
		r.Metadata[k] = rawText(v)
	}

	rest := trimLeft(data[firstEnd:])
	restOff := len(data) - len(rest)
	switch {
	case len(rest) == 0:
		return nil, fmt.Errorf("applecrash: ips body: missing after header (bug_type %q): %w", r.BugType, io.ErrUnexpectedEOF)
	case rest[0] == '{':
		if err := decodeBody(r, rest, restOff); err != nil {
			return nil, err
		}
	default:
		// bug_type 109: the body is a text report.
		meta := r.Metadata
		r.Metadata = map[string]string{}
		if err := parseTextInto(r, rest); err != nil {
			return nil, fmt.Errorf("applecrash: ips text body: %w", err)
		}
		for k, v := range meta {
			if _, dup := r.Metadata[k]; !dup {
				r.Metadata[k] = v
			}
		}
	}
	r.mergeHeader(&h)
	r.finish()
	return r, nil
}

// isBody tells a header-less body object from a header.
func isBody(m map[string]json.RawMessage) bool {
	for _, k := range []string{"threads", "usedImages", "procName"} {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// isTypeErr reports a value of an unexpected JSON type. encoding/json skips
// such a value and keeps decoding, so the rest of the report is still good.
func isTypeErr(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// jsonErr places a syntax error at its offset in the whole file.
func jsonErr(err error, base int) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("byte %d: %w", int64(base)+se.Offset, err)
	}
	return err
}

// rawText renders a JSON value for display: strings unquoted, anything else
// as written.
func rawText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}

func decodeBody(r *Report, body []byte, off int) error {
	var b ipsBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil && !isTypeErr(err) {
		return fmt.Errorf("applecrash: ips body: %w", jsonErr(err, off))
	}
	if len(b.Threads) == 0 && len(b.UsedImages) == 0 && b.ProcName == "" && b.Exception.Type == "" {
		return fmt.Errorf("%w: ips body has no threads, images or process", ErrNotAReport)
	}

	r.Process, r.PID, r.Path, r.ParentProcess = b.ProcName, b.PID, b.ProcPath, b.ParentProc
	r.Identifier = b.BundleInfo.Identifier
	r.Version = versionString(b.BundleInfo.ShortVersion, b.BundleInfo.Version)
	r.CodeType = stripQualifier(b.CPUType)
	r.Arch = normalizeArch(b.CPUType)
	if b.OSVersion.Train != "" {
		r.OSName, r.OSVersion, _ = parseOS(b.OSVersion.Train)
	}
	r.OSBuild = b.OSVersion.Build
	r.HardwareModel = b.ModelCode
	r.Time = parseTime(b.CaptureTime)
	r.LaunchTime = parseTime(b.ProcLaunch)
	r.IncidentID = b.Incident
	r.ExceptionType, r.ExceptionCodes = b.Exception.Type, b.Exception.Codes
	r.ExceptionSubtype, r.Signal = b.Exception.Subtype, b.Exception.Signal
	r.TerminationReason = terminationReason(b.Termination.Namespace, b.Termination.Code, b.Termination.Indicator)
	r.ApplicationSpecificInfo = asiText(b.ASI)
	if b.FaultingThread != nil && *b.FaultingThread >= 0 {
		r.CrashedThread = *b.FaultingThread
	}

	r.Images = make([]Image, 0, len(b.UsedImages))
	for _, u := range b.UsedImages {
		name := u.Name
		if name == "" && u.Path != "" {
			name = path.Base(u.Path)
		}
		r.Images = append(r.Images, Image{
			Base: u.Base, Size: u.Size, Name: name, Path: u.Path, Arch: u.Arch,
			Version: u.ShortVersion, BundleID: u.BundleID,
			UUID: normalizeUUID(u.UUID), App: u.Source == "P",
		})
	}
	r.Threads = make([]Thread, 0, len(b.Threads))
	for i, t := range b.Threads {
		r.Threads = append(r.Threads, Thread{
			Index: i, ID: t.ID, Name: t.Name, Queue: t.Queue, Crashed: t.Triggered,
			Frames:    r.ipsFrames(t.Frames),
			Registers: ipsRegisters(t.ThreadState),
		})
	}
	r.LastExceptionBacktrace = r.ipsFrames(b.LastExceptionBacktrace)
	return nil
}

// ipsFrames resolves (imageIndex, imageOffset) pairs against r.Images, which
// must already be filled.
func (r *Report) ipsFrames(in []ipsFrame) []Frame {
	if len(in) == 0 {
		return nil
	}
	out := make([]Frame, 0, len(in))
	for i, f := range in {
		fr := Frame{
			Index: i, Module: "???", ImageOffset: f.ImageOffset,
			Symbol: f.Symbol, File: f.SourceFile, Line: f.SourceLine, Inline: f.Inline,
		}
		if f.Symbol != "" {
			fr.SymbolOffset = f.SymbolLocation
		}
		if f.ImageIndex != nil && *f.ImageIndex >= 0 && *f.ImageIndex < len(r.Images) {
			im := &r.Images[*f.ImageIndex]
			fr.Address = im.Base + f.ImageOffset
			if im.Name != "" {
				fr.Module = im.Name
			}
		}
		out = append(out, fr)
	}
	return out
}

// notRegisters are threadState keys that describe the exception rather than
// hold a register; text reports print them outside the register block.
var notRegisters = map[string]bool{"flavor": true, "cpu": true, "trap": true, "err": true}

// ipsRegisters flattens {"x":[{"value":1},...], "pc":{"value":2}, ...}.
func ipsRegisters(state map[string]json.RawMessage) map[string]uint64 {
	if len(state) == 0 {
		return nil
	}
	regs := make(map[string]uint64, len(state))
	// Value stays raw so that a value of the wrong type is skipped instead
	// of read as 0.
	type value struct {
		Value json.RawMessage `json:"value"`
	}
	for k, raw := range state {
		name := strings.ToLower(k)
		if notRegisters[name] {
			continue
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			var vs []value
			if err := json.Unmarshal(raw, &vs); err != nil && !isTypeErr(err) {
				continue
			}
			for i, v := range vs {
				if n, ok := rawUint(v.Value); ok {
					regs[name+strconv.Itoa(i)] = n
				}
			}
			continue
		}
		var v value
		if json.Unmarshal(raw, &v) == nil {
			if n, ok := rawUint(v.Value); ok {
				regs[name] = n
			}
		}
	}
	return regs
}

// rawUint reads a JSON integer; anything else (strings, floats, negatives,
// null) is not a register value.
func rawUint(raw json.RawMessage) (uint64, bool) {
	n, err := strconv.ParseUint(string(raw), 10, 64)
	return n, err == nil
}

// versionString renders a bundle version the way text reports do: "1.0 (1)".
func versionString(short, build string) string {
	switch {
	case short != "" && build != "":
		return short + " (" + build + ")"
	case short != "":
		return short
	}
	return build
}

// terminationReason renders the termination object as the text line
// "Namespace SIGNAL, Code 6 Abort trap: 6"; reason codes such as 0x8badf00d
// read better in hex, signal numbers in decimal.
func terminationReason(ns string, code *uint64, indicator string) string {
	var b strings.Builder
	if ns != "" {
		b.WriteString("Namespace " + ns)
	}
	if code != nil {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if *code < 0x10000 {
			b.WriteString("Code " + strconv.FormatUint(*code, 10))
		} else {
			b.WriteString("Code 0x" + strconv.FormatUint(*code, 16))
		}
	}
	if indicator != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(indicator)
	}
	return b.String()
}

// asiText joins the "asi" messages in key order, so the result does not
// depend on map iteration.
func asiText(asi map[string][]string) string {
	keys := make([]string, 0, len(asi))
	for k := range asi {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		lines = append(lines, asi[k]...)
	}
	return strings.Join(lines, "\n")
}

// mergeHeader fills what the body left empty from the header line; for
// bug_type 109 reports the text body usually repeats it all.
func (r *Report) mergeHeader(h *ipsHeader) {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&r.Process, h.Name)
	fill(&r.Process, h.AppName)
	fill(&r.Identifier, h.BundleID)
	fill(&r.Version, versionString(h.AppVersion, h.BuildVersion))
	fill(&r.IncidentID, h.IncidentID)
	if r.OSName == "" && r.OSVersion == "" {
		name, version, build := parseOS(h.OSVersion)
		r.OSName, r.OSVersion = name, version
		fill(&r.OSBuild, build)
	}
	if r.Time.IsZero() {
		r.Time = parseTime(h.Timestamp)
	}
}
