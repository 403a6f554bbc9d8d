package minidump

import "time"

// MiscInfo flags1 bits saying which fields of MiscInfo are valid.
const (
	MiscInfoProcessID           = 0x001
	MiscInfoProcessTimes        = 0x002
	MiscInfoProcessorPowerInfo  = 0x004
	MiscInfoProcessIntegrity    = 0x010
	MiscInfoProcessExecuteFlags = 0x020
	MiscInfoTimezone            = 0x040
	MiscInfoProtectedProcess    = 0x080
	MiscInfoBuildString         = 0x100
	MiscInfoProcessCookie       = 0x200
)

// Sizes of the MINIDUMP_MISC_INFO versions; SizeOfInfo says which one a dump has.
const (
	MiscInfoSize  = 24
	MiscInfo2Size = 44
	MiscInfo3Size = 232
	MiscInfo4Size = 832
	MiscInfo5Size = 1364
)

// SystemTime is the Windows SYSTEMTIME structure.
type SystemTime struct {
	Year, Month, DayOfWeek, Day, Hour, Minute, Second, Milliseconds uint16
}

// TimeZone is TIME_ZONE_INFORMATION.
type TimeZone struct {
	Bias         int32
	StandardName string
	StandardDate SystemTime
	StandardBias int32
	DaylightName string
	DaylightDate SystemTime
	DaylightBias int32
}

// MiscInfo is MINIDUMP_MISC_INFO in any of its five versions; fields beyond
// the version present, or not flagged valid in Flags1, are zero.
type MiscInfo struct {
	SizeOfInfo        uint32
	Flags1            uint32
	ProcessID         uint32
	ProcessCreateTime uint32
	ProcessUserTime   uint32
	ProcessKernelTime uint32
	// Version 2.
	ProcessorMaxMhz           uint32
	ProcessorCurrentMhz       uint32
	ProcessorMhzLimit         uint32
	ProcessorMaxIdleState     uint32
	ProcessorCurrentIdleState uint32
	// Version 3.
	ProcessIntegrityLevel uint32
	ProcessExecuteFlags   uint32
	ProtectedProcess      uint32
	TimeZoneID            uint32
	TimeZone              TimeZone
	// Version 4.
	BuildString string
	DbgBldStr   string
	// Version 5.
	XStateData    XStateConfigFeature
	ProcessCookie uint32
}

// XStateConfigFeature is the XSTATE_CONFIG_FEATURE_MSC_INFO of MiscInfo 5:
// which extended processor state features the context's XSAVE area holds.
type XStateConfigFeature struct {
	SizeOfInfo      uint32
	ContextSize     uint32
	EnabledFeatures uint64
	Features        [64]XStateFeature
}

// XStateFeature is the offset and size of one XSAVE feature.
type XStateFeature struct{ Offset, Size uint32 }

// Has reports whether the flag bits in mask are all set in Flags1.
func (m *MiscInfo) Has(mask uint32) bool { return m.Flags1&mask == mask }

// CreateTime is the process creation time when flagged valid.
func (m *MiscInfo) CreateTime() (time.Time, bool) {
	if !m.Has(MiscInfoProcessTimes) {
		return time.Time{}, false
	}
	return time.Unix(int64(m.ProcessCreateTime), 0).UTC(), true
}

// MiscInfo decodes the MiscInfo stream of any version.
func (f *File) MiscInfo() (*MiscInfo, error) {
	d, err := f.stream(MiscInfoStream)
	if err != nil {
		return nil, err
	}
	m := &MiscInfo{SizeOfInfo: d.u32(), Flags1: d.u32(), ProcessID: d.u32(),
		ProcessCreateTime: d.u32(), ProcessUserTime: d.u32(), ProcessKernelTime: d.u32()}
	if d.err != nil {
		return nil, d.err
	}
	// The stream may be shorter than SizeOfInfo claims (truncated writers)
	// or longer (future versions); read what both allow.
	size := min(int(m.SizeOfInfo), len(d.b))
	if size >= MiscInfo2Size {
		m.ProcessorMaxMhz, m.ProcessorCurrentMhz, m.ProcessorMhzLimit, m.ProcessorMaxIdleState, m.ProcessorCurrentIdleState = d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	}
	if size >= MiscInfo3Size {
		m.ProcessIntegrityLevel, m.ProcessExecuteFlags, m.ProtectedProcess, m.TimeZoneID = d.u32(), d.u32(), d.u32(), d.u32()
		tz := &m.TimeZone
		tz.Bias = int32(d.u32())
		tz.StandardName = utf16String(d.take(64))
		tz.StandardDate = d.systemTime()
		tz.StandardBias = int32(d.u32())
		tz.DaylightName = utf16String(d.take(64))
		tz.DaylightDate = d.systemTime()
		tz.DaylightBias = int32(d.u32())
	}
	if size >= MiscInfo4Size {
		m.BuildString = utf16String(d.take(520))
		m.DbgBldStr = utf16String(d.take(80))
	}
	if size >= MiscInfo5Size {
		x := &m.XStateData
		x.SizeOfInfo, x.ContextSize, x.EnabledFeatures = d.u32(), d.u32(), d.u64()
		for i := range x.Features {
			x.Features[i] = XStateFeature{d.u32(), d.u32()}
		}
		m.ProcessCookie = d.u32()
	}
	return m, d.err
}

func (d *decoder) systemTime() SystemTime {
	return SystemTime{d.u16(), d.u16(), d.u16(), d.u16(), d.u16(), d.u16(), d.u16(), d.u16()}
}
