package clickhouse

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
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
)

// installCommand installs the server the tests start.
const installCommand = "apt-get install -y clickhouse-server"

// testServer is a ClickHouse server run as a plain process on a temporary
// directory and free loopback ports, for the whole test binary.
type testServer struct {
	bin    string
	args   []string
	dir    string
	config string
	addr   string // native protocol host:port
	cmd    *exec.Cmd
	logs   bytes.Buffer
}

// findServer returns the server binary and the arguments that select its
// server mode: $CAIRN_CLICKHOUSE_SERVER, then Debian's clickhouse-server,
// then the single clickhouse binary of the upstream packages.
func findServer() (string, []string, bool) {
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

// freePort returns a loopback port nothing listens on.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
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

// newTestServer writes a config for a server under dir, from the packaged
// one: data, logs and temporary paths moved into dir and ports replaced.
func newTestServer(bin string, args []string, dir string) (*testServer, error) {
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
		if ports[name], err = freePort(); err != nil {
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
	return &testServer{bin: bin, args: args, dir: dir, config: conf, addr: "127.0.0.1:" + ports["tcp_port"]}, nil
}

// start runs the server and waits until it answers a ping.
func (s *testServer) start() error {
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
			s.stop()
			return fmt.Errorf("clickhouse-server did not answer: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *testServer) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := ch.Open(&ch.Options{Addr: []string{s.addr}, DialTimeout: time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Ping(ctx)
}

// stop terminates the server and waits until its port is free again.
func (s *testServer) stop() {
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
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(100 * time.Millisecond)
	}
}
