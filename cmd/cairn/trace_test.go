package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	xtrace "golang.org/x/exp/trace"
)

// TestStartTrace records a trace of a command run in-process and reads it
// back: it must be a whole Go execution trace, with the command's
// goroutine in it. An empty path records nothing; a path that cannot be
// created is an error naming the variable.
func TestStartTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cmd.trace")
	stop, err := startTrace(path)
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCommand()
	root.SetArgs([]string{"version"})
	root.SetOut(new(strings.Builder))
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	stop()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := xtrace.NewReader(f)
	if err != nil {
		t.Fatalf("the trace does not read: %v", err)
	}
	events := 0
	for {
		ev, err := r.ReadEvent()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after %d events: %v", events, err)
			}
			break
		}
		if ev.Kind() == xtrace.EventStateTransition {
			events++
		}
	}
	if events == 0 {
		t.Error("the trace holds no goroutine's transitions")
	}
	checkRecordPaths(t, startTrace, traceEnv)
}

// checkRecordPaths checks that start records nothing for an empty path,
// and that a path that cannot be created is an error naming env.
func checkRecordPaths(t *testing.T, start func(string) (func(), error), env string) {
	t.Helper()
	stop, err := start("")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := start(filepath.Join(t.TempDir(), "no", "such", "dir", "x")); err == nil || !strings.Contains(err.Error(), env) {
		t.Errorf("an uncreatable file gave %v, want an error naming %s", err, env)
	}
}

// TestStartCPUProfile profiles a busy loop run between start and stop: the
// file must be a CPU profile in pprof's format (what `go tool pprof` and
// the compiler's profile-guided optimization read) whose samples find the
// loop. An empty path records nothing; a path that cannot be created is
// an error naming the variable.
func TestStartCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cmd.pprof")
	stop, err := startCPUProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	spinSink = spinFor(300 * time.Millisecond)
	stop()
	if p := readCPUProfile(t, path); !sampled(p, "github.com/cairn-dev/cairn/cmd/cairn.spinFor") {
		t.Errorf("none of the profile's %d samples is in spinFor", len(p.Sample))
	}
	checkRecordPaths(t, startCPUProfile, cpuProfileEnv)
}

// spinSink keeps spinFor's result alive.
var spinSink uint64

// spinFor computes for at least d, and is not inlined, so that the samples
// taken meanwhile name it.
//
//go:noinline
func spinFor(d time.Duration) uint64 {
	x := uint64(1)
	for end := time.Now().Add(d); time.Now().Before(end); {
		for range 1000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}
