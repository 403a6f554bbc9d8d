// Package debugfiles gives one Object view over every debug-file format Cairn
// reads: kind, architecture, debug id, code id, symbols, line programs,
// inlinees and unwind tables. Each format lives in its own subpackage.
package debugfiles
