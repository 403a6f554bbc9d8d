package minidump

// listEntries reads the u32 count that starts a list stream and returns it
// after checking that count entries of entrySize bytes fit in the stream.
// Writers that align entries to 8 bytes insert 4 bytes of padding after the
// count; that layout is recognised by its exact size, as Breakpad does.
func listEntries(d *decoder, entrySize int) int {
	count := d.u32()
	if d.err != nil {
		return 0
	}
	avail := d.remaining()
	need := uint64(count) * uint64(entrySize)
	switch {
	case need == uint64(avail):
	case need+4 == uint64(avail):
		d.skip(4)
	case need < uint64(avail):
		// Trailing bytes are tolerated: some writers reserve more than they use.
	default:
		d.fail(formatCount(count, entrySize, avail))
		return 0
	}
	return int(count)
}

func formatCount(count uint32, size, avail int) string {
	return "count " + itoa(uint64(count)) + " of " + itoa(uint64(size)) + "-byte entries exceeds the " + itoa(uint64(avail)) + " bytes of the stream"
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}
