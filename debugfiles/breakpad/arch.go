package breakpad

import (
	"strings"
	"sync"
)

// archToSentry maps the architecture names dump_syms writes on each
// platform (Linux uses the kernel's names, macOS NXGetArchInfo's, Windows
// its own) to Sentry's spelling. Names already in Sentry's spelling ("arm",
// "arm64e", "armv7", "ppc", "mips", ...) pass through lowercased.
var archToSentry = sync.OnceValue(func() map[string]string {
	return map[string]string{
		"i386":    "x86",
		"i486":    "x86",
		"i586":    "x86",
		"i686":    "x86",
		"x86":     "x86",
		"amd64":   "x86_64",
		"x86_64":  "x86_64",
		"x86-64":  "x86_64",
		"aarch64": "arm64",
		"arm64":   "arm64",
		"armv8":   "arm64",
		"ppc64le": "ppc64le",
		"powerpc": "ppc",
		"mipsel":  "mips",
	}
})

// SentryArch converts a Breakpad MODULE architecture to Sentry's spelling.
func SentryArch(arch string) string {
	a := strings.ToLower(arch)
	if s, ok := archToSentry()[a]; ok {
		return s
	}
	return a
}

// BreakpadArch converts an architecture in Sentry's spelling to the name
// dump_syms writes in MODULE records; Breakpad and Sentry agree on the
// common names, so this is the identity except for a few aliases.
func BreakpadArch(arch string) string {
	switch a := strings.ToLower(arch); a {
	case "amd64":
		return "x86_64"
	case "aarch64":
		return "arm64"
	case "i386", "i686":
		return "x86"
	default:
		return a
	}
}
