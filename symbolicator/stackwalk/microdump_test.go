package stackwalk

import (
	"bufio"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
	"github.com/cairn-dev/cairn/minidump/minidumptest"
)

// microdumpToMinidump converts an Android microdump (Breakpad's compact
// text dump inside logcat lines) into an equivalent minidump: the "O"
// line's CPU, the "C" line's raw register context, the "S" lines' stack
// and the "M" lines' modules (named by their debug file, with their
// Breakpad debug ids). It is a test helper: Cairn does not read
// microdumps, but Breakpad's expected outputs for them are the only
// Breakpad references for its arm and arm64 stack walkers.
func microdumpToMinidump(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := minidumptest.New()
	var (
		cpu       uint16
		ctx       []byte
		stackBase uint64
		stack     []byte
	)
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		_, line, ok := strings.Cut(sc.Text(), "): ")
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		num := func(s string) uint64 {
			v, err := strconv.ParseUint(s, 16, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", path, line, err)
			}
			return v
		}
		switch f[0] {
		case "O":
			switch f[2] {
			case "arm":
				cpu = cpuARM
			case "arm64":
				cpu = cpuARM64
			default:
				t.Skipf("%s: %s microdumps have no walker", path, f[2])
			}
		case "C":
			if ctx, err = hex.DecodeString(f[1]); err != nil {
				t.Fatal(err)
			}
		case "S":
			if f[1] == "0" {
				stackBase = num(f[3])
				stack = make([]byte, num(f[4]))
				continue
			}
			chunk, err := hex.DecodeString(f[2])
			if err != nil {
				t.Fatal(err)
			}
			copy(stack[num(f[1])-stackBase:], chunk)
		case "M":
			id := f[4]
			var guid [16]byte
			raw, err := hex.DecodeString(id[:32])
			if err != nil {
				t.Fatal(err)
			}
			// Breakpad's debug id prints the GUID's first three fields as
			// little-endian integers.
			copy(guid[:], raw)
			guid[0], guid[1], guid[2], guid[3] = raw[3], raw[2], raw[1], raw[0]
			guid[4], guid[5], guid[6], guid[7] = raw[5], raw[4], raw[7], raw[6]
			age, _ := strconv.ParseUint(id[32:], 16, 32)
			b.Module(num(f[1]), uint32(num(f[3])), 0, f[5], minidumptest.CodeViewRSDS(guid, uint32(age), f[5]))
		}
	}
	b.SystemInfo(cpu, 0x8203, 0, 0, 0, "")
	b.Thread(1, stackBase, stack, ctx)
	return b.Bytes()
}

// TestMicrodumps walks Breakpad's arm and arm64 microdumps (converted into
// minidumps) with their symbols and compares every frame — module,
// function, file, line, offset, trust — with Breakpad's expected outputs
// (microdump.stackwalk.machine_readable-*.out and microdump.stackwalk-*.out).
func TestMicrodumps(t *testing.T) {
	peers := testtools.PeersDir(t)
	dir := filepath.Join(peers, "breakpad")
	for _, arch := range []string{"arm", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			dump := microdumpToMinidump(t, filepath.Join(dir, "microdump-"+arch+".dmp"))
			p := &SymbolPaths{Paths: []string{filepath.Join(dir, "symbols", "microdump")}, StoreOnly: true}
			defer p.Close()
			r, err := Process(context.Background(), dump, p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := readGolden(t, goldenCase{
				machine: filepath.Join(dir, "microdump.stackwalk.machine_readable-"+arch+".out"),
				human:   filepath.Join(dir, "microdump.stackwalk-"+arch+".out"),
			})
			agree, total, diffs := compareFrames(want, ourFrames(r))
			for _, d := range diffs {
				t.Error(d)
			}
			t.Logf("%d/%d frames agree with Breakpad", agree, total)
		})
	}
}
