package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/fixtures"
)

// The command-line build (-tags cairncli) links none of the server's
// packages: no storage backend, web handler, queue or metrics library.
// Its start-up time and memory floor depend on it.
func TestCLIBuildLinksNoServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "cairncli", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/cairn-dev/cairn/storage/", "github.com/cairn-dev/cairn/web", "github.com/cairn-dev/cairn/ingest",
		"github.com/cairn-dev/cairn/symbolicator/service", "github.com/cairn-dev/cairn/symbolicator/sources",
		"github.com/prometheus/", "github.com/minio/", "modernc.org/", "github.com/ClickHouse/", "github.com/jackc/",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("the cairncli build links %s", pkg)
			}
		}
	}
}

// The command-line build has every file tool and no server command, and
// its tools answer as the full binary's do.
func TestCLIBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the cairncli binary")
	}
	bin := filepath.Join(t.TempDir(), "cairn")
	build := exec.Command("go", "build", "-tags", "cairncli", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build -tags cairncli: %v\n%s", err, out)
	}
	// Built as the README says, the tools are one static file: no dynamic
	// loader and C library to start (a millisecond of every run here), and
	// nothing to install beside them on a CI runner.
	if f, err := elf.Open(bin); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("the command-line build is dynamically linked (it has a PT_INTERP header)")
			}
		}
		f.Close()
	}
	help, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("cairn --help: %v\n%s", err, help)
	}
	for _, c := range []string{"dump-syms", "difs", "stackwalk", "symbolicate", "symcache", "upload", "minidump"} {
		if !strings.Contains(string(help), "\n  "+c+" ") {
			t.Errorf("--help lists no %s command:\n%s", c, help)
		}
	}
	for _, c := range []string{"serve", "migrate", "token", "user"} {
		if strings.Contains(string(help), "\n  "+c+" ") {
			t.Errorf("--help lists the server command %s:\n%s", c, help)
		}
	}
	obj := fixtures.Get(t, "elf-x86_64-gcc-O2")
	got, err := exec.Command(bin, "dump-syms", obj).Output()
	if err != nil {
		t.Fatalf("cairncli dump-syms: %v", err)
	}
	want, err := run(t, "dump-syms", obj)
	if err != nil {
		t.Fatalf("dump-syms: %v", err)
	}
	if string(got) != want {
		t.Errorf("cairncli dump-syms differs from the full binary's (%d bytes against %d)", len(got), len(want))
	}
}
