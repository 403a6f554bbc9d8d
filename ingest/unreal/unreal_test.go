package unreal_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/ingest/unreal"
	"github.com/cairn-dev/cairn/ingest/unreal/unrealtest"
)

var sampleFiles = []unrealtest.File{
	{Name: "UE4Minidump.dmp", Data: append([]byte("MDMP\x93\xa7\x00\x00"), bytes.Repeat([]byte{1}, 64)...)},
	{Name: "CrashContext.runtime-xml", Data: []byte(sampleContext)},
	{Name: "MyGame.log", Data: []byte(sampleLog)},
	{Name: "CrashReportClient.ini", Data: []byte("[General]\nbAgreeToCrashUpload=true\n")},
	{Name: "notes.bin", Data: nil},
}

const sampleContext = `<?xml version="1.0" encoding="UTF-8"?>
<FGenericCrashContext>
	<RuntimeProperties>
		<CrashGUID>UE4CC-Windows-63456D684167A5A1E2CA4B8A7C0A7E11_0000</CrashGUID>
		<ProcessId>2848</ProcessId>
		<IsAssert>false</IsAssert>
		<EngineVersion>4.27.2-18319896+++UE4+Release-4.27</EngineVersion>
		<UserName>player &amp; co</UserName>
		<Misc.OSVersionMinor />
		<CrashVersion>3</CrashVersion>
	</RuntimeProperties>
	<PlatformProperties>
		<PlatformIsRunningWindows>1</PlatformIsRunningWindows>
	</PlatformProperties>
	<EngineData>
		<RHI.RHIName>D3D12</RHI.RHIName>
	</EngineData>
	<GameData>
		<Level>Arena</Level>
	</GameData>
</FGenericCrashContext>
`

const sampleLog = "Log file open, 10/29/18 17:56:37\r\n" +
	"LogInit: Display: Running engine for game: MyGame\r\n" +
	"[2018.10.29-16.56.38:332][  0]LogGameplayTags: Display: DoneAddingNativeTags\r\n" +
	"\r\n" +
	"[2018.10.29-16.56.39:001][ 12]LogWindows: Error: Failed to load 'aqProf.dll' (GetLastError=126)\r\n" +
	"free text without a category\r\n"

func TestParseBothLayouts(t *testing.T) {
	for _, layout := range []unrealtest.Layout{unrealtest.CR1, unrealtest.Legacy} {
		arch := unrealtest.Archive(layout, "Dir", "Name", sampleFiles)
		c, err := unreal.Parse(unrealtest.Compress(arch), 1<<20)
		if err != nil {
			t.Fatalf("layout %d: %v", layout, err)
		}
		if c.Directory != "Dir" || c.Name != "Name" {
			t.Errorf("layout %d: header %q %q", layout, c.Directory, c.Name)
		}
		if len(c.Files) != len(sampleFiles) {
			t.Fatalf("layout %d: %d files, want %d", layout, len(c.Files), len(sampleFiles))
		}
		for i, f := range c.Files {
			if f.Name != sampleFiles[i].Name || !bytes.Equal(f.Data, sampleFiles[i].Data) || f.Index != i {
				t.Errorf("layout %d: file %d = %q (%d bytes), want %q", layout, i, f.Name, len(f.Data), sampleFiles[i].Name)
			}
		}
		kinds := []unreal.Kind{unreal.KindMinidump, unreal.KindContext, unreal.KindLog, unreal.KindConfig, unreal.KindOther}
		for i, k := range kinds {
			if got := c.Files[i].Kind(); got != k {
				t.Errorf("file %q kind %d, want %d", c.Files[i].Name, got, k)
			}
		}
		if c.File(unreal.KindContext) == nil || c.File(unreal.KindAppleCrashReport) != nil {
			t.Errorf("File(kind) lookup wrong")
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := unrealtest.Archive(unrealtest.CR1, "d", "n", sampleFiles)
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not zlib", []byte("PK\x03\x04 not a crash")},
		{"truncated archive", unrealtest.Compress(good[:len(good)-10])},
		{"trailing data", unrealtest.Compress(append(append([]byte{}, good...), 1, 2, 3))},
		{"huge file count", unrealtest.Compress([]byte("CR1\x01\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\x7f"))},
		{"negative length", unrealtest.Compress(unrealtest.Archive(unrealtest.CR1, "d", "n", nil)[:3])},
		{"legacy too short", unrealtest.Compress([]byte{1, 2})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := unreal.Parse(tt.in, 1<<20); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestParseLimit(t *testing.T) {
	big := unrealtest.Report(unrealtest.File{Name: "zeros.bin", Data: make([]byte, 4<<20)})
	if _, err := unreal.Parse(big, 1<<20); !errors.Is(err, unreal.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if _, err := unreal.Parse(big, 8<<20); err != nil {
		t.Fatal(err)
	}
}

func TestParseContext(t *testing.T) {
	c, err := unreal.ParseContext([]byte(sampleContext))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := unreal.Get(c.RuntimeProperties, "UserName"); v != "player & co" {
		t.Errorf("UserName = %q", v)
	}
	if v, ok := unreal.Get(c.RuntimeProperties, "Misc.OSVersionMinor"); !ok || v != "" {
		t.Errorf("empty element = %q, %v", v, ok)
	}
	if v, _ := unreal.Get(c.EngineData, "RHI.RHIName"); v != "D3D12" {
		t.Errorf("RHI.RHIName = %q", v)
	}
	if v, _ := unreal.Get(c.GameData, "Level"); v != "Arena" {
		t.Errorf("Level = %q", v)
	}
	if v, _ := unreal.Get(c.PlatformProperties, "PlatformIsRunningWindows"); v != "1" {
		t.Errorf("PlatformIsRunningWindows = %q", v)
	}
	if len(c.RuntimeProperties) != 7 {
		t.Errorf("%d runtime properties, want 7", len(c.RuntimeProperties))
	}
	if _, err := unreal.ParseContext([]byte("<a><b>")); err == nil {
		t.Error("unterminated XML accepted")
	}
}

func TestParseLogs(t *testing.T) {
	logs := unreal.ParseLogs([]byte(sampleLog), 100)
	if len(logs) != 4 {
		t.Fatalf("%d entries, want 4: %+v", len(logs), logs)
	}
	opened := time.Date(2018, 10, 29, 17, 56, 37, 0, time.UTC)
	want := []unreal.LogEntry{
		{Time: opened, Component: "LogInit", Message: "Running engine for game: MyGame"},
		{Time: time.Date(2018, 10, 29, 16, 56, 38, 332e6, time.UTC), Component: "LogGameplayTags", Message: "DoneAddingNativeTags"},
		{Time: time.Date(2018, 10, 29, 16, 56, 39, 1e6, time.UTC), Component: "LogWindows", Level: "error", Message: "Failed to load 'aqProf.dll' (GetLastError=126)"},
		{Time: opened, Message: "free text without a category"},
	}
	for i := range want {
		if logs[i] != want[i] {
			t.Errorf("entry %d = %+v\nwant %+v", i, logs[i], want[i])
		}
	}
	tail := unreal.ParseLogs([]byte(sampleLog), 2)
	if len(tail) != 2 || tail[1].Message != "free text without a category" {
		t.Errorf("tail = %+v", tail)
	}
	// A UTF-16LE log with a byte-order mark.
	u16 := []byte{0xff, 0xfe}
	for _, r := range "LogCore: Warning: hi\n" {
		u16 = append(u16, byte(r), 0)
	}
	got := unreal.ParseLogs(u16, 10)
	if len(got) != 1 || got[0].Component != "LogCore" || got[0].Level != "warning" || got[0].Message != "hi" {
		t.Errorf("utf16 = %+v", got)
	}
	if unreal.ParseLogs(nil, 10) != nil || len(unreal.ParseLogs([]byte("Log file open, 10/29/18 17:56:37"), 10)) != 0 {
		t.Error("empty logs produced entries")
	}
	many := strings.Repeat("LogX: line\n", 100000)
	if n := len(unreal.ParseLogs([]byte(many), 100)); n != 100 {
		t.Errorf("%d entries from a long log, want 100", n)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(unrealtest.Archive(unrealtest.CR1, "d", "n", sampleFiles))
	f.Add(unrealtest.Archive(unrealtest.Legacy, "d", "n", sampleFiles))
	f.Add([]byte("CR1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := unreal.ParseArchive(b)
		if err != nil {
			return
		}
		var total int
		for _, file := range c.Files {
			total += len(file.Data)
			_ = file.Kind()
		}
		if total > len(b) {
			t.Fatalf("files hold %d bytes, archive has %d", total, len(b))
		}
		// The same archive compressed parses the same, within a limit of
		// its own size.
		if _, err := unreal.Parse(unrealtest.Compress(b), int64(len(b))); err != nil {
			t.Fatalf("compressed parse failed where plain parse succeeded: %v", err)
		}
	})
}

func FuzzContextAndLogs(f *testing.F) {
	f.Add([]byte(sampleContext))
	f.Add([]byte(sampleLog))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = unreal.ParseContext(b)
		if n := len(unreal.ParseLogs(b, 50)); n > 50 {
			t.Fatalf("%d log entries, limit 50", n)
		}
	})
}
