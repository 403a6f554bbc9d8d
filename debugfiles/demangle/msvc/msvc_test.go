package msvc

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"
)

// knownDivergences are the names of testdata/corpus.txt on which this
// package deliberately disagrees with llvm-undname-14, and why. Every other
// disagreement fails the oracle test.
var knownDivergences = map[string]string{
	"?f@C@@GAEAAXXZ":       errorResetReason,
	"?f@C@@GXEAAXXZ":       errorResetReason,
	"?f@C@@GBEAAXXZ":       errorResetReason,
	"??_V@YAXPEAXAXPEAX@Z": errorResetReason,
}

// errorResetReason explains the one class of disagreement: llvm-undname's
// isMemberPointer begins with "Error = false", so looking ahead at a pointer
// type forgets a parse error latched earlier (a thunk offset without its '@',
// an unknown qualifier letter) and the malformed name "demangles" to text
// that misreads it ("void & __thiscall" for a __cdecl function). Cairn
// rejects such names so callers show the decorated name instead.
const errorResetReason = "malformed name llvm-undname accepts after clearing its error flag in isMemberPointer"

// agreement compares DemangleWith(f) with llvm-undname-14 (run with opts) on
// names. Both rejecting a name counts as agreement.
type agreement struct {
	total, same, bothFail int
	mismatches            []mismatch
}

type mismatch struct {
	name, ours, theirs string
	weFail             bool
}

func compare(t *testing.T, names []string, f Flags, opts ...string) agreement {
	t.Helper()
	oracle := runUndname(t, undnamePath(t), names, opts...)
	var a agreement
	for i, n := range names {
		a.total++
		got, err := DemangleWith(n, f)
		want := oracle[i]
		switch {
		case err != nil && !want.ok:
			a.same++
			a.bothFail++
		case err == nil && want.ok && got == want.out:
			a.same++
		default:
			m := mismatch{name: n, ours: got, theirs: want.out, weFail: err != nil}
			if err != nil {
				m.ours = "error: " + err.Error()
			}
			if !want.ok {
				m.theirs = "error: Invalid mangled name"
			}
			a.mismatches = append(a.mismatches, m)
		}
	}
	return a
}

func (a agreement) percent() float64 { return 100 * float64(a.same) / float64(max(a.total, 1)) }

func (a agreement) summary(what string) string {
	return fmt.Sprintf("%s: %d/%d identical to llvm-undname-14 (%.2f%%; %d rejected by both)",
		what, a.same, a.total, a.percent(), a.bothFail)
}

func (m mismatch) String() string {
	return m.name + "\n    ours:   " + m.ours + "\n    theirs: " + m.theirs
}

// corpusAndCompiled is the oracle test's input: the hand-picked corpus,
// every decorated name clang-14 emits for testdata/src and the decorated
// public symbols of the project's PE fixtures, without duplicates.
func corpusAndCompiled(t *testing.T) (all []string, counts string) {
	t.Helper()
	corpus := readCorpus(t)
	compiled := compiledNames(t)
	fixture := fixtureNames(t)
	seen := map[string]bool{}
	for _, list := range [][]string{corpus, compiled, fixture} {
		for _, n := range list {
			if !seen[n] {
				seen[n] = true
				all = append(all, n)
			}
		}
	}
	return all, fmt.Sprintf("%d corpus names, %d compiled names (x86_64 and i686), %d fixture names, %d distinct",
		len(corpus), len(compiled), len(fixture), len(all))
}

// TestAgainstUndname is the main test: Demangle must print what
// llvm-undname-14 prints for at least 99% of the names, and every
// disagreement must be a known one.
func TestAgainstUndname(t *testing.T) {
	names, counts := corpusAndCompiled(t)
	a := compare(t, names, 0)
	t.Log(counts)
	t.Log(a.summary("all names"))
	classes := map[string][]mismatch{}
	for _, m := range a.mismatches {
		reason, ok := knownDivergences[m.name]
		if !ok {
			t.Errorf("unexplained mismatch %s", m)
			continue
		}
		classes[reason] = append(classes[reason], m)
	}
	for reason, ms := range classes {
		t.Logf("%d mismatches: %s", len(ms), reason)
		for _, m := range ms {
			t.Logf("  %s", m)
		}
	}
	if a.percent() < 99 {
		t.Errorf("agreement %.2f%% is below 99%%", a.percent())
	}
	// The compiled and fixture names are real ones: all of them must agree.
	real := append(append([]string(nil), compiledNames(t)...), fixtureNames(t)...)
	if c := compare(t, real, 0); len(c.mismatches) > 0 {
		t.Errorf("%d compiled or fixture names disagree", len(c.mismatches))
	} else {
		t.Log(c.summary("compiled and fixture names"))
	}
}

// TestFlagsAgainstUndname checks each output flag against the llvm-undname
// option it mirrors, and all of them together.
func TestFlagsAgainstUndname(t *testing.T) {
	names, _ := corpusAndCompiled(t)
	all := []string{"--no-calling-convention", "--no-access-specifier", "--no-member-type", "--no-return-type", "--no-variable-type"}
	cases := []struct {
		f    Flags
		opts []string
	}{
		{NoCallingConvention, all[0:1]},
		{NoAccessSpecifier, all[1:2]},
		{NoMemberType, all[2:3]},
		{NoReturnType, all[3:4]},
		{NoVariableType, all[4:5]},
		{NoCallingConvention | NoAccessSpecifier | NoMemberType | NoReturnType | NoVariableType, all},
	}
	for _, c := range cases {
		a := compare(t, names, c.f, c.opts...)
		t.Log(a.summary(strings.Join(c.opts, " ")))
		for _, m := range a.mismatches {
			if knownDivergences[m.name] == "" {
				t.Errorf("%s: unexplained mismatch %s", strings.Join(c.opts, " "), m)
			}
		}
	}
}

// TestNameOnlyAgainstUndname derives the name-only form from the oracle: the
// name part of what llvm-undname prints without access, member type and
// return type (functions) or without everything but the name (variables),
// less the parameter list, qualifiers, thunk adjustor and the function's own
// template arguments. Names whose rendering those options change (a symbol
// used as a template argument loses its type) are counted and skipped;
// symbols without a name of their own must print in full.
func TestNameOnlyAgainstUndname(t *testing.T) {
	names, _ := corpusAndCompiled(t)
	path := undnamePath(t)
	full := runUndname(t, path, names)
	fn := runUndname(t, path, names, "--no-access-specifier", "--no-member-type", "--no-return-type")
	vars := runUndname(t, path, names, "--no-access-specifier", "--no-member-type", "--no-return-type",
		"--no-variable-type", "--no-calling-convention")
	var checked, skipped int
	for i, n := range names {
		if !full[i].ok {
			continue
		}
		got, err := DemangleWith(n, NameOnly)
		if err != nil {
			if knownDivergences[n] == "" {
				t.Errorf("DemangleWith(%q, NameOnly): %v", n, err)
			}
			continue
		}
		var want, inFull string
		switch kind := symbolKind(n); kind {
		case "function":
			inFull, want = functionNamePart(n, fn[i].out)
		case "variable":
			want = vars[i].out
			inFull = want
		default:
			want = full[i].out
			inFull = want
		}
		// The options may change only the stripped template arguments.
		argsOnly := want != inFull && strings.HasPrefix(inFull, want+"<") && strings.Contains(full[i].out, want+"<")
		if !strings.Contains(full[i].out, inFull) && !argsOnly {
			if testing.Verbose() {
				t.Logf("not checkable: %s (oracle name %q)", n, inFull)
			}
			skipped++
			continue
		}
		checked++
		if got != want {
			t.Errorf("DemangleWith(%q, NameOnly) = %q, want %q (from %q)", n, got, want, full[i].out)
		}
	}
	t.Logf("name-only form checked on %d names; %d skipped because llvm-undname's options change the name itself", checked, skipped)
}

// symbolKind says which derivation of the name-only form applies; it uses
// the parser only to classify, the expected text comes from the oracle.
func symbolKind(name string) string {
	var p parser
	p.init(name)
	switch s := p.parse().(type) {
	case *funcSym:
		return "function"
	case *varSym:
		if !s.synthetic {
			return "variable"
		}
	}
	return "other"
}

var callConvPrefixes = []string{
	"__cdecl ", "__pascal ", "__thiscall ", "__stdcall ", "__fastcall ", "__clrcall ",
	"__eabi ", "__vectorcall ", "__attribute__((__swiftcall__)) ", "__attribute__((__swiftasynccall__)) ",
}

// functionNamePart cuts the qualified name out of a function's demangled
// form printed without access, member type and return type; it returns the
// name with and without the function's own template arguments.
func functionNamePart(mangled, s string) (withArgs, name string) {
	if strings.Count(s, "(") != strings.Count(s, ")") {
		// llvm-undname-14 --no-return-type drops ")(args)" of a returned
		// function pointer; such output has no recognisable name part.
		return "\x00unbalanced", ""
	}
	s = strings.TrimPrefix(s, "[thunk]: ")
	for _, cc := range callConvPrefixes {
		if strings.HasPrefix(s, cc) {
			s = s[len(cc):]
			break
		}
	}
	for trimmed := true; trimmed; {
		trimmed = false
		for _, q := range []string{" const", " volatile", " __restrict", " __unaligned", " noexcept", " &&", " &"} {
			if strings.HasSuffix(s, q) {
				s, trimmed = s[:len(s)-len(q)], true
			}
		}
	}
	if strings.HasSuffix(s, ")") {
		if i := matchOpen(s, '(', ')'); i >= 0 {
			s = s[:i]
		}
	}
	if strings.HasSuffix(s, "}'") {
		for _, adj := range []string{"`adjustor{", "`vtordispex{", "`vtordisp{"} {
			if i := strings.LastIndex(s, adj); i >= 0 {
				s = s[:i]
				break
			}
		}
	}
	withArgs = s
	switch {
	case strings.HasPrefix(mangled, "??$?B"): // templated conversion: "operator<T> T"
		if i := strings.LastIndex(s, "operator<"); i >= 0 {
			rest := s[i+len("operator"):]
			if j := matchClose(rest); j >= 0 {
				s = s[:i+len("operator")] + rest[j+1:]
			}
		}
	case strings.HasPrefix(mangled, "??$"):
		if strings.HasSuffix(s, ">") {
			if i := matchOpen(s, '<', '>'); i >= 0 {
				s = s[:i]
			}
		}
	}
	return withArgs, s
}

// matchOpen returns the index of the bracket opening the one s ends with.
func matchOpen(s string, open, close byte) int {
	depth := 0
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case close:
			depth++
		case open:
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// matchClose returns the index of the '>' closing the '<' s starts with.
func matchClose(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			depth++
		case '>':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// TestMutationsAgainstUndname feeds both demanglers deterministic mutations
// of the corpus (truncations, insertions, substitutions, splices). Most are
// malformed; whenever Cairn accepts one, llvm-undname must accept it too and
// print the same text. Names llvm-undname accepts and Cairn rejects are the
// error-reset class of knownDivergences; they are counted, not failed.
func TestMutationsAgainstUndname(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	corpus := readCorpus(t)
	names := mutate(corpus, 20000, 1)
	a := compare(t, names, 0)
	t.Log(a.summary("mutated names"))
	var weReject int
	for _, m := range a.mismatches {
		if m.weFail {
			weReject++
			continue
		}
		t.Errorf("mutated name demangled differently: %s", m)
	}
	t.Logf("%d mutated names only llvm-undname accepts (%s)", weReject, errorResetReason)
}

// mutate makes n distinct variants of the names with a fixed seed.
func mutate(names []string, n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, seed))
	const alpha = "?@$0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcxyz"
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		s := names[r.IntN(len(names))]
		for range 1 + r.IntN(3) {
			i := r.IntN(len(s) + 1)
			switch r.IntN(5) {
			case 0:
				s = s[:i]
			case 1:
				s = s[:i] + string(alpha[r.IntN(len(alpha))]) + s[i:]
			case 2:
				if i < len(s) {
					s = s[:i] + string(alpha[r.IntN(len(alpha))]) + s[i+1:]
				}
			case 3:
				if i < len(s) {
					s = s[:i] + s[i+1:]
				}
			case 4:
				o := names[r.IntN(len(names))]
				j := r.IntN(len(o) + 1)
				s = s[:i] + o[j:min(len(o), j+1+r.IntN(12))] + s[i:]
			}
		}
		if s == "" || strings.TrimSpace(s) != s || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestNamesFile compares the names in $MSVC_NAMES (one per line) with the
// oracle and lists every disagreement: a tool for investigating a list of
// names, skipped otherwise.
func TestNamesFile(t *testing.T) {
	path := os.Getenv("MSVC_NAMES")
	if path == "" {
		t.Skip("set MSVC_NAMES to a file of names")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			names = append(names, l)
		}
	}
	a := compare(t, names, 0)
	t.Log(a.summary(path))
	for _, m := range a.mismatches {
		t.Logf("mismatch %s", m)
	}
}
