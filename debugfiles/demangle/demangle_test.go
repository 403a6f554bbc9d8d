package demangle

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

var samples = []string{
	"_ZN2ns5Klass6methodEi",
	"_ZNSt6vectorIiSaIiEE9push_backERKi",
	"_ZZ4mainENKUlvE_clEv",
	"_ZN4core9panicking5panic17h0ba7146865b2f9d6E",
	"_ZL11static_funcv",
	"_Z3fooIiEvT_",
	"main",
	"_ZNK3foo3barEv",
}

// TestAgainstCxxfilt compares full demangling with GNU c++filt.
func TestAgainstCxxfilt(t *testing.T) {
	path, err := exec.LookPath("c++filt")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("c++filt not found (apt-get install binutils)")
		}
		t.Skip("c++filt not found; apt-get install binutils")
	}
	cmd := exec.Command(path)
	cmd.Stdin = strings.NewReader(strings.Join(samples, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for i := 0; sc.Scan(); i++ {
		want := sc.Text()
		if strings.HasPrefix(samples[i], "_ZN4core") {
			// c++filt keeps Rust's hash suffix; Rust-aware demanglers drop it.
			continue
		}
		if got := Demangle(samples[i], Full); got != want {
			t.Errorf("Demangle(%q) = %q, c++filt %q", samples[i], got, want)
		}
	}
}

func TestNoParams(t *testing.T) {
	tests := map[string]string{
		"_ZN2ns5Klass6methodEi":                        "ns::Klass::method",
		"__ZN2ns5Klass6methodEi":                       "ns::Klass::method",
		"_ZN4core9panicking5panic17h0ba7146865b2f9d6E": "core::panicking::panic",
		"main":      "main",
		"_Zgarbage": "_Zgarbage",
	}
	for in, want := range tests {
		if got := Demangle(in, NoParams); got != want {
			t.Errorf("Demangle(%q, NoParams) = %q, want %q", in, got, want)
		}
	}
}

// TestMSVC checks that decorated names reach the msvc package and that
// names it rejects come back unchanged.
func TestMSVC(t *testing.T) {
	tests := []struct {
		name  string
		style Style
		want  string
	}{
		{"?f@C@ns@@QEBAHH@Z", Full, "public: int __cdecl ns::C::f(int) const"},
		{"?f@C@ns@@QEBAHH@Z", NoParams, "ns::C::f"},
		{"??$max@H@@YAHHH@Z", NoParams, "max"},
		{"?push_back@?$vector@HV?$allocator@H@std@@@std@@QEAAXAEBH@Z", NoParams,
			"std::vector<int, class std::allocator<int>>::push_back"},
		{"?x@@3HA", Full, "int x"},
		{"??_7C@@6B@", NoParams, "const C::`vftable'"},
		{"?f@@YAXH", Full, "?f@@YAXH"},
		{"?garbage", NoParams, "?garbage"},
	}
	for _, tt := range tests {
		if got := Demangle(tt.name, tt.style); got != tt.want {
			t.Errorf("Demangle(%q, %d) = %q, want %q", tt.name, tt.style, got, tt.want)
		}
	}
	if !IsMangled("??0C@@QEAA@XZ") || IsMangled("?") || IsMangled("main") {
		t.Error("IsMangled does not recognise MSVC names")
	}
}

func FuzzDemangle(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Add("?f@C@ns@@QEBAHH@Z")
	f.Fuzz(func(t *testing.T, s string) {
		Demangle(s, Full)
		Demangle(s, NoParams)
	})
}
