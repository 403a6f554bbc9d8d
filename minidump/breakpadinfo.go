package minidump

// BreakpadInfo validity bits.
const (
	BreakpadInfoValidDumpThreadID       = 1 << 0
	BreakpadInfoValidRequestingThreadID = 1 << 1
)

// BreakpadInfo is MDRawBreakpadInfo: which threads belong to the crash
// handler (to be skipped) and which one asked for the dump.
type BreakpadInfo struct {
	Validity           uint32 `json:"validity"`
	DumpThreadID       uint32 `json:"dump_thread_id"`
	RequestingThreadID uint32 `json:"requesting_thread_id"`
}

// DumpThread returns the id of the handler thread that wrote the dump.
func (b *BreakpadInfo) DumpThread() (uint32, bool) {
	return b.DumpThreadID, b.Validity&BreakpadInfoValidDumpThreadID != 0
}

// RequestingThread returns the id of the thread that requested the dump.
func (b *BreakpadInfo) RequestingThread() (uint32, bool) {
	return b.RequestingThreadID, b.Validity&BreakpadInfoValidRequestingThreadID != 0
}

// BreakpadInfo decodes the BreakpadInfo stream.
func (f *File) BreakpadInfo() (*BreakpadInfo, error) {
	d, err := f.stream(BreakpadInfoStream)
	if err != nil {
		return nil, err
	}
	b := &BreakpadInfo{Validity: d.u32(), DumpThreadID: d.u32(), RequestingThreadID: d.u32()}
	return b, d.err
}

// Assertion types of AssertionInfo.
const (
	AssertionUnknown          = 0
	AssertionInvalidParameter = 1
	AssertionPureVirtualCall  = 2
)

// AssertionInfo is MDRawAssertionInfo: a failed CRT assertion or invalid
// parameter on Windows, reported instead of an exception.
type AssertionInfo struct {
	Expression string `json:"expression"`
	Function   string `json:"function"`
	File       string `json:"file"`
	Line       uint32 `json:"line"`
	Type       uint32 `json:"type"`
}

// AssertionInfo decodes the AssertionInfo stream (fixed 128-unit UTF-16
// fields for the expression, function and file).
func (f *File) AssertionInfo() (*AssertionInfo, error) {
	d, err := f.stream(AssertionInfoStream)
	if err != nil {
		return nil, err
	}
	a := &AssertionInfo{
		Expression: utf16String(d.take(256)),
		Function:   utf16String(d.take(256)),
		File:       utf16String(d.take(256)),
	}
	a.Line, a.Type = d.u32(), d.u32()
	return a, d.err
}

// HandleDescriptor is one MINIDUMP_HANDLE_DESCRIPTOR(_2) entry.
type HandleDescriptor struct {
	Handle        uint64 `json:"handle"`
	TypeNameRVA   uint32 `json:"type_name_rva"`
	ObjectNameRVA uint32 `json:"object_name_rva"`
	Attributes    uint32 `json:"attributes"`
	GrantedAccess uint32 `json:"granted_access"`
	HandleCount   uint32 `json:"handle_count"`
	PointerCount  uint32 `json:"pointer_count"`
	// ObjectInfoRVA and Reserved0 exist only in the version-2 descriptor.
	ObjectInfoRVA uint32 `json:"object_info_rva"`
	TypeName      string `json:"type_name"`
	ObjectName    string `json:"object_name"`
}

// HandleData decodes the HandleData stream (the process's open handles).
func (f *File) HandleData() ([]HandleDescriptor, error) {
	d, err := f.stream(HandleDataStream)
	if err != nil {
		return nil, err
	}
	hdrSize, descSize, count := d.u32(), d.u32(), d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if hdrSize < 16 || descSize < 32 {
		return nil, formatErr("handle data", d.base, "header size %d / descriptor size %d too small", hdrSize, descSize)
	}
	d.off = 0
	d.skip(int(hdrSize))
	if uint64(count)*uint64(descSize) > uint64(d.remaining()) {
		d.fail(formatCount(count, int(descSize), d.remaining()))
	}
	if d.err != nil {
		return nil, d.err
	}
	hs := make([]HandleDescriptor, count)
	budget := newCopyBudget(f)
	for i := range hs {
		e := newDecoder("handle descriptor", d.base+int64(d.off), d.take(int(descSize)))
		h := &hs[i]
		h.Handle, h.TypeNameRVA, h.ObjectNameRVA = e.u64(), e.u32(), e.u32()
		h.Attributes, h.GrantedAccess, h.HandleCount, h.PointerCount = e.u32(), e.u32(), e.u32(), e.u32()
		if descSize >= 40 {
			h.ObjectInfoRVA = e.u32()
		}
		if h.TypeNameRVA != 0 {
			h.TypeName, _ = budget.string(f, h.TypeNameRVA)
		}
		if h.ObjectNameRVA != 0 {
			h.ObjectName, _ = budget.string(f, h.ObjectNameRVA)
		}
	}
	return hs, nil
}
