package issues

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/minidump"
)

// Symbolicator turns native crash data into the native event shape of
// PROTOCOL.md. The worker needs only this much of the symbolicator: the
// in-process one and a remote one both fit.
type Symbolicator interface {
	// Minidump reads a minidump: the crash, the threads with their stacks,
	// the loaded modules and the system the process ran on.
	Minidump(ctx context.Context, dump io.ReaderAt, size int64) (*NativeCrash, error)
	// Symbolicate resolves the frames of stacks in place against images
	// and sets each image's debug and unwind status. It returns the
	// processing errors to record on the event (a missing debug file, a
	// malformed one); an error return means the symbolicator itself failed.
	Symbolicate(ctx context.Context, stacks []*Stacktrace, images []*DebugImage) ([]EventError, error)
}

// projectKey carries the event's project to a Symbolicator.
type projectKey struct{}

// WithProject returns ctx carrying the project of the event being
// processed, so that a Symbolicator can look for the debug files uploaded
// to that project.
func WithProject(ctx context.Context, projectID int64) context.Context {
	return context.WithValue(ctx, projectKey{}, projectID)
}

// ProjectOf returns the project WithProject put in ctx.
func ProjectOf(ctx context.Context) (int64, bool) {
	id, ok := ctx.Value(projectKey{}).(int64)
	return id, ok
}

// NativeCrash is what a minidump says about a crash, in event form.
type NativeCrash struct {
	// Exception is nil when the dump records no exception (a dump taken
	// on request, not on a crash).
	Exception *Exception
	Threads   []*Thread
	Images    []*DebugImage
	// Contexts holds "os" and "device".
	Contexts map[string]map[string]any
	Errors   []EventError
}

// Unsymbolicated is the Symbolicator used until stackwalking and symbol
// lookup exist: it reads minidumps into threads whose only frame is the
// one the register context gives (trust "context"), attributes frames to
// modules, and resolves no symbols, reporting each image a frame needed as
// missing its debug file. Grouping then works by module + offset.
type Unsymbolicated struct{}

var _ Symbolicator = Unsymbolicated{}

// Minidump implements Symbolicator.
func (Unsymbolicated) Minidump(ctx context.Context, dump io.ReaderAt, size int64) (*NativeCrash, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := minidump.NewFile(dump, size)
	if err != nil {
		return nil, fmt.Errorf("issues: minidump: %w", err)
	}
	out := &NativeCrash{Contexts: map[string]map[string]any{}}
	si, err := f.SystemInfo()
	if err != nil {
		si = nil
		out.Errors = append(out.Errors, minidumpProblem("system info", err))
	}
	if si != nil {
		out.Contexts["os"] = osContext(si)
		out.Contexts["device"] = map[string]any{"type": "device", "arch": sentryArch(si.ProcessorArch), "processor_count": si.NumberOfProcessors}
	}
	mods, err := f.Modules()
	if err != nil {
		out.Errors = append(out.Errors, minidumpProblem("module list", err))
	}
	for i := range mods {
		out.Images = append(out.Images, debugImage(&mods[i], si))
	}

	exc, err := f.Exception()
	if err != nil {
		exc = nil
		if !errors.Is(err, minidump.ErrNoStream) {
			out.Errors = append(out.Errors, minidumpProblem("exception", err))
		}
	}
	var crashStack *Stacktrace
	if exc != nil {
		reason := exc.CrashReason(si)
		addr := exc.Record.ExceptionAddress
		if si != nil {
			addr = minidump.CrashAddress(si.PlatformID, si.ProcessorArch, exc.Record.ExceptionCode, exc.Record.ExceptionAddress, exc.Record.Parameters())
		}
		handled := false
		out.Exception = &Exception{
			Type:     reason,
			Value:    "Fatal Error: " + reason,
			ThreadID: exc.ThreadID,
			Mechanism: &Mechanism{Type: "minidump", Handled: &handled, Synthetic: true,
				Data: map[string]any{"crash_address": fmt.Sprintf("0x%x", addr), "exception_code": fmt.Sprintf("0x%x", exc.Record.ExceptionCode)}},
		}
		if c, err := f.ExceptionContext(exc, si); err == nil {
			crashStack = contextStack(c, out.Images)
		} else {
			out.Errors = append(out.Errors, minidumpProblem("exception context", err))
		}
		out.Exception.Stacktrace = crashStack
	}

	threads, err := f.Threads()
	if err != nil {
		out.Errors = append(out.Errors, minidumpProblem("thread list", err))
	}
	names := map[uint32]string{}
	if tn, err := f.ThreadNames(); err == nil {
		for _, n := range tn {
			names[n.ThreadID] = n.Name
		}
	}
	for i := range threads {
		t := &threads[i]
		th := &Thread{ID: t.ThreadID, Name: names[t.ThreadID]}
		if exc != nil && t.ThreadID == exc.ThreadID {
			// The thread list shows the crashed thread inside the crash
			// handler; the exception's context is the crash itself.
			th.Crashed, th.Current = true, true
			th.Stacktrace = crashStack
		} else if c, err := f.ThreadContext(t, si); err == nil {
			th.Stacktrace = contextStack(c, out.Images)
		}
		out.Threads = append(out.Threads, th)
	}
	return out, nil
}

func minidumpProblem(what string, err error) EventError {
	return EventError{Type: "native_bad_minidump", Name: what, Message: err.Error()}
}

// contextStack is the one frame a register context gives, plus the
// registers.
func contextStack(c minidump.Context, images []*DebugImage) *Stacktrace {
	st := &Stacktrace{Registers: map[string]Addr{}}
	for _, r := range c.Registers() {
		// The flags word and Windows' spill slots are not registers a
		// reader of a crash looks at.
		if r.Valid && r.Name != "context_flags" && !strings.HasSuffix(r.Name, "_home") {
			st.Registers[r.Name] = A(r.Value)
		}
	}
	f := &Frame{InstructionAddr: A(c.PC()), Trust: "context"}
	if im := imageFor(f, images); im != nil {
		f.Package = im.CodeFile
	}
	st.Frames = []*Frame{f}
	return st
}

func debugImage(m *minidump.Module, si *minidump.SystemInfo) *DebugImage {
	var p minidump.PlatformID = minidump.PlatformUnix
	arch := ""
	if si != nil {
		p, arch = si.PlatformID, sentryArch(si.ProcessorArch)
	}
	im := &DebugImage{
		Type:      imageType(m, p),
		CodeFile:  m.Name,
		CodeID:    m.CodeID(p),
		DebugFile: m.DebugFile(),
		DebugID:   m.DebugID(),
		ImageAddr: A(m.BaseOfImage),
		ImageSize: uint64(m.SizeOfImage),
		Arch:      arch,
	}
	return im
}

func imageType(m *minidump.Module, p minidump.PlatformID) string {
	switch {
	case p == minidump.PlatformMacOS || p == minidump.PlatformIOS:
		return "macho"
	case p.IsWindows():
		return "pe"
	case m.CodeView != nil && (m.CodeView.Signature == minidump.CVSignaturePDB70 || m.CodeView.Signature == minidump.CVSignaturePDB20):
		return "pe"
	}
	return "elf"
}

// sentryArch spells an architecture as Sentry's events do.
func sentryArch(a minidump.ProcessorArch) string {
	switch a {
	case minidump.ArchAMD64:
		return "x86_64"
	case minidump.ArchX86, minidump.ArchX86Win64:
		return "x86"
	case minidump.ArchARM64, minidump.ArchARM64Old:
		return "arm64"
	case minidump.ArchARM:
		return "arm"
	case minidump.ArchMIPS:
		return "mips"
	case minidump.ArchMIPS64:
		return "mips64"
	case minidump.ArchPPC:
		return "ppc"
	case minidump.ArchPPC64:
		return "ppc64"
	}
	return a.String()
}

func osContext(si *minidump.SystemInfo) map[string]any {
	name := si.PlatformID.String()
	switch {
	case si.PlatformID.IsWindows():
		name = "Windows"
	case si.PlatformID == minidump.PlatformMacOS:
		name = "macOS"
	}
	os := map[string]any{"type": "os", "name": name}
	// Breakpad's Linux writer leaves the version numbers zero.
	if si.MajorVersion != 0 || si.MinorVersion != 0 || si.BuildNumber != 0 {
		os["version"] = fmt.Sprintf("%d.%d.%d", si.MajorVersion, si.MinorVersion, si.BuildNumber)
	}
	if si.CSDVersion != "" {
		if si.PlatformID.IsWindows() {
			os["build"] = si.CSDVersion
		} else {
			os["kernel_version"] = si.CSDVersion
		}
	}
	return os
}

// Symbolicate implements Symbolicator: frames get their module, images a
// status, and every image a frame falls in is reported as missing its
// debug file, which is the truth until symbol sources exist.
func (Unsymbolicated) Symbolicate(ctx context.Context, stacks []*Stacktrace, images []*DebugImage) ([]EventError, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var used []*DebugImage
	for _, st := range stacks {
		if st == nil {
			continue
		}
		for _, f := range st.Frames {
			im := imageFor(f, images)
			if im == nil {
				continue
			}
			if f.Package == "" {
				f.Package = im.CodeFile
			}
			if !slices.Contains(used, im) {
				used = append(used, im)
			}
		}
	}
	var errs []EventError
	for _, im := range images {
		if im.DebugStatus != "" {
			continue
		}
		if !slices.Contains(used, im) {
			im.DebugStatus, im.UnwindStatus = "unused", "unused"
			continue
		}
		im.DebugStatus, im.UnwindStatus = "missing", "missing"
		errs = append(errs, EventError{Type: "native_missing_dsym", ImagePath: im.CodeFile, ImageUUID: im.DebugID, ImageArch: im.Arch})
	}
	return errs, nil
}
