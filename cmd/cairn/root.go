package main

import (
	"github.com/spf13/cobra"
)

// newRootCommand wires every subcommand; commands hold flag parsing and
// wiring only, the work lives in the packages they call.
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "cairn",
		Short: "Self-hosted native crash reporting with a fast symbolicator",
		Long: `Cairn receives minidumps and events from Breakpad, Crashpad, sentry-native and
Sentry SDKs, finds debug files for every module, and turns raw addresses into
functions, files, lines and inline chains.

Start with:
  cairn minidump dump crash.dmp         print everything a minidump holds
  cairn minidump dump crash.dmp --json  the same, for machines`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, local := range []*cobra.Command{newVersionCommand(), newMinidumpCommand(), newDifsCommand(), newDumpSymsCommand(), newSymbolicateCommand(), newSymcacheCommand(), newStackwalkCommand()} {
		root.AddCommand(markLocal(local))
	}
	root.AddCommand(newUploadCommand())
	root.AddCommand(serverCommands()...)
	return root
}
