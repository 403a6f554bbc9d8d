package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/breakpad"
	"github.com/cairn-dev/cairn/debugfiles/demangle"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/pdb"
	"github.com/cairn-dev/cairn/debugfiles/pe"
	"github.com/spf13/cobra"
)

func newDumpSymsCommand() *cobra.Command {
	var (
		output, arch string
		debugDirs    []string
		noInlines    bool
		noCFI        bool
		mangled      bool
	)
	cmd := &cobra.Command{
		Use:   "dump-syms FILE",
		Short: "Write a Breakpad .sym file for a binary or debug file",
		Long: `Convert a debug file into Breakpad's text symbol format, as Breakpad's dump_syms
does: MODULE and INFO CODE_ID lines, FILE and INLINE_ORIGIN tables, FUNC records
with their line records and INLINE records, PUBLIC records for symbols no
FUNC covers, then, unless --no-cfi is given, the STACK records of the unwind
information:

  ELF, Mach-O      STACK CFI from the DWARF call frame information
                   (.debug_frame, .eh_frame) and Mach-O compact unwind
  PE (x64, ARM64)  STACK CFI from the exception table (.pdata/.xdata)
  PDB (x86)        STACK WIN from the FrameData (type 4) and FPO (type 0)
                   streams

Names are demangled unless --mangled is given.

FILE may be an ELF binary or .debug file (a stripped binary's debug file is
found through its build id or .gnu_debuglink), a Mach-O binary (use --arch to pick
one slice of a fat file), a dSYM bundle, a PE image (its PDB is found beside it
or in --debug-dir, and both files' STACK records are written) or a PDB (for x64
and ARM64, the STACK CFI records come from the image of the same name beside
it, .exe or .dll, when its debug id matches). The result goes to standard
output unless -o is given; a symbol store expects it at
<debug file>/<DEBUG ID>/<debug file>.sym.`,
		Example: `  cairn dump-syms build/game > game.sym
  cairn dump-syms Game.app.dSYM --arch arm64 -o Game.sym`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := loader.Open(args[0])
			if err != nil {
				return err
			}
			defer a.Close()
			obj, err := pickObject(a, arch)
			if err != nil {
				return err
			}
			// A stripped binary: read functions from its separate debug
			// file, found by build id or .gnu_debuglink as gdb finds it.
			if obj, err = a.WithDebugFile(obj, debugDirs); err != nil {
				return err
			}
			// A Companion's unwind tables are both files': .eh_frame stays
			// in the binary and .debug_frame goes to the debug file; a PE
			// image has the x64 and ARM64 unwind codes, its PDB the x86
			// frame data.
			opts := breakpad.ConvertOptions{NoInlines: noInlines, CFI: !noCFI}
			if p, ok := obj.(*pdb.Object); ok && opts.CFI && p.Machine() != pe.MachineI386 {
				// Only the image has x64 and ARM64 unwind information.
				img, err := a.ImageBeside(p)
				if err != nil {
					return err
				}
				if img != nil {
					c := &loader.Companion{Object: img, Debug: p}
					if opts.UnwindTables, err = c.UnwindTables(); err != nil {
						return err
					}
				}
			}
			if !mangled {
				opts.Demangle = func(s string) string { return demangle.Demangle(s, demangle.Full) }
			}
			// No huge-page heap here, unlike a symcache build: this
			// command's heap peaks at ~7 MB, which 2 MB pages round up
			// to 4-5 of them, and its peak RSS grew from ~18 to ~20.5
			// MB, past half of Breakpad's (36.2 MB), for 5-8% less time
			// (BENCHMARKS.md).
			out := cmd.OutOrStdout()
			var f *os.File
			if output != "" && output != "-" {
				if f, err = os.Create(output); err != nil {
					return err
				}
				out = f
			}
			// The symbol writer buffers its records itself and hands
			// over large blocks of FUNC text: a small buffer suffices.
			bw := bufio.NewWriterSize(out, 64<<10)
			if err = breakpad.WriteObject(bw, obj, opts); err != nil {
				err = fmt.Errorf("dump-syms: %s: %w", args[0], err)
			}
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			if f != nil {
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write the .sym file here instead of standard output")
	cmd.Flags().StringVar(&arch, "arch", "", "architecture to dump from a fat Mach-O file (x86_64, arm64, ...)")
	cmd.Flags().StringArrayVar(&debugDirs, "debug-dir", nil, "where to look for a stripped binary's separate debug file (repeatable; default /usr/lib/debug; the binary's own directory is always searched)")
	cmd.Flags().BoolVar(&noInlines, "no-inlines", false, "omit INLINE and INLINE_ORIGIN records (like dump_syms without -d)")
	cmd.Flags().BoolVar(&noCFI, "no-cfi", false, "omit STACK CFI and STACK WIN records (like dump_syms -c)")
	cmd.Flags().BoolVar(&mangled, "mangled", false, "keep mangled (linkage) names")
	return cmd
}

// pickObject chooses the object to dump from a possibly multi-arch archive.
func pickObject(a *loader.Archive, arch string) (debugfiles.Object, error) {
	if arch == "" {
		if len(a.Objects) == 1 {
			return a.Objects[0], nil
		}
		return nil, fmt.Errorf("%s holds %d architectures (%s); choose one with --arch", a.Path, len(a.Objects), archList(a))
	}
	for _, o := range a.Objects {
		if o.Arch() == arch {
			return o, nil
		}
	}
	return nil, fmt.Errorf("%s has no %s object; it holds %s", a.Path, arch, archList(a))
}

func archList(a *loader.Archive) string {
	var names []string
	for _, o := range a.Objects {
		names = append(names, o.Arch())
	}
	return strings.Join(names, ", ")
}
