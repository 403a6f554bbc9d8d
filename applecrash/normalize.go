package applecrash

import (
	"strconv"
	"strings"
	"time"
)

// normalizeArch maps the CPU names of both formats ("ARM-64", "X86-64",
// "arm64e", "armv7s") to the names debug files use.
func normalizeArch(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = strings.TrimSpace(s[:i]) // "X86-64 (Native)"
	}
	switch strings.ToLower(s) {
	case "arm-64", "arm64", "arm_64", "arm64_32":
		return "arm64"
	case "arm-64e", "arm64e":
		return "arm64e"
	case "x86-64", "x86_64", "x86_64h", "amd64":
		return "x86_64"
	case "x86", "x86-32", "i386", "i486", "i686":
		return "x86"
	case "arm", "arm-32", "armv6", "armv7", "armv7s", "armv7k", "armv7f":
		return "arm"
	}
	return ""
}

// stripQualifier drops a trailing parenthesized remark: "X86-64 (Native)".
func stripQualifier(s string) string {
	if i := strings.IndexByte(s, '('); i > 0 {
		return strings.TrimSpace(s[:i])
	}
	return strings.TrimSpace(s)
}

// parseOS splits "macOS 13.1 (22C65)", "iPhone OS 16.2 (20C65)" or
// "Mac OS X Version 10.6.8 (Build 10K549)" into name, version and build.
func parseOS(s string) (name, version, build string) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndexByte(s, '('); i >= 0 {
			build = strings.TrimSpace(strings.TrimPrefix(s[i+1:len(s)-1], "Build "))
			s = strings.TrimSpace(s[:i])
		}
	}
	// The version is the last word that starts with a digit; names such as
	// "Mac OS X" have none.
	if i := strings.LastIndexByte(s, ' '); i >= 0 && i+1 < len(s) && isDigit(s[i+1]) {
		name, version = strings.TrimSpace(s[:i]), s[i+1:]
	} else if s != "" && isDigit(s[0]) {
		version = s
	} else {
		name = s
	}
	name = strings.TrimSuffix(name, " Version")
	return name, version, build
}

// normalizeUUID returns the lowercase 8-4-4-4-12 form of a UUID written with
// or without dashes, and "" for anything else or the all-zero UUID.
func normalizeUUID(s string) string {
	var hex [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			continue
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		default:
			return ""
		}
		if n == len(hex) {
			return ""
		}
		hex[n] = c
		n++
	}
	if n != len(hex) {
		return ""
	}
	zero := true
	for _, c := range hex {
		if c != '0' {
			zero = false
			break
		}
	}
	if zero {
		return ""
	}
	h := string(hex[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// timeLayouts are the timestamp spellings seen in reports. Go accepts a
// fractional second after the seconds field even when the layout has none,
// so ".678" and ".6780" need no layouts of their own.
var timeLayouts = []string{
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05 -0700 MST",
	"2006-01-02 15:04:05",
	time.RFC3339Nano,
}

// parseTime returns the zero time for text it cannot read: a report with an
// odd date is still worth symbolicating.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// parseHex reads "0x1b6d86000" (the prefix is required).
func parseHex(s string) (uint64, bool) {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return 0, false
	}
	v, err := strconv.ParseUint(s[2:], 16, 64)
	return v, err == nil
}

// parseUint reads a decimal or 0x-prefixed number.
func parseUint(s string) (uint64, bool) {
	if v, ok := parseHex(s); ok {
		return v, true
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// leadingInt reads the decimal number at the start of s ("0  Dispatch queue:
// ..."); ok is false when s does not start with one or it overflows an int.
func leadingInt(s string) (int, bool) {
	s = strings.TrimSpace(s)
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n == 0 || n > 9 {
		return 0, false
	}
	v, err := strconv.Atoi(s[:n])
	return v, err == nil
}

// splitProcess splits "Google Chrome Helper [1234]" into name and pid.
func splitProcess(s string) (string, int) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "]") {
		if i := strings.LastIndex(s, "["); i >= 0 {
			if pid, ok := leadingInt(s[i+1 : len(s)-1]); ok {
				return strings.TrimSpace(s[:i]), pid
			}
		}
	}
	return s, 0
}

// splitExceptionType splits "EXC_BAD_ACCESS (SIGSEGV)" into type and signal.
func splitExceptionType(s string) (string, string) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, ")") {
		if i := strings.LastIndexByte(s, '('); i > 0 {
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1 : len(s)-1])
		}
	}
	return s, ""
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
