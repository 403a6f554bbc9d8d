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
	Year         uint16 `json:"year"`
	Month        uint16 `json:"month"`
	DayOfWeek    uint16 `json:"day_of_week"`
	Day          uint16 `json:"day"`
	Hour         uint16 `json:"hour"`
	Minute       uint16 `json:"minute"`
	Second       uint16 `json:"second"`
	Milliseconds uint16 `json:"milliseconds"`
}

// TimeZone is TIME_ZONE_INFORMATION.
type TimeZone struct {
	Bias         int32      `json:"bias"`
	StandardName string     `json:"standard_name"`
	StandardDate SystemTime `json:"standard_date"`
	StandardBias int32      `json:"standard_bias"`
	DaylightName string     `json:"daylight_name"`
	DaylightDate SystemTime `json:"daylight_date"`
	DaylightBias int32      `json:"daylight_bias"`
}

// MiscInfo is MINIDUMP_MISC_INFO in any of its five versions; fields beyond
// the version present, or not flagged valid in Flags1, are zero.
type MiscInfo struct {
	SizeOfInfo        uint32 `json:"size_of_info"`
	Flags1            uint32 `json:"flags1"`
	ProcessID         uint32 `json:"process_id"`
	ProcessCreateTime uint32 `json:"process_create_time"`
	ProcessUserTime   uint32 `json:"process_user_time"`
	ProcessKernelTime uint32 `json:"process_kernel_time"`
	// Version 2.
	ProcessorMaxMhz           uint32 `json:"processor_max_mhz"`
	ProcessorCurrentMhz       uint32 `json:"processor_current_mhz"`
	ProcessorMhzLimit         uint32 `json:"processor_mhz_limit"`
	ProcessorMaxIdleState     uint32 `json:"processor_max_idle_state"`
	ProcessorCurrentIdleState uint32 `json:"processor_current_idle_state"`
	// Version 3.
	ProcessIntegrityLevel uint32   `json:"process_integrity_level"`
	ProcessExecuteFlags   uint32   `json:"process_execute_flags"`
	ProtectedProcess      uint32   `json:"protected_process"`
	TimeZoneID            uint32   `json:"time_zone_id"`
	TimeZone              TimeZone `json:"time_zone"`
	// Version 4.
	BuildString string `json:"build_string"`
	DbgBldStr   string `json:"dbg_bld_str"`
	// Version 5.
	XStateData    XStateConfigFeature `json:"x_state_data"`
	ProcessCookie uint32              `json:"process_cookie"`
}

// XStateConfigFeature is the XSTATE_CONFIG_FEATURE_MSC_INFO of MiscInfo 5:
// which extended processor state features the context's XSAVE area holds.
type XStateConfigFeature struct {
	SizeOfInfo      uint32            `json:"size_of_info"`
	ContextSize     uint32            `json:"context_size"`
	EnabledFeatures uint64            `json:"enabled_features"`
	Features        [64]XStateFeature `json:"features"`
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
