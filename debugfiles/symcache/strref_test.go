package symcache

import "testing"

// TestStringRefs reads function and file rows whose string references
// (offset, length) are too wide for one load, as in a string table of
// hundreds of megabytes with a name of megabytes, and as narrow ones: both
// paths must give the same strings, and a reference past the table gives
// "".
func TestStringRefs(t *testing.T) {
	strs := []byte("/src/main.cmain_Z3fooiv")
	type ref struct{ off, n uint64 }
	funcs := []ref{{11, 4}, {15, 8}, {20, 9}} // main, _Z3fooiv, past the end
	files := [][2]ref{{{0, 5}, {5, 6}}}       // "/src/" "main.c"
	want := []string{"main", "_Z3fooiv", ""}
	for _, tc := range []struct {
		name          string
		strW, lenW    uint64
		wantNarrowRef bool
	}{
		{"narrow", 5, 4, true},
		{"wide", 30, 30, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Cache{strs: strs, strWidth: tc.strW, strMask: 1<<tc.strW - 1, lenMask: 1<<tc.lenW - 1, langMask: 1<<langBits - 1}
			c.refWidth = tc.strW + tc.lenW
			c.funcWidth = c.refWidth + langBits
			c.refNarrow = c.funcWidth <= 56
			if c.refNarrow != tc.wantNarrowRef {
				t.Fatalf("refNarrow = %v", c.refNarrow)
			}
			var fw, tw bitWriter
			for i, r := range funcs {
				fw.put(r.off, uint(tc.strW))
				fw.put(r.n, uint(tc.lenW))
				fw.put(uint64(i), langBits)
			}
			for _, f := range files {
				for _, r := range f {
					tw.put(r.off, uint(tc.strW))
					tw.put(r.n, uint(tc.lenW))
				}
			}
			fw.put(0, 32) // flushes what is held back
			tw.put(0, 32)
			c.funcs, c.files = fw.out, tw.out
			c.nfuncs, c.nfiles = uint32(len(funcs)), uint32(len(files))
			for i, w := range want {
				if name, lang := c.function(uint32(i)); name != w || lang != Language(i) {
					t.Errorf("function %d = %q, %d; want %q, %d", i, name, lang, w, i)
				}
			}
			if dir, name := c.file(1); dir != "/src/" || name != "main.c" {
				t.Errorf("file 1 = %q %q", dir, name)
			}
			if dir, name := c.file(2); dir != "" || name != "" {
				t.Errorf("file 2 = %q %q, want none", dir, name)
			}
		})
	}
}
