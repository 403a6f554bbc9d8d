package minidump

// copyBudget bounds the bytes one accessor copies out of the file. Lists of
// RVAs may all point at the same large string, so without a budget a small
// hostile file could make a decoder allocate count × string-length bytes.
// Legitimate dumps store each string once; the allowance of twice the file
// size plus 1 MiB leaves room for writers that share a few strings.
type copyBudget struct{ left uint64 }

func newCopyBudget(f *File) *copyBudget {
	return &copyBudget{left: 2*uint64(f.size) + 1<<20}
}

// spend charges n bytes, failing once the allowance is exhausted.
func (c *copyBudget) spend(what string, off int64, n uint64) error {
	if n > c.left {
		return formatErr(what, off, "strings and values referenced by this stream exceed twice the file size")
	}
	c.left -= n
	return nil
}

// spendString charges for the MINIDUMP_STRING at rva before it is decoded;
// an unreadable length is left for f.String to report.
func (c *copyBudget) spendString(f *File, rva uint32) error {
	b, err := f.bytes("string", int64(rva), 4)
	if err != nil {
		return nil
	}
	n := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
	return c.spend("string", int64(rva), n)
}

// string reads the MINIDUMP_STRING at rva after charging its length.
func (c *copyBudget) string(f *File, rva uint32) (string, error) {
	if err := c.spendString(f, rva); err != nil {
		return "", err
	}
	return f.String(rva)
}
