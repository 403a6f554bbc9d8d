// Package demangle turns mangled symbol names into readable ones: Itanium C++
// (_Z…) and Rust (legacy _ZN…h<hash>E and v0 _R…) through
// github.com/ianlancetaylor/demangle, MSVC C++ (?…) through the msvc
// subpackage; Swift arrives with its format's reader.
package demangle

import (
	"strings"

	"github.com/cairn-dev/cairn/debugfiles/demangle/msvc"
	"github.com/ianlancetaylor/demangle"
)

// Style selects how much of a demangled name to keep.
type Style uint8

const (
	// Full keeps parameters and qualifiers, spelled as GNU c++filt and
	// Breakpad's dump_syms print them (llvm-undname for MSVC names).
	Full Style = iota
	// NoParams drops the parameter list and template arguments of the
	// function itself ("ns::Class::method"), as crash reports show frames.
	// MSVC names keep the template arguments of enclosing classes
	// ("std::vector<int, class std::allocator<int>>::push_back").
	NoParams
)

// Demangle returns the readable form of name, or name unchanged when it is
// not mangled or cannot be demangled.
func Demangle(name string, style Style) string {
	if msvc.IsMangled(name) {
		f := msvc.Flags(0)
		if style == NoParams {
			f = msvc.NameOnly
		}
		out, err := msvc.DemangleWith(name, f)
		if err != nil {
			return name
		}
		return out
	}
	if !IsMangled(name) {
		return name
	}
	var opts []demangle.Option
	if style == NoParams {
		opts = append(opts, demangle.NoParams, demangle.NoTemplateParams)
	}
	// Symbols from Mach-O carry an extra leading underscore ("__Z…").
	trimmed := name
	if strings.HasPrefix(name, "__Z") || strings.HasPrefix(name, "__R") {
		trimmed = name[1:]
	}
	out, err := demangle.ToString(trimmed, opts...)
	if err != nil {
		return name
	}
	return out
}

// IsMangled reports whether name looks like an Itanium, Rust or MSVC
// mangled name.
func IsMangled(name string) bool {
	return strings.HasPrefix(name, "_Z") || strings.HasPrefix(name, "__Z") ||
		strings.HasPrefix(name, "_R") || strings.HasPrefix(name, "__R") ||
		msvc.IsMangled(name)
}
