package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// traceEnv names the variable that makes the binary record a Go execution
// trace of its whole command into the file it names, for `go tool trace`
// or `go run ./internal/cmd/schedidle -timeline 2ms FILE`: how busy a
// command kept the cores, and what ran when (BENCHMARKS.md uses it on
// `cairn symcache build`).
const traceEnv = "CAIRN_TRACE"

// cpuProfileEnv names the variable that makes the binary record a CPU
// profile of its whole command into the file it names, in pprof's format:
// for `go tool pprof`, and as the input of the profile-guided
// optimization the binary is built with (cmd/cairn/default.pgo, made by
// `go tool task pgo` from such profiles of its hot commands).
const cpuProfileEnv = "CAIRN_CPUPROFILE"

// startTrace starts a trace into the file path names, unless path is
// empty, and returns what stops it and closes the file.
func startTrace(path string) (stop func(), err error) {
	return record(traceEnv, path, trace.Start, trace.Stop)
}

// startCPUProfile starts a CPU profile into the file path names, unless
// path is empty, and returns what stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	return record(cpuProfileEnv, path, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// record starts a recording (begin) into the file path names, unless path
// is empty, and returns what ends it (end) and closes the file. Errors
// name env, the variable that gave path.
func record(env, path string, begin func(io.Writer) error, end func()) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", env, err)
	}
	if err := begin(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", env, err)
	}
	return func() {
		end()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "cairn: %s: %v\n", env, err)
		}
	}, nil
}
