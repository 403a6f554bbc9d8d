package minidump

// extraStreams lists the platform-specific streams ReadAll decodes into
// Contents.Extra; a stream the dump lacks is skipped silently.
func (f *File) extraStreams() []extraStream {
	return []extraStream{
		{"Linux cmdline", func() (any, error) { return f.LinuxCmdLine() }},
		{"Linux environ", func() (any, error) { return f.LinuxEnviron() }},
		{"Linux auxv", func() (any, error) { return f.LinuxAuxv() }},
		{"Linux proc status", func() (any, error) { return f.LinuxProcStatus() }},
		{"Linux lsb-release", func() (any, error) { return f.LinuxLSBRelease() }},
		{"Linux cpuinfo", func() (any, error) { return f.LinuxCPUInfo() }},
		{"Linux maps", func() (any, error) { return f.LinuxMaps() }},
		{"Linux DSO debug", func() (any, error) { return f.LinuxDSODebug() }},
		{"Crashpad info", func() (any, error) { return f.CrashpadInfo() }},
		{"macOS crash info", func() (any, error) { return f.MacCrashInfo() }},
		{"macOS boot args", func() (any, error) { return f.MacBootargs() }},
	}
}
