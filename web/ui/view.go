package ui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strconv"
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
	// f1 writes SVG coordinates: one decimal is finer than a pixel.
	"f1": func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) },
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
	// Index is the frame's number in the full trace, innermost 0, kept
	// when the in-app view hides frames.
	Index    int
	Addr     string
	Module   string
	Function string
	Location string
	File     string
	Line     int
	// ModuleOffset is the address relative to its module's load address,
	// "+0x1a2b", which is what identifies a frame without symbols.
	ModuleOffset string
	// SymbolOffset is the address relative to its function's start.
	SymbolOffset string
	// Inline frames were inlined into the frame below them: they share its
	// instruction address and were recovered from debug information.
	Inline bool
	Trust  string
	InApp  bool
	// Hidden, on a placeholder row of the in-app view, counts the frames
	// it stands for; HiddenModules names their modules.
	Hidden        int
	HiddenModules string
}

// TrustLabel says in words how the unwinder found the frame.
func (f frameView) TrustLabel() string {
	switch f.Trust {
	case "context":
		return "crash context"
	case "cfi":
		return "CFI"
	case "fp":
		return "frame pointer"
	case "scan", "cfi_scan":
		return "stack scan"
	case "inline":
		return "inlined"
	case "prewalked":
		return "prewalked"
	}
	return f.Trust
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
	// Name is the file name of the module without directories.
	Name                      string
	DebugStatus, UnwindStatus string
	Advice                    string
	Problem                   bool
	// Why explains a debug status other than found, Candidates are the
	// places looked at, Upload is the command that fixes it.
	Why        string
	Candidates []candidateView
	Upload     string
	// UploadCommands are the commands that upload the missing file.
	UploadCommands []string
}

// candidateView is one place the symbolicator looked for a debug file.
type candidateView struct {
	Source, Location, Status, Details string
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
	Exception string
	Crash     *threadView
	// AppFrames is the crashing thread's in-app view; HasApp tells
	// whether the event has in-app frames at all.
	AppFrames []frameView
	HasApp    bool
	// Raw is the crashing thread as Breakpad prints it.
	Raw string
	// Registers are those of the crashing thread's innermost frame.
	Registers   []kv
	Threads     []threadView
	Images      []imageView
	Tags        []kv
	Contexts    []contextView
	Breadcrumbs []crumbView
	Errors      []issues.EventError
	// ErrorTexts say what each error means, in the same order.
	ErrorTexts  []string
	Attachments []attachmentView
	Text        string
}

// attachmentView is a stored file of the event, downloadable from URL.
type attachmentView struct {
	Index            int
	Name, Type, Size string
	Minidump         bool
	// Dropped files are listed without a download: their project deletes
	// minidumps once processed.
	Dropped bool
}

func newEventView(ev *issues.Event, org, project string) *eventView {
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
		v.Registers = registers(crashST)
		if len(v.Registers) == 0 && ev.Threads != nil {
			// The exception's stack may come without registers while the
			// crashed thread's own stack has them.
			for _, t := range ev.Threads.Values {
				if t.Crashed {
					v.Registers = registers(t.Stacktrace)
				}
			}
		}
		for _, f := range v.Crash.Frames {
			v.HasApp = v.HasApp || f.InApp
		}
		if v.HasApp {
			v.AppFrames = appFrames(v.Crash.Frames)
		}
		v.Raw = rawTrace(v.Crash, v.Registers)
		// The crashed thread's stack is often only on the exception.
		for i := range v.Threads {
			if v.Threads[i].Crashed && len(v.Threads[i].Frames) == 0 {
				v.Threads[i].Frames = v.Crash.Frames
			}
		}
	}
	for _, im := range images {
		v.Images = append(v.Images, newImageView(im, org, project))
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
	for _, e := range ev.Errors {
		v.ErrorTexts = append(v.ErrorTexts, errorText(e))
	}
	for i, a := range ev.Attachments {
		v.Attachments = append(v.Attachments, attachmentView{Index: i, Name: a.Name, Type: a.Type, Size: byteSize(a.Size), Minidump: a.Type == "event.minidump", Dropped: a.Dropped})
	}
	v.Text = v.text()
	return v
}

// byteSize renders a size as people read it.
func byteSize(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
	}
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
// format, into display order: innermost (the crash site) first. Frames
// the event does not mark are in-app when they fall in the main
// executable, the first image, which is the crashed program itself.
func frames(st *issues.Stacktrace, images []*issues.DebugImage) []frameView {
	if st == nil {
		return nil
	}
	out := make([]frameView, 0, len(st.Frames))
	for i := len(st.Frames) - 1; i >= 0; i-- {
		f := st.Frames[i]
		fv := frameView{Index: len(out), Function: f.Function, Trust: f.Trust, Module: baseName(f.Module)}
		if fv.Function == "" {
			fv.Function = f.Symbol
		}
		if fv.Module == "" {
			fv.Module = baseName(f.Package)
		}
		var im *issues.DebugImage
		if f.InstructionAddr.Set {
			fv.Addr = fmt.Sprintf("0x%016x", f.InstructionAddr.N)
			for _, c := range images {
				if c.Contains(f.InstructionAddr.N) {
					im = c
					break
				}
			}
			if im != nil {
				fv.ModuleOffset = fmt.Sprintf("+0x%x", f.InstructionAddr.N-im.ImageAddr.N)
				if fv.Module == "" {
					fv.Module = baseName(im.CodeFile)
				}
			}
			if f.SymbolAddr.Set && f.SymbolAddr.N <= f.InstructionAddr.N {
				fv.SymbolOffset = fmt.Sprintf("0x%x", f.InstructionAddr.N-f.SymbolAddr.N)
			}
		}
		if f.Filename != "" || f.AbsPath != "" {
			fv.File = f.Filename
			if fv.File == "" {
				fv.File = f.AbsPath
			}
			fv.Line = f.Lineno
			fv.Location = fv.File
			if f.Lineno > 0 {
				fv.Location += fmt.Sprintf(":%d", f.Lineno)
			}
		}
		if f.InApp != nil {
			fv.InApp = *f.InApp
		} else {
			fv.InApp = im != nil && len(images) > 0 && im == images[0]
		}
		if i > 0 {
			caller := st.Frames[i-1]
			fv.Inline = f.Trust == "inline" || (f.InstructionAddr.Set && caller.InstructionAddr == f.InstructionAddr)
		}
		out = append(out, fv)
	}
	return out
}

// appFrames keeps in-app frames and the crash site, folding each run of
// other frames into one placeholder row.
func appFrames(fs []frameView) []frameView {
	var out []frameView
	for i := 0; i < len(fs); i++ {
		if fs[i].InApp || i == 0 {
			out = append(out, fs[i])
			continue
		}
		j := i
		var mods []string
		for j < len(fs) && !fs[j].InApp {
			if m := fs[j].Module; m != "" && !slices.Contains(mods, m) {
				mods = append(mods, m)
			}
			j++
		}
		if len(mods) > 3 {
			mods = append(mods[:3], "…")
		}
		out = append(out, frameView{Index: fs[i].Index, Hidden: j - i, HiddenModules: strings.Join(mods, ", ")})
		i = j - 1
	}
	return out
}

// rawTrace renders a thread as Breakpad's minidump_stackwalk prints it,
// the form people paste into bug trackers and compare with local tools.
func rawTrace(t *threadView, regs []kv) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Thread %s%s%s\n", t.ID, map[bool]string{true: " " + t.Name}[t.Name != ""], map[bool]string{true: " (crashed)"}[t.Crashed])
	for i, f := range t.Frames {
		fmt.Fprintf(&b, "%2d  ", i)
		mod := f.Module
		if mod == "" {
			mod = "<unknown module>"
		}
		switch {
		case f.Function != "" && f.File != "":
			fmt.Fprintf(&b, "%s!%s [%s : %d", mod, f.Function, baseName(f.File), f.Line)
			if f.SymbolOffset != "" {
				fmt.Fprintf(&b, " + %s", f.SymbolOffset)
			}
			b.WriteString("]")
		case f.Function != "":
			fmt.Fprintf(&b, "%s!%s", mod, f.Function)
			if f.SymbolOffset != "" {
				fmt.Fprintf(&b, " + %s", f.SymbolOffset)
			}
		case f.ModuleOffset != "":
			fmt.Fprintf(&b, "%s + %s", mod, f.ModuleOffset[1:])
		default:
			b.WriteString(f.Addr)
		}
		if f.Inline {
			b.WriteString(" (inlined)")
		}
		b.WriteByte('\n')
		if i == 0 && len(regs) > 0 {
			for j, r := range regs {
				if j%3 == 0 {
					b.WriteString("    ")
				}
				fmt.Fprintf(&b, "%5s = %s", r.Key, r.Value)
				if j%3 == 2 || j == len(regs)-1 {
					b.WriteByte('\n')
				} else {
					b.WriteString("   ")
				}
			}
		}
		if found := foundBy(f.Trust); found != "" {
			fmt.Fprintf(&b, "    Found by: %s\n", found)
		}
	}
	return b.String()
}

// foundBy spells a frame's trust as Breakpad's stackwalker does.
func foundBy(trust string) string {
	switch trust {
	case "context":
		return "given as instruction pointer in context"
	case "cfi":
		return "call frame info"
	case "fp":
		return "previous frame's frame pointer"
	case "scan":
		return "stack scanning"
	case "cfi_scan":
		return "call frame info with scanning"
	case "inline":
		return "inlining"
	}
	return trust
}

// registerOrder lists registers in the order debuggers show them; others
// follow alphabetically.
var registerOrder = func() map[string]int {
	names := []string{
		"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags", "rflags",
		"eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "eip",
	}
	for i := range 29 {
		names = append(names, fmt.Sprintf("x%d", i))
	}
	names = append(names, "x29", "fp", "x30", "lr", "sp", "pc", "cpsr", "pstate")
	for i := range 13 {
		names = append(names, fmt.Sprintf("r%d", i))
	}
	m := map[string]int{}
	for i, n := range names {
		if _, ok := m[n]; !ok {
			m[n] = i
		}
	}
	return m
}()

func registers(st *issues.Stacktrace) []kv {
	if st == nil || len(st.Registers) == 0 {
		return nil
	}
	names := make([]string, 0, len(st.Registers))
	for n := range st.Registers {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, aok := registerOrder[names[i]]
		b, bok := registerOrder[names[j]]
		switch {
		case aok && bok:
			return a < b
		case aok != bok:
			return aok
		}
		return names[i] < names[j]
	})
	out := make([]kv, len(names))
	for i, n := range names {
		out[i] = kv{n, fmt.Sprintf("0x%016x", st.Registers[n].N)}
	}
	return out
}

// errorText says in plain words what a processing error means for the
// reader of the crash.
func errorText(e issues.EventError) string {
	img := baseName(e.ImagePath)
	if img == "" {
		img = "a module"
	}
	id := ""
	if e.ImageUUID != "" {
		id = " (debug id " + e.ImageUUID + ")"
	}
	var s string
	switch e.Type {
	case "native_missing_dsym":
		s = fmt.Sprintf("No debug file was found for %s%s, so its frames have no function names or source lines.", img, id)
	case "native_bad_dsym":
		s = fmt.Sprintf("The debug file of %s%s could not be read.", img, id)
	case "native_missing_optionally_bundled_dsym":
		s = fmt.Sprintf("The optional debug file of %s%s is missing.", img, id)
	case "native_missing_symbol":
		s = fmt.Sprintf("An address in %s%s has no symbol in its debug file.", img, id)
	case "native_bad_minidump":
		s = "Part of the minidump is damaged or unreadable"
		if e.Name != "" {
			s += " (" + e.Name + ")"
		}
		s += "; the crash may be incomplete."
	case "native_internal_failure", "native_symbolicator_failed":
		s = "Processing the crash failed; the stack trace may be incomplete."
	case "native_unsupported_dsym":
		s = fmt.Sprintf("The debug file of %s%s has a format Cairn cannot read.", img, id)
	case "invalid_data":
		s = "Part of the event was not valid and was dropped"
		if e.Name != "" {
			s += " (" + e.Name + ")"
		}
		s += "."
	default:
		s = strings.ReplaceAll(e.Type, "_", " ")
		if e.Name != "" {
			s += ": " + e.Name
		}
		s += "."
	}
	if e.Message != "" && e.Type != "native_missing_dsym" {
		s += " " + e.Message
	}
	return s
}

// baseName strips directories of either path convention: Windows module
// paths reach a Linux server as they are.
func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// statusWhy explains a debug status in words.
var statusWhy = map[string]string{
	"missing":         "No debug file with this debug id was found in any configured source.",
	"notfound":        "No debug file with this debug id was found in any configured source.",
	"malformed":       "A debug file was found but could not be read: it is damaged or of an unsupported kind.",
	"fetching_failed": "A source holding the debug file could not be reached.",
	"too_large":       "The debug file is larger than the symbolicator accepts.",
	"unsupported":     "The debug file's format is not supported.",
	"other":           "Looking for the debug file failed.",
}

func newImageView(im *issues.DebugImage, org, project string) imageView {
	v := imageView{CodeFile: im.CodeFile, DebugFile: im.DebugFile, DebugID: im.DebugID, CodeID: im.CodeID, Arch: im.Arch,
		DebugStatus: im.DebugStatus, UnwindStatus: im.UnwindStatus, Name: baseName(im.CodeFile)}
	if v.DebugID == "" {
		v.DebugID = im.UUID
	}
	if im.ImageAddr.Set {
		v.Addr = fmt.Sprintf("0x%016x", im.ImageAddr.N)
	}
	bad := func(s string) bool { return s != "" && s != "found" && s != "unused" }
	if !bad(im.DebugStatus) && !bad(im.UnwindStatus) {
		return v
	}
	v.Problem = true
	file := baseName(im.DebugFile)
	if file == "" {
		file = v.Name
	}
	id := v.DebugID
	if id == "" {
		id = im.CodeID
	}
	v.Upload = fmt.Sprintf("Upload %s (debug id %s) with either command:", file, id)
	v.UploadCommands = []string{
		fmt.Sprintf("cairn upload --org %s --project %s path/to/%s", org, project, file),
		fmt.Sprintf("sentry-cli debug-files upload --org %s --project %s path/to/%s", org, project, file),
	}
	switch {
	case im.DebugStatus == "malformed":
		v.Advice = fmt.Sprintf("The uploaded debug file for %s could not be read; upload %s (debug id %s) again.", v.Name, file, id)
	case bad(im.DebugStatus) || im.DebugStatus == "":
		v.Advice = fmt.Sprintf("Symbols are %s: upload %s (debug id %s).", im.DebugStatus, file, id)
	default:
		v.Advice = fmt.Sprintf("Unwind information is %s: upload %s (debug id %s) with its unwind tables, or the executable itself.", im.UnwindStatus, file, id)
	}
	v.Why = statusWhy[im.DebugStatus]
	if v.Why == "" && bad(im.UnwindStatus) {
		v.Why = "The debug file has no unwind information, so frames below this module may be guessed by stack scanning."
	}
	for _, c := range im.Candidates {
		v.Candidates = append(v.Candidates, candidateView{Source: c.Source, Location: c.Location, Status: c.Download.Status, Details: c.Download.Details})
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
