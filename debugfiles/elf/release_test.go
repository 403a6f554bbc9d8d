package elf

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/mmapfile"
)

// TestReleaseMappedKeepsContents checks that releasing pages never changes
// what the bytes read: pages of the file mapping come back from the file,
// and bytes outside it (heap copies, whose pages would come back zeroed)
// are left alone.
func TestReleaseMappedKeepsContents(t *testing.T) {
	page := os.Getpagesize()
	mapped, want := mappedPattern(t, 5*page+123)
	heap := bytes.Clone(want)
	tests := []struct {
		name string
		b    []byte
	}{
		{"whole mapping", mapped},
		{"unaligned middle", mapped[page/2 : 3*page+page/3]},
		{"less than a page", mapped[10 : page-10]},
		{"empty", mapped[page:page]},
		{"heap copy", heap},
		{"heap part", heap[page : 3*page]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			releaseMapped(mapped, tt.b)
			if !bytes.Equal(mapped, want) {
				t.Error("the mapping reads differently after release")
			}
			if !bytes.Equal(heap, want) {
				t.Error("heap bytes changed: release touched memory outside the mapping")
			}
		})
	}
}

// mappedPattern writes n bytes of a pattern to a file and maps the file
// until the test ends; it returns the mapping and the bytes written.
func mappedPattern(t *testing.T, n int) (mapped, want []byte) {
	t.Helper()
	want = make([]byte, n)
	for i := range want {
		want[i] = byte(i*7 + 1)
	}
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mmapfile.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m.Bytes(), want
}

// TestReleaser checks what a releaser hands to the system: nothing until
// a batch has gathered, then each run of parts that touch or overlap as
// one range (so that the pages they share go too), in address order, and
// never bytes outside the mapping.
func TestReleaser(t *testing.T) {
	mapped := make([]byte, 1000)
	heap := make([]byte, 100)
	tests := []struct {
		name  string
		batch int
		parts [][]byte
		want  []part
	}{
		{"below the batch", 300, [][]byte{mapped[0:100], mapped[500:600]}, nil},
		{"touching", 300, [][]byte{mapped[0:100], mapped[100:300]}, []part{{0, 300}}},
		{"overlapping", 300, [][]byte{mapped[0:200], mapped[100:250]}, []part{{0, 250}}},
		{"out of order", 300, [][]byte{mapped[200:300], mapped[0:100], mapped[100:200]}, []part{{0, 300}}},
		{"apart", 200, [][]byte{mapped[500:600], mapped[0:100]}, []part{{0, 100}, {500, 600}}},
		{"batch after batch", 200, [][]byte{mapped[0:100], mapped[100:200], mapped[200:300], mapped[300:400], mapped[400:500]}, []part{{0, 200}, {200, 400}}},
		{"outside the mapping", 100, [][]byte{heap, heap[10:90]}, nil},
		{"empty", 1, [][]byte{mapped[10:10], nil}, nil},
		{"to the mapping's end", 100, [][]byte{mapped[900:]}, []part{{900, 1000}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []part
			r := newReleaser(mapped, tt.batch)
			r.drop = func(m, b []byte) {
				off, ok := offsetIn(m, b)
				if !ok {
					t.Fatalf("dropped %d bytes outside the mapping", len(b))
				}
				got = append(got, part{off, off + len(b)})
			}
			for _, b := range tt.parts {
				r.release(b)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("dropped %v, want %v", got, tt.want)
			}
		})
	}
}

// TestReleaserConcurrent releases disjoint parts from several goroutines
// at once (run it with -race): every byte is dropped once or still waits,
// none twice.
func TestReleaserConcurrent(t *testing.T) {
	const workers, parts, size = 8, 500, 10
	mapped := make([]byte, workers*parts*size)
	var mu sync.Mutex
	seen := make([]int, len(mapped))
	r := newReleaser(mapped, 1000)
	r.drop = func(m, b []byte) {
		off, _ := offsetIn(m, b)
		mu.Lock()
		defer mu.Unlock()
		for i := off; i < off+len(b); i++ {
			seen[i]++
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := range parts {
				off := (k*workers + w) * size // the workers' parts interleave
				r.release(mapped[off : off+size])
			}
		})
	}
	wg.Wait()
	for _, p := range r.pending {
		for i := p.lo; i < p.hi; i++ {
			seen[i]++
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("byte %d dropped or left %d times, want once", i, n)
		}
	}
}

// TestReleaserInflight gives a releaser a wait group (as an Object does):
// release hands a gathered batch to a goroutine of its own and returns
// while the batch is being dropped, and the group waits for the drop, as
// Object.Close does before it unmaps the file.
func TestReleaserInflight(t *testing.T) {
	mapped := make([]byte, 1000)
	var inflight sync.WaitGroup
	r := newReleaser(mapped, 200)
	r.inflight = &inflight
	started, finish := make(chan struct{}), make(chan struct{})
	var dropped []part
	r.drop = func(m, b []byte) {
		close(started)
		<-finish
		off, _ := offsetIn(m, b)
		dropped = append(dropped, part{off, off + len(b)})
	}
	r.release(mapped[0:100])
	returned := make(chan struct{})
	go func() {
		r.release(mapped[100:250]) // a batch
		close(returned)
	}()
	<-started
	select {
	case <-returned:
	case <-time.After(time.Minute):
		t.Fatal("release waited for its batch to be dropped")
	}
	waited := make(chan struct{})
	go func() {
		inflight.Wait()
		close(waited)
	}()
	time.Sleep(10 * time.Millisecond) // time for a wrong Wait to return
	select {
	case <-waited:
		t.Fatal("the wait group did not wait for the batch being dropped")
	default:
	}
	close(finish)
	<-waited
	if want := []part{{0, 250}}; !slices.Equal(dropped, want) {
		t.Errorf("dropped %v, want %v", dropped, want)
	}
}
