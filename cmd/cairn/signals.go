package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// localAnnotation marks a command that only reads local files and prints or
// writes its answer (files it keeps are written under a temporary name and
// renamed). Stopping it part-way needs no clean-up, so SIGINT and SIGTERM
// keep their default action and end the process at once, as they end
// llvm-symbolizer, dump_syms or minidump_stackwalk. The annotation holds for
// the command's subcommands too.
const localAnnotation = "cairn.local"

// markLocal annotates cmd as a local file tool (see localAnnotation).
func markLocal(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[localAnnotation] = "true"
	return cmd
}

// isLocal reports whether cmd or one of its parents is a local file tool.
func isLocal(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[localAnnotation] == "true" {
			return true
		}
	}
	return false
}

// cancelOnSignal makes SIGINT and SIGTERM cancel the context of every
// command that is not a local file tool, so a server drains its requests and
// an upload stops between requests. The returned function releases the
// signals; call it when the command has returned.
//
// Local file tools go without because watching signals is not free: the
// watcher parks a thread in the runtime, which then starts more threads to
// run the command. That was a millisecond of a 2.8 ms `cairn version` and of
// every stack walk from caches.
func cancelOnSignal(root *cobra.Command) (stop func()) {
	release := func() {}
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		if isLocal(cmd) {
			return
		}
		ctx, cancel := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		cmd.SetContext(ctx)
		release = cancel
	}
	return func() { release() }
}
