package main

import (
	"fmt"
	"runtime"

	"github.com/cairn-dev/cairn/debugfiles"
	"github.com/cairn-dev/cairn/debugfiles/loader"
	"github.com/cairn-dev/cairn/debugfiles/symcache"
	"github.com/cairn-dev/cairn/internal/gcfloor"
	"github.com/cairn-dev/cairn/internal/hugeheap"
	"github.com/spf13/cobra"
)

func newSymcacheCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "symcache",
		Short: "Build and inspect symcaches, the fast address → frames index",
		Long: `A symcache is the compact, memory-mapped file Cairn answers symbolication
lookups from: sorted address ranges pointing to functions, files, lines and
inline chains, built once per debug file (format: debugfiles/symcache/SPEC.md).`,
	}
	cmd.AddCommand(newSymcacheBuildCommand(), newSymcacheInfoCommand())
	return cmd
}

func newSymcacheBuildCommand() *cobra.Command {
	var (
		output, arch string
		debugDirs    []string
	)
	cmd := &cobra.Command{
		Use:   "build FILE -o OUT",
		Short: "Convert a debug file into a symcache",
		Long: `Read the functions, lines and inline chains of FILE and write them as a
symcache. FILE may be an ELF binary or .debug file (a stripped binary's debug
file is found by build id or .gnu_debuglink), a Mach-O binary (with its
PATH.dSYM when present) or dSYM (--arch picks a slice of a fat file), a PE
image (with the PDB it names) or PDB, or a Breakpad .sym file. Code the debug
information leaves out (start-up code, hand-written assembly, a library built
without -g) is named from the symbol table, as functions without lines, and a
file without debug information contributes its symbol table alone. The file
is written through a temporary file and renamed into place, then verified and
described.`,
		Example: `  cairn symcache build build/game -o game.symcache
  cairn symcache build Game.app.dSYM --arch arm64 -o Game-arm64.symcache
  cairn symbolicate --obj game.symcache 0x4011a4`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return fmt.Errorf("symcache build: -o OUT is required")
			}
			a, err := loader.Open(args[0])
			if err != nil {
				return err
			}
			defer a.Close()
			obj, err := pickObject(a, arch)
			if err != nil {
				return err
			}
			if obj, err = a.WithDebugFile(obj, debugDirs); err != nil {
				return err
			}
			obj, companion, err := withCompanion(obj, args[0])
			if err != nil {
				return err
			}
			if companion != nil {
				defer companion.Close()
			}
			if err := writeSymcacheFile(output, obj, prepareSymcacheBuild(obj)); err != nil {
				return fmt.Errorf("symcache build: %s: %w", args[0], err)
			}
			return printSymcacheInfo(cmd, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the symcache file to write")
	cmd.Flags().StringVar(&arch, "arch", "", "architecture to convert from a fat Mach-O file (x86_64, arm64, ...)")
	cmd.Flags().StringArrayVar(&debugDirs, "debug-dir", nil, "where to look for a stripped binary's separate debug file (repeatable)")
	return cmd
}

func newSymcacheInfoCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "info FILE",
		Short:   "Print a symcache's identity and table sizes, and verify its checksum",
		Example: `  cairn symcache info game.symcache`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return printSymcacheInfo(cmd, args[0])
		},
	}
}

// buildHeap is the heap a symcache build marks for huge pages before it
// starts (dump-syms does not: see its command): more than a build of 20
// MB of DWARF uses at its peak (~20 MB); marked memory left unused costs
// nothing.
const buildHeap = 64 << 20

// reserveBuildHeap backs the heap of a command about to build obj's
// symcache with huge pages (package hugeheap).
func reserveBuildHeap(obj debugfiles.Object) { hugeheap.Reserve(buildHeapFor(obj)) }

// buildHeapFor is the heap to mark for converting obj. On the virtual
// machines measured in BENCHMARKS.md, a DWARF build's page faults took a
// fifth of its time. A PDB's build is left as it is: its session decodes
// one module at a time and keeps a small heap, so it gained nothing
// measurable, and its peak RSS, which the PDB memory goal bounds, grew by
// 1.5-2 MB (huge pages partly used).
func buildHeapFor(obj debugfiles.Object) int {
	if isPDB(obj) {
		return 0
	}
	return buildHeap
}

// isPDB reports whether obj's debug information is a PDB (a PE image with
// its PDB, or the PDB itself).
func isPDB(obj debugfiles.Object) bool {
	if c, ok := obj.(*loader.Companion); ok {
		obj = c.Debug
	}
	return obj.Format() == debugfiles.FormatPDB
}

// symcacheFloor is the heap below which a symcache build from DWARF does
// not collect garbage (package gcfloor). The bench fixture's build (24 MB
// of DWARF) allocates ~21 MB while it reads and adds the functions, most
// of it live until the adding ends; the default pacing collects five
// times on the way, three of them while nearly all of the heap is live.
// Under this floor it collects once, when the tables of the adding are
// garbage (21-24 MB, 4-6 MB left live; symcacheOptions has it made as
// soon as the adding ends): 6% less time and 5 ms less CPU than a floor
// of 16 MB, which collected three times, the
// first amid the adding with 10 MB live, for 3 MB more peak RSS (36.8
// against 33.7 MB; Breakpad's dump_syms takes 36.3). A floor of 20 MB
// collected amid the adding as well, and a memory limit of 24 MB, which
// returns freed pages as it goes, ran 3-7% slower (BENCHMARKS.md).
const symcacheFloor = 24 << 20

// symcacheSpillMemory is the memory a symcache build from DWARF may keep
// its intermediate tables in rather than temporary files
// (symcache.Options.SpillMemory): enough for ~100 MB of DWARF (the bench
// fixture's 24 MB keep 3.4 MB there at most), and no more than a larger
// input should cost.
const symcacheSpillMemory = 16 << 20

// prepareSymcacheBuild readies the heap of a command about to build obj's
// symcache, huge pages (reserveBuildHeap) and the collection floor, and
// returns the options to build it with (symcacheOptions). A PDB's build
// goes without the floor: the PDB memory goal bounds its peak, which the
// floor would raise, and its session's small heap gains nothing from it.
func prepareSymcacheBuild(obj debugfiles.Object) symcache.Options {
	reserveBuildHeap(obj)
	if !isPDB(obj) {
		gcfloor.Set(symcacheFloor)
	}
	return symcacheOptions(obj)
}

// symcacheOptions are the options a command builds obj's symcache with:
// its intermediate tables in memory, but for a PDB, whose memory goal
// leaves no room for them; and for DWARF, a collection as soon as the
// functions are read (Options.AfterReading). That is the floor's one
// collection (symcacheFloor), made where the reading's memory has just
// become garbage rather than a few megabytes into the writing: the bench
// fixture's build touched 22 MB of heap instead of 26 and peaked at 33-35
// MB of RSS instead of 37, in the same time (BENCHMARKS.md). A PDB's
// session keeps a small heap, and its build is left as it was measured.
//
// Every build names the code the debug information leaves out from the
// symbol table (Options.FillFromSymbols): start-up code, hand-written
// assembly, a library built without -g. llvm-symbolizer names it, Breakpad's
// dump_syms writes it as PUBLIC records, and the service's symcaches have it;
// without it a frame there would print as ??.
func symcacheOptions(obj debugfiles.Object) symcache.Options {
	if isPDB(obj) {
		return symcache.Options{FillFromSymbols: true}
	}
	return symcache.Options{SpillMemory: symcacheSpillMemory, AfterReading: runtime.GC, FillFromSymbols: true}
}

// printSymcacheInfo opens, verifies and describes a symcache file.
func printSymcacheInfo(cmd *cobra.Command, path string) error {
	// Verified by reading, not through the mapping, so that only the
	// pages Stats reads become resident.
	if err := symcache.VerifyFile(path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	c, err := symcache.Open(path)
	if err != nil {
		return err
	}
	defer c.Close()
	st := c.Stats()
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%s: symcache v%d, %d bytes, checksum ok\n", path, symcache.Version, st.Size)
	fmt.Fprintf(w, "  debug id %s, arch %s, from %s, load address %#x\n", c.DebugID(), c.Arch(), c.Format(), c.LoadAddress())
	fmt.Fprintf(w, "  %d functions, %d files, %d call sites, %d frame nodes\n", st.Functions, st.Files, st.Sites, st.Nodes)
	fmt.Fprintf(w, "  %d address ranges in %d region(s), %d pages of %d bytes (%d bytes of ranges)\n", st.Entries, st.Regions, st.Pages, st.PageSize, st.RangeBytes)
	return nil
}
