package stackwalk

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// benchDumps are the dumps BENCHMARKS.md reports, with their symbols.
var benchDumps = []struct{ name, dump, symbols string }{
	{"minidump2", "breakpad/minidump2.dmp", "breakpad/symbols"},
	{"pipeline-inlines", "rust-minidump/pipeline-inlines-macos-segv.dmp", "rust-minidump/symbols"},
}

// BenchmarkProcess walks every thread of each dump: cold from the .sym
// files (opened and indexed each time, as a fresh process does), from
// prebuilt caches (mapped each time), and warm (debug information already
// loaded: the walk and symbolication alone).
func BenchmarkProcess(b *testing.B) {
	peers := testtools.PeersDir(b)
	for _, d := range benchDumps {
		data, err := os.ReadFile(filepath.Join(peers, d.dump))
		if err != nil {
			b.Fatal(err)
		}
		syms := filepath.Join(peers, d.symbols)
		for _, prefetch := range []int{0, 4} {
			name := "/sym-cold"
			if prefetch > 0 {
				name += "-prefetch"
			}
			b.Run(d.name+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					p := &SymbolPaths{Paths: []string{syms}, StoreOnly: true}
					if _, err := Process(context.Background(), data, p, Options{Prefetch: prefetch}); err != nil {
						b.Fatal(err)
					}
					p.Close()
				}
			})
		}
		cache := b.TempDir()
		conv := &SymbolPaths{Paths: []string{syms}, StoreOnly: true, CacheDir: cache}
		if _, err := Process(context.Background(), data, conv, Options{}); err != nil {
			b.Fatal(err)
		}
		conv.Close()
		b.Run(d.name+"/caches", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := &SymbolPaths{CacheDir: cache, StoreOnly: true}
				if _, err := Process(context.Background(), data, p, Options{}); err != nil {
					b.Fatal(err)
				}
				p.Close()
			}
		})
		b.Run(d.name+"/warm", func(b *testing.B) {
			p := &SymbolPaths{Paths: []string{syms}, StoreOnly: true}
			defer p.Close()
			cached := map[string]Debug{}
			warm := modulesFunc(func(ctx context.Context, m *Module) Debug {
				if d, ok := cached[m.CodeFile]; ok {
					return d
				}
				d := p.Find(ctx, m)
				cached[m.CodeFile] = d
				return d
			})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Process(context.Background(), data, warm, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type modulesFunc func(context.Context, *Module) Debug

func (f modulesFunc) Find(ctx context.Context, m *Module) Debug { return f(ctx, m) }

// BenchmarkBreakpadStackwalk runs Breakpad's minidump_stackwalk -m on the
// same dumps and symbols, as a process, for the side-by-side figures.
func BenchmarkBreakpadStackwalk(b *testing.B) {
	peers := testtools.PeersDir(b)
	tool := testtools.BreakpadTool(b, "minidump_stackwalk")
	for _, d := range benchDumps {
		b.Run(d.name, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(tool, "-m", filepath.Join(peers, d.dump), filepath.Join(peers, d.symbols))
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSymbolFileOpen indexes the benchmark dumps' symbol files.
func BenchmarkSymbolFileOpen(b *testing.B) {
	peers := testtools.PeersDir(b)
	for _, p := range []string{
		"breakpad/symbols/test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
		"breakpad/symbols/kernel32.pdb/BCE8785C57B44245A669896B6A19B9542/kernel32.sym",
		"rust-minidump/symbols/crash-client/509C0610949836F7B70BD88BCF03E5400/crash-client.sym",
	} {
		data, err := os.ReadFile(filepath.Join(peers, p))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(p), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewSymbolFile(data, p, SymbolFileOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
