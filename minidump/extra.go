package minidump

// extraStreams lists the platform-specific streams ReadAll decodes into
// Contents.Extra, in output order.
func (f *File) extraStreams() []extraStream {
	return nil
}
