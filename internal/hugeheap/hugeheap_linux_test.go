package hugeheap

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// faultsFilling counts the page faults of allocating n bytes and writing
// one byte in every 4 KB of them.
func faultsFilling(n int) int64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &before)
	b := make([]byte, n)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	syscall.Getrusage(syscall.RUSAGE_THREAD, &after)
	runtime.KeepAlive(b)
	return after.Minflt - before.Minflt
}

func TestReserveGivesHugePages(t *testing.T) {
	if !policyAllows() {
		b, _ := os.ReadFile(policy)
		testtools.Missing(t, "transparent huge pages on request ("+policy+" reads "+strings.TrimSpace(string(b))+")", "echo madvise > "+policy+" (as root)")
	}
	// First, as a command would: freed memory below the block would
	// serve the allocation first. The mechanism is tested even where
	// Reserve would leave it (free page reporting).
	reserve(64 << 20)
	const n = 16 << 20
	// Huge pages take one fault per 2 MB; a page the kernel could not
	// give whole (memory too fragmented) falls back to 512 faults, so
	// allow a few of those.
	if got, limit := faultsFilling(n), int64(n/4096/4); got > limit {
		t.Errorf("after Reserve, filling %d bytes took %d faults, want at most %d (4 KB pages take %d)", n, got, limit, n/4096)
	}
}

func TestReserveLeavesOtherPolicies(t *testing.T) {
	// No collection but a forced one (which Reserve's is) runs while the
	// collections are counted.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	dir := t.TempDir()
	// Not a virtual machine with free page reporting, so that the
	// policies are what the cases turn on.
	oldDevs := virtioDevices
	virtioDevices = filepath.Join(dir, "no virtio devices")
	defer func() { virtioDevices = oldDevs }()
	tests := []struct {
		name, policy, godebug string
	}{
		{"always", "[always] madvise never\n", ""},
		{"never", "always madvise [never]\n", ""},
		{"disablethp", "always [madvise] never\n", "gctrace=0,disablethp=1"},
		{"no policy file", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if tt.policy != "" {
				if err := os.WriteFile(p, []byte(tt.policy), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			old := policy
			policy = p
			t.Cleanup(func() { policy = old })
			t.Setenv("GODEBUG", tt.godebug)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			Reserve(8 << 20)
			runtime.ReadMemStats(&after)
			if after.NumGC != before.NumGC {
				t.Errorf("Reserve collected (%d collections) where it should do nothing", after.NumGC-before.NumGC)
			}
		})
	}
	// The control: with madvise chosen, the same reading says advisable,
	// so the cases above do nothing for the reason each names.
	p := filepath.Join(dir, "madvise")
	if err := os.WriteFile(p, []byte("always [madvise] never\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := policy
	policy = p
	defer func() { policy = old }()
	t.Setenv("GODEBUG", "")
	if !advisable() {
		t.Error("policy madvise, no GODEBUG: not advisable")
	}
}

func TestAdvisableWeighsSmallPages(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "madvise")
	if err := os.WriteFile(p, []byte("always [madvise] never\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	oldPolicy, oldDevs, oldProbe := policy, virtioDevices, smallPageFault
	t.Cleanup(func() { policy, virtioDevices, smallPageFault = oldPolicy, oldDevs, oldProbe })
	policy = p
	t.Setenv("GODEBUG", "")
	reporting := writeDevices(t, []dev{{"0x0005\n", withReporting}})
	tests := []struct {
		name    string
		devs    string
		fault   time.Duration
		want    bool
		probing bool
	}{
		{"reporting, small pages cheap (KVM)", reporting, 1 * time.Microsecond, false, true},
		{"reporting, small pages costly (PVM)", reporting, 13 * time.Microsecond, true, true},
		{"reporting, at the threshold", reporting, costlySmallFault, true, true},
		{"no reporting: no probe", filepath.Join(dir, "none"), 13 * time.Microsecond, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			virtioDevices = tt.devs
			probed := false
			smallPageFault = func() time.Duration { probed = true; return tt.fault }
			if got := advisable(); got != tt.want {
				t.Errorf("advisable() = %v, want %v", got, tt.want)
			}
			if probed != tt.probing {
				t.Errorf("probed small pages: %v, want %v", probed, tt.probing)
			}
		})
	}
}

func TestMeasureSmallPageFault(t *testing.T) {
	// A first write maps a page: it takes a trap into the kernel, which
	// takes longer than the clock's resolution, and far less than a
	// second.
	if d := measureSmallPageFault(); d <= 0 || d > time.Second {
		t.Errorf("measureSmallPageFault() = %v, want a positive time under a second", d)
	}
}

// Feature strings as Linux prints them, a character per bit from bit 0;
// a balloon's bit 5 is free page reporting.
const (
	withReporting    = "0110010100000000000000000000000010000000000000000000000000000000\n"
	withoutReporting = "0110000100000000000000000000000010000000000000000000000000000000\n"
)

// dev is a virtio device as Linux lists it: its type and its features.
type dev struct{ device, features string }

// writeDevices writes a virtio devices directory of devs (none when devs
// is nil) and returns its path.
func writeDevices(t *testing.T, devs []dev) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "devices")
	if devs == nil {
		return root
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, d := range devs {
		dir := filepath.Join(root, "virtio"+string(rune('0'+i)))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "device"), []byte(d.device), 0o644); err != nil {
			t.Fatal(err)
		}
		if d.features != "" {
			if err := os.WriteFile(filepath.Join(dir, "features"), []byte(d.features), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestFreePageReporting(t *testing.T) {
	tests := []struct {
		name string
		devs []dev // nil: no virtio devices directory
		want bool
	}{
		{"not a virtual machine", nil, false},
		{"balloon reporting", []dev{{"0x0001\n", withReporting}, {"0x0005\n", withReporting}}, true},
		{"balloon without reporting", []dev{{"0x0005\n", withoutReporting}}, false},
		{"bit 5 of another device", []dev{{"0x0001\n", withReporting}, {"0x0002\n", withReporting}}, false},
		{"balloon with no features read", []dev{{"0x0005\n", ""}}, false},
		{"no devices", []dev{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := virtioDevices
			virtioDevices = writeDevices(t, tt.devs)
			t.Cleanup(func() { virtioDevices = old })
			if got := freePageReporting(); got != tt.want {
				t.Errorf("freePageReporting() = %v, want %v", got, tt.want)
			}
		})
	}
}
