package issues

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Group computes the grouping hash of a normalized event, following the
// priority of PROTOCOL.md: an explicit fingerprint (with {{ default }}
// expanded), else the frames of the crashing stack (in-app frames when
// there are any; function and file basename, or module + offset for
// frames without symbols; never addresses or line numbers), else the
// exception's type and value, else the message.
func Group(ev *Event) (string, *Grouping) {
	def := defaultGrouping(ev)
	if len(ev.Fingerprint) == 0 || len(ev.Fingerprint) == 1 && isDefaultVar(ev.Fingerprint[0]) {
		return hashOf(def), def
	}
	g := &Grouping{Method: "fingerprint"}
	for _, part := range ev.Fingerprint {
		switch v := fingerprintVar(part); v {
		case "default":
			g.Components = append(g.Components, def.Components...)
		case "transaction":
			g.Components = append(g.Components, ev.Transaction)
		case "level":
			g.Components = append(g.Components, ev.Level)
		case "type", "error.type":
			g.Components = append(g.Components, mainException(ev).typeOrEmpty())
		case "message":
			g.Components = append(g.Components, ev.Message())
		default:
			g.Components = append(g.Components, part)
		}
	}
	return hashOf(g), g
}

func hashOf(g *Grouping) string {
	h := md5.New()
	h.Write([]byte(g.Method))
	for _, c := range g.Components {
		h.Write([]byte{0})
		h.Write([]byte(c))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fingerprintVar returns the variable name of a "{{ name }}" part, or "".
func fingerprintVar(s string) string {
	s = strings.TrimSpace(s)
	if inner, ok := strings.CutPrefix(s, "{{"); ok {
		if inner, ok = strings.CutSuffix(inner, "}}"); ok {
			return strings.ToLower(strings.TrimSpace(inner))
		}
	}
	return ""
}

func isDefaultVar(s string) bool { return fingerprintVar(s) == "default" }

func defaultGrouping(ev *Event) *Grouping {
	images := ev.images()
	if st := crashingStacks(ev); len(st) > 0 {
		var comps []string
		for _, s := range st {
			comps = append(comps, stackComponents(s.Frames, images)...)
		}
		if len(comps) > 0 {
			return &Grouping{Method: "stacktrace", Components: comps}
		}
	}
	if ev.Exception != nil {
		var comps []string
		for _, e := range ev.Exception.Values {
			comps = append(comps, e.Type, parameterize(e.Value))
		}
		return &Grouping{Method: "exception", Components: comps}
	}
	if m := ev.Message(); m != "" {
		// The template groups better than the formatted text when the
		// SDK sent one: parameters never split a group.
		if ev.LogEntry.Message != "" && len(ev.LogEntry.Params) > 0 {
			m = ev.LogEntry.Message
		}
		return &Grouping{Method: "message", Components: []string{parameterize(m)}}
	}
	return &Grouping{Method: "fallback", Components: []string{}}
}

func (e *Event) images() []*DebugImage {
	if e.DebugMeta == nil {
		return nil
	}
	return e.DebugMeta.Images
}

// crashingStacks returns the stacks that describe the crash: every
// exception's, else the top-level one, else the crashed thread's.
func crashingStacks(ev *Event) []*Stacktrace {
	var out []*Stacktrace
	if ev.Exception != nil {
		for _, e := range ev.Exception.Values {
			if e.Stacktrace != nil && len(e.Stacktrace.Frames) > 0 {
				out = append(out, e.Stacktrace)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	if ev.Stacktrace != nil && len(ev.Stacktrace.Frames) > 0 {
		return []*Stacktrace{ev.Stacktrace}
	}
	if ev.Threads != nil {
		for _, t := range ev.Threads.Values {
			if t.Crashed && t.Stacktrace != nil && len(t.Stacktrace.Frames) > 0 {
				return []*Stacktrace{t.Stacktrace}
			}
		}
	}
	return nil
}

// stackComponents names the frames that count for grouping: the in-app
// ones when any frame is marked in-app, else all of them.
func stackComponents(frames []*Frame, images []*DebugImage) []string {
	anyInApp := false
	for _, f := range frames {
		if f.InApp != nil && *f.InApp {
			anyInApp = true
			break
		}
	}
	var out []string
	for _, f := range frames {
		if anyInApp && (f.InApp == nil || !*f.InApp) {
			continue
		}
		out = append(out, frameComponent(f, images))
	}
	return out
}

// frameComponent is a frame's identity for grouping.
func frameComponent(f *Frame, images []*DebugImage) string {
	if fn := NormalizeFunction(firstNonEmpty(f.Function, f.Symbol)); fn != "" {
		if file := basename(firstNonEmpty(f.Filename, f.AbsPath)); file != "" {
			return fn + " (" + file + ")"
		}
		return fn
	}
	if mo := moduleOffset(f, images); mo != "" {
		return mo
	}
	if f.Module != "" {
		return f.Module
	}
	if file := basename(firstNonEmpty(f.Filename, f.AbsPath)); file != "" {
		return file
	}
	return "<unknown>"
}

// moduleOffset names an unsymbolicated native frame "module+0xoffset":
// the address relative to its image is the same in every process running
// the same build, wherever the image was loaded.
func moduleOffset(f *Frame, images []*DebugImage) string {
	if !f.InstructionAddr.Set {
		return ""
	}
	if im := imageFor(f, images); im != nil {
		return basename(im.CodeFile) + fmt.Sprintf("+0x%x", f.InstructionAddr.N-im.ImageAddr.N)
	}
	if f.Package != "" {
		return basename(f.Package)
	}
	return ""
}

// imageFor finds the image holding the frame's address.
func imageFor(f *Frame, images []*DebugImage) *DebugImage {
	if !f.InstructionAddr.Set {
		return nil
	}
	for _, im := range images {
		if im.Contains(f.InstructionAddr.N) {
			return im
		}
	}
	return nil
}

// basename is the last element of a slash or backslash path, so Windows
// module paths reduce the same way on every server.
func basename(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// parameterPatterns are the varying parts parameterize replaces, in order,
// compiled on first use.
var parameterPatterns = sync.OnceValue(func() []struct {
	re          *regexp.Regexp
	placeholder string
} {
	return []struct {
		re          *regexp.Regexp
		placeholder string
	}{
		{regexp.MustCompile(`(?i)\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b`), "<uuid>"},
		{regexp.MustCompile(`(?i)\b0x[0-9a-f]+\b`), "<hex>"},
		{regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`), "<ip>"},
		{regexp.MustCompile(`\b\d+(\.\d+)?\b`), "<int>"},
	}
})

// parameterize replaces the parts of a message that vary between
// occurrences of one problem (ids, addresses, numbers) with placeholders.
func parameterize(s string) string {
	for _, p := range parameterPatterns() {
		s = p.re.ReplaceAllString(s, p.placeholder)
	}
	return s
}

// NormalizeFunction reduces a symbol name to what identifies the function
// across builds and compilers: no parameter list, no qualifiers, no Rust
// hash, no MSVC calling convention or return type, and template arguments
// collapsed to <T>.
func NormalizeFunction(fn string) string {
	fn = strings.TrimSpace(fn)
	if fn == "" {
		return ""
	}
	for _, cc := range []string{" __cdecl ", " __stdcall ", " __fastcall ", " __thiscall ", " __vectorcall ", " __clrcall "} {
		if i := strings.Index(fn, cc); i >= 0 {
			fn = fn[i+len(cc):]
		}
	}
	for {
		before := fn
		for _, q := range []string{" const", " volatile", " &&", " &", " noexcept"} {
			fn = strings.TrimSuffix(fn, q)
		}
		if strings.HasSuffix(fn, ")") {
			// "operator()" is a name, not a parameter list.
			if i := matchingOpen(fn, len(fn)-1, '(', ')'); i > 0 && !strings.HasSuffix(fn[:i], "operator") {
				fn = strings.TrimSpace(fn[:i])
			}
		}
		if fn == before {
			break
		}
	}
	// Rust legacy mangling appends ::h<16 hex digits>.
	if i := strings.LastIndex(fn, "::h"); i >= 0 && len(fn)-i-3 == 16 && isHex(fn[i+3:]) {
		fn = fn[:i]
	}
	return collapseTemplates(fn)
}

// matchingOpen finds the open bracket matching the close bracket at end.
func matchingOpen(s string, end int, open, close byte) int {
	depth := 0
	for i := end; i >= 0; i-- {
		switch s[i] {
		case close:
			depth++
		case open:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func collapseTemplates(fn string) string {
	if !strings.Contains(fn, "<") {
		return fn
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(fn); i++ {
		c := fn[i]
		// "operator<", "operator<<", "operator<=" are names, not templates.
		if c == '<' && depth == 0 && strings.HasSuffix(fn[:i], "operator") {
			for i < len(fn) && (fn[i] == '<' || fn[i] == '=') {
				b.WriteByte(fn[i])
				i++
			}
			i--
			continue
		}
		switch {
		case c == '<':
			if depth == 0 {
				b.WriteString("<T>")
			}
			depth++
		case c == '>' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// mainExc wraps the main exception for nil-safe access.
type mainExc struct{ *Exception }

func (m mainExc) typeOrEmpty() string {
	if m.Exception == nil {
		return ""
	}
	return m.Type
}

// mainException is the exception that was raised last: the last value,
// as Sentry orders chains.
func mainException(ev *Event) mainExc {
	if ev.Exception == nil || len(ev.Exception.Values) == 0 {
		return mainExc{}
	}
	return mainExc{ev.Exception.Values[len(ev.Exception.Values)-1]}
}
