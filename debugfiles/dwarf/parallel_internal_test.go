package dwarf

import (
	"github.com/cairn-dev/cairn/debugfiles"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestConsumerBuildsChunks checks that emitParallel yields the same trees
// when its consumer builds every chunk, as it builds a chunk no worker has
// started when it comes to it, in a whole-program session and a streaming
// one.
func TestConsumerBuildsChunks(t *testing.T) {
	if emitWorkers() < 2 {
		t.Skip("one core: functions are built serially")
	}
	eachSession(t, walkInputs(t), func(file string, _ *Sections, sess *Session) {
		want := wholeProgramTrees(t, sess)
		workersBuild = false
		got := wholeProgramTrees(t, sess)
		streamed := namedTrees(t, func(yield func(*CompactFunction) bool) error {
			return sess.stream(streamBatchBytes, false, yield)
		})
		workersBuild = true
		for _, c := range []struct {
			name string
			got  []string
		}{{"whole program", got}, {"streaming", streamed}} {
			if !slices.Equal(c.got, want) {
				t.Errorf("%s, %s, built by the consumer: %d functions, built by the workers %d", file, c.name, len(c.got), len(want))
				for i := range min(len(c.got), len(want)) {
					if c.got[i] != want[i] {
						t.Fatalf("first difference at %d:\n got %s\nwant %s", i, c.got[i], want[i])
					}
				}
			}
		}
	})
}

// TestNodeEntries checks the entries nodeEntries finds through an
// entryIndex, on the workers, against the lookup of each node without one,
// on inputs that refer within units and one that refers across them (a
// program built by gcc with -flto).
func TestNodeEntries(t *testing.T) {
	files := walkInputs(t)
	lto := ""
	if _, err := exec.LookPath("gcc"); err == nil {
		lto = filepath.Join(t.TempDir(), "lto")
		c := exec.Command("gcc", "-O2", "-g", "-flto", "-o", lto, "cprog.c", "cutil.c")
		c.Dir = "testdata/src"
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		files = append(files, lto)
	} else if os.Getenv("CI") == "true" {
		t.Fatal("no gcc (apt-get install gcc)")
	}
	eachDWARF(t, files, func(file string, s *Sections) {
		be, err := sniffBigEndian(s.Info)
		if err != nil {
			t.Fatal(err)
		}
		bl := newBuilder(Options{}, s.size())
		bl.sources = append(bl.sources, &source{sec: s, be: be, abbrevs: map[abbrevKey]*abbrevTable{}})
		if _, err := bl.readSource(0, nil); err != nil {
			t.Fatal(err)
		}
		bl.eix = bl.indexEntries()
		got := slices.Clone(bl.nodeEntries())
		bl.eix = nil
		origins, found, across := 0, 0, 0
		for i := range bl.nodes {
			n := &bl.nodes[i]
			want := bl.nodeEntry(n)
			if got[i] != want {
				t.Fatalf("%s: node %d (origin %#x): entry %d, lookup %d", file, i, n.origin, got[i], want)
			}
			if n.hasOrig {
				origins++
				if want >= 0 {
					found++
					if bl.entries[want].unit != n.unit {
						across++
					}
				}
			}
		}
		t.Logf("%s: %d nodes, %d with an origin, %d found, %d in another unit", file, len(bl.nodes), origins, found, across)
		if file == lto && across == 0 {
			t.Errorf("%s: no origin in another unit: the search past the node's unit is not checked", file)
		}
	})
}

// TestEntryIndexApart checks lookupFrom through an index where a unit's
// entries do not lie together, which the walk does not produce: the unit
// is searched with its whole source.
func TestEntryIndexApart(t *testing.T) {
	bl := &builder{
		sources: []*source{{ent0: 0, ent1: 5}},
		units:   []*unitInfo{{src: 0}, {src: 0}},
		entries: []entry{{off: 10, unit: 0}, {off: 20, unit: 0}, {off: 30, unit: 1}, {off: 40, unit: 0}, {off: 50, unit: 1}},
	}
	ix := bl.indexEntries()
	if sp := ix.units[0]; sp.lo < sp.hi {
		t.Errorf("unit 0, apart: span %v, want empty", sp)
	}
	for _, u := range []int32{0, 1} {
		for _, off := range []uint64{5, 10, 20, 25, 30, 40, 50, 60} {
			bl.eix = nil
			want := bl.lookupFrom(u, off)
			bl.eix = ix
			if got := bl.lookupFrom(u, off); got != want {
				t.Errorf("unit %d, offset %d: entry %d, without the index %d", u, off, got, want)
			}
		}
	}
}

// TestEmitEachSerialAfterFinding checks that an emission that turns out
// serial after emitEach looked the nodes' entries up for a parallel one
// (findNodeEntries) names its functions as a serial emission does: two
// units made to share a line table send a large program down the serial
// path.
func TestEmitEachSerialAfterFinding(t *testing.T) {
	if emitWorkers() < 2 {
		t.Skip("one core: emitEach looks nothing up ahead")
	}
	s := elfDWARF(t, goHello(t))
	be, err := sniffBigEndian(s.Info)
	if err != nil {
		t.Fatal(err)
	}
	read := func() *builder {
		bl := newBuilder(Options{}, s.size())
		bl.presize(len(s.Info))
		bl.sources = append(bl.sources, &source{sec: s, be: be, abbrevs: map[abbrevKey]*abbrevTable{}})
		if _, err := bl.readSource(0, nil); err != nil {
			t.Fatal(err)
		}
		var with []*unitInfo
		for _, u := range bl.units {
			if u.hasStmt {
				with = append(with, u)
			}
		}
		if len(bl.nodes) < nameParallelMin || len(with) < 2 {
			t.Fatalf("%d nodes, %d units with lines: too small a program", len(bl.nodes), len(with))
		}
		with[1].stmtList = with[0].stmtList
		return bl
	}
	names := func(emit func(bl *builder, yield func(*CompactFunction) bool) error) []string {
		bl := read()
		var out []string
		var add func(fs []*debugfiles.Function)
		add = func(fs []*debugfiles.Function) {
			for _, f := range fs {
				out = append(out, f.Name)
				add(f.Inlinees)
			}
		}
		err := emit(bl, func(cf *CompactFunction) bool {
			add([]*debugfiles.Function{cf.Function})
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if bl.entriesFound || len(bl.nodeNames) > 0 {
			t.Fatal("the lookups made ahead were kept")
		}
		return out
	}
	want := names(func(bl *builder, yield func(*CompactFunction) bool) error {
		bl.initNames()
		return bl.emitRuns(bl.gaps(), true, yield)
	})
	got := names(func(bl *builder, yield func(*CompactFunction) bool) error {
		return bl.emitEach(true, yield)
	})
	named := 0
	for _, n := range want {
		if n != "" {
			named++
		}
	}
	if named < nameParallelMin {
		t.Fatalf("%d functions named of %d", named, len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("names differ: %d functions against %d", len(got), len(want))
	}
}
