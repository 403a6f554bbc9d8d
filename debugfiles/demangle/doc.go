// Package demangle turns mangled C++, Rust, MSVC and Swift symbol names into
// readable ones.
package demangle
