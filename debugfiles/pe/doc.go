// Package pe reads PE images: CodeView records, exports and x64/ARM64 unwind
// tables, for the debugfiles Object view.
package pe
