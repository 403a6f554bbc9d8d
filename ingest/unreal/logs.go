package unreal

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// LogEntry is one line of an Unreal log, such as
//
//	[2018.10.29-16.56.38:332][  0]LogWindows: Error: Failed to load 'x.dll'
//
// split into its time, category ("LogWindows"), verbosity and message.
type LogEntry struct {
	// Time is the line's own timestamp, else the time the log was opened
	// (from its first line), else zero.
	Time      time.Time
	Component string
	// Level is "fatal", "error" or "warning" for those verbosities, else "".
	Level   string
	Message string
}

// ParseLogs returns the last limit non-empty lines of a log as entries,
// oldest first. Only the tail is looked at, so a huge log costs no more
// than its last lines.
func ParseLogs(data []byte, limit int) []LogEntry {
	if limit <= 0 || len(data) == 0 {
		return nil
	}
	data = toUTF8(data)
	var opened time.Time
	first, _, _ := bytes.Cut(data, []byte("\n"))
	if t, ok := parseOpenLine(string(bytes.TrimRight(first, "\r"))); ok {
		opened = t
		// The first line is the file header, not a log entry.
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		} else {
			data = nil
		}
	}
	var lines []string
	for end := len(data); end > 0 && len(lines) < limit; {
		start := bytes.LastIndexByte(data[:end], '\n') + 1
		line := strings.TrimRight(string(data[start:end]), "\r\n")
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
		end = start - 1
	}
	out := make([]LogEntry, 0, len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		out = append(out, parseLine(lines[i], opened))
	}
	return out
}

// toUTF8 decodes a UTF-16LE log (the engine writes one on some platforms)
// and drops a UTF-8 byte-order mark; anything else is taken as UTF-8 with
// invalid bytes replaced.
func toUTF8(b []byte) []byte {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe {
		u := make([]uint16, 0, (len(b)-2)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
		}
		return []byte(string(utf16.Decode(u)))
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(b) {
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return b
}

// parseOpenLine reads "Log file open, 12/13/18 15:54:53" (US date, local
// time of the player's machine, taken as UTC for want of its zone).
func parseOpenLine(s string) (time.Time, bool) {
	const prefix = "Log file open, "
	if !strings.HasPrefix(s, prefix) {
		return time.Time{}, false
	}
	t, err := time.Parse("01/02/06 15:04:05", strings.TrimSpace(s[len(prefix):]))
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// parseLine splits one line; a line without the usual prefixes is all
// message.
func parseLine(s string, fallback time.Time) LogEntry {
	e := LogEntry{Time: fallback}
	rest := s
	if t, r, ok := parseTimePrefix(rest); ok {
		e.Time, rest = t, r
	}
	if comp, r, ok := cutWord(rest); ok {
		e.Component, rest = comp, r
		if verb, r2, ok := cutWord(rest); ok {
			switch verb {
			case "Fatal":
				e.Level, rest = "fatal", r2
			case "Error":
				e.Level, rest = "error", r2
			case "Warning":
				e.Level, rest = "warning", r2
			case "Display", "Log", "Verbose", "VeryVerbose":
				rest = r2
			}
		}
	}
	e.Message = rest
	return e
}

// parseTimePrefix reads "[2018.10.29-16.56.38:332][  0]" (UTC, the
// engine's default log time format) and returns the rest of the line.
func parseTimePrefix(s string) (time.Time, string, bool) {
	if len(s) < 25 || s[0] != '[' || s[24] != ']' {
		return time.Time{}, s, false
	}
	t, err := time.Parse("2006.01.02-15.04.05", s[1:20])
	if err != nil || s[20] != ':' {
		return time.Time{}, s, false
	}
	ms, err := strconv.Atoi(s[21:24])
	if err != nil {
		return time.Time{}, s, false
	}
	t = t.Add(time.Duration(ms) * time.Millisecond)
	rest := s[25:]
	// The frame counter: "[  0]".
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end > 0 && end < 12 {
			rest = rest[end+1:]
		}
	}
	return t, rest, true
}

// cutWord splits "Word: rest" where Word is an identifier.
func cutWord(s string) (string, string, bool) {
	i := strings.Index(s, ": ")
	if i <= 0 || i > 64 {
		return "", s, false
	}
	for j := 0; j < i; j++ {
		c := s[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return "", s, false
		}
	}
	return s[:i], s[i+2:], true
}
