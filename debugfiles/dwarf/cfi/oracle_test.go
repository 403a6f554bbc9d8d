package cfi_test

import (
	"bufio"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/dwarf/cfi"
	"github.com/cairn-dev/cairn/debugfiles/elf"
	"github.com/cairn-dev/cairn/debugfiles/unwind"
	"github.com/cairn-dev/cairn/fixtures"
	"github.com/cairn-dev/cairn/internal/testtools"
)

// readelfFDE is one FDE of readelf --debug-dump=frames-interp: its range
// and its table, a row per location with a value per column.
type readelfFDE struct {
	start, end uint64
	cie        string
	columns    []string
	locs       []uint64
	rows       [][]string
}

var (
	fdeLine = regexp.MustCompile(`FDE cie=([0-9a-f]+) pc=([0-9a-f]+)\.\.([0-9a-f]+)`)
	cieLine = regexp.MustCompile(`^([0-9a-f]+) [0-9a-f]+ [0-9a-f]+ CIE`)
	rowLine = regexp.MustCompile(`^([0-9a-f]{8,16}) (.*)$`)
)

// readelfFrames runs readelf and returns the FDEs of each section.
func readelfFrames(t *testing.T, path string) map[cfi.Kind][]readelfFDE {
	t.Helper()
	if _, err := exec.LookPath("readelf"); err != nil {
		testtools.Missing(t, "readelf", "apt-get install binutils")
	}
	out, err := exec.Command("readelf", "--debug-dump=frames-interp", path).Output()
	if err != nil && len(out) == 0 {
		// readelf exits 1 after warnings (a missing separate debug
		// file) but still prints the tables.
		t.Fatalf("readelf: %v", err)
	}
	res := map[cfi.Kind][]readelfFDE{}
	// cies holds each CIE's table (its initial row), which is what readelf
	// leaves FDEs without instructions to.
	cies := map[cfi.Kind]map[string]*readelfFDE{}
	var kind cfi.Kind
	var cur *readelfFDE
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "Contents of the .eh_frame section"):
			kind, cur = cfi.EHFrame, nil
		case strings.HasPrefix(l, "Contents of the .debug_frame section"), strings.HasPrefix(l, "Contents of the .zdebug_frame section"):
			kind, cur = cfi.DebugFrame, nil
		case fdeLine.MatchString(l):
			m := fdeLine.FindStringSubmatch(l)
			s, _ := strconv.ParseUint(m[2], 16, 64)
			e, _ := strconv.ParseUint(m[3], 16, 64)
			res[kind] = append(res[kind], readelfFDE{start: s, end: e, cie: m[1]})
			cur = &res[kind][len(res[kind])-1]
		case cieLine.MatchString(l):
			if cies[kind] == nil {
				cies[kind] = map[string]*readelfFDE{}
			}
			cur = &readelfFDE{}
			cies[kind][cieLine.FindStringSubmatch(l)[1]] = cur
		case strings.Contains(l, "ZERO terminator"), strings.TrimSpace(l) == "":
			cur = nil
		case cur != nil && strings.HasPrefix(strings.TrimSpace(l), "LOC"):
			cur.columns = strings.Fields(l)[1:]
		case cur != nil && rowLine.MatchString(l):
			m := rowLine.FindStringSubmatch(l)
			a, _ := strconv.ParseUint(m[1], 16, 64)
			cur.locs = append(cur.locs, a)
			cur.rows = append(cur.rows, strings.Fields(m[2]))
		}
	}
	for k, fdes := range res {
		for i := range fdes {
			f := &fdes[i]
			if c := cies[k][f.cie]; len(f.locs) == 0 && c != nil && len(c.rows) > 0 {
				f.columns, f.locs, f.rows = c.columns, []uint64{f.start}, c.rows[:1]
			}
		}
	}
	return res
}

// readelfValue renders a rule as readelf's table shows it.
func readelfValue(arch unwind.Arch, r unwind.Rule) string {
	switch r.Kind {
	case unwind.RuleUnspecified, unwind.RuleUndefined:
		return "u"
	case unwind.RuleSameValue:
		return "s"
	case unwind.RuleOffset:
		return fmt.Sprintf("c%+d", r.Offset)
	case unwind.RuleValOffset:
		return fmt.Sprintf("v%+d", r.Offset)
	case unwind.RuleRegister:
		return arch.RegName(r.Reg)
	case unwind.RuleRegOffset:
		return fmt.Sprintf("%s%+d", arch.RegName(r.Reg), r.Offset)
	case unwind.RuleExpression:
		return "exp"
	case unwind.RuleValExpression:
		return "vexp"
	}
	return "?"
}

// TestAgainstReadelf compares every address of every FDE of every ELF
// fixture with GNU readelf's interpretation of the same FDE: the CFA rule
// and the rule of every register column readelf prints.
func TestAgainstReadelf(t *testing.T) {
	var total, same int
	for _, name := range fixtures.Default() {
		if !strings.HasPrefix(name, "elf-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			path := fixtures.Get(t, name)
			o, err := elf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			tables, err := o.UnwindTables()
			if err != nil {
				t.Fatal(err)
			}
			want := readelfFrames(t, path)
			n, agree := 0, 0
			var bad []string
			for _, tb := range tables {
				ct := tb.(*cfi.Table)
				if err := ct.Err(); err != nil {
					t.Errorf("%s: %v", ct.Kind(), err)
				}
				arch := ct.Arch()
				// Rows by FDE start, to compare each readelf FDE with ours.
				rows := map[uint64][]unwind.Row{}
				for row, err := range ct.Rows() {
					if err != nil {
						t.Fatalf("%s: %v", ct.Kind(), err)
					}
					rows[row.Entry.Start] = append(rows[row.Entry.Start], row.Clone())
				}
				fdes := want[ct.Kind()]
				if len(fdes) != ct.Len() {
					t.Errorf("%s: %d FDEs, readelf %d", ct.Kind(), ct.Len(), len(fdes))
				}
				bias := o.LoadAddress()
				for _, f := range fdes {
					ours := rows[f.start-bias]
					for a := f.start; a < f.end; a++ {
						k := -1
						for i, loc := range f.locs {
							if loc <= a {
								k = i
							}
						}
						if k < 0 {
							continue
						}
						var row *unwind.Row
						for i := range ours {
							if ours[i].Start <= a-bias && a-bias < ours[i].End {
								row = &ours[i]
							}
						}
						n++
						var got []string
						if row != nil {
							got = append(got, readelfValue(arch, row.CFA))
							if row.CFA.Kind == unwind.RuleValExpression {
								got[0] = "exp"
							}
							for _, col := range f.columns[1:] {
								reg, ok := arch.ParseBreakpadName(col)
								if col == "ra" {
									reg, ok = row.RA, true
								}
								if !ok {
									if r, err := strconv.Atoi(strings.TrimPrefix(col, "r")); err == nil {
										reg, ok = unwind.Reg(r), true
									}
								}
								if !ok {
									got = append(got, "column "+col+"?")
									continue
								}
								got = append(got, readelfValue(arch, row.Rule(reg)))
							}
						}
						w := strings.Join(f.rows[k], " ")
						if g := strings.Join(got, " "); g == w {
							agree++
						} else if len(bad) < 5 {
							bad = append(bad, fmt.Sprintf("%s %x: readelf %q (%v), cairn %q", ct.Kind(), a, w, f.columns, g))
						}
					}
				}
			}
			total += n
			same += agree
			t.Logf("%d of %d addresses agree with readelf", agree, n)
			if agree != n {
				t.Errorf("%d addresses differ from readelf; e.g. %q", n-agree, bad)
			}
		})
	}
	t.Logf("all fixtures: %d of %d addresses agree with readelf", same, total)
}

// TestRASignState follows DW_CFA_AARCH64_negate_ra_state through the raw
// instruction listing readelf prints for the pointer-authentication
// fixture (with remember/restore_state, which save and restore the state)
// and compares it with the FlagRASigned of every row.
func TestRASignState(t *testing.T) {
	path := fixtures.Get(t, "elf-aarch64-gcc-O2-pac")
	if _, err := exec.LookPath("readelf"); err != nil {
		testtools.Missing(t, "readelf", "apt-get install binutils")
	}
	out, err := exec.Command("readelf", "--debug-dump=frames", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	// signedFrom[fde start] lists (location, signed) transitions.
	type change struct {
		at     uint64
		signed bool
	}
	transitions := map[uint64][]change{}
	advance := regexp.MustCompile(`DW_CFA_(advance_loc\d?|set_loc): .* to ([0-9a-f]+)`)
	var start, loc uint64
	var signed bool
	var stack []bool
	toggles := 0
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case fdeLine.MatchString(l):
			m := fdeLine.FindStringSubmatch(l)
			start, _ = strconv.ParseUint(m[2], 16, 64)
			loc, signed, stack = start, false, nil
		case advance.MatchString(l):
			loc, _ = strconv.ParseUint(advance.FindStringSubmatch(l)[2], 16, 64)
		case strings.Contains(l, "DW_CFA_AARCH64_negate_ra_state"), strings.Contains(l, "DW_CFA_GNU_window_save"):
			signed = !signed
			toggles++
			transitions[start] = append(transitions[start], change{loc, signed})
		case strings.Contains(l, "DW_CFA_remember_state"):
			stack = append(stack, signed)
		case strings.Contains(l, "DW_CFA_restore_state") && len(stack) > 0:
			signed = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			transitions[start] = append(transitions[start], change{loc, signed})
		}
	}
	if toggles == 0 {
		t.Fatal("the fixture has no DW_CFA_AARCH64_negate_ra_state")
	}
	o, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	tables, err := o.UnwindTables()
	if err != nil {
		t.Fatal(err)
	}
	rows, signedRows := 0, 0
	for _, tb := range tables {
		for row, err := range tb.Rows() {
			if err != nil {
				t.Fatal(err)
			}
			want := false
			for _, c := range transitions[row.Entry.Start] {
				if c.at <= row.Start {
					want = c.signed
				}
			}
			if got := row.Flags&unwind.FlagRASigned != 0; got != want {
				t.Errorf("%x: signed %v, readelf's instructions say %v", row.Start, got, want)
			}
			rows++
			if want {
				signedRows++
			}
		}
	}
	t.Logf("%d rows, %d with a signed return address, %d negate_ra_state instructions", rows, signedRows, toggles)
	if signedRows == 0 {
		t.Error("no row has a signed return address")
	}
}
