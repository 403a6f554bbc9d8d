// Package elf reads ELF objects and their debug sections (compressed sections,
// .gnu_debuglink, .gnu_debugdata) for the debugfiles Object view.
package elf
