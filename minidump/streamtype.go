package minidump

import (
	"fmt"
	"sync"
)

// StreamType identifies a stream in the directory (MINIDUMP_STREAM_TYPE and
// the Breakpad, Crashpad and Mozilla extensions).
type StreamType uint32

// Stream types Cairn knows by name.
const (
	UnusedStream              StreamType = 0
	ThreadListStream          StreamType = 3
	ModuleListStream          StreamType = 4
	MemoryListStream          StreamType = 5
	ExceptionStream           StreamType = 6
	SystemInfoStream          StreamType = 7
	ThreadExListStream        StreamType = 8
	Memory64ListStream        StreamType = 9
	CommentStreamA            StreamType = 10
	CommentStreamW            StreamType = 11
	HandleDataStream          StreamType = 12
	FunctionTableStream       StreamType = 13
	UnloadedModuleListStream  StreamType = 14
	MiscInfoStream            StreamType = 15
	MemoryInfoListStream      StreamType = 16
	ThreadInfoListStream      StreamType = 17
	HandleOperationListStream StreamType = 18
	TokenStream               StreamType = 19
	JavaScriptDataStream      StreamType = 20
	SystemMemoryInfoStream    StreamType = 21
	ProcessVMCountersStream   StreamType = 22
	IptTraceStream            StreamType = 23
	ThreadNameListStream      StreamType = 24

	BreakpadInfoStream     StreamType = 0x47670001
	AssertionInfoStream    StreamType = 0x47670002
	LinuxCPUInfoStream     StreamType = 0x47670003
	LinuxProcStatusStream  StreamType = 0x47670004
	LinuxLSBReleaseStream  StreamType = 0x47670005
	LinuxCmdLineStream     StreamType = 0x47670006
	LinuxEnvironStream     StreamType = 0x47670007
	LinuxAuxvStream        StreamType = 0x47670008
	LinuxMapsStream        StreamType = 0x47670009
	LinuxDSODebugStream    StreamType = 0x4767000a
	CrashpadInfoStream     StreamType = 0x43500001
	MozMacOSCrashInfo      StreamType = 0x4d7a0001
	MozMacOSBootargs       StreamType = 0x4d7a0002
	MozLinuxProcLimits     StreamType = 0x4d7a0003
	MozSoftErrors          StreamType = 0x4d7a0004
	MozLinuxProcMapsStream StreamType = 0x4d7a0005 // reserved by Mozilla; not written in practice
)

var streamNames = sync.OnceValue(func() map[StreamType]string {
	return map[StreamType]string{
		UnusedStream:              "Unused",
		ThreadListStream:          "ThreadList",
		ModuleListStream:          "ModuleList",
		MemoryListStream:          "MemoryList",
		ExceptionStream:           "Exception",
		SystemInfoStream:          "SystemInfo",
		ThreadExListStream:        "ThreadExList",
		Memory64ListStream:        "Memory64List",
		CommentStreamA:            "CommentA",
		CommentStreamW:            "CommentW",
		HandleDataStream:          "HandleData",
		FunctionTableStream:       "FunctionTable",
		UnloadedModuleListStream:  "UnloadedModuleList",
		MiscInfoStream:            "MiscInfo",
		MemoryInfoListStream:      "MemoryInfoList",
		ThreadInfoListStream:      "ThreadInfoList",
		HandleOperationListStream: "HandleOperationList",
		TokenStream:               "Token",
		JavaScriptDataStream:      "JavaScriptData",
		SystemMemoryInfoStream:    "SystemMemoryInfo",
		ProcessVMCountersStream:   "ProcessVMCounters",
		IptTraceStream:            "IptTrace",
		ThreadNameListStream:      "ThreadNameList",
		BreakpadInfoStream:        "BreakpadInfo",
		AssertionInfoStream:       "AssertionInfo",
		LinuxCPUInfoStream:        "LinuxCPUInfo",
		LinuxProcStatusStream:     "LinuxProcStatus",
		LinuxLSBReleaseStream:     "LinuxLSBRelease",
		LinuxCmdLineStream:        "LinuxCmdLine",
		LinuxEnvironStream:        "LinuxEnviron",
		LinuxAuxvStream:           "LinuxAuxv",
		LinuxMapsStream:           "LinuxMaps",
		LinuxDSODebugStream:       "LinuxDSODebug",
		CrashpadInfoStream:        "CrashpadInfo",
		MozMacOSCrashInfo:         "MozMacOSCrashInfo",
		MozMacOSBootargs:          "MozMacOSBootargs",
		MozLinuxProcLimits:        "MozLinuxLimits",
		MozSoftErrors:             "MozSoftErrors",
		MozLinuxProcMapsStream:    "MozLinuxProcMaps",
	}
})

// String names the stream type, or gives its number when unknown.
func (t StreamType) String() string {
	if n, ok := streamNames()[t]; ok {
		return n
	}
	return fmt.Sprintf("Unknown(%#x)", uint32(t))
}

// Known reports whether Cairn knows this stream type by name.
func (t StreamType) Known() bool { _, ok := streamNames()[t]; return ok }
