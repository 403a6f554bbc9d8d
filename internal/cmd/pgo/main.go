// Command pgo remakes cmd/cairn/default.pgo, the CPU profile the Go
// compiler optimizes the cairn binary for (profile-guided optimization:
// the hot call sites inlined beyond the usual budget, hot interface calls
// devirtualized). `go build`, `go run` and `go install` of ./cmd/cairn use
// it without being asked.
//
//	go run ./internal/cmd/pgo [-o cmd/cairn/default.pgo] [-samples 500]
//
// It builds the command-line binary without a profile, runs each of the
// commands whose speed BENCHMARKS.md compares with other tools with
// CAIRN_CPUPROFILE set, again and again until its profiles hold enough
// samples (a profile takes 100 a second: a symcache build gives ~20, a
// stack walk of a small minidump one in five runs), and merges the
// profiles, each command's scaled to the same weight: the short ones
// would otherwise fall below the share of samples under which the
// compiler leaves a call site alone. The inputs are the bench
// fixture (built on first use, as `go test ./fixtures` builds it with
// CAIRN_FIXTURES_BENCH=1) and, when ../shared is beside the repository,
// two of the peers' minidumps with their symbols, read in place.
//
// The server is built with the same profile: its hot paths (the
// symbolicator's stack walks, symcache builds and lookups) are these
// commands' code.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/pprof/profile"

	"github.com/cairn-dev/cairn/fixtures"
)

func main() {
	out := flag.String("o", filepath.Join("cmd", "cairn", "default.pgo"), "where to write the merged profile")
	samples := flag.Int("samples", 500, "samples to gather of each command")
	maxRuns := flag.Int("max-runs", 3000, "runs of a command at most, whatever it gathered")
	peers := flag.String("peers", filepath.Join("..", "shared", "fixtures", "peers"), "the peers' fixtures (minidumps with symbols), read in place")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./internal/cmd/pgo [flags]   (from the repository's root)\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(context.Background(), *out, *samples, *maxRuns, *peers); err != nil {
		fmt.Fprintln(os.Stderr, "pgo:", err)
		os.Exit(1)
	}
}

// workload is one command profiled: its arguments, and the file its
// standard input reads (none when empty).
type workload struct {
	name  string
	args  []string
	stdin string
}

func run(ctx context.Context, out string, samples, maxRuns int, peers string) error {
	if samples < 1 || maxRuns < 1 {
		return fmt.Errorf("-samples %d -max-runs %d: both must be at least 1", samples, maxRuns)
	}
	if _, err := os.Stat(filepath.Join("cmd", "cairn")); err != nil {
		return fmt.Errorf("run it from the repository's root: %w", err)
	}
	dir, err := os.MkdirTemp("", "cairn-pgo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cairn := filepath.Join(dir, "cairn")
	// The command-line build, as BENCHMARKS.md times it; without a
	// profile, so that the one made is not shaped by the last. The
	// compiler matches a profile to the code by function names and line
	// offsets: the paths of this machine's files are left out of it.
	build := exec.CommandContext(ctx, "go", "build", "-pgo=off", "-trimpath", "-tags", "cairncli", "-o", cairn, "./cmd/cairn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	works, err := workloads(ctx, dir, cairn, peers)
	if err != nil {
		return err
	}
	var profiles []*profile.Profile
	for _, w := range works {
		var (
			runs []*profile.Profile
			got  int64
		)
		for i := 0; got < int64(samples) && i < maxRuns; i++ {
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", strings.ReplaceAll(w.name, " ", "-"), i))
			if err := runProfiled(ctx, cairn, w, path); err != nil {
				return err
			}
			p, err := readProfile(path)
			if err != nil {
				return err
			}
			runs = append(runs, p)
			got += total(p, 0)
		}
		p, err := profile.Merge(runs)
		if err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
		fmt.Printf("%-40s %6d samples in %d runs\n", w.name, got, len(runs))
		profiles = append(profiles, p)
	}
	merged, err := mergeEqually(profiles)
	if err != nil {
		return err
	}
	for _, m := range merged.Mapping {
		m.File = filepath.Base(m.File) // not the temporary directory's
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := merged.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", out)
	return nil
}

// workloads prepares the inputs of the commands profiled in dir, with the
// binary at cairn.
func workloads(ctx context.Context, dir, cairn, peers string) ([]workload, error) {
	bin, err := fixtures.Build(ctx, "elf-x86_64-gcc-O2-bench")
	if err != nil {
		return nil, err
	}
	sc := filepath.Join(dir, "bench.symcache")
	if b, err := exec.CommandContext(ctx, cairn, "symcache", "build", bin, "-o", sc).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cairn symcache build: %v\n%s", err, b)
	}
	addrs := filepath.Join(dir, "addrs.txt")
	if err := writeAddrs(addrs, bin, 1_000_000); err != nil {
		return nil, err
	}
	works := []workload{
		{name: "symcache build", args: []string{"symcache", "build", bin, "-o", filepath.Join(dir, "out.symcache")}},
		{name: "dump-syms", args: []string{"dump-syms", bin, "-o", filepath.Join(dir, "out.sym")}},
		{name: "symbolicate", args: []string{"symbolicate", "--obj", sc}, stdin: addrs},
	}
	for _, d := range []string{"breakpad/minidump2", "rust-minidump/pipeline-inlines-macos-segv"} {
		dump := filepath.Join(peers, d+".dmp")
		if _, err := os.Stat(dump); err != nil {
			fmt.Fprintf(os.Stderr, "pgo: %s is absent (the peers' fixtures are in ../shared): stackwalk is not profiled\n", dump)
			continue
		}
		works = append(works, workload{name: "stackwalk " + filepath.Base(d), args: []string{"stackwalk", "--machine", dump, filepath.Join(filepath.Dir(dump), "symbols")}})
	}
	return works, nil
}

// writeAddrs writes n random addresses of bin's code, one per line, as
// the side-by-side comparison with llvm-symbolizer feeds them.
func writeAddrs(path, bin string, n int) error {
	addrs, err := fixtures.RandomTextAddrs(bin, n, 1)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, a := range addrs {
		fmt.Fprintf(w, "0x%x\n", a)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runProfiled runs w with the binary at cairn, profiling it into path.
func runProfiled(ctx context.Context, cairn string, w workload, path string) error {
	cmd := exec.CommandContext(ctx, cairn, w.args...)
	cmd.Env = append(os.Environ(), "CAIRN_CPUPROFILE="+path)
	if w.stdin != "" {
		in, err := os.Open(w.stdin)
		if err != nil {
			return err
		}
		defer in.Close()
		cmd.Stdin = in
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cairn %s: %v\n%s", strings.Join(w.args, " "), err, stderr.String())
	}
	return nil
}

// readProfile reads the profile a run wrote to path.
func readProfile(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// mergeEqually merges profiles after scaling each to the weight of the
// heaviest, so that each counts the same in the result.
func mergeEqually(profiles []*profile.Profile) (*profile.Profile, error) {
	var most int64
	for _, p := range profiles {
		most = max(most, cpuTime(p))
	}
	scaled := make([]*profile.Profile, 0, len(profiles))
	for _, p := range profiles {
		t := cpuTime(p)
		if t == 0 {
			continue // no sample: nothing to weigh
		}
		p = p.Copy()
		p.Scale(float64(most) / float64(t))
		scaled = append(scaled, p)
	}
	if len(scaled) == 0 {
		return nil, fmt.Errorf("the profiles hold no sample")
	}
	return profile.Merge(scaled)
}

// total sums value i of p's samples; for a CPU profile value 0 counts the
// samples and the last one is their CPU time.
func total(p *profile.Profile, i int) int64 {
	var t int64
	for _, s := range p.Sample {
		t += s.Value[i]
	}
	return t
}

// cpuTime is the CPU time p's samples add up to.
func cpuTime(p *profile.Profile) int64 { return total(p, len(p.SampleType)-1) }
