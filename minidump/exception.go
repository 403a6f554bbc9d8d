package minidump

import "fmt"

// ExceptionRecord is MINIDUMP_EXCEPTION.
type ExceptionRecord struct {
	ExceptionCode    uint32 `json:"exception_code"`
	ExceptionFlags   uint32 `json:"exception_flags"`
	ExceptionRecord  uint64 `json:"exception_record"`
	ExceptionAddress uint64 `json:"exception_address"`
	NumberParameters uint32 `json:"number_parameters"`
	// ExceptionInformation holds all 15 parameter slots; only the first
	// NumberParameters are meaningful (see Parameters).
	ExceptionInformation [15]uint64 `json:"exception_information"`
}

// Parameters returns the meaningful exception parameters.
func (r *ExceptionRecord) Parameters() []uint64 {
	return r.ExceptionInformation[:min(int(r.NumberParameters), len(r.ExceptionInformation))]
}

// Exception is MINIDUMP_EXCEPTION_STREAM: the exception and the thread that
// raised it, with that thread's context at the moment of the crash.
type Exception struct {
	ThreadID   uint32          `json:"thread_id"`
	Record     ExceptionRecord `json:"record"`
	ContextLoc Location        `json:"context_loc"`
}

const exceptionStreamSize = 168

// Exception decodes the Exception stream.
func (f *File) Exception() (*Exception, error) {
	d, err := f.stream(ExceptionStream)
	if err != nil {
		return nil, err
	}
	if len(d.b) < exceptionStreamSize {
		return nil, formatErr("exception", d.base, "stream is %d bytes, want %d", len(d.b), exceptionStreamSize)
	}
	e := &Exception{ThreadID: d.u32()}
	d.skip(4)
	r := &e.Record
	r.ExceptionCode, r.ExceptionFlags, r.ExceptionRecord, r.ExceptionAddress, r.NumberParameters = d.u32(), d.u32(), d.u64(), d.u64(), d.u32()
	d.skip(4)
	for i := range r.ExceptionInformation {
		r.ExceptionInformation[i] = d.u64()
	}
	e.ContextLoc = d.location()
	return e, d.err
}

// ExceptionContext decodes the context of the crashing thread recorded with the
// exception (it differs from the thread list's context, which shows the
// thread inside the crash handler).
func (f *File) ExceptionContext(e *Exception, si *SystemInfo) (Context, error) {
	if e.ContextLoc.DataSize == 0 {
		return nil, fmt.Errorf("minidump: exception has no context")
	}
	return f.context(e.ContextLoc, si)
}

// CrashReason names the exception as Breakpad does, for the dump's OS/CPU.
func (e *Exception) CrashReason(si *SystemInfo) string {
	var p PlatformID
	var a ProcessorArch
	if si != nil {
		p, a = si.PlatformID, si.ProcessorArch
	}
	return CrashReason(p, a, e.Record.ExceptionCode, e.Record.ExceptionFlags, e.Record.Parameters())
}
