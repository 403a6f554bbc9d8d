package symcache_test

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/debugfiles/symcache"
)

// TestLookupRate measures BenchmarkLookup's lookups on a machine whose
// speed changes from one second to the next, and tells how much of a
// lookup's time is the machine's. A lookup runs ~2,000 instructions at
// several per cycle and waits little on memory (BENCHMARKS.md, "In-process
// lookup"), so it runs at half speed whenever something else shares the
// core's execution units: on a virtual machine, another guest on the
// sibling hyperthread. The test alternates blocks of lookups with a fixed
// reference of the same kind, four independent xorshift chains that keep
// the units busy and touch no memory, and reports the lookups over all
// rounds and over the rounds in which the reference ran within 10% of its
// fastest, when the core was the lookups' own. A run during which the core
// is shared throughout has no such rounds, and its fastest reference round
// shows it: it is slower than the machine's (2.61–2.79 ns an iteration on
// the machine of BENCHMARKS.md, "In-process lookup").
//
// It only measures and prints. It runs when CAIRN_LOOKUP_RATE=1 (`go tool
// task bench:lookup`), for CAIRN_LOOKUP_RATE_SECONDS (60 by default); pin
// it to one CPU with taskset -c 1 for steady figures.
func TestLookupRate(t *testing.T) {
	if os.Getenv("CAIRN_LOOKUP_RATE") != "1" {
		t.Skip("set CAIRN_LOOKUP_RATE=1 (and CAIRN_FIXTURES_BENCH=1) to measure lookups against the reference")
	}
	seconds := 60
	if s := os.Getenv("CAIRN_LOOKUP_RATE_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("CAIRN_LOOKUP_RATE_SECONDS=%q: want a number of seconds", s)
		}
		seconds = n
	}
	c, addrs := lookupSetup(t)
	frames := make([]symcache.Frame, 0, 64)
	if n := testing.AllocsPerRun(1000, func() { frames = c.Lookup(addrs[0], frames[:0]) }); n != 0 {
		t.Errorf("Lookup allocates %v times per call, want 0", n)
	}
	// A round: a block of lookups, ~1 ms, then the reference, ~0.5 ms,
	// near enough in time to share the machine's state.
	const block, refIters = 4096, 1 << 17
	var rounds []rateRound
	next := 0
	for deadline := time.Now().Add(time.Duration(seconds) * time.Second); time.Now().Before(deadline); {
		start := time.Now()
		for range block {
			frames = c.Lookup(addrs[next], frames[:0])
			next = (next + 1) & (len(addrs) - 1)
		}
		mid := time.Now()
		referenceSink += reference(refIters)
		end := time.Now()
		rounds = append(rounds, rateRound{
			lookup:    float64(mid.Sub(start).Nanoseconds()) / block,
			reference: float64(end.Sub(mid).Nanoseconds()) / refIters,
		})
	}
	fastest := slices.MinFunc(rounds, func(a, b rateRound) int { return cmp.Compare(a.reference, b.reference) }).reference
	var all, own []float64
	for _, r := range rounds {
		all = append(all, r.lookup)
		if r.reference <= 1.10*fastest {
			own = append(own, r.lookup)
		}
	}
	t.Logf("%d rounds of %d lookups over %d s; the reference's fastest round: %.3f ns an iteration", len(rounds), block, seconds, fastest)
	t.Logf("all rounds:                          %s", quartiles(all))
	t.Logf("rounds with the reference within 10%%: %s (%d rounds)", quartiles(own), len(own))
}

// rateRound is one round of TestLookupRate: ns per lookup and ns per
// iteration of the reference.
type rateRound struct{ lookup, reference float64 }

// referenceSink keeps the reference's result alive.
var referenceSink uint64

// reference runs n iterations of four independent xorshift64 chains: as
// many instructions per cycle as the core's units allow, no memory.
func reference(n int) uint64 {
	a, b, c, d := uint64(1), uint64(2), uint64(3), uint64(4)
	for range n {
		a ^= a << 13
		b ^= b << 13
		c ^= c << 13
		d ^= d << 13
		a ^= a >> 7
		b ^= b >> 7
		c ^= c >> 7
		d ^= d >> 7
		a ^= a << 17
		b ^= b << 17
		c ^= c << 17
		d ^= d << 17
	}
	return a ^ b ^ c ^ d
}

// quartiles formats the median and quartiles of lookup times in ns, with
// the median's lookups per second.
func quartiles(ns []float64) string {
	if len(ns) == 0 {
		return "no rounds"
	}
	s := slices.Clone(ns)
	slices.Sort(s)
	med := s[len(s)/2]
	return fmt.Sprintf("median %.1f ns (%.2f M lookups/s), quartiles %.1f–%.1f ns", med, 1e3/med, s[len(s)/4], s[3*len(s)/4])
}
