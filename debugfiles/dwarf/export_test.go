package dwarf

// CompactLines is compactLines, for the package's external tests.
var CompactLines = compactLines

// compactLines returns what a compact function's lines answer, whether it
// holds them as Rows or as Table: rows of its range, relative to its load
// address, in address order, where rows that touch and hold the same file
// and line are one. Two functions' lines answer alike for every address
// exactly when their compactLines are equal, however they were cut.
func compactLines(cf *CompactFunction) []LineRow {
	var out []LineRow
	add := func(r LineRow) {
		if n := len(out); n > 0 {
			if p := &out[n-1]; p.Address+p.Size == r.Address && p.File == r.File && p.Line == r.Line {
				p.Size += r.Size
				return
			}
		}
		out = append(out, r)
	}
	if cf.Table == nil {
		for _, r := range cf.Rows {
			add(r)
		}
		return out
	}
	lo := cf.Address + cf.Load
	hi := lo + cf.Size
	for k, r := range cf.Table {
		start, end := max(r.Address, lo), hi
		if k+1 < len(cf.Table) {
			end = min(end, cf.Table[k+1].Address)
		}
		if r.File == NoFile || start >= end {
			continue
		}
		add(LineRow{Address: start - cf.Load, Size: end - start, File: r.File, Line: r.Line})
	}
	return out
}
