package applecrash

import (
	"bytes"
	"path"
	"strings"
)

// ParseText reads a legacy text crash report (.crash). Lines it does not
// recognize are skipped, and a report cut short yields what precedes the cut;
// only input with nothing recognizable fails, with ErrNotAReport.
func ParseText(data []byte) (*Report, error) {
	r := newReport(FormatText)
	if err := parseTextInto(r, data); err != nil {
		return nil, err
	}
	r.finish()
	return r, nil
}

// parseTextInto fills r from a text report; the bug_type 109 .ips reader
// shares it.
func parseTextInto(r *Report, data []byte) error {
	p := textParser{r: r, threadAt: map[int]int{}}
	data = bytes.TrimPrefix(data, utf8BOM)
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		p.line(strings.TrimRight(string(line), " \t\r"))
	}
	p.endBlock()
	if !p.recognized {
		return ErrNotAReport
	}
	return nil
}

// textState is what the previous lines opened: the parser is line-driven and
// each section is recognized by its first line.
type textState int

const (
	stNone      textState = iota
	stFrames              // numbered frame lines of a thread or of the last exception backtrace
	stRegisters           // "name: 0x..." lines of a thread state
	stImages              // the Binary Images table
	stBlock               // lines of a multi-line header value
)

// lebTarget as the frame target means the last exception backtrace.
const lebTarget = -1

type textParser struct {
	r        *Report
	threadAt map[int]int // thread number -> position in r.Threads
	state    textState

	frameTarget int               // position in r.Threads, or lebTarget
	regs        map[string]uint64 // registers of the thread state being read

	blockKey   string
	blockLines []string

	// recognized is set by anything only a crash report has: a known header
	// key, a thread or an image line.
	recognized bool
}

func (p *textParser) line(raw string) {
	trimmed := strings.TrimSpace(raw)
	switch p.state {
	case stFrames:
		if trimmed != "" && isDigit(trimmed[0]) {
			if f, ok := parseFrameLine(trimmed); ok {
				p.addFrame(f)
				return
			}
		}
		if p.frameTarget == lebTarget && strings.HasPrefix(trimmed, "(") {
			p.addAddressList(trimmed)
			return
		}
		p.state = stNone
	case stRegisters:
		if trimmed != "" && parseRegisters(trimmed, p.regs) > 0 {
			return
		}
		p.state = stNone
	case stImages:
		if im, ok := parseImageLine(trimmed); ok {
			p.r.Images = append(p.r.Images, im)
			p.recognized = true
			return
		}
		p.state = stNone
	case stBlock:
		if trimmed != "" && !startsSection(raw) {
			p.blockLines = append(p.blockLines, raw)
			return
		}
		p.endBlock()
	}
	if trimmed == "" {
		return
	}
	if strings.HasPrefix(raw, "Thread ") && p.threadLine(raw) {
		return
	}
	switch trimmed {
	case "Binary Images:":
		p.state = stImages
		return
	case "Last Exception Backtrace:":
		p.state, p.frameTarget = stFrames, lebTarget
		p.recognized = true
		return
	}
	if key, val, ok := splitKey(raw); ok {
		p.header(key, val)
	}
}

// startsSection tells whether a line ends a multi-line header block that is
// not followed by the usual blank line.
func startsSection(raw string) bool {
	if raw == "Binary Images:" {
		return true
	}
	rest, ok := strings.CutPrefix(raw, "Thread ")
	return ok && rest != "" && isDigit(rest[0])
}

// splitKey splits a "Key:   value" header line. Keys start at column 0 with
// a letter, so indented table lines and frame lines are never taken for one.
func splitKey(raw string) (key, val string, ok bool) {
	if raw == "" || !isLetter(raw[0]) {
		return "", "", false
	}
	i := strings.IndexByte(raw, ':')
	if i <= 0 || i > 80 {
		return "", "", false
	}
	if i+1 < len(raw) && raw[i+1] != ' ' && raw[i+1] != '\t' {
		return "", "", false
	}
	return strings.TrimSpace(raw[:i]), strings.TrimSpace(raw[i+1:]), true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isBlockKey tells the header keys whose value follows on the next lines;
// other keys with an empty value stay empty, so that ordinary header lines
// after them are never swallowed into a block.
func isBlockKey(key string) bool {
	for _, prefix := range []string{
		"Application Specific", "Kernel Triage", "External Modification Summary",
		"VM Region Summary", "System Profile", "Extra Information",
	} {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}

func (p *textParser) header(key, val string) {
	if val == "" && isBlockKey(key) {
		p.state, p.blockKey, p.blockLines = stBlock, key, p.blockLines[:0]
		return
	}
	r := p.r
	if _, dup := r.Metadata[key]; dup {
		return
	}
	r.Metadata[key] = val
	known := true
	switch key {
	case "Incident Identifier":
		r.IncidentID = val
	case "Hardware Model":
		r.HardwareModel = val
	case "Process":
		r.Process, r.PID = splitProcess(val)
	case "Path":
		r.Path = val
	case "Identifier":
		r.Identifier = val
	case "Version":
		r.Version = val
	case "Code Type":
		r.CodeType = stripQualifier(val)
		r.Arch = normalizeArch(val)
	case "Parent Process":
		r.ParentProcess, _ = splitProcess(val)
	case "Date/Time":
		r.Time = parseTime(val)
	case "Launch Time":
		r.LaunchTime = parseTime(val)
	case "OS Version":
		r.OSName, r.OSVersion, r.OSBuild = parseOS(val)
	case "Exception Type":
		r.ExceptionType, r.Signal = splitExceptionType(val)
	case "Exception Codes":
		r.ExceptionCodes = val
	case "Exception Subtype":
		r.ExceptionSubtype = val
	case "Termination Reason":
		r.TerminationReason = val
	case "Crashed Thread", "Triggered by Thread":
		if n, ok := leadingInt(val); ok && r.CrashedThread < 0 {
			r.CrashedThread = n
		}
	case "Application Specific Information":
		r.ApplicationSpecificInfo = val
	case "CrashReporter Key", "Report Version", "Beta Identifier", "Anonymous UUID":
	default:
		known = false
	}
	p.recognized = p.recognized || known
}

func (p *textParser) endBlock() {
	if p.state == stBlock {
		p.state = stNone
	}
	if p.blockKey == "" {
		return
	}
	val := strings.Join(p.blockLines, "\n")
	if _, dup := p.r.Metadata[p.blockKey]; !dup {
		p.r.Metadata[p.blockKey] = val
		if p.blockKey == "Application Specific Information" {
			p.r.ApplicationSpecificInfo = val
			p.recognized = true
		}
	}
	p.blockKey, p.blockLines = "", p.blockLines[:0]
}

// thread returns the position of thread n in r.Threads, adding it when the
// report names it for the first time.
func (p *textParser) thread(n int) int {
	if i, ok := p.threadAt[n]; ok {
		return i
	}
	p.r.Threads = append(p.r.Threads, Thread{Index: n})
	i := len(p.r.Threads) - 1
	p.threadAt[n] = i
	p.recognized = true
	return i
}

// threadLine reads the three line kinds that start with "Thread N":
//
//	Thread 0 name:  Dispatch queue: com.apple.main-thread
//	Thread 0 Crashed:: Dispatch queue: com.apple.main-thread
//	Thread 0 crashed with ARM Thread State (64-bit):
func (p *textParser) threadLine(raw string) bool {
	rest := raw[len("Thread "):]
	digits := 0
	for digits < len(rest) && isDigit(rest[digits]) {
		digits++
	}
	n, ok := leadingInt(rest[:digits])
	if !ok {
		return false
	}
	rest = rest[digits:]
	lower := strings.ToLower(rest)
	switch {
	case strings.HasPrefix(lower, " name:"):
		t := &p.r.Threads[p.thread(n)]
		setNameQueue(t, rest[len(" name:"):])
		p.state = stNone
	case strings.HasPrefix(lower, " crashed with ") && strings.HasSuffix(rest, ":"):
		t := &p.r.Threads[p.thread(n)]
		if t.Registers == nil {
			t.Registers = map[string]uint64{}
		}
		p.state, p.regs = stRegisters, t.Registers
	case strings.HasPrefix(rest, ":"), strings.HasPrefix(rest, " Crashed:"):
		i := p.thread(n)
		t := &p.r.Threads[i]
		if after, ok := strings.CutPrefix(rest, " Crashed"); ok {
			t.Crashed = true
			rest = after
		}
		// "Thread 1:: com.apple.NSEventThread" names the thread inline.
		if after, ok := strings.CutPrefix(rest, "::"); ok {
			setNameQueue(t, after)
		}
		p.state, p.frameTarget = stFrames, i
	default:
		return false
	}
	return true
}

// setNameQueue reads "Dispatch queue: com.apple.main-thread",
// "com.apple.NSEventThread" or both, name first.
func setNameQueue(t *Thread, s string) {
	s = strings.TrimSpace(s)
	name, queue, hasQueue := strings.Cut(s, "Dispatch queue:")
	if name = strings.TrimSpace(name); name != "" {
		t.Name = name
	}
	if hasQueue {
		t.Queue = strings.TrimSpace(queue)
	}
}

func (p *textParser) addFrame(f Frame) {
	if p.frameTarget == lebTarget {
		p.r.LastExceptionBacktrace = append(p.r.LastExceptionBacktrace, f)
		return
	}
	t := &p.r.Threads[p.frameTarget]
	t.Frames = append(t.Frames, f)
}

// addAddressList reads the unsymbolicated last exception backtrace some iOS
// reports write as "(0x18f0d3f20 0x18e2d4f20 ...)".
func (p *textParser) addAddressList(s string) {
	for _, tok := range strings.Fields(strings.Trim(s, "()")) {
		if addr, ok := parseHex(tok); ok {
			p.addFrame(Frame{Index: len(p.r.LastExceptionBacktrace), Address: addr})
		}
	}
}

// parseFrameLine reads
//
//	0   libsystem_kernel.dylib        	0x00000001b6d8e7c8 0x1b6d86000 + 34760
//	1   demo                          	0x0000000100003f2c main + 44 (demo.c:12)
//	2   Google Chrome Framework       	0x000000010a1b2c3d -[Foo bar:] + 12
//
// Module names contain spaces, so the module ends where the first 0x-number
// column starts.
func parseFrameLine(s string) (Frame, bool) {
	var f Frame
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	idx, ok := leadingInt(s[:n])
	if !ok || n == len(s) || (s[n] != ' ' && s[n] != '\t') {
		return f, false
	}
	f.Index = idx
	body := s[n:]
	start, end := -1, -1
	for i := 1; i+2 < len(body); i++ {
		if (body[i-1] == ' ' || body[i-1] == '\t') && body[i] == '0' && body[i+1] == 'x' {
			j := i + 2
			for j < len(body) && isHexDigit(body[j]) {
				j++
			}
			if j > i+2 && (j == len(body) || body[j] == ' ' || body[j] == '\t') {
				start, end = i, j
				break
			}
		}
	}
	if start < 0 {
		return f, false
	}
	f.Module = strings.TrimSpace(body[:start])
	if f.Module == "" {
		return f, false
	}
	if f.Address, ok = parseHex(body[start:end]); !ok {
		return f, false
	}
	parseFrameTail(&f, strings.TrimSpace(body[end:]))
	return f, true
}

// parseFrameTail reads what follows the address: "0x1b6d86000 + 34760"
// (image load address and offset), "main + 44 (demo.c:12)", optionally
// followed by " [inlined]".
func parseFrameTail(f *Frame, s string) {
	if rest, ok := strings.CutSuffix(s, "[inlined]"); ok {
		f.Inline = true
		s = strings.TrimSpace(rest)
	}
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndex(s, " ("); i >= 0 {
			if file, line, ok := splitFileLine(s[i+2 : len(s)-1]); ok {
				f.File, f.Line = file, line
				s = strings.TrimSpace(s[:i])
			}
		}
	}
	sym, off := s, uint64(0)
	if i := strings.LastIndex(s, " + "); i >= 0 {
		if v, ok := parseUint(strings.TrimSpace(s[i+3:])); ok {
			sym, off = strings.TrimSpace(s[:i]), v
		}
	}
	if _, isNumber := parseUint(sym); isNumber {
		// Unsymbolicated: the "symbol" is the image's load address.
		f.ImageOffset = off
		return
	}
	f.Symbol, f.SymbolOffset = sym, off
}

// splitFileLine reads "demo.c:12" or "demo.c:12:5".
func splitFileLine(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, false
	}
	line, ok := leadingInt(s[i+1:])
	if !ok || strings.TrimSpace(s[i+1:]) != s[i+1:] {
		return "", 0, false
	}
	if j := strings.LastIndexByte(s[:i], ':'); j > 0 {
		if l, ok := leadingInt(s[j+1 : i]); ok && allDigits(s[j+1:i]) {
			return s[:j], l, true // the last number was a column
		}
	}
	if !allDigits(s[i+1:]) {
		return "", 0, false
	}
	return s[:i], line, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isHexDigit(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// parseRegisters reads "x0: 0x0000000000000000   x1: 0x..." lines into regs
// and returns how many it found. Text after a value ("(Data Abort) byte
// write Translation fault") is skipped.
func parseRegisters(s string, regs map[string]uint64) int {
	fields := strings.Fields(s)
	found := 0
	for i := 0; i+1 < len(fields); i++ {
		name, ok := strings.CutSuffix(fields[i], ":")
		if !ok || name == "" {
			continue
		}
		v, ok := parseHex(fields[i+1])
		if !ok {
			continue
		}
		name = strings.ToLower(name)
		if name == "rfl" {
			name = "rflags" // the ips spelling, so both formats agree
		}
		regs[name] = v
		found++
		i++
	}
	return found
}

// parseImageLine reads a Binary Images row:
//
//	0x100000000 - 0x100003fff +demo arm64  <0123456789abcdef0123456789abcdef> /path/demo
//	0x7ff80f5c1000 - 0x7ff80f9c0fff com.apple.AppKit (6.9) <UUID> /System/...
func parseImageLine(s string) (Image, bool) {
	var im Image
	tok, rest := nextField(s)
	base, ok := parseHex(tok)
	if !ok {
		return im, false
	}
	if tok, rest = nextField(rest); tok != "-" {
		return im, false
	}
	tok, rest = nextField(rest)
	end, ok := parseHex(tok)
	if !ok {
		return im, false
	}
	im.Base = base
	switch {
	case end < base:
	case end-base == ^uint64(0):
		im.Size = ^uint64(0)
	default:
		im.Size = end - base + 1
	}
	rest = strings.TrimSpace(rest)
	if after, ok := strings.CutPrefix(rest, "+"); ok {
		im.App, rest = true, after
	}
	before := rest
	if lt := strings.IndexByte(rest, '<'); lt >= 0 {
		if gt := strings.IndexByte(rest[lt:], '>'); gt >= 0 {
			im.UUID = normalizeUUID(rest[lt+1 : lt+gt])
			im.Path = strings.TrimSpace(rest[lt+gt+1:])
			before = strings.TrimSpace(rest[:lt])
		}
	} else if i := strings.Index(rest, " /"); i >= 0 {
		before, im.Path = strings.TrimSpace(rest[:i]), rest[i+1:]
	}
	if open := matchingOpen(before); open >= 0 {
		// macOS: "com.apple.AppKit (6.9)"; "(*)" is the unknown version.
		if v := strings.TrimSpace(before[open+1 : len(before)-1]); v != "*" {
			im.Version = v
		}
		im.Name = strings.TrimSpace(before[:open])
		if strings.Contains(im.Name, ".") && im.Name != path.Base(im.Path) {
			im.BundleID = im.Name
		}
	} else if i := strings.LastIndexAny(before, " \t"); i >= 0 && normalizeArch(before[i+1:]) != "" {
		im.Name, im.Arch = strings.TrimSpace(before[:i]), before[i+1:]
	} else {
		im.Name = before
	}
	return im, true
}

// matchingOpen returns the index of the '(' that closes at the end of s, or
// -1 when s does not end with a parenthesized group.
func matchingOpen(s string) int {
	if !strings.HasSuffix(s, ")") {
		return -1
	}
	depth := 0
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// nextField returns the first whitespace-separated field of s and the rest.
func nextField(s string) (string, string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}
