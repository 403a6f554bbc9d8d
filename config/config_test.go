package config

import (
	"path/filepath"
	"testing"
	"time"
)

func TestFromEnv(t *testing.T) {
	env := map[string]string{"CAIRN_DATA_DIR": "/var/lib/cairn", "CAIRN_ADDR": "0.0.0.0:9000",
		"CAIRN_PUBLIC_URL": "https://crash.example.com", "CAIRN_WORKERS": "3", "CAIRN_SHUTDOWN_TIMEOUT": "5s"}
	c, err := FromEnv(Default(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/var/lib/cairn" || c.Addr != "0.0.0.0:9000" || c.PublicURL != "https://crash.example.com" ||
		c.Workers != 3 || c.ShutdownTimeout != 5*time.Second {
		t.Fatalf("config %+v", c)
	}
	if c.MetaPath() != filepath.Join("/var/lib/cairn", "meta.db") || c.BlobDir() != filepath.Join("/var/lib/cairn", "blobs") {
		t.Errorf("paths %s %s", c.MetaPath(), c.BlobDir())
	}
	for k, bad := range map[string]string{"CAIRN_WORKERS": "many", "CAIRN_SHUTDOWN_TIMEOUT": "soon"} {
		if _, err := FromEnv(Default(), func(name string) string {
			if name == k {
				return bad
			}
			return ""
		}); err == nil {
			t.Errorf("%s=%s accepted", k, bad)
		}
	}
	if d := Default(); d.DataDir != "cairn-data" || d.Addr != "127.0.0.1:8000" {
		t.Errorf("defaults %+v", d)
	}
}

func TestSymbolicatorSettings(t *testing.T) {
	env := map[string]string{"CAIRN_ROLE": "symbolicator", "CAIRN_SYMBOLICATOR_CACHE_SIZE": "256MiB",
		"CAIRN_SYMBOLICATOR_SOURCES": "/etc/cairn/sources.json"}
	c, err := FromEnv(Default(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != RoleSymbolicator || c.Symbolicator.CacheSize != 256<<20 || c.Symbolicator.SourcesFile != "/etc/cairn/sources.json" {
		t.Fatalf("config %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if c.SymbolicatorCacheDir() != filepath.Join("cairn-data", "symbolicator") {
		t.Errorf("cache dir %s", c.SymbolicatorCacheDir())
	}
	c.Role = "everything"
	if err := c.Validate(); err == nil {
		t.Error("unknown role accepted")
	}
	for in, want := range map[string]int64{"1048576": 1 << 20, "512MB": 512 << 20, "10GiB": 10 << 30, "1.5G": 3 << 29, "4k": 4096} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1G", "1X"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}
