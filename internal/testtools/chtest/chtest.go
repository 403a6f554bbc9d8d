// Package chtest runs a ClickHouse server for tests: Debian's
// clickhouse-server as a plain process on a temporary directory and free
// loopback ports, from a copy of the packaged configuration.
package chtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/cairn-dev/cairn/internal/testtools"
)

// Install installs the server the tests start.
const Install = "apt-get install -y clickhouse-server"

// Server is a ClickHouse server run as a plain process on a temporary
// directory and free loopback ports.
type Server struct {
	// Addr is the native protocol's host:port.
	Addr   string
	bin    string
	args   []string
	dir    string
	config string
	cmd    *exec.Cmd
	logs   bytes.Buffer
}

// Find returns the server binary and the arguments that select its
// server mode: $CAIRN_CLICKHOUSE_SERVER, then Debian's clickhouse-server,
// then the single clickhouse binary of the upstream packages.
func Find() (string, []string, bool) {
	if p := os.Getenv("CAIRN_CLICKHOUSE_SERVER"); p != "" {
		return p, nil, true
	}
	for _, p := range []string{"/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil, true
		}
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return p, nil, true
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return p, []string{"server"}, true
	}
	return "", nil, false
}

// ipv6Loopback reports whether ::1 can be listened on; the stock config
// listens on it and the server refuses to start where IPv6 is off.
func ipv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// New writes a config for a server under dir, from the packaged one: data,
// logs and temporary paths moved into dir and ports replaced. bin and args
// are what Find returned.
func New(bin string, args []string, dir string) (*Server, error) {
	const etc = "/etc/clickhouse-server"
	cfg, err := os.ReadFile(filepath.Join(etc, "config.xml"))
	if err != nil {
		return nil, err
	}
	users, err := os.ReadFile(filepath.Join(etc, "users.xml"))
	if err != nil {
		return nil, err
	}
	ports := map[string]string{}
	for _, name := range []string{"http_port", "tcp_port", "interserver_http_port"} {
		if ports[name], err = testtools.FreePort(); err != nil {
			return nil, err
		}
	}
	text := string(cfg)
	text = strings.ReplaceAll(text, "/var/lib/clickhouse/", filepath.Join(dir, "data")+"/")
	text = strings.ReplaceAll(text, "/var/log/clickhouse-server/", filepath.Join(dir, "log")+"/")
	for name, port := range ports {
		i := strings.Index(text, "<"+name+">")
		j := strings.Index(text, "</"+name+">")
		if i < 0 || j < i {
			return nil, fmt.Errorf("config.xml has no <%s>", name)
		}
		text = text[:i] + "<" + name + ">" + port + text[j:]
	}
	if !ipv6Loopback() {
		text = strings.ReplaceAll(text, "<listen_host>::1</listen_host>", "")
	}
	conf := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), users, 0o644); err != nil {
		return nil, err
	}
	return &Server{bin: bin, args: args, dir: dir, config: conf, Addr: "127.0.0.1:" + ports["tcp_port"]}, nil
}

// Start runs the server and waits until it answers a ping.
func (s *Server) Start() error {
	s.logs.Reset()
	cmd := exec.Command(s.bin, append(slices.Clone(s.args), "--config-file="+s.config)...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = &s.logs, &s.logs
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			s.cmd = nil
			return fmt.Errorf("clickhouse-server exited (%v): %s", werr, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("clickhouse-server did not answer: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := ch.Open(&ch.Options{Addr: []string{s.Addr}, DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Ping(ctx)
}

// Stop terminates the server and waits until its port is free again.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	p := s.cmd.Process
	s.cmd = nil
	_ = p.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if err := p.Signal(syscall.Signal(0)); errors.Is(err, os.ErrProcessDone) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = p.Kill()
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(100 * time.Millisecond)
	}
}

// Start is a server for one test, stopped when it ends. A missing server
// binary skips the test naming the install command (fails it under CI).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, args, ok := Find()
	if !ok {
		testtools.Missing(t, "clickhouse-server", Install)
	}
	s, err := New(bin, args, t.TempDir())
	if err != nil {
		t.Fatalf("clickhouse-server: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("clickhouse-server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}
