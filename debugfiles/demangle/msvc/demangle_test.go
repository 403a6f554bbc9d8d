package msvc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// goldenTests pin key cases without the oracle: the full form is what
// llvm-undname-14 prints (checked by TestAgainstUndname, which also covers
// these names through the corpus), the name-only form is Cairn's own.
var goldenTests = []struct {
	name, full, nameOnly string
}{
	{"?x@@3HA",
		"int x",
		"x"},
	{"?f@C@ns@@QEBAHH@Z",
		"public: int __cdecl ns::C::f(int) const",
		"ns::C::f"},
	{"?s@C@ns@@2HA",
		"public: static int ns::C::s",
		"ns::C::s"},
	{"??0?$basic_string@DU?$char_traits@D@std@@V?$allocator@D@2@@std@@QEAA@PEBD@Z",
		"public: __cdecl std::basic_string<char, struct std::char_traits<char>, class std::allocator<char>>::basic_string<char, struct std::char_traits<char>, class std::allocator<char>>(char const *)",
		"std::basic_string<char, struct std::char_traits<char>, class std::allocator<char>>::basic_string<char, struct std::char_traits<char>, class std::allocator<char>>"},
	{"?c_str@?$basic_string@DU?$char_traits@D@std@@V?$allocator@D@2@@std@@QEBAPEBDXZ",
		"public: char const * __cdecl std::basic_string<char, struct std::char_traits<char>, class std::allocator<char>>::c_str(void) const",
		"std::basic_string<char, struct std::char_traits<char>, class std::allocator<char>>::c_str"},
	{"??1C@@UEAA@XZ",
		"public: virtual __cdecl C::~C(void)",
		"C::~C"},
	{"??_GC@@UEAAPEAXI@Z",
		"public: virtual void * __cdecl C::`scalar deleting dtor'(unsigned int)",
		"C::`scalar deleting dtor'"},
	{"??_EC@@UEAAPEAXI@Z",
		"public: virtual void * __cdecl C::`vector deleting dtor'(unsigned int)",
		"C::`vector deleting dtor'"},
	{"??_7C@@6B@",
		"const C::`vftable'",
		"const C::`vftable'"},
	{"??_7Both@@6BRight@@@",
		"const Both::`vftable'{for `Right'}",
		"const Both::`vftable'{for `Right'}"},
	{"??_8Diamond@@7BVLeft@@@",
		"const Diamond::`vbtable'{for `VLeft'}",
		"const Diamond::`vbtable'{for `VLeft'}"},
	{"??_R0?AVC@@@8",
		"class C `RTTI Type Descriptor'",
		"class C `RTTI Type Descriptor'"},
	{"??_R1A@?0A@EA@C@@8",
		"C::`RTTI Base Class Descriptor at (0, -1, 0, 64)'",
		"C::`RTTI Base Class Descriptor at (0, -1, 0, 64)'"},
	{"??_R2C@@8",
		"C::`RTTI Base Class Array'",
		"C::`RTTI Base Class Array'"},
	{"??_R3C@@8",
		"C::`RTTI Class Hierarchy Descriptor'",
		"C::`RTTI Class Hierarchy Descriptor'"},
	{"??_R4C@@6B@",
		"const C::`RTTI Complete Object Locator'",
		"const C::`RTTI Complete Object Locator'"},
	{"??_C@_05CNPNBAHC@hello?$AA@",
		"\"hello\"",
		"\"hello\""},
	{"??_C@_1M@ABCDEFGH@?$AAw?$AAi?$AAd?$AAe?$AA?$AA@",
		"L\"wide\\0\"",
		"L\"wide\\0\""},
	{"??__Ex@@YAXXZ",
		"void __cdecl `dynamic initializer for 'x''(void)",
		"`dynamic initializer for 'x''"},
	{"??__F?x@C@@2VD@@A@@YAXXZ",
		"void __cdecl `dynamic atexit destructor for `public: static class D C::x''(void)",
		"`dynamic atexit destructor for `public: static class D C::x''"},
	{"??_B?1??f@@YAXXZ@51",
		"`void __cdecl f(void)'::`2'::`local static guard'{2}",
		"`void __cdecl f(void)'::`2'::`local static guard'{2}"},
	{"?$TSS0@?1??f@@YAXXZ@4HA",
		"int `void __cdecl f(void)'::`2'::$TSS0",
		"`void __cdecl f(void)'::`2'::$TSS0"},
	{"?x@?1??f@@YAXXZ@4HA",
		"int `void __cdecl f(void)'::`2'::x",
		"`void __cdecl f(void)'::`2'::x"},
	{"?x@?A0x12345678@ns@@3HA",
		"int ns::`anonymous namespace'::x",
		"ns::`anonymous namespace'::x"},
	{"??$max@H@@YAHHH@Z",
		"int __cdecl max<int>(int, int)",
		"max"},
	{"??$f@$0?8@@YAXXZ",
		"void __cdecl f<-9>(void)",
		"f"},
	{"??$f@$1?x@@3HA@@YAXXZ",
		"void __cdecl f<&int x>(void)",
		"f"},
	{"??$f@$H?g@C@@QEAAXXZA@@@YAXXZ",
		"void __cdecl f<{public: void __cdecl C::g(void), 0}>(void)",
		"f"},
	{"??$f@$$ZH$$Z@@YAXXZ",
		"void __cdecl f<int>(void)",
		"f"},
	{"??$f@$$CBH@@YAXXZ",
		"void __cdecl f<int const>(void)",
		"f"},
	{"??$f@$$A6AXXZ@@YAXXZ",
		"void __cdecl f<void __cdecl(void)>(void)",
		"f"},
	{"??$f@$$T@@YAXXZ",
		"void __cdecl f<std::nullptr_t>(void)",
		"f"},
	{"?f@@YAXP6AXH@Z0@Z",
		"void __cdecl f(void (__cdecl *)(int), void (__cdecl *)(int))",
		"f"},
	{"?pm@@3P8M@@EAAHXZEQ1@",
		"int (__cdecl M::*pm)(void)",
		"pm"},
	{"?f@@YAXPEQC@@H@Z",
		"void __cdecl f(int C::*)",
		"f"},
	{"?f@@YA$$QEAHXZ",
		"int && __cdecl f(void)",
		"f"},
	{"?f@@YAP6AHH@ZXZ",
		"int (__cdecl * __cdecl f(void))(int)",
		"f"},
	{"?f@@YAXPEAY01H@Z",
		"void __cdecl f(int (*)[2])",
		"f"},
	{"?f@@YAX_W_S_U_Q@Z",
		"void __cdecl f(wchar_t, char16_t, char32_t, char8_t)",
		"f"},
	{"?f@@YAXHZZ",
		"void __cdecl f(int, ...)",
		"f"},
	{"?f@@YAXXZ_E",
		"void __cdecl f(void)",
		"f"},
	{"?f@@YAXH@_E",
		"void __cdecl f(int) noexcept",
		"f"},
	{"?f@C@@QEGAAXXZ",
		"public: void __cdecl C::f(void) &",
		"C::f"},
	{"?f@C@@QEIFAAXXZ",
		"public: void __cdecl C::f(void) __restrict __unaligned",
		"C::f"},
	{"?f@C@@W7EAAXXZ",
		"[thunk]: public: virtual void __cdecl C::f`adjustor{8}'(void)",
		"C::f"},
	{"?f@C@@$4PPPPPPPM@A@EAAXXZ",
		"[thunk]: public: virtual void __cdecl C::f`vtordisp{-4, 0}'(void)",
		"C::f"},
	{"??_9C@@$BA@AA",
		"[thunk]: __cdecl C::`vcall'{0, {flat}}",
		"C::`vcall'{0, {flat}}"},
	{"?f@@YGXH@Z",
		"void __stdcall f(int)",
		"f"},
	{"?f@C@@QAEXXZ",
		"public: void __thiscall C::f(void)",
		"C::f"},
	{"??BC@@QEBAHXZ",
		"public: int __cdecl C::operator int(void) const",
		"C::operator int"},
	{"??$?BH@C@@QEBAHXZ",
		"public: int __cdecl C::operator<int> int(void) const",
		"C::operator int"},
	{"??R<lambda_1>@?0??f@@YAXXZ@QEBAHH@Z",
		"public: int __cdecl `void __cdecl f(void)'::`1'::<lambda_1>::operator()(int) const",
		"`void __cdecl f(void)'::`1'::<lambda_1>::operator()"},
	{"??__K_km@@YA_K_K@Z",
		"unsigned __int64 __cdecl operator \"\"_km(unsigned __int64)",
		"operator \"\"_km"},
	{"??@a6a285da2eea70dba6b578022be61d81@",
		"??@a6a285da2eea70dba6b578022be61d81@",
		"??@a6a285da2eea70dba6b578022be61d81@"},
	{".?AVC@@",
		"class C `RTTI Type Descriptor Name'",
		"class C `RTTI Type Descriptor Name'"},
}

func TestGolden(t *testing.T) {
	for _, tt := range goldenTests {
		got, err := Demangle(tt.name)
		if err != nil || got != tt.full {
			t.Errorf("Demangle(%q) = %q, %v; want %q", tt.name, got, err, tt.full)
		}
		got, err = DemangleWith(tt.name, NameOnly)
		if err != nil || got != tt.nameOnly {
			t.Errorf("DemangleWith(%q, NameOnly) = %q, %v; want %q", tt.name, got, err, tt.nameOnly)
		}
	}
}

func TestFlags(t *testing.T) {
	const name = "?f@C@@SAP6AHH@ZPEBD@Z"
	tests := []struct {
		f    Flags
		want string
	}{
		{0, "public: static int (__cdecl * __cdecl C::f(char const *))(int)"},
		{NoAccessSpecifier, "static int (__cdecl * __cdecl C::f(char const *))(int)"},
		{NoMemberType, "public: int (__cdecl * __cdecl C::f(char const *))(int)"},
		{NoCallingConvention, "public: static int (__cdecl * C::f(char const *))(int)"},
		// llvm-undname drops the returned function pointer's ")(int)" too.
		{NoReturnType, "public: static __cdecl C::f(char const *)"},
		{NameOnly, "C::f"},
		{NameOnly | NoReturnType, "C::f"},
	}
	for _, tt := range tests {
		if got, err := DemangleWith(name, tt.f); err != nil || got != tt.want {
			t.Errorf("DemangleWith(%q, %#x) = %q, %v; want %q", name, tt.f, got, err, tt.want)
		}
	}
	if got, _ := DemangleWith("?x@C@@2PEBDEB", NoVariableType|NoAccessSpecifier); got != "static C::x" {
		t.Errorf("NoVariableType: got %q", got)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name   string
		offset int
	}{
		{"", 0},
		{"x", 0},
		{"?", 1},
		{"?x@@3", 5},
		{"?x@@3H", 6},
		{"?f@@YAXH", 8},
		{"?f@@YAX0@Z", 7},      // parameter back-reference to an empty table
		{"?f@@YAXV1@@Z", 8},    // name back-reference to an unknown name
		{"??$f@$1@@@YAXXZ", 9}, // one '@' too many before the function class
		{"??_C@_05ABCDEFGH@ab?!@", 20},
		{"?f@@YA_PXZ", 6}, // auto is not in LLVM 14's grammar
	}
	for _, tt := range tests {
		out, err := Demangle(tt.name)
		var de *Error
		if !errors.As(err, &de) {
			t.Errorf("Demangle(%q) = %q, %v; want *Error", tt.name, out, err)
			continue
		}
		if de.Offset != tt.offset || de.Name != tt.name || de.Reason == "" {
			t.Errorf("Demangle(%q): error %+v, want offset %d", tt.name, de, tt.offset)
		}
		if !strings.HasPrefix(err.Error(), "msvc: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
}

// TestBounds feeds names built to blow up: nesting beyond the recursion
// limit, and parameter back-references whose expansion doubles at each
// level. Both must fail quickly with an error, not exhaust the stack or
// memory.
func TestBounds(t *testing.T) {
	deep := "?f@@YAX" + strings.Repeat("PEA", 5000) + "H@Z"
	if _, err := Demangle(deep); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep pointer nesting: %v", err)
	}
	deepT := "?x@@3" + strings.Repeat("V?$A@", 3000) + "H" + strings.Repeat("@@", 3000) + "A"
	if _, err := Demangle(deepT); err == nil {
		t.Error("deep template nesting: no error")
	}
	// Each function pointer type takes nine parameters of the previous
	// one: the output would grow ninefold per level.
	name := "?f@@YAXPEAH"
	for i := range 9 {
		name += "P6AX" + strings.Repeat(string(rune('0'+i)), 9) + "@Z"
	}
	name += "@Z"
	out, err := Demangle(name)
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("exponential back-references: %d bytes, %v", len(out), err)
	}
	// Each parameter nests the previous one under 380 pointers; a template
	// argument list holding such a chain starts a second one: the output is
	// modest, the nesting deeper than parsing alone allows.
	chain := func(first string) string {
		s := first
		for i := range 9 {
			s += strings.Repeat("PEA", 380) + "P6AX" + string(rune('0'+i)) + "@Z"
		}
		return s
	}
	out, err = Demangle("?f@@YAX" + chain(strings.Repeat("PEA", 380)+"H") + "@Z")
	if err != nil || len(out) > 64<<10 {
		t.Errorf("chained back-references: %d bytes, %v", len(out), err)
	}
	out, err = Demangle("?f@@YAX" + chain("V?$A@P6AX"+chain(strings.Repeat("PEA", 380)+"H")+"@Z@@") + "@Z")
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("chained back-references in two contexts: %d bytes, %v", len(out), err)
	}
	// Template names are remembered as text, rendered when they are read;
	// that text is charged to the same budget.
	arg := "P6AXPEAH"
	for i := range 9 {
		arg += "P6AX" + strings.Repeat(string(rune('0'+i)), 9) + "@Z"
	}
	tmpl := "?x@@3V?$A@" + arg + "@Z@@A"
	if _, err := Demangle(tmpl); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("exponential template argument: %v", err)
	}
}

func TestIsMangled(t *testing.T) {
	for name, want := range map[string]bool{
		"?x@@3HA":                              true,
		"??0C@@QEAA@XZ":                        true,
		"??$f@H@@YAXXZ":                        true,
		"??_7C@@6B@":                           true,
		"??_C@_05CNPNBAHC@hello?$AA@":          true,
		"??@a6a285da2eea70dba6b578022be61d81@": true,
		"?":                                    false,
		"??":                                   false,
		"?foo":                                 false,
		"main":                                 false,
		"_ZN2ns1fEv":                           false,
		".?AVC@@":                              false,
		"":                                     false,
	} {
		if got := IsMangled(name); got != want {
			t.Errorf("IsMangled(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzDemangle checks that no input panics and that output stays within
// the budget proportional to the input.
func FuzzDemangle(f *testing.F) {
	for _, n := range readCorpus(f) {
		f.Add(n)
	}
	for _, tt := range goldenTests {
		f.Add(tt.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, fl := range []Flags{0, NameOnly, NoCallingConvention | NoReturnType | NoVariableType} {
			out, err := DemangleWith(name, fl)
			if err != nil {
				var de *Error
				if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(name) {
					t.Fatalf("DemangleWith(%q): bad error %v", name, err)
				}
				continue
			}
			if len(out) > budgetFor(len(name)) {
				t.Fatalf("DemangleWith(%q): %d bytes of output", name, len(out))
			}
		}
		IsMangled(name)
	})
}

func BenchmarkDemangle(b *testing.B) {
	names := readCorpus(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, n := range names {
			Demangle(n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(names)), "ns/name")
}

// BenchmarkUndname measures llvm-undname-14 on the same corpus for
// comparison: one process reading every name from stdin per iteration, which
// its start-up (tens of milliseconds) dominates, and one process reading the
// corpus fifty times, which shows its cost per name.
func BenchmarkUndname(b *testing.B) {
	names := readCorpus(b)
	path := undnamePath(b)
	for _, times := range []int{1, 50} {
		var input []string
		for range times {
			input = append(input, names...)
		}
		b.Run(fmt.Sprintf("corpus×%d", times), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				runUndname(b, path, input)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(input)), "ns/name")
		})
	}
}
