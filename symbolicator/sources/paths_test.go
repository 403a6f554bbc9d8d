package sources

import (
	"reflect"
	"testing"

	"github.com/cairn-dev/cairn/debugfiles/debugid"
)

func mustID(t testing.TB, s string) debugid.ID {
	t.Helper()
	id, err := debugid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// The three modules of Symbolicator's documented layout examples.
func exampleIDs(t testing.TB) (pe, macho, elf, wasm FileID) {
	pe = FileID{CodeID: "5ab380779000", CodeFile: `C:\projects\breakpad-tools\windows\Release\crash.exe`,
		DebugID: mustID(t, "3249d99d-0c40-4931-8610-f4e4fb0b6936-1"), DebugFile: `C:\projects\breakpad-tools\windows\Release\crash.pdb`, Object: ObjectPE}
	macho = FileID{CodeFile: "/Users/travis/build/getsentry/breakpad-tools/macos/build/./crash",
		DebugID: mustID(t, "67e9247c-814e-392b-a027-dbde6748fcbf"), DebugFile: "crash", Object: ObjectMachO}
	elf = FileID{CodeID: "dfb85de42daffd09640c8fe377d572de3e168920", CodeFile: "/lib/x86_64-linux-gnu/libm-2.23.so",
		DebugID: mustID(t, "e45db8df-af2d-09fd-640c-8fe377d572de"), DebugFile: "/lib/x86_64-linux-gnu/libm-2.23.so", Object: ObjectELF}
	wasm = FileID{CodeID: "67e9247c814e392ba027dbde6748fcbf", DebugID: mustID(t, "67e9247c-814e-392b-a027-dbde6748fcbf"),
		DebugFile: "file://foo.invalid/demo.wasm", Object: ObjectWasm}
	return
}

func TestPaths(t *testing.T) {
	pe, macho, elf, wasm := exampleIDs(t)
	native := DirectoryLayout{Type: LayoutNative}
	symstore := DirectoryLayout{Type: LayoutSymstore}
	index2 := DirectoryLayout{Type: LayoutSymstoreIndex2}
	ssqp := DirectoryLayout{Type: LayoutSSQP}
	dbgd := DirectoryLayout{Type: LayoutDebuginfod}
	unified := DirectoryLayout{Type: LayoutUnified}
	slash := DirectoryLayout{Type: LayoutSlashSymbols}
	bp := DirectoryLayout{Type: LayoutBreakpad}
	tests := []struct {
		name   string
		layout DirectoryLayout
		ft     FileType
		id     FileID
		want   []string
	}{
		{"native pdb", native, FilePDB, pe, []string{"crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pd_", "crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb"}},
		{"native pe", native, FilePE, pe, []string{"crash.exe/5AB380779000/crash.ex_", "crash.exe/5AB380779000/crash.exe"}},
		{"native breakpad pe", native, FileBreakpad, pe, []string{"crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.sym"}},
		{"native bundle pe", native, FileSourceBundle, pe, []string{"crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.src.zip"}},
		{"native mach code", native, FileMachCode, macho, []string{"67E9/247C/814E/392B/A027/DBDE6748FCBF.app"}},
		{"native mach debug", native, FileMachDebug, macho, []string{"67E9/247C/814E/392B/A027/DBDE6748FCBF"}},
		{"native breakpad macho", native, FileBreakpad, macho, []string{"crash/67E9247C814E392BA027DBDE6748FCBF0/crash.sym"}},
		{"native bundle macho", native, FileSourceBundle, macho, []string{"crash/67E9247C814E392BA027DBDE6748FCBF0/crash.src.zip", "67E9/247C/814E/392B/A027/DBDE6748FCBF.src.zip"}},
		{"native wasm debug", native, FileWasmDebug, wasm, []string{"67/e9247c814e392ba027dbde6748fcbf.debug"}},
		{"native wasm code", native, FileWasmCode, wasm, []string{"67/e9247c814e392ba027dbde6748fcbf"}},
		{"native bundle wasm", native, FileSourceBundle, wasm, []string{"67/e9247c814e392ba027dbde6748fcbf.src.zip"}},
		{"native breakpad wasm", native, FileBreakpad, wasm, nil},
		{"native elf code", native, FileELFCode, elf, []string{"df/b85de42daffd09640c8fe377d572de3e168920"}},
		{"native elf debug", native, FileELFDebug, elf, []string{"df/b85de42daffd09640c8fe377d572de3e168920.debug"}},
		{"native breakpad elf", native, FileBreakpad, elf, []string{"libm-2.23.so/E45DB8DFAF2D09FD640C8FE377D572DE0/libm-2.23.so.sym"}},
		{"native bundle elf", native, FileSourceBundle, elf, []string{"libm-2.23.so/E45DB8DFAF2D09FD640C8FE377D572DE0/libm-2.23.so.src.zip", "df/b85de42daffd09640c8fe377d572de3e168920.src.zip"}},

		// Symbolicator swaps the last character for "_" on every layout, even unified.
		{"unified pdb", unified, FilePDB, pe, []string{"32/49d99d0c4049318610f4e4fb0b69361/debuginf_", "32/49d99d0c4049318610f4e4fb0b69361/debuginfo"}},
		{"unified breakpad pe", unified, FileBreakpad, pe, []string{"32/49d99d0c4049318610f4e4fb0b69361/breakpad"}},
		{"unified bundle pe", unified, FileSourceBundle, pe, []string{"32/49d99d0c4049318610f4e4fb0b69361/sourcebundle"}},
		{"unified mach code", unified, FileMachCode, macho, []string{"67/e9247c814e392ba027dbde6748fcbf/executable"}},
		{"unified mach debug", unified, FileMachDebug, macho, []string{"67/e9247c814e392ba027dbde6748fcbf/debuginfo"}},
		{"unified breakpad macho", unified, FileBreakpad, macho, []string{"67/e9247c814e392ba027dbde6748fcbf/breakpad"}},
		{"unified wasm debug", unified, FileWasmDebug, wasm, []string{"67/e9247c814e392ba027dbde6748fcbf/debuginfo"}},
		{"unified elf code", unified, FileELFCode, elf, []string{"df/b85de42daffd09640c8fe377d572de3e168920/executable"}},
		{"unified elf debug", unified, FileELFDebug, elf, []string{"df/b85de42daffd09640c8fe377d572de3e168920/debuginfo"}},
		{"unified bundle elf", unified, FileSourceBundle, elf, []string{"df/b85de42daffd09640c8fe377d572de3e168920/sourcebundle"}},

		{"debuginfod exe", dbgd, FileELFCode, elf, []string{"dfb85de42daffd09640c8fe377d572de3e168920/executable"}},
		{"debuginfod debug", dbgd, FileELFDebug, elf, []string{"dfb85de42daffd09640c8fe377d572de3e168920/debuginfo"}},
		{"debuginfod pdb", dbgd, FilePDB, pe, nil},

		{"symstore bundle", symstore, FileSourceBundle, pe, []string{"crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.src.zip"}},
		{"symstore mach code", symstore, FileMachCode, macho, []string{"crash/mach-uuid-67e9247c814e392ba027dbde6748fcbf/crash"}},
		{"symstore mach debug", symstore, FileMachDebug, macho, []string{"_.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf"}},
		{"symstore elf code", symstore, FileELFCode, elf, []string{"libm-2.23.so/elf-buildid-dfb85de42daffd09640c8fe377d572de3e168920/libm-2.23.so"}},
		{"symstore elf debug", symstore, FileELFDebug, elf, []string{"_.debug/elf-buildid-sym-dfb85de42daffd09640c8fe377d572de3e168920/_.debug"}},
		{"symstore breakpad", symstore, FileBreakpad, pe, nil},

		{"index2 pdb", index2, FilePDB, pe, []string{"cr/crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pd_", "cr/crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb"}},
		{"index2 pe", index2, FilePE, pe, []string{"cr/crash.exe/5AB380779000/crash.ex_", "cr/crash.exe/5AB380779000/crash.exe"}},
		{"index2 bundle", index2, FileSourceBundle, pe, []string{"cr/crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.src.zip"}},
		{"index2 mach code", index2, FileMachCode, macho, []string{"cr/crash/mach-uuid-67e9247c814e392ba027dbde6748fcbf/crash"}},
		{"index2 mach debug", index2, FileMachDebug, macho, []string{"_/_.dwarf/mach-uuid-sym-67e9247c814e392ba027dbde6748fcbf/_.dwarf"}},
		{"index2 elf code", index2, FileELFCode, elf, []string{"li/libm-2.23.so/elf-buildid-dfb85de42daffd09640c8fe377d572de3e168920/libm-2.23.so"}},
		{"index2 elf debug", index2, FileELFDebug, elf, []string{"_/_.debug/elf-buildid-sym-dfb85de42daffd09640c8fe377d572de3e168920/_.debug"}},

		{"ssqp pdb", ssqp, FilePDB, pe, []string{"crash.pdb/3249d99d0c4049318610f4e4fb0b69361/crash.pd_", "crash.pdb/3249d99d0c4049318610f4e4fb0b69361/crash.pdb"}},
		{"ssqp pe", ssqp, FilePE, FileID{CodeID: "5ab380779000", CodeFile: `C:\x\Crash.EXE`}, []string{"crash.exe/5ab380779000/crash.ex_", "crash.exe/5ab380779000/crash.exe"}},

		{"slashsymbols", slash, FileELFCode, elf, []string{"libm-2.23.so/dfb85de42daffd09640c8fe377d572de3e168920/symbols"}},
		{"breakpad store", bp, FileBreakpad, pe, []string{"crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.sym"}},
		{"breakpad store pdb", bp, FilePDB, pe, nil},
		{"breakpad age hex", bp, FileBreakpad, FileID{DebugFile: "a.pdb", DebugID: mustID(t, "3249d99d-0c40-4931-8610-f4e4fb0b6936-1a")}, []string{"a.pdb/3249D99D0C4049318610F4E4FB0B69361a/a.sym"}},

		{"lowercase", DirectoryLayout{Type: LayoutNative, Casing: CaseLower}, FilePDB, pe, []string{"crash.pdb/3249d99d0c4049318610f4e4fb0b69361/crash.pd_", "crash.pdb/3249d99d0c4049318610f4e4fb0b69361/crash.pdb"}},
		{"uppercase", DirectoryLayout{Type: LayoutNative, Casing: CaseUpper}, FileELFDebug, elf, []string{"DF/B85DE42DAFFD09640C8FE377D572DE3E168920.DEBUG"}},
		{"no code id", native, FileELFCode, FileID{CodeFile: "x"}, nil},
		{"traversal refused", native, FilePDB, FileID{DebugFile: `C:\..`, DebugID: pe.DebugID}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Paths(tc.layout, tc.ft, tc.id)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Paths = %q\nwant    %q", got, tc.want)
			}
		})
	}
}
