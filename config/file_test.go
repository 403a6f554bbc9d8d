package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFromFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cairn.yaml")
	os.WriteFile(path, []byte(`
data_dir: /var/lib/cairn
addr: 0.0.0.0:8000
public_url: https://crash.example.com
workers: 4
shutdown_timeout: 45s
role: all
storage:
  postgres: postgres://cairn@db:5432/cairn
  kafka: [k1:9092, k2:9092]
  clickhouse: ch:9000/cairn
  s3: {endpoint: minio:9000, bucket: cairn, prefix: prod, access_key: AK, secret_key: SK, insecure: true}
  redis: redis:6379
  memcached: [mc:11211]
symbolicator:
  cache_size: 20GiB
  sources: /etc/cairn/sources.json
notify:
  smtp_host: mail
  smtp_port: 587
  backoff: 1m
`), 0o644)
	c, err := FromFile(Default(), path)
	if err != nil {
		t.Fatal(err)
	}
	st := c.Storage
	if c.DataDir != "/var/lib/cairn" || c.Workers != 4 || c.ShutdownTimeout != 45*time.Second || st.Postgres != "postgres://cairn@db:5432/cairn" ||
		len(st.Kafka) != 2 || st.ClickHouse != "ch:9000/cairn" || st.S3.Bucket != "cairn" || !st.S3.Insecure || st.Redis != "redis:6379" ||
		len(st.Memcached) != 1 || c.Symbolicator.CacheSize != 20<<30 || c.Notify.SMTPPort != 587 || c.Notify.Backoff != time.Minute {
		t.Fatalf("config %+v", c)
	}
	// The environment overrides the file.
	c, err = FromEnv(c, func(k string) string { return map[string]string{"CAIRN_ADDR": "127.0.0.1:9"}[k] })
	if err != nil || c.Addr != "127.0.0.1:9" || c.DataDir != "/var/lib/cairn" {
		t.Fatalf("env over file: %+v %v", c, err)
	}
	for bad, want := range map[string]string{
		"stroage: {}\n":                      "field stroage not found",
		"shutdown_timeout: soon\n":           "want a duration",
		"symbolicator: {cache_size: lots}\n": "cache_size",
	} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := FromFile(Default(), path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error about %q", bad, err, want)
		}
	}
}
