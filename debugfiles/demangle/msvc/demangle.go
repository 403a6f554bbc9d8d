// Package msvc demangles Microsoft Visual C++ decorated names ("?f@C@ns@@QEBAHH@Z")
// as they appear in PE export tables, PDB public symbols and Breakpad PUBLIC
// records.
//
// The output reproduces what llvm-undname from LLVM 14 prints by default,
// character for character, including its quirks: "__ptr64" is never printed,
// a this-adjustor offset is shown as an unsigned 32-bit number, a
// back-reference to an anonymous namespace prints the namespace's key, and
// characters after a complete name are ignored. The grammar is the one MSVC
// itself emits and clang's MicrosoftMangle implements: a symbol is '?', a
// qualified name (innermost part first, each part ending in '@', the list
// ending in '@'), then a type encoding (a storage class digit for variables, a
// function class letter for functions). Names and function parameter types are
// shared through two ten-entry back-reference tables; each template argument
// list starts fresh tables of its own.
//
// One difference is deliberate: llvm-undname forgets a parse error whenever
// it looks ahead at a pointer type (its isMemberPointer resets the error
// flag), so some malformed names "demangle" to text that misreads them. This
// package rejects those names, so callers can show the decorated name.
//
// Decoding is bounded: recursion depth is capped, and the output (plus the
// text rendered for name back-references) may not exceed a budget
// proportional to the input, so a hostile name cannot make the demangler
// allocate more than O(len(name)) or run longer than O(len(name)) steps.
package msvc

import (
	"fmt"
	"strings"
)

// Flags select which parts of a demangled name Demangle prints. The first five
// mirror llvm-undname's --no-calling-convention, --no-access-specifier,
// --no-member-type, --no-return-type and --no-variable-type options.
type Flags uint16

const (
	// NoCallingConvention drops "__cdecl", "__stdcall" and the like from
	// functions; function pointer types keep theirs, as in llvm-undname.
	NoCallingConvention Flags = 1 << iota
	// NoAccessSpecifier drops "public: ", "protected: " and "private: ".
	NoAccessSpecifier
	// NoMemberType drops "static ", "virtual " and `extern "C" `.
	NoMemberType
	// NoReturnType drops a function's return type (and, as llvm-undname
	// does, the parameter list of a returned function pointer).
	NoReturnType
	// NoVariableType drops a variable's type.
	NoVariableType
	// NameOnly prints only the qualified name of a function or variable:
	// no access, member type, return type, calling convention, parameters,
	// qualifiers, thunk adjustors or the function's own template arguments
	// ("ns::C<int>::f"), the way crash reports show frames. Symbols that have
	// no name of their own (string literals, vftables, RTTI descriptors, MD5
	// names, guards) keep their full form. It overrides the other flags.
	NameOnly
)

// Error reports a decorated name that cannot be decoded.
type Error struct {
	// Name is the decorated name.
	Name string
	// Offset is the byte offset in Name at which decoding failed.
	Offset int
	// Reason says what was expected there.
	Reason string
}

// Error formats the error with the package prefix, the name (shortened) and
// the offset.
func (e *Error) Error() string {
	name := e.Name
	if len(name) > 80 {
		name = name[:77] + "..."
	}
	return fmt.Sprintf("msvc: cannot demangle %q: %s at offset %d", name, e.Reason, e.Offset)
}

// Demangle returns the readable form of a decorated name exactly as
// llvm-undname-14 prints it by default ("public: int __cdecl ns::C::f(int)
// const"), or an *Error for names it cannot decode. It never panics and
// allocates at most O(len(name)).
func Demangle(name string) (string, error) {
	return DemangleWith(name, 0)
}

// DemangleWith is Demangle with output flags; see Flags.
func DemangleWith(name string, f Flags) (string, error) {
	var p parser
	p.init(name)
	sym := p.parse()
	if p.err != nil {
		return "", p.err
	}
	w := writer{limit: p.budget, buf: make([]byte, 0, 2*len(name)+32)}
	if f&NameOnly != 0 {
		writeNameOnly(&w, sym)
	} else {
		sym.write(&w, f)
	}
	if w.over {
		return "", &Error{Name: name, Offset: len(name), Reason: errTooLong}
	}
	return string(w.buf), nil
}

// IsMangled reports whether name looks like an MSVC decorated name: it starts
// with '?' ("?x@@3HA", "??0C@@QEAA@XZ", "??$f@H@@YAXXZ", "??_7C@@6B@", the
// MD5 form "??@<hash>@") and, like every such name, contains an '@'.
func IsMangled(name string) bool {
	return len(name) > 2 && name[0] == '?' && strings.IndexByte(name[1:], '@') >= 0
}
