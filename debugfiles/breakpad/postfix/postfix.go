// Package postfix evaluates the postfix expressions of Breakpad symbol
// files: the rules of STACK CFI records (".cfa: $rsp 16 +") and the
// programs of STACK WIN records ("$T0 $ebp = $eip $T0 4 + ^ = ...").
//
// Tokens are separated by white space. A token is an operator, a number
// (decimal, optionally negative; wrapping to the value width as Breakpad's
// unsigned evaluator does), or an identifier naming a variable: a register
// ("$rsp", "x29"), ".cfa", ".ra", a temporary ("$T0"), or the search
// variables ".raSearch" and ".raSearchStart" a stack walker provides. The
// binary operators + - * / % pop two values and push the result; @ aligns
// (a @ b is a rounded down to a multiple of b, a power of two); ^ replaces
// the top value with the memory it addresses; = pops a value and an
// identifier and assigns the value to it.
//
// The evaluator allocates nothing: identifiers are substrings of the
// expression, the stack is fixed-size (deeper expressions are errors), and
// variables live in the caller's Vars.
package postfix

import (
	"errors"
	"fmt"
	"strconv"
)

// Vars holds the variables of an evaluation.
type Vars interface {
	// Get returns the value of a variable.
	Get(name string) (uint64, bool)
	// Set assigns a variable (an "=" in a program).
	Set(name string, v uint64)
}

// Memory reads a value of the given size (4 or 8 bytes) at an address.
type Memory func(addr uint64, size int) (uint64, bool)

// Evaluator evaluates expressions for one architecture.
type Evaluator struct {
	// Width is the size of a value in bytes: 4 for x86 and arm, 8 for
	// amd64 and arm64. Results wrap to it and ^ reads that many bytes.
	Width int
	// Memory serves ^; nil makes every dereference fail.
	Memory Memory
}

// Errors the evaluator reports, wrapped with the token position.
var (
	ErrSyntax       = errors.New("postfix: syntax error")
	ErrStack        = errors.New("postfix: stack underflow or overflow")
	ErrUndefined    = errors.New("postfix: undefined variable")
	ErrDivideByZero = errors.New("postfix: division by zero")
	ErrMemory       = errors.New("postfix: memory not readable")
)

// maxDepth bounds the evaluation stack; real rules need three or four.
const maxDepth = 32

type item struct {
	v    uint64
	name string // set for an identifier not yet resolved
}

// Value evaluates an expression that must leave exactly one value, as the
// rules of STACK CFI records do.
func (e Evaluator) Value(expr string, vars Vars) (uint64, error) {
	var st [maxDepth]item
	n, err := e.run(expr, vars, &st)
	if err != nil {
		return 0, err
	}
	if n != 1 {
		return 0, fmt.Errorf("%w: %d values left", ErrStack, n)
	}
	return e.resolve(st[0], vars)
}

// Run executes a program of assignments, as STACK WIN program strings
// are: every "=" assigns through vars. Values left on the stack are an
// error.
func (e Evaluator) Run(program string, vars Vars) error {
	var st [maxDepth]item
	n, err := e.run(program, vars, &st)
	if err != nil {
		return err
	}
	if n != 0 {
		return fmt.Errorf("%w: %d values left", ErrStack, n)
	}
	return nil
}

func (e Evaluator) mask(v uint64) uint64 {
	if e.Width == 4 {
		return uint64(uint32(v))
	}
	return v
}

func (e Evaluator) resolve(it item, vars Vars) (uint64, error) {
	if it.name == "" {
		return it.v, nil
	}
	v, ok := vars.Get(it.name)
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUndefined, it.name)
	}
	return e.mask(v), nil
}

// run evaluates the tokens of expr, returning the stack depth.
func (e Evaluator) run(expr string, vars Vars, st *[maxDepth]item) (int, error) {
	n := 0
	pop := func() (item, bool) {
		if n == 0 {
			return item{}, false
		}
		n--
		return st[n], true
	}
	push := func(it item) bool {
		if n == maxDepth {
			return false
		}
		st[n] = it
		n++
		return true
	}
	for i := 0; i < len(expr); {
		for i < len(expr) && isSpace(expr[i]) {
			i++
		}
		j := i
		for j < len(expr) && !isSpace(expr[j]) {
			j++
		}
		if i == j {
			break
		}
		tok := expr[i:j]
		pos := i
		i = j
		fail := func(err error) (int, error) { return 0, fmt.Errorf("%w at %d (%q)", err, pos, tok) }
		if len(tok) == 1 && isOperator(tok[0]) {
			switch tok[0] {
			case '^':
				a, ok := pop()
				if !ok {
					return fail(ErrStack)
				}
				addr, err := e.resolve(a, vars)
				if err != nil {
					return 0, err
				}
				if e.Memory == nil {
					return fail(ErrMemory)
				}
				v, ok := e.Memory(addr, e.width())
				if !ok {
					return fail(ErrMemory)
				}
				push(item{v: e.mask(v)})
			case '=':
				val, ok1 := pop()
				dst, ok2 := pop()
				if !ok1 || !ok2 {
					return fail(ErrStack)
				}
				if dst.name == "" {
					return fail(ErrSyntax)
				}
				v, err := e.resolve(val, vars)
				if err != nil {
					return 0, err
				}
				vars.Set(dst.name, v)
			default:
				bi, ok1 := pop()
				ai, ok2 := pop()
				if !ok1 || !ok2 {
					return fail(ErrStack)
				}
				b, err := e.resolve(bi, vars)
				if err != nil {
					return 0, err
				}
				a, err := e.resolve(ai, vars)
				if err != nil {
					return 0, err
				}
				var r uint64
				switch tok[0] {
				case '+':
					r = a + b
				case '-':
					r = a - b
				case '*':
					r = a * b
				case '/', '%', '@':
					if b == 0 {
						return fail(ErrDivideByZero)
					}
					switch tok[0] {
					case '/':
						r = a / b
					case '%':
						r = a % b
					default:
						r = a &^ (b - 1)
					}
				}
				push(item{v: e.mask(r)})
			}
			continue
		}
		if v, ok := parseNumber(tok); ok {
			if !push(item{v: e.mask(v)}) {
				return fail(ErrStack)
			}
			continue
		}
		if !isIdentifier(tok) {
			return fail(ErrSyntax)
		}
		if !push(item{name: tok}) {
			return fail(ErrStack)
		}
	}
	return n, nil
}

func (e Evaluator) width() int {
	if e.Width == 4 {
		return 4
	}
	return 8
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isOperator(c byte) bool {
	switch c {
	case '+', '-', '*', '/', '%', '@', '^', '=':
		return true
	}
	return false
}

// parseNumber reads a decimal number, or a negative one that wraps; a
// "0x" prefix is accepted for hexadecimal.
func parseNumber(tok string) (uint64, bool) {
	neg := false
	s := tok
	if len(s) > 1 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	var v uint64
	var err error
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		v, err = strconv.ParseUint(s[2:], 16, 64)
	} else {
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// isIdentifier accepts names of registers, temporaries and the special
// variables: letters, digits, '$', '.', '_'.
func isIdentifier(tok string) bool {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c == '$' || c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Map is a Vars backed by a map, for tests and simple callers.
type Map map[string]uint64

// Get returns m[name].
func (m Map) Get(name string) (uint64, bool) {
	v, ok := m[name]
	return v, ok
}

// Set assigns m[name].
func (m Map) Set(name string, v uint64) { m[name] = v }
