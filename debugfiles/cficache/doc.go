// Package cficache writes and reads the cficache: compact, mmap-able unwind
// rules derived once from CFI, compact unwind or PE unwind tables.
package cficache
