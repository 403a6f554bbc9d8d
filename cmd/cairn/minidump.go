package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cairn-dev/cairn/minidump"
	"github.com/spf13/cobra"
)

func newMinidumpCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "minidump",
		Short: "Inspect minidump files",
	}
	cmd.AddCommand(newMinidumpDumpCommand())
	return cmd
}

func newMinidumpDumpCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "dump FILE",
		Short: "Print everything a minidump holds",
		Long: `Print every stream of a minidump: system and process info, the exception and
its crash reason, threads with registers, modules with their debug and code
identifiers (Sentry and Breakpad forms), memory regions, and the Linux, Crashpad
and macOS streams. Damaged streams are reported under "Problems"; the rest of
the dump is still printed.`,
		Example: `  cairn minidump dump crash.dmp
  cairn minidump dump crash.dmp --json | jq '.modules[] | {code_file, debug_id}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := minidump.Open(args[0])
			var ferr *minidump.FormatError
			if errors.As(err, &ferr) {
				return fmt.Errorf("%w (is %s a minidump? Apple crash reports and Android microdumps are text)", err, args[0])
			}
			if err != nil {
				return err
			}
			defer f.Close()
			c := f.ReadAll()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(c)
			}
			return c.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for machines instead of text")
	return cmd
}
