package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cairn-dev/cairn/ingest/unreal/unrealtest"
)

const unrealPath = "/api/1/unreal/" + keyMain + "/"

const unrealContextXML = `<?xml version="1.0" encoding="UTF-8"?>
<FGenericCrashContext>
	<RuntimeProperties>
		<CrashVersion>3</CrashVersion>
		<CrashGUID>UE4CC-Windows-379993BB42BD8FBED67986857D8844B5_0000</CrashGUID>
		<ProcessId>12345</ProcessId>
		<IsInternalBuild>false</IsInternalBuild>
		<IsEnsure>true</IsEnsure>
		<CrashType>Ensure</CrashType>
		<GameName>UE4-ShooterGame</GameName>
		<ExecutableName>ShooterGame</ExecutableName>
		<BuildConfiguration>Development</BuildConfiguration>
		<PlatformName>WindowsNoEditor</PlatformName>
		<EngineVersion>4.27.2-18319896+++UE4+Release-4.27</EngineVersion>
		<BuildVersion>++UE4+Release-4.27-CL-18319896</BuildVersion>
		<UserName>bruno</UserName>
		<MachineId>C52DC39DDAF35E36A8D3BF5F53A5D38F</MachineId>
		<LoginId>ebff51ef3c4878627823eebd9ff40eb4</LoginId>
		<UserDescription>It crashed when I jumped</UserDescription>
		<ErrorMessage>Access violation - code c0000005 (first/second chance not available)</ErrorMessage>
		<MemoryStats.TotalPhysical>6896832512</MemoryStats.TotalPhysical>
		<Misc.OSVersionMajor>Windows 10</Misc.OSVersionMajor>
		<Misc.OSVersionMinor />
		<Misc.PrimaryGPUBrand>Parallels Display Adapter (WDDM)</Misc.PrimaryGPUBrand>
		<CrashReportClientVersion>1.0</CrashReportClientVersion>
		<Modules>C:\Game\ShooterGame.exe</Modules>
	</RuntimeProperties>
	<EngineData>
		<RHI.RHIName>D3D12</RHI.RHIName>
		<RHI.AdapterName>NVIDIA GeForce RTX 4060 Laptop GPU</RHI.AdapterName>
		<RHI.GPUVendor>NVIDIA</RHI.GPUVendor>
	</EngineData>
	<GameData>
		<Map>Highrise</Map>
	</GameData>
	<PlatformProperties>
		<PlatformIsRunningWindows>1</PlatformIsRunningWindows>
	</PlatformProperties>
</FGenericCrashContext>
`

func unrealLog(lines int) []byte {
	var b bytes.Buffer
	b.WriteString("Log file open, 10/29/18 17:56:37\r\n")
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&b, "[2018.10.29-16.56.%02d:%03d][%3d]LogTemp: Display: line %d\r\n", i/1000%60, i%1000, i%1000, i)
	}
	b.WriteString("[2018.10.29-16.57.00:000][999]LogWindows: Error: === Critical error: ===\r\n")
	return b.Bytes()
}

func TestUnreal(t *testing.T) {
	dump := peerDump(t, "breakpad/minidump2.dmp")
	files := []unrealtest.File{
		{Name: "CrashContext.runtime-xml", Data: []byte(unrealContextXML)},
		{Name: "CrashReportClient.ini", Data: []byte("[CrashReportClient]\nbAllowToBeContacted=true\n")},
		{Name: "ShooterGame.log", Data: unrealLog(300)},
		{Name: "UE4Minidump.dmp", Data: dump},
		{Name: "screenshot.png", Data: []byte("\x89PNG\r\n")},
	}
	for _, layout := range []unrealtest.Layout{unrealtest.CR1, unrealtest.Legacy} {
		t.Run(fmt.Sprint("layout", layout), func(t *testing.T) {
			body := unrealtest.Compress(unrealtest.Archive(layout, "CrashReport-UE4-ShooterGame", "UE4CC-Windows-379993BB", files))
			e := newEnv(t, nil)
			w := e.do(req{path: unrealPath + "?AppID=ShooterGame&AppVersion=1.0&UserID=login1|epic1|machine1", header: map[string]string{
				"Content-Type": "application/octet-stream", "User-Agent": "CrashReportClient/++UE4+Release-4.27",
			}, body: body})
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, w.Body.String())
			}
			a := e.sink.last(t)
			if w.Body.String() != dashedEventID(a.EventID) {
				t.Fatalf("response %q", w.Body.String())
			}
			ev := decodeEvent(t, a.Event)
			want := map[string]any{
				"logentry.formatted":                     "Access violation - code c0000005 (first/second chance not available)",
				"level":                                  "warning",
				"platform":                               "native",
				"user.id":                                "login1",
				"user.username":                          "bruno",
				"tags.epic_account_id":                   "epic1",
				"tags.machine_id":                        "machine1",
				"tags.engine_version":                    "4.27.2-18319896+++UE4+Release-4.27",
				"tags.game_name":                         "UE4-ShooterGame",
				"contexts.device.memory_size":            json.Number("6896832512"),
				"contexts.os.raw_description":            "Windows 10",
				"contexts.gpu.name":                      "NVIDIA GeForce RTX 4060 Laptop GPU",
				"contexts.gpu.api_type":                  "D3D12",
				"contexts.gpu.vendor_name":               "NVIDIA",
				"contexts.game.Map":                      "Highrise",
				"contexts.unreal.crash_guid":             "UE4CC-Windows-379993BB42BD8FBED67986857D8844B5_0000",
				"contexts.unreal.engine_version":         "4.27.2-18319896+++UE4+Release-4.27",
				"contexts.unreal.build_version":          "++UE4+Release-4.27-CL-18319896",
				"contexts.unreal.machine_id":             "C52DC39DDAF35E36A8D3BF5F53A5D38F",
				"contexts.unreal.process_id":             json.Number("12345"),
				"contexts.unreal.is_ensure":              true,
				"contexts.unreal.misc_primary_gpu_brand": "Parallels Display Adapter (WDDM)",
				"contexts.unreal.custom.CrashVersion":    "3",
				"sdk.name":                               "unreal.crashreporter",
				"sdk.version":                            "1.0",
			}
			for path, v := range want {
				if got := dig(ev, strings.Split(path, ".")...); got != v {
					t.Errorf("%s = %#v, want %#v", path, got, v)
				}
			}
			for _, gone := range []string{"username", "error_message", "modules", "user_description", "misc_os_version_minor", "memory_stats_total_physical"} {
				if dig(ev, "contexts", "unreal", gone) != nil {
					t.Errorf("contexts.unreal.%s should have been moved or dropped", gone)
				}
			}
			crumbs, _ := dig(ev, "breadcrumbs", "values").([]any)
			if len(crumbs) != 100 {
				t.Fatalf("%d breadcrumbs, want the last 100 log lines", len(crumbs))
			}
			last := crumbs[99].(map[string]any)
			if last["category"] != "LogWindows" || last["level"] != "error" || last["message"] != "=== Critical error: ===" || last["timestamp"] != "2018-10-29T16:57:00Z" {
				t.Fatalf("last breadcrumb %v", last)
			}
			types := map[string]string{}
			for _, at := range a.Attachments {
				types[at.Name] = at.Type
			}
			wantTypes := map[string]string{
				"CrashContext.runtime-xml": "unreal.context", "CrashReportClient.ini": "event.attachment",
				"ShooterGame.log": "unreal.logs", "UE4Minidump.dmp": "event.minidump", "screenshot.png": "event.attachment",
			}
			for n, ty := range wantTypes {
				if types[n] != ty {
					t.Errorf("attachment %s: type %q, want %q", n, types[n], ty)
				}
			}
			if len(a.Items) != 1 || a.Items[0].Type != "user_report" {
				t.Fatalf("items %+v", a.Items)
			}
			var report map[string]any
			_ = json.Unmarshal(a.Items[0].Payload, &report)
			if report["event_id"] != a.EventID || report["comments"] != "It crashed when I jumped" || report["name"] != "bruno" {
				t.Fatalf("user report %v", report)
			}
		})
	}
}

func TestUnrealSentryPayload(t *testing.T) {
	ctx := `<FGenericCrashContext><RuntimeProperties><IsAssert>1</IsAssert><ErrorMessage>assert</ErrorMessage></RuntimeProperties>` +
		`<GameData><__sentry>{"event_id":"0123456789abcdef0123456789abcdef","release":"game@7","level":"fatal","message":"explicit"}</__sentry></GameData></FGenericCrashContext>`
	e := newEnv(t, nil)
	w := e.do(req{path: unrealPath, body: unrealtest.Report(unrealtest.File{Name: "CrashContext.runtime-xml", Data: []byte(ctx)})})
	if w.Code != 200 || w.Body.String() != "01234567-89ab-cdef-0123-456789abcdef" {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	ev := decodeEvent(t, e.sink.last(t).Event)
	if ev["release"] != "game@7" || ev["level"] != "fatal" || ev["logentry"] != nil || dig(ev, "contexts", "game") != nil {
		t.Fatalf("event %v", ev)
	}
}

func TestUnrealErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		body    []byte
		mod     func(*Config)
		status  int
		errLike string
	}{
		{"unknown key", "/api/1/unreal/ffffffffffffffffffffffffffffffff/", unrealtest.Report(), nil, 401, "unknown"},
		{"key of another project", "/api/1/unreal/" + keyOtherProj + "/", unrealtest.Report(), nil, 401, "project 1"},
		{"empty body", unrealPath, nil, nil, 400, "empty"},
		{"not zlib", unrealPath, []byte("not a crash report"), nil, 400, "invalid unreal crash report"},
		{"truncated archive", unrealPath, unrealtest.Compress([]byte("CR1\x05\x00\x00\x00ab")), nil, 400, "invalid unreal crash report"},
		{"bad context XML", unrealPath, unrealtest.Report(unrealtest.File{Name: "CrashContext.runtime-xml", Data: []byte("<a><b>")}), nil, 400, "CrashContext.runtime-xml"},
		{"zlib bomb", unrealPath, unrealtest.Report(unrealtest.File{Name: "big.bin", Data: make([]byte, 4<<20)}), func(c *Config) { c.MaxEnvelopeSize = 1 << 20 }, 413, "after decompression"},
		{"oversized file", unrealPath, unrealtest.Report(unrealtest.File{Name: "big.bin", Data: make([]byte, 3000)}), func(c *Config) { c.MaxAttachmentSize = 2000 }, 413, `"big.bin"`},
		{"oversized body", unrealPath, bytes.Repeat([]byte{1}, 3000), func(c *Config) { c.MaxAttachmentSize = 2000 }, 413, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mod)
			w := e.do(req{path: tt.path, body: tt.body})
			if w.Code != tt.status {
				t.Fatalf("%d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
			mustContain(t, detail(t, w), tt.errLike)
		})
	}
}

func TestUnrealRateLimited(t *testing.T) {
	e := newEnv(t, nil)
	path := "/api/1/unreal/" + keyLimited + "/"
	for i := 0; i < 3; i++ {
		w := e.do(req{path: path, body: unrealtest.Report()})
		if w.Code != http.StatusOK {
			t.Fatalf("report %d: %d", i, w.Code)
		}
		if i == 2 && w.Header().Get("X-Sentry-Rate-Limits") == "" {
			t.Fatal("no rate-limit header on the dropped report")
		}
	}
	if n := len(e.sink.all()); n != 2 {
		t.Fatalf("%d reports stored, want 2", n)
	}
}
