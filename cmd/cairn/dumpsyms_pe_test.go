package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
)

// TestDumpSymsFindsPDB checks that dump-syms on a PE image reads the PDB
// beside it: the records are those of the PDB itself, plus the image's
// INFO CODE_ID line, as Breakpad's Windows dump_syms writes them.
func TestDumpSymsFindsPDB(t *testing.T) {
	for _, name := range []string{"pe-x86_64-clang-O2", "pe-x86_64-clang-O2-dll", "pe-i686-clang-O2", "pe-aarch64-clang-O2"} {
		t.Run(name, func(t *testing.T) {
			r, _ := fixtures.Lookup(name)
			dir := fixtures.GetDir(t, name)
			img, pdbPath := filepath.Join(dir, r.Outputs[0]), filepath.Join(dir, r.Outputs[1])
			fromImage, err := run(t, "dump-syms", "--no-cfi", img)
			if err != nil {
				t.Fatal(err)
			}
			fromPDB, err := run(t, "dump-syms", "--no-cfi", pdbPath)
			if err != nil {
				t.Fatal(err)
			}
			imgLines := strings.Split(fromImage, "\n")
			if len(imgLines) < 2 || !strings.HasPrefix(imgLines[1], "INFO CODE_ID ") || !strings.HasSuffix(imgLines[1], " "+r.Outputs[0]) {
				t.Fatalf("image dump lacks INFO CODE_ID for %s:\n%s", r.Outputs[0], strings.Join(imgLines[:min(3, len(imgLines))], "\n"))
			}
			without := strings.Join(append(imgLines[:1:1], imgLines[2:]...), "\n")
			if without != fromPDB {
				t.Errorf("dump-syms %s differs from dump-syms %s beyond INFO CODE_ID", r.Outputs[0], r.Outputs[1])
			}
			if !strings.Contains(fromPDB, "\nFUNC ") || !strings.Contains(fromPDB, "\nINLINE ") {
				t.Errorf("the PDB's dump has no FUNC or INLINE records")
			}
		})
	}
}
