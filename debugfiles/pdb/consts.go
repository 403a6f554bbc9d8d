package pdb

// CodeView symbol record kinds read here (cvinfo.h SYM_ENUM_e).
const (
	sEnd           = 0x0006
	sThunk32ST     = 0x0206 // 16:32 thunk of old toolsets, length-prefixed name
	sLProc32ST     = 0x100a
	sGProc32ST     = 0x100b
	sPub32ST       = 0x1009
	sThunk32       = 0x1102
	sBlock32       = 0x1103
	sPub32         = 0x110e
	sLProc32       = 0x110f
	sGProc32       = 0x1110
	sProcRef       = 0x1125
	sLProcRef      = 0x1127
	sSepCode       = 0x1132
	sLProc32ID     = 0x1146
	sGProc32ID     = 0x1147
	sInlineSite    = 0x114d
	sInlineSiteEnd = 0x114e
	sProcIDEnd     = 0x114f
	sLProc32DPC    = 0x1155
	sLProc32DPCID  = 0x1156
	sInlineSite2   = 0x115d
)

// Public symbol flags (CV_PUBSYMFLAGS).
const (
	pubCode     = 0x1
	pubFunction = 0x2
	pubManaged  = 0x4
	pubMSIL     = 0x8
)

// C13 debug subsection kinds (DEBUG_S_SUBSECTION_TYPE).
const (
	debugSIgnore       = 0x80000000
	debugSSymbols      = 0xf1
	debugSLines        = 0xf2
	debugSStringTable  = 0xf3
	debugSFileChksms   = 0xf4
	debugSFrameData    = 0xf5
	debugSInlineeLines = 0xf6
)

// Type and id record kinds (LEAF_ENUM_e) read here.
const (
	lfClass     = 0x1504
	lfStructure = 0x1505
	lfUnion     = 0x1506
	lfEnum      = 0x1507
	lfInterface = 0x1519
	lfFuncID    = 0x1601
	lfMFuncID   = 0x1602
	lfStringID  = 0x1605

	lfChar      = 0x8000
	lfShort     = 0x8001
	lfUShort    = 0x8002
	lfLong      = 0x8003
	lfULong     = 0x8004
	lfQuadword  = 0x8009
	lfUQuadword = 0x800a
)

// Binary annotation opcodes of S_INLINESITE (cvinfo.h
// BinaryAnnotationOpcode).
const (
	baInvalid = iota
	baCodeOffset
	baChangeCodeOffsetBase
	baChangeCodeOffset
	baChangeCodeLength
	baChangeFile
	baChangeLineOffset
	baChangeLineEndDelta
	baChangeRangeKind
	baChangeColumnStart
	baChangeColumnEndDelta
	baChangeCodeOffsetAndLineOffset
	baChangeCodeLengthAndCodeOffset
	baChangeColumnEnd
)

// Machine types of the DBI header (IMAGE_FILE_MACHINE_*).
const (
	machineI386    = 0x014c
	machineAMD64   = 0x8664
	machineARM     = 0x01c0
	machineThumb   = 0x01c2
	machineARMNT   = 0x01c4
	machineARM64   = 0xaa64
	machineARM64EC = 0xa641
	machineARM64X  = 0xa64e
	machinePPC     = 0x01f0
	machinePPCFP   = 0x01f1
	machineIA64    = 0x0200
)

// archName names a DBI machine type in Sentry's spelling.
func archName(machine uint16) string {
	switch machine {
	case machineI386:
		return "x86"
	case machineAMD64:
		return "x86_64"
	case machineARM, machineThumb, machineARMNT:
		return "arm"
	case machineARM64, machineARM64EC, machineARM64X:
		return "arm64"
	case machinePPC, machinePPCFP:
		return "ppc"
	}
	return "unknown"
}
