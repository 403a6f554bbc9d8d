package ui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/issues"
)

var funcs = template.FuncMap{
	"ago":  ago,
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"hex": func(a issues.Addr) string {
		if !a.Set {
			return ""
		}
		return fmt.Sprintf("0x%016x", a.N)
	},
	"eq2": func(a, b string) bool { return a == b },
}

// ago renders a time as a coarse relative duration, as issue lists do.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case t.IsZero():
		return "never"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}

// frameView is one frame as the stack trace shows it.
type frameView struct {
	Addr     string
	Module   string
	Function string
	Location string
	// Inline frames were inlined into the frame below them: they share its
	// instruction address and were recovered from debug information.
	Inline bool
	Trust  string
	InApp  bool
}

// threadView is one thread with its frames, innermost first.
type threadView struct {
	ID      string
	Name    string
	Crashed bool
	Frames  []frameView
}

// imageView is one loaded module with its symbol status and, when
// something is missing, the upload that would fix it.
type imageView struct {
	Addr, CodeFile, DebugFile, DebugID, CodeID, Arch string
	DebugStatus, UnwindStatus                        string
	Advice                                           string
	Problem                                          bool
}

type crumbView struct {
	Time, Level, Category, Message string
}

type kv struct{ Key, Value string }

type contextView struct {
	Name   string
	Values []kv
}

// eventView is everything the issue page shows of one event.
type eventView struct {
	Exception   string
	Crash       *threadView
	Threads     []threadView
	Images      []imageView
	Tags        []kv
	Contexts    []contextView
	Breadcrumbs []crumbView
	Errors      []issues.EventError
	Text        string
}

func newEventView(ev *issues.Event) *eventView {
	v := &eventView{}
	var images []*issues.DebugImage
	if ev.DebugMeta != nil {
		images = ev.DebugMeta.Images
	}
	var crashST *issues.Stacktrace
	if ev.Exception != nil && len(ev.Exception.Values) > 0 {
		exc := ev.Exception.Values[len(ev.Exception.Values)-1]
		v.Exception = strings.TrimSpace(exc.Type + ": " + exc.Value)
		crashST = exc.Stacktrace
	}
	if ev.Threads != nil {
		for _, t := range ev.Threads.Values {
			tv := threadView{ID: fmt.Sprint(t.ID), Name: t.Name, Crashed: t.Crashed, Frames: frames(t.Stacktrace, images)}
			if t.ID == nil {
				tv.ID = ""
			}
			if t.Crashed && (crashST == nil || len(crashST.Frames) == 0) {
				crashST = t.Stacktrace
			}
			v.Threads = append(v.Threads, tv)
		}
	}
	if crashST == nil && ev.Stacktrace != nil {
		crashST = ev.Stacktrace
	}
	if crashST != nil {
		v.Crash = &threadView{Name: "crashing thread", Crashed: true, Frames: frames(crashST, images)}
		if ev.Threads != nil {
			for _, t := range ev.Threads.Values {
				if t.Crashed && t.ID != nil {
					v.Crash.ID, v.Crash.Name = fmt.Sprint(t.ID), t.Name
				}
			}
		}
	}
	for _, im := range images {
		v.Images = append(v.Images, newImageView(im))
	}
	for _, t := range ev.Tags {
		v.Tags = append(v.Tags, kv{t[0], t[1]})
	}
	names := make([]string, 0, len(ev.Contexts))
	for n := range ev.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := contextView{Name: n}
		keys := make([]string, 0, len(ev.Contexts[n]))
		for k := range ev.Contexts[n] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c.Values = append(c.Values, kv{k, scalar(ev.Contexts[n][k])})
		}
		v.Contexts = append(v.Contexts, c)
	}
	v.Breadcrumbs = breadcrumbs(ev.Breadcrumbs)
	v.Errors = ev.Errors
	v.Text = v.text()
	return v
}

func scalar(x any) string {
	switch x := x.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// frames converts a stack trace, stored outermost first as in Sentry's
// format, into display order: innermost (the crash site) first.
func frames(st *issues.Stacktrace, images []*issues.DebugImage) []frameView {
	if st == nil {
		return nil
	}
	out := make([]frameView, 0, len(st.Frames))
	for i := len(st.Frames) - 1; i >= 0; i-- {
		f := st.Frames[i]
		fv := frameView{Function: f.Function, Trust: f.Trust, Module: f.Module}
		if fv.Function == "" {
			fv.Function = f.Symbol
		}
		if f.InstructionAddr.Set {
			fv.Addr = fmt.Sprintf("0x%016x", f.InstructionAddr.N)
			if fv.Module == "" {
				for _, im := range images {
					if im.Contains(f.InstructionAddr.N) {
						fv.Module = baseName(im.CodeFile)
						break
					}
				}
			}
		}
		if f.Filename != "" || f.AbsPath != "" {
			file := f.Filename
			if file == "" {
				file = f.AbsPath
			}
			fv.Location = file
			if f.Lineno > 0 {
				fv.Location += fmt.Sprintf(":%d", f.Lineno)
			}
		}
		fv.InApp = f.InApp != nil && *f.InApp
		if i > 0 {
			caller := st.Frames[i-1]
			fv.Inline = f.Trust == "inline" || (f.InstructionAddr.Set && caller.InstructionAddr == f.InstructionAddr)
		}
		out = append(out, fv)
	}
	return out
}

// baseName strips directories of either path convention: Windows module
// paths reach a Linux server as they are.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func newImageView(im *issues.DebugImage) imageView {
	v := imageView{CodeFile: im.CodeFile, DebugFile: im.DebugFile, DebugID: im.DebugID, CodeID: im.CodeID, Arch: im.Arch,
		DebugStatus: im.DebugStatus, UnwindStatus: im.UnwindStatus}
	if im.ImageAddr.Set {
		v.Addr = fmt.Sprintf("0x%016x", im.ImageAddr.N)
	}
	bad := func(s string) bool { return s != "" && s != "found" && s != "unused" }
	if bad(im.DebugStatus) || bad(im.UnwindStatus) {
		v.Problem = true
		file := baseName(im.DebugFile)
		if file == "" {
			file = baseName(im.CodeFile)
		}
		id := im.DebugID
		if id == "" {
			id = im.CodeID
		}
		switch im.DebugStatus {
		case "missing", "":
			v.Advice = fmt.Sprintf("Upload %s with debug id %s via `cairn upload`, then reprocess new crashes.", file, id)
		case "malformed":
			v.Advice = fmt.Sprintf("The uploaded debug file for %s could not be read; upload %s (debug id %s) again.", baseName(im.CodeFile), file, id)
		default:
			v.Advice = fmt.Sprintf("Symbols are %s; upload %s with debug id %s via `cairn upload`.", im.DebugStatus, file, id)
		}
		if im.DebugStatus == "found" && bad(im.UnwindStatus) {
			v.Advice = fmt.Sprintf("Unwind information is %s: upload %s (debug id %s) with its unwind tables, or the executable itself, via `cairn upload`.", im.UnwindStatus, path.Base(file), id)
		}
	}
	return v
}

// breadcrumbs reads both spellings clients send: {"values": [...]} and a
// bare list.
func breadcrumbs(raw json.RawMessage) []crumbView {
	if len(raw) == 0 {
		return nil
	}
	var list []map[string]any
	var wrapped struct {
		Values []map[string]any `json:"values"`
	}
	if json.Unmarshal(raw, &wrapped) == nil && wrapped.Values != nil {
		list = wrapped.Values
	} else {
		_ = json.Unmarshal(raw, &list)
	}
	var out []crumbView
	for _, b := range list {
		c := crumbView{Level: scalar(b["level"]), Category: scalar(b["category"]), Message: scalar(b["message"])}
		switch ts := b["timestamp"].(type) {
		case float64:
			c.Time = time.UnixMicro(int64(ts * 1e6)).UTC().Format("15:04:05.000")
		case string:
			c.Time = ts
		}
		if c.Message == "" && b["data"] != nil {
			c.Message = scalar(b["data"])
		}
		out = append(out, c)
	}
	return out
}

// text renders the crash as plain text for pasting into bug trackers.
func (v *eventView) text() string {
	var b strings.Builder
	if v.Exception != "" {
		fmt.Fprintf(&b, "%s\n", v.Exception)
	}
	writeThread := func(t *threadView) {
		fmt.Fprintf(&b, "\nThread %s %s%s\n", t.ID, t.Name, map[bool]string{true: " (crashed)"}[t.Crashed])
		for i, f := range t.Frames {
			fmt.Fprintf(&b, "%2d  %s %s!%s", i, f.Addr, f.Module, f.Function)
			if f.Location != "" {
				fmt.Fprintf(&b, " [%s]", f.Location)
			}
			if f.Inline {
				b.WriteString(" (inlined)")
			}
			if f.Trust != "" {
				fmt.Fprintf(&b, " trust=%s", f.Trust)
			}
			b.WriteByte('\n')
		}
	}
	if v.Crash != nil {
		writeThread(v.Crash)
	}
	var missing []string
	for _, im := range v.Images {
		if im.Problem {
			missing = append(missing, fmt.Sprintf("  %s %s debug=%s unwind=%s", im.CodeFile, im.DebugID, im.DebugStatus, im.UnwindStatus))
		}
	}
	if len(missing) > 0 {
		b.WriteString("\nModules without symbols:\n" + strings.Join(slices.Compact(missing), "\n") + "\n")
	}
	return b.String()
}
