package issues

import (
	"strings"
	"unicode/utf8"
)

// maxTitle bounds titles as Sentry does, so one long message does not
// dominate issue lists.
const maxTitle = 200

// Describe sets the event's type, title, culprit and metadata: what issue
// lists show. Native crashes get the crash signature as culprit and in
// metadata.
func Describe(ev *Event) {
	md := map[string]string{}
	main := mainException(ev).Exception
	switch {
	case main != nil:
		ev.Type = "error"
		md["type"], md["value"] = main.Type, firstLine(main.Value)
		switch {
		case main.Type != "" && main.Value != "":
			ev.Title = main.Type + ": " + firstLine(main.Value)
		case main.Type != "":
			ev.Title = main.Type
		default:
			ev.Title = firstLine(main.Value)
		}
	case ev.Message() != "":
		ev.Type = "default"
		ev.Title = firstLine(ev.Message())
		md["title"] = ev.Title
	default:
		ev.Type = "default"
		ev.Title = "<unlabeled event>"
		md["title"] = ev.Title
	}
	ev.Title = truncate(ev.Title, maxTitle)

	images := ev.images()
	var top *Frame
	if st := crashingStacks(ev); len(st) > 0 {
		frames := st[len(st)-1].Frames
		top = topFrame(frames)
		if ev.Platform == "native" {
			sig := CrashSignature(frames, images)
			md["signature"] = sig
			ev.Culprit = sig
		}
	}
	if top != nil {
		if fn := firstNonEmpty(top.Function, top.Symbol); fn != "" {
			md["function"] = fn
		}
		if file := firstNonEmpty(top.Filename, top.AbsPath); file != "" {
			md["filename"] = file
		}
	}
	if ev.Platform != "native" || ev.Culprit == "" {
		switch {
		case ev.Transaction != "":
			ev.Culprit = ev.Transaction
		case top != nil && ev.Culprit == "":
			ev.Culprit = frameCulprit(top, images)
		}
	}
	ev.Culprit = truncate(ev.Culprit, maxTitle)
	for k, v := range md {
		if v == "" {
			delete(md, k)
		}
	}
	ev.Metadata = md
}

// topFrame is the innermost in-app frame, else the innermost frame.
func topFrame(frames []*Frame) *Frame {
	for i := len(frames) - 1; i >= 0; i-- {
		if f := frames[i]; f.InApp != nil && *f.InApp {
			return f
		}
	}
	if len(frames) == 0 {
		return nil
	}
	return frames[len(frames)-1]
}

// frameCulprit is Sentry's culprit: "module or file in function".
func frameCulprit(f *Frame, images []*DebugImage) string {
	where := firstNonEmpty(f.Module, f.Filename, f.AbsPath)
	fn := firstNonEmpty(f.Function, f.Symbol)
	switch {
	case where != "" && fn != "":
		return where + " in " + fn
	case fn != "":
		return fn
	case where != "":
		return where
	}
	return moduleOffset(f, images)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
