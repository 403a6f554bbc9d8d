// Package unwind is the common model of stack unwinding information: every
// format Cairn reads (DWARF CFI in .eh_frame and .debug_frame, Mach-O
// compact unwind, Breakpad STACK CFI and STACK WIN records, PE unwind codes)
// is presented as Tables of Rows, and the cficache and the stack walkers
// consume nothing else.
//
// A Row says, for a half-open address range [Start, End), how to compute
// the canonical frame address (CFA) and how to recover each register of the
// caller: the DWARF model of a CFI table (DWARF 5 §6.4.1), which the other
// formats reduce to without loss for the cases they express. Registers are
// numbered with the DWARF numbers of each architecture's psABI; Arch names
// them in the DWARF/LLVM spelling and in Breakpad's.
//
// Addresses are relative to the object's load address, like every other
// address a debugfiles.Object reports.
package unwind
