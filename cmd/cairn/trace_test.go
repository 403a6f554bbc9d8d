package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

	stop, err = startTrace("")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := startTrace(filepath.Join(t.TempDir(), "no", "such", "dir", "x.trace")); err == nil || !strings.Contains(err.Error(), traceEnv) {
		t.Errorf("an uncreatable trace file gave %v, want an error naming %s", err, traceEnv)
	}
}
