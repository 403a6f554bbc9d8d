package dwarf

import (
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
	for _, file := range walkInputs(t) {
		s := elfDWARF(t, file)
		if len(s.Info) == 0 {
			continue
		}
		sess, err := NewSessionFromSections(s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := wholeProgramTrees(t, sess)
		workersBuild = false
		got := wholeProgramTrees(t, sess)
		streamed := namedTrees(t, func(yield func(*CompactFunction) bool) error {
			return sess.stream(streamBatchBytes, yield)
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
	}
}
