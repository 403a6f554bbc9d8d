//go:build cairncli

package main

import "github.com/spf13/cobra"

// serverCommands is empty in the command-line build (-tags cairncli): the
// file tools and uploads without the server. The binary is a fraction of the
// full one's size, and starting it costs a fraction of the time and memory.
func serverCommands() []*cobra.Command { return nil }
