package issues

import (
	"testing"
)

func mustDecode(t *testing.T, js string) *Event {
	t.Helper()
	ev, err := DecodeEvent([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	Normalize(ev, "", fixedNow)
	return ev
}

func TestGrouping(t *testing.T) {
	const (
		stackA = `{"exception":{"values":[{"type":"Crash","value":"v1","stacktrace":{"frames":[
			{"function":"start","filename":"/sys/libc.c","lineno":10,"in_app":false,"instruction_addr":"0x1000"},
			{"function":"main(int, char**)","abs_path":"/src/app/main.cc","lineno":20,"in_app":true,"instruction_addr":"0x2000"},
			{"function":"Game::Update() const","filename":"src/game.cc","lineno":30,"in_app":true,"instruction_addr":"0x3000"}]}}]}}`
		// Same in-app frames: other lines, addresses, system frames, value.
		stackASameGroup = `{"exception":{"values":[{"type":"Crash","value":"v2","stacktrace":{"frames":[
			{"function":"other_start","filename":"/sys/crt.c","in_app":false},
			{"function":"main","filename":"main.cc","lineno":99,"in_app":true,"instruction_addr":"0x9000"},
			{"function":"Game::Update","filename":"/build/src/game.cc","lineno":31,"in_app":true,"instruction_addr":"0x9100"}]}}]}}`
		stackB = `{"exception":{"values":[{"type":"Crash","value":"v1","stacktrace":{"frames":[
			{"function":"main","filename":"main.cc","in_app":true},
			{"function":"Game::Render","filename":"game.cc","in_app":true}]}}]}}`
	)
	var (
		nativeAt = func(base, addr string) string {
			return `{"platform":"native","debug_meta":{"images":[{"type":"elf","code_file":"/opt/game/libgame.so","image_addr":"` + base +
				`","image_size":65536}]},"exception":{"values":[{"type":"SIGSEGV","stacktrace":{"frames":[{"instruction_addr":"` + addr + `"}]}}]}}`
		}
	)
	cases := []struct {
		name       string
		a, b       string
		same       bool
		wantMethod string
	}{
		{"in-app frames ignore lines, addresses and system frames", stackA, stackASameGroup, true, "stacktrace"},
		{"different in-app function", stackA, stackB, false, "stacktrace"},
		{"module+offset is independent of the load address", nativeAt("0x7f0000000000", "0x7f0000001234"), nativeAt("0x550000000000", "0x550000001234"), true, "stacktrace"},
		{"module+offset differs by offset", nativeAt("0x7f0000000000", "0x7f0000001234"), nativeAt("0x7f0000000000", "0x7f0000001238"), false, "stacktrace"},
		{"exception without frames: type and parameterized value",
			`{"exception":{"values":[{"type":"KeyError","value":"user 1234 missing"}]}}`,
			`{"exception":{"values":[{"type":"KeyError","value":"user 98 missing"}]}}`, true, "exception"},
		{"exception types differ",
			`{"exception":{"values":[{"type":"KeyError","value":"x"}]}}`,
			`{"exception":{"values":[{"type":"IndexError","value":"x"}]}}`, false, "exception"},
		{"message parameterized", `{"message":"took 15 ms on 0xdeadbeef"}`, `{"message":"took 230 ms on 0x1"}`, true, "message"},
		{"message template wins over its parameters",
			`{"logentry":{"message":"user %s logged in","params":["alice"]}}`,
			`{"logentry":{"message":"user %s logged in","params":["bob"]}}`, true, "message"},
		{"different messages", `{"message":"disk full"}`, `{"message":"network down"}`, false, "message"},
		{"fingerprint {{ default }} alone equals no fingerprint", stackA, `{"fingerprint":["{{ default }}"],` + stackA[1:], true, "stacktrace"},
		{"explicit fingerprint groups different crashes", `{"fingerprint":["db-timeout"],"message":"a"}`, `{"fingerprint":["db-timeout"],"message":"b"}`, true, "fingerprint"},
		{"fingerprint with {{ default }} splits by default too",
			`{"fingerprint":["{{default}}","tenant-1"],` + stackA[1:], `{"fingerprint":["{{ default }}","tenant-1"],` + stackB[1:], false, "fingerprint"},
		{"fingerprint with {{ default }} keeps the default grouping",
			`{"fingerprint":["{{default}}","tenant-1"],` + stackA[1:], `{"fingerprint":["{{ Default }}","tenant-1"],` + stackASameGroup[1:], true, "fingerprint"},
		{"crashed thread stack when there is no exception",
			`{"platform":"native","threads":{"values":[{"id":1,"stacktrace":{"frames":[{"function":"idle"}]}},{"id":2,"crashed":true,"stacktrace":{"frames":[{"function":"boom","filename":"a.c"}]}}]}}`,
			`{"platform":"native","threads":[{"id":7,"crashed":true,"stacktrace":{"frames":[{"function":"boom","filename":"b/a.c","lineno":3}]}}]}`, true, "stacktrace"},
		{"empty events share the fallback group", `{}`, `{"level":"info"}`, true, "fallback"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ha, ga := Group(mustDecode(t, c.a))
			hb, gb := Group(mustDecode(t, c.b))
			if (ha == hb) != c.same {
				t.Errorf("same group = %v, want %v\n a: %+v\n b: %+v", ha == hb, c.same, ga, gb)
			}
			if ga.Method != c.wantMethod {
				t.Errorf("method %q, want %q (components %q)", ga.Method, c.wantMethod, ga.Components)
			}
			if len(ha) != 32 {
				t.Errorf("hash %q is not 32 hex digits", ha)
			}
		})
	}
}

func TestGroupingComponents(t *testing.T) {
	ev := mustDecode(t, `{"platform":"native","debug_meta":{"images":[{"code_file":"C:\\game\\engine.dll","image_addr":"0x10000","image_size":4096}]},
		"exception":{"values":[{"type":"X","stacktrace":{"frames":[
			{"instruction_addr":"0x99999"},
			{"instruction_addr":"0x10010","package":"C:\\game\\engine.dll"},
			{"function":"tick()","filename":"C:\\src\\loop.cpp"}]}}]}}`)
	_, g := Group(ev)
	want := []string{"<unknown>", "engine.dll+0x10", "tick (loop.cpp)"}
	if len(g.Components) != len(want) {
		t.Fatalf("components %q, want %q", g.Components, want)
	}
	for i := range want {
		if g.Components[i] != want[i] {
			t.Errorf("component %d = %q, want %q", i, g.Components[i], want[i])
		}
	}
}

func TestNormalizeFunction(t *testing.T) {
	for in, want := range map[string]string{
		"main":                 "main",
		"main(int, char**)":    "main",
		"Game::Update() const": "Game::Update",
		"std::vector<int, std::allocator<int> >::push_back(int const&)": "std::vector<T>::push_back",
		"(anonymous namespace)::Crash(int)":                             "(anonymous namespace)::Crash",
		"int __cdecl CrashFunction(void)":                               "CrashFunction",
		"app::run::h0123456789abcdef":                                   "app::run",
		"operator<<(std::ostream&, Foo const&)":                         "operator<<",
		"bool operator<(A const&, B const&)":                            "bool operator<",
		"Foo::operator()(int) &&":                                       "Foo::operator()",
		"":                                                              "",
		"  spaced  ":                                                    "spaced",
	} {
		if got := NormalizeFunction(in); got != want {
			t.Errorf("NormalizeFunction(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCrashSignature(t *testing.T) {
	images := []*DebugImage{
		{CodeFile: "/usr/lib/libc.so.6", ImageAddr: A(0x7f0000000000), ImageSize: 0x200000},
		{CodeFile: "/opt/app/game", ImageAddr: A(0x400000), ImageSize: 0x100000},
	}
	fn := func(names ...string) []*Frame {
		var out []*Frame
		for _, n := range names {
			out = append(out, &Frame{Function: n})
		}
		return out
	}
	cases := []struct {
		name   string
		frames []*Frame // oldest first
		want   string
	}{
		{"plain", fn("main", "Game::Update()"), "Game::Update"},
		{"irrelevant frames are skipped", fn("main", "Game::Update()", "abort", "raise"), "Game::Update"},
		{"prefix frames are joined", fn("main", "Parser::Load(char const*)", "strlen", "memcpy"), "memcpy | strlen | Parser::Load"},
		{"unsymbolicated frame in a module", []*Frame{{InstructionAddr: A(0x401f26)}}, "game@0x1f26"},
		{"outside every module", []*Frame{{InstructionAddr: A(0xdead)}}, "@0xdead"},
		{"libc frame skipped for its caller", []*Frame{{InstructionAddr: A(0x401000)}, {InstructionAddr: A(0x7f0000001234)}}, "game@0x1000"},
		{"only irrelevant frames keep the crashing one", fn("raise"), "raise"},
		{"templates collapse", fn("main", "Pool<Widget>::Get(int)"), "Pool<T>::Get"},
		{"no frames", nil, "@0x0"},
	}
	for _, c := range cases {
		if c.frames == nil {
			c.frames = []*Frame{{}}
		}
		if got := CrashSignature(c.frames, images); got != c.want {
			t.Errorf("%s: signature %q, want %q", c.name, got, c.want)
		}
	}
}
