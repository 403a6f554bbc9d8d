package service

import (
	"bytes"
	"context"
	"errors"
	"strings"

	"github.com/cairn-dev/cairn/applecrash"
	"github.com/cairn-dev/cairn/symbolicator/sources"
)

// AppleCrashReport symbolicates an Apple crash report, in the legacy text
// format or the JSON .ips format, against the dSYMs (or other debug files)
// of its binary images found in srcs (the configured sources when nil).
// Frames already named in the report are named again from the debug
// files; images without debug files keep the report's names. A report that
// cannot be read is an error matching ErrBadInput.
func (s *Service) AppleCrashReport(ctx context.Context, data []byte, srcs []sources.Source) (*Response, error) {
	rep, err := applecrash.Parse(bytes.NewReader(data), int64(len(data))+1)
	if err != nil {
		if errors.Is(err, applecrash.ErrNotAReport) {
			return nil, badInput("%v", err)
		}
		return nil, badInput("apple crash report: %v", err)
	}
	req := &SymbolicateRequest{}
	for _, im := range rep.Images {
		arch := im.Arch
		if arch == "" {
			arch = rep.Arch
		}
		codeFile := im.Path
		if codeFile == "" {
			codeFile = im.Name
		}
		req.Modules = append(req.Modules, ModuleInfo{Type: "macho", DebugID: im.UUID,
			CodeID: strings.ReplaceAll(im.UUID, "-", ""), CodeFile: codeFile, DebugFile: codeFile,
			Arch: arch, ImageAddr: Addr(im.Base), ImageSize: im.Size})
	}
	for _, th := range rep.Threads {
		st := StacktraceIn{Frames: make([]FrameIn, 0, len(th.Frames))}
		if len(th.Registers) > 0 {
			st.Registers = map[string]Addr{}
			for k, v := range th.Registers {
				st.Registers[k] = Addr(v)
			}
		}
		for _, f := range th.Frames {
			st.Frames = append(st.Frames, FrameIn{InstructionAddr: Addr(f.Address)})
		}
		req.Stacktraces = append(req.Stacktraces, st)
	}
	resp, err := s.Symbolicate(ctx, req, srcs)
	if err != nil {
		return nil, err
	}
	for i, th := range rep.Threads {
		st := &resp.Stacktraces[i]
		id, requesting := uint64(th.Index), th.Crashed
		st.ThreadID, st.IsRequesting, st.ThreadName = &id, &requesting, th.Name
		if st.ThreadName == "" {
			st.ThreadName = th.Queue
		}
		keepReportNames(st, th.Frames)
	}
	resp.System = &SystemInfo{OSName: rep.OSName, OSVersion: rep.OSVersion, OSBuild: rep.OSBuild,
		CPUArch: rep.Arch, DeviceModel: rep.HardwareModel}
	crashed := rep.CrashedThread >= 0
	resp.Crashed = &crashed
	resp.CrashReason = rep.ExceptionType
	resp.CrashDetails = rep.ExceptionCodes
	if !rep.Time.IsZero() {
		ts := rep.Time.Unix()
		resp.Timestamp = &ts
	}
	resp.AppleCrashReport = reportInfo(rep)
	return resp, nil
}

// keepReportNames gives frames the debug files could not name the symbol
// and source position the report itself carries (system frames of a
// partially symbolicated report).
func keepReportNames(st *Stacktrace, in []applecrash.Frame) {
	for i := range st.Frames {
		f := &st.Frames[i]
		if f.Status == frameSymbolicated || f.OriginalIndex == nil || *f.OriginalIndex >= len(in) {
			continue
		}
		src := &in[*f.OriginalIndex]
		if src.Symbol == "" {
			continue
		}
		f.Function, f.Symbol = src.Symbol, src.Symbol
		if src.SymbolOffset <= uint64(f.InstructionAddr) {
			sa := f.InstructionAddr - Addr(src.SymbolOffset)
			f.SymAddr = &sa
		}
		if src.File != "" {
			f.Filename, f.Lineno = src.File, uint32(max(src.Line, 0))
		}
		if f.Package == "" {
			f.Package = src.Module
		}
	}
}

// reportInfo is what the report says beyond stacks and images.
func reportInfo(rep *applecrash.Report) map[string]string {
	out := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	set("format", rep.Format)
	set("incident_id", rep.IncidentID)
	set("process", rep.Process)
	set("path", rep.Path)
	set("identifier", rep.Identifier)
	set("version", rep.Version)
	set("parent_process", rep.ParentProcess)
	set("code_type", rep.CodeType)
	set("exception_type", rep.ExceptionType)
	set("exception_codes", rep.ExceptionCodes)
	set("exception_subtype", rep.ExceptionSubtype)
	set("signal", rep.Signal)
	set("termination_reason", rep.TerminationReason)
	set("application_specific_information", rep.ApplicationSpecificInfo)
	return out
}
