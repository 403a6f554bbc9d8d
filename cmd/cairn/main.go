// Command cairn is the single Cairn binary: the server roles and the
// command-line tools that share its parsers.
//
// Built with -tags cairncli it is the command-line tools alone (dump-syms,
// difs, symbolicate, symcache, stackwalk, minidump, upload): what a CI
// runner or a developer's machine needs. That build links no storage
// backend, web handler or metrics library, so it starts in a fraction of
// the time and memory the server's dependencies cost at every start-up.
package main

import (
	"fmt"
	"os"
)

// exitsAfterCommand is set when the process ends as soon as its command
// returns, as the binary does (tests run commands in-process). A command
// may then leave its files mapped: the exit releases them at once, while
// unmapping each one while other threads run interrupts every core they
// ran on. A stack walk from caches took 3.0 ms of CPU with the unmapping,
// 2.5 ms without.
var exitsAfterCommand bool

func main() {
	exitsAfterCommand = true
	stopTrace, err := startTrace(os.Getenv(traceEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(1)
	}
	stopProfile, err := startCPUProfile(os.Getenv(cpuProfileEnv))
	if err != nil {
		stopTrace()
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(1)
	}
	root := newRootCommand()
	stop := cancelOnSignal(root)
	err = root.Execute()
	stop()
	stopProfile()
	stopTrace()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(1)
	}
}
