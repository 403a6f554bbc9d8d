package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cairn-dev/cairn/config"
)

// deployDir is the repository's deploy/ directory.
const deployDir = "../../deploy"

// The documented configuration loads and validates for every role the
// compose file runs.
func TestDeployConfig(t *testing.T) {
	c, err := config.FromFile(config.Default(), filepath.Join(deployDir, "cairn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("deploy/cairn.yaml: %v", err)
	}
	st := c.Storage
	if st.Postgres == "" || len(st.Kafka) == 0 || st.ClickHouse == "" || st.S3.Bucket == "" || st.Redis == "" || len(st.Memcached) == 0 {
		t.Errorf("deploy/cairn.yaml leaves production storage unset: %+v", st)
	}
	for _, role := range config.Roles {
		c.Role = role
		if err := c.Validate(); err != nil {
			t.Errorf("role %s: %v", role, err)
		}
	}
}

// The compose file parses, runs only roles cairn knows with the mounted
// configuration, and its services are the hosts the configuration names.
func TestDeployCompose(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image      string   `yaml:"image"`
			Command    []string `yaml:"command"`
			Entrypoint []string `yaml:"entrypoint"`
			Volumes    []string `yaml:"volumes"`
			Build      struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	cfg, err := config.FromFile(config.Default(), filepath.Join(deployDir, "cairn.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for name, s := range compose.Services {
		if s.Image != "cairn:latest" {
			if s.Image == "" {
				t.Errorf("service %s has no image", name)
			}
			continue
		}
		if s.Build.Dockerfile != "" {
			if _, err := os.Stat(filepath.Join(deployDir, s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: %v", name, err)
			}
		}
		args := s.Command
		i := slices.Index(args, "--config")
		if i < 0 || i+1 == len(args) {
			t.Errorf("service %s: no --config in %q", name, args)
			continue
		}
		mounted := false
		for _, v := range s.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			dst, _, _ = strings.Cut(dst, ":")
			if dst == args[i+1] {
				mounted = true
				if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
		if !mounted {
			t.Errorf("service %s: %s is not mounted", name, args[i+1])
		}
		if len(s.Entrypoint) > 0 {
			if !slices.Equal(s.Entrypoint[1:], []string{"migrate"}) {
				t.Errorf("service %s: entrypoint %q", name, s.Entrypoint)
			}
			continue
		}
		j := slices.Index(args, "--role")
		if j < 0 || j+1 == len(args) || !slices.Contains(config.Roles, args[j+1]) {
			t.Errorf("service %s: role in %q is not one of %v", name, args, config.Roles)
			continue
		}
		roles[args[j+1]]++
	}
	want := map[string]int{"ingest": 2, "worker": 2, "snuba": 1, "symbolicator": 1, "web": 1}
	for r, n := range want {
		if roles[r] != n {
			t.Errorf("%d %s services, want %d", roles[r], r, n)
		}
	}
	// Every backend host the configuration names is a service.
	st := cfg.Storage
	hosts := []string{hostOf(st.Postgres), hostOf(st.ClickHouse), hostOf(st.S3.Endpoint), hostOf(st.Redis)}
	for _, k := range st.Kafka {
		hosts = append(hosts, hostOf(k))
	}
	for _, m := range st.Memcached {
		hosts = append(hosts, hostOf(m))
	}
	for _, h := range hosts {
		if _, ok := compose.Services[h]; !ok {
			t.Errorf("the configuration names host %q, which no service provides", h)
		}
	}
}

var hostPattern = regexp.MustCompile(`^(?:[a-z]+://)?(?:[^@/]*@)?([A-Za-z0-9.-]+)`)

// hostOf is the host of a URL or host:port[/path].
func hostOf(s string) string {
	m := hostPattern.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	return m[1]
}

// The Dockerfile builds what exists: every COPY source of the build
// context, the package it compiles, and the runtime entrypoint.
func TestDeployDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(deployDir, "..")
	stages := 0
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			stages++
		case "COPY":
			if strings.HasPrefix(f[1], "--from") || (len(f) > 2 && strings.HasPrefix(f[2], "--from")) {
				continue
			}
			for _, src := range f[1 : len(f)-1] {
				if _, err := os.Stat(filepath.Join(root, src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		case "RUN":
			if i := strings.Index(line, "./cmd/"); i >= 0 {
				pkg := strings.Fields(line[i:])[0]
				if _, err := os.Stat(filepath.Join(root, pkg, "main.go")); err != nil {
					t.Errorf("RUN builds %s: %v", pkg, err)
				}
			}
		case "USER":
			if f[1] == "root" || f[1] == "0" {
				t.Error("the runtime image runs as root")
			}
		case "ENTRYPOINT":
			if !strings.Contains(line, `"serve"`) {
				t.Errorf("ENTRYPOINT %s does not run cairn serve", line)
			}
		case "EXPOSE":
			if f[1] != "8000" {
				t.Errorf("EXPOSE %s, want 8000", f[1])
			}
		}
	}
	if stages < 2 {
		t.Errorf("%d stages, want a builder and a runtime image", stages)
	}
}
