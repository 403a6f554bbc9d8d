//go:build !cairncli

package main

import "github.com/spf13/cobra"

// serverCommands are the commands that run or administer a Cairn server.
// A binary built with -tags cairncli leaves them, and every storage and
// network backend they link, out.
func serverCommands() []*cobra.Command {
	return []*cobra.Command{newServeCommand(), newTokenCommand(), newUserCommand(), newMigrateCommand()}
}
