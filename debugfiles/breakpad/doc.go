// Package breakpad reads Breakpad text symbol files (.sym): MODULE, FILE,
// FUNC, line, INLINE, PUBLIC and STACK records.
package breakpad
