package minidump

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/minidump/minidumptest"
)

// benchDumps are the dumps BENCHMARKS.md reports: Breakpad's reference
// Windows dump and the largest peer dumps.
var benchDumps = []string{"breakpad/minidump2.dmp", "breakpad/stack_exhaustion.dmp", "breakpad/minidump_crashpad_annotation.dmp"}

// BenchmarkReadAll opens each dump (mmap), decodes every stream and renders
// the text report, the same work as `cairn minidump dump`.
func BenchmarkReadAll(b *testing.B) {
	peers := peersDir(b)
	for _, name := range benchDumps {
		path := filepath.Join(peers, name)
		b.Run(filepath.Base(name), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				if err := f.ReadAll().WriteText(io.Discard); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}

// BenchmarkBreakpadMinidumpDump runs Breakpad's minidump_dump on the same
// dumps, one process per iteration, for the side-by-side ratio.
func BenchmarkBreakpadMinidumpDump(b *testing.B) {
	tool := breakpadTool(b, "minidump_dump")
	peers := peersDir(b)
	for _, name := range benchDumps {
		path := filepath.Join(peers, name)
		b.Run(filepath.Base(name), func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(tool, path)
				cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
				_ = cmd.Run() // exits 1 on streams it does not know
			}
		})
	}
}

// BenchmarkOpenLargeMemory shows that opening a dump and indexing its memory
// costs nothing per byte of captured memory: 1 MB and 256 MB of Memory64
// regions open in the same time.
func BenchmarkOpenLargeMemory(b *testing.B) {
	for _, size := range []int{1 << 20, 256 << 20} {
		mb := minidumptest.New()
		mb.SystemInfo(9, 2, 10, 0, 19045, "")
		for i := 0; i < 64; i++ {
			mb.Memory64(uint64(i)<<32, make([]byte, size/64))
		}
		data := mb.Bytes()
		b.Run(byteSize(size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f, err := FromBytes(data)
				if err != nil {
					b.Fatal(err)
				}
				m, err := f.Memory()
				if err != nil {
					b.Fatal(err)
				}
				if _, ok := m.ReadUint64(63 << 32); !ok {
					b.Fatal("memory not found")
				}
			}
		})
	}
}

// BenchmarkMemoryRead measures the stackwalker's hot path: word reads by
// address through the region index.
func BenchmarkMemoryRead(b *testing.B) {
	mb := minidumptest.New()
	for i := 0; i < 256; i++ {
		mb.Memory(uint64(i)<<20, bytes.Repeat([]byte{byte(i)}, 4096))
	}
	f, err := FromBytes(mb.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	m, err := f.Memory()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var addr uint64
	for b.Loop() {
		addr = (addr + 0x100008) & (255<<20 | 0xff8)
		if _, ok := m.ReadUint64(addr); !ok {
			b.Fatalf("no memory at %#x", addr)
		}
	}
}

func byteSize(n int) string {
	if n >= 1<<20 {
		return itoa(uint64(n>>20)) + "MB"
	}
	return itoa(uint64(n>>10)) + "KB"
}
