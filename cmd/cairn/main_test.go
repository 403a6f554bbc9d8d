package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil || !strings.HasPrefix(out, "cairn ") {
		t.Fatalf("version: %q, %v", out, err)
	}
}

func TestMinidumpDump(t *testing.T) {
	const dump = "../../minidump/testdata/synthetic/arm64-linux.dmp"
	out, err := run(t, "minidump", "dump", dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SIGSEGV /SEGV_MAPERR", "/usr/bin/game", "efbeadde-0201-0403-0506-0708090a0b0c", `"render"`} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "minidump", "dump", "--json", dump)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Exception struct {
			CrashReason string `json:"crash_reason"`
			Address     string `json:"address"`
		} `json:"exception"`
		Modules []struct {
			DebugID         string `json:"debug_id"`
			BreakpadDebugID string `json:"breakpad_debug_id"`
			CodeID          string `json:"code_id"`
		} `json:"modules"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	if v.Exception.CrashReason != "SIGSEGV /SEGV_MAPERR" || v.Exception.Address != "0x55551234" {
		t.Errorf("exception = %+v", v.Exception)
	}
	if len(v.Modules) != 1 || v.Modules[0].BreakpadDebugID != "EFBEADDE0201040305060708090A0B0C0" || v.Modules[0].CodeID != "deadbeef0102030405060708090a0b0c0d0e0f10" {
		t.Errorf("modules = %+v", v.Modules)
	}
}

func TestMinidumpDumpErrors(t *testing.T) {
	if _, err := run(t, "minidump", "dump", "main.go"); err == nil || !strings.Contains(err.Error(), "not a minidump") {
		t.Errorf("non-minidump: err = %v", err)
	}
	if _, err := run(t, "minidump", "dump", "/nonexistent.dmp"); err == nil {
		t.Error("missing file: no error")
	}
}
