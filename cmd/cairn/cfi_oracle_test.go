package main

import (
	"bufio"
	"cmp"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// cfiEntry is a STACK CFI INIT record with the STACK CFI records after it.
type cfiEntry struct {
	start, size uint64
	init        map[string]string
	changes     []cfiChange
}

type cfiChange struct {
	addr  uint64
	rules map[string]string
}

// parseCFIRules splits "name: expr name: expr ..." into a map.
func parseCFIRules(s string) map[string]string {
	m := map[string]string{}
	var name string
	var expr []string
	flush := func() {
		if name != "" {
			m[name] = strings.Join(expr, " ")
		}
	}
	for _, tok := range strings.Fields(s) {
		if strings.HasSuffix(tok, ":") {
			flush()
			name, expr = strings.TrimSuffix(tok, ":"), nil
			continue
		}
		expr = append(expr, tok)
	}
	flush()
	return m
}

// readStackCFI reads the STACK CFI records of a symbol file, in file order.
func readStackCFI(text string) []cfiEntry {
	var out []cfiEntry
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "STACK CFI INIT "):
			f := strings.SplitN(strings.TrimPrefix(l, "STACK CFI INIT "), " ", 3)
			if len(f) < 3 {
				continue
			}
			a, _ := strconv.ParseUint(f[0], 16, 64)
			n, _ := strconv.ParseUint(f[1], 16, 64)
			out = append(out, cfiEntry{start: a, size: n, init: parseCFIRules(f[2])})
		case strings.HasPrefix(l, "STACK CFI ") && len(out) > 0:
			f := strings.SplitN(strings.TrimPrefix(l, "STACK CFI "), " ", 2)
			if len(f) < 2 {
				continue
			}
			a, _ := strconv.ParseUint(f[0], 16, 64)
			e := &out[len(out)-1]
			e.changes = append(e.changes, cfiChange{a, parseCFIRules(f[1])})
		}
	}
	return out
}

// raRegister is the register holding the return address on entry, by
// MODULE architecture: what ".ra: .ra" (dump_syms' spelling of "the return
// address register keeps its value") means.
var raRegister = map[string]string{"x86_64": "rip", "x86": "eip", "arm64": "x30", "arm": "lr"}

// normalizeCFI renders a rule set so that equivalent spellings compare
// equal: "$" prefixes go, a register rule naming the register itself (same
// value) is the same as no rule, and ".ra: .ra" names the return address
// register.
func normalizeCFI(arch string, m map[string]string) string {
	keys := make([]string, 0, len(m))
	norm := map[string]string{}
	for k, v := range m {
		k = strings.TrimPrefix(k, "$")
		toks := strings.Fields(v)
		for i, t := range toks {
			toks[i] = strings.TrimPrefix(t, "$")
		}
		v = strings.Join(toks, " ")
		if k == ".ra" && v == ".ra" {
			v = raRegister[arch]
		}
		if k == v && k != ".ra" {
			continue
		}
		norm[k] = v
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s; ", k, norm[k])
	}
	return b.String()
}

// cfiByAddress evaluates the records at every address they cover. Where
// entries overlap, the first in the file wins, as in Breakpad's processor.
func cfiByAddress(arch string, entries []cfiEntry) map[uint64]string {
	out := map[uint64]string{}
	for _, e := range entries {
		cur := map[string]string{}
		for k, v := range e.init {
			cur[k] = v
		}
		changes := slices.Clone(e.changes)
		slices.SortStableFunc(changes, func(a, b cfiChange) int { return cmp.Compare(a.addr, b.addr) })
		s := normalizeCFI(arch, cur)
		for a := e.start; a < e.start+e.size; a++ {
			changed := false
			for len(changes) > 0 && changes[0].addr <= a {
				for k, v := range changes[0].rules {
					cur[k] = v
				}
				changes, changed = changes[1:], true
			}
			if changed {
				s = normalizeCFI(arch, cur)
			}
			if _, dup := out[a]; !dup {
				out[a] = s
			}
		}
	}
	return out
}

// cfiDifferences lists the kinds of address at which Cairn's STACK CFI
// differs from dump_syms' on purpose.
var cfiDifferences = map[string]string{
	"cfa-expression": "the CFA is a DWARF expression (PLT stubs): dump_syms drops it and keeps applying the previous CFA rule; Cairn ends the record there",
	"undefined-ra":   "the return address is undefined (the outermost frame, _start): dump_syms drops the rule and keeps the CIE's; Cairn writes .ra: 0, where stack walkers stop",
}

// TestStackCFIAgainstBreakpad compares the STACK CFI records of `cairn
// dump-syms` with Breakpad's dump_syms (without -c) on every ELF fixture,
// address by address: the rules in effect at each address Breakpad covers,
// after normalizing register spelling, must be identical for ≥99% of the
// addresses outside the differences listed in cfiDifferences, and every
// differing address must be one of those differences.
func TestStackCFIAgainstBreakpad(t *testing.T) {
	tool := testtools.BreakpadTool(t, "dump_syms")
	var total, same int
	for _, name := range fixtures.Default() {
		if !strings.HasPrefix(name, "elf-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir := fixtures.GetDir(t, name)
			path := fixtures.Get(t, name)
			ours, err := run(t, "dump-syms", "--mangled", "--no-inlines", path)
			if err != nil {
				t.Fatal(err)
			}
			bp, err := exec.Command(tool, path, dir).Output()
			if err != nil {
				// dump_syms fails on zstd, .zdebug and MiniDebugInfo
				// files; Cairn read this one.
				t.Logf("Breakpad's dump_syms cannot read this file (%v); Cairn wrote %d STACK CFI records", err, strings.Count(ours, "\nSTACK CFI "))
				return
			}
			arch := strings.Fields(strings.SplitN(string(bp), "\n", 2)[0])[2]
			want := cfiByAddress(arch, readStackCFI(string(bp)))
			got := cfiByAddress(arch, readStackCFI(ours))
			if len(want) == 0 {
				t.Fatalf("dump_syms wrote no STACK CFI")
			}
			obj, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			tables, err := obj.UnwindTables()
			if err != nil {
				t.Fatal(err)
			}
			classes := map[string]int{}
			var examples []string
			n := 0
			for a, w := range want {
				g, ok := got[a]
				if ok && g == w {
					n++
					continue
				}
				class := "unexplained"
				row, found, _ := unwind.Lookup(tables, a)
				switch {
				case found && row.CFA.Kind == unwind.RuleValExpression && !ok:
					class = "cfa-expression"
				case found && row.Rule(row.RA).Kind == unwind.RuleUndefined:
					class = "undefined-ra"
				}
				classes[class]++
				if class == "unexplained" && len(examples) < 5 {
					examples = append(examples, fmt.Sprintf("%x: breakpad %q, cairn %q", a, w, g))
				}
			}
			extra := 0
			for a := range got {
				if _, ok := want[a]; !ok {
					extra++
				}
			}
			total += len(want)
			same += n
			explained := 0
			for c, k := range classes {
				if c != "unexplained" {
					explained += k
				}
			}
			// The PLT and _start are a fixed ~200 bytes: in the small demo
			// programs they are up to 9% of the code, in real programs
			// (and the large fixture) far below 1%. The bar for each file
			// is therefore on the addresses outside those classes.
			agree := float64(n) / float64(len(want)-explained)
			t.Logf("%d of %d addresses identical (%.3f%%; %.3f%% outside the known differences); differing: %v; addresses only Cairn covers: %d",
				n, len(want), 100*float64(n)/float64(len(want)), 100*agree, classes, extra)
			if agree < 0.99 {
				t.Errorf("STACK CFI agreement %.3f%% < 99%%", 100*agree)
			}
			if classes["unexplained"] > 0 {
				t.Errorf("%d addresses differ for no known reason; e.g. %q", classes["unexplained"], examples)
			}
			if extra > 0 {
				t.Errorf("Cairn covers %d addresses dump_syms does not", extra)
			}
		})
	}
	if total > 0 {
		all := float64(same) / float64(total)
		t.Logf("all fixtures: %d of %d addresses identical (%.3f%%)", same, total, 100*all)
		for c, why := range cfiDifferences {
			t.Logf("known difference %s: %s", c, why)
		}
	}
}
