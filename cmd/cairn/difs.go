package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/spf13/cobra"
)

func newDifsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "difs",
		Short: "Inspect debug information files (ELF, Mach-O, dSYM, PE, Breakpad .sym)",
	}
	cmd.AddCommand(newDifsCheckCommand())
	return cmd
}

// difReport is one file's check result; its JSON matches the fields of
// `sentry-cli debug-files check --json` and adds the kind and path.
type difReport struct {
	Path     string       `json:"path"`
	Type     string       `json:"type"`
	Kind     string       `json:"kind,omitempty"`
	Variants []difVariant `json:"variants"`
	Features string       `json:"features"`
	Usable   bool         `json:"is_usable"`
	Problem  *string      `json:"problem"`
	Note     *string      `json:"note"`
}

type difVariant struct {
	DebugID string `json:"debug_id"`
	CodeID  string `json:"code_id,omitempty"`
	Arch    string `json:"arch"`
}

func newDifsCheckCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check FILE...",
		Short: "Show the identifiers and contents of debug files",
		Long: `Check debug files the way sentry-cli debug-files check does: the container
type, the kind of object, every architecture with its debug id and code id,
and which kinds of debug information the file holds (symtab, debug, unwind,
sources). A file is usable when it has a debug id and at least one of them.

Files may be ELF binaries or .debug files, Mach-O binaries (thin or fat),
dSYM bundle directories, PE images (.exe, .dll; the debug id names their
PDB), or Breakpad .sym files. The command exits non-zero
when any file is unusable.`,
		Example: `  cairn difs check build/game build/game.debug
  cairn difs check Game.app.dSYM --json
  cairn difs check Game.exe Engine.dll`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var reports []difReport
			bad := 0
			for _, path := range args {
				r := checkDif(path)
				if !r.Usable {
					bad++
				}
				reports = append(reports, r)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				var err error
				if len(reports) == 1 {
					err = enc.Encode(reports[0])
				} else {
					err = enc.Encode(reports)
				}
				if err != nil {
					return err
				}
			} else {
				for i, r := range reports {
					if i > 0 {
						fmt.Fprintln(out)
					}
					writeDifReport(out, r)
				}
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d files are not usable for symbolication", bad, len(reports))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for machines instead of text")
	return cmd
}

func checkDif(path string) difReport {
	r := difReport{Path: path, Variants: []difVariant{}}
	a, err := loader.Open(path)
	if err != nil {
		msg := err.Error()
		r.Type, r.Problem = "unknown", &msg
		return r
	}
	defer a.Close()
	r.Type = difType(a.Format)
	var features debugfiles.Features
	missingID := false
	for _, o := range a.Objects {
		r.Kind = o.Kind().Describe()
		features |= o.Features()
		if o.DebugID().IsZero() {
			missingID = true
		}
		r.Variants = append(r.Variants, difVariant{DebugID: o.DebugID().String(), CodeID: o.CodeID(), Arch: o.Arch()})
	}
	r.Features = features.String()
	switch {
	case len(a.Objects) == 0:
		p := "the file contains no objects"
		r.Problem = &p
	case missingID:
		p := "missing debug identifier, likely stripped"
		r.Problem = &p
	case features == 0:
		p := "the file has no symbols, debug information or unwind information"
		r.Problem = &p
	}
	r.Usable = r.Problem == nil
	return r
}

// difType names a container as sentry-cli does; it calls every Mach-O file,
// dSYM or not, "dsym".
func difType(f debugfiles.Format) string {
	if f == debugfiles.FormatMachO {
		return "dsym"
	}
	return f.String()
}

func writeDifReport(w io.Writer, r difReport) {
	fmt.Fprintf(w, "Debug Info File Check: %s\n", r.Path)
	fmt.Fprintf(w, "  Type: %s %s\n", r.Type, r.Kind)
	if len(r.Variants) > 0 {
		fmt.Fprintln(w, "  Contained debug identifiers:")
		for _, v := range r.Variants {
			fmt.Fprintf(w, "    > Debug ID: %s\n", v.DebugID)
			if v.CodeID != "" {
				fmt.Fprintf(w, "      Code ID:  %s\n", v.CodeID)
			}
			fmt.Fprintf(w, "      Arch:     %s\n", v.Arch)
		}
		fmt.Fprintln(w, "  Contained debug information:")
		fmt.Fprintf(w, "    > %s\n", r.Features)
	}
	if r.Problem != nil {
		fmt.Fprintf(w, "  Usable: no (%s)\n", strings.TrimSpace(*r.Problem))
		return
	}
	fmt.Fprintln(w, "  Usable: yes")
}
