package elf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// TestReleaserDropsPages releases parts of a real file mapping whose pages
// are all resident: the mapping's resident set stays whole until a batch
// has gathered, then loses the batch's pages, and its bytes still read as
// the file's.
func TestReleaserDropsPages(t *testing.T) {
	const size, batch, partSize = 4 << 20, 1 << 20, 64<<10 + 123
	mapped, want := mappedPattern(t, size)
	if !bytes.Equal(mapped, want) { // reads every page in
		t.Fatal("the mapping reads differently from the file")
	}
	full := residentKB(t, mapped)
	if full < size>>10-4 {
		t.Fatalf("the mapping holds %d kB after every page was read, want %d", full, size>>10)
	}
	r := newReleaser(mapped, batch)
	off := 0
	for off+partSize < batch {
		r.release(mapped[off : off+partSize])
		off += partSize
	}
	if got := residentKB(t, mapped); got != full {
		t.Errorf("before a batch gathered: %d kB resident, want %d", got, full)
	}
	r.release(mapped[off : off+partSize])
	off += partSize
	// The parts touch, so every page they cover goes but the last one,
	// which the next part shares.
	if got, max := residentKB(t, mapped), full-(off>>12)*4; got > max {
		t.Errorf("after a batch: %d kB resident, want at most %d", got, max)
	}
	if !bytes.Equal(mapped, want) {
		t.Error("the mapping reads differently after release")
	}
}

// residentKB reads the resident size of the mapping that starts at b from
// /proc/self/smaps.
func residentKB(t *testing.T, b []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		// A mapping's header starts with its address range; the
		// lines of its fields with a name and a colon.
		if name, _, _ := strings.Cut(line, " "); !strings.HasSuffix(name, ":") {
			in = strings.HasPrefix(line, start)
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatalf("smaps: %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("smaps has no mapping at %s", start)
	return 0
}
