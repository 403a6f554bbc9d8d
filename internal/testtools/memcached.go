package testtools

import (
	"net"
	"os/exec"
	"testing"
	"time"
)

// StartMemcached runs a private memcached on a free loopback port for the
// test and returns its host:port. A missing server skips the test (fails
// it under CI).
func StartMemcached(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		Missing(t, "memcached", "apt-get install memcached")
	}
	addr := FreeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-l", host, "-p", port, "-U", "0", "-m", "64", "-u", "nobody")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("memcached did not listen on %s", addr)
	return ""
}
