package testtools

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"testing"
)

// FreeAddr returns a loopback host:port nothing listens on, for a server
// the test is about to start (see FreePort).
func FreeAddr(t testing.TB) string {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// FreePort returns a loopback TCP port nothing listens on, for a server
// about to be started, usually as another process. It lies below the
// kernel's ephemeral range where it can: a port of that range, found by
// listening on port 0 and closing, may be given to the source of an
// outgoing connection (the test's own, to a database or another server)
// before the server binds it, which then fails with "address already in
// use". Ports below the range are only ever taken by a listener.
func FreePort() (string, error) {
	lo := ephemeralStart()
	if lo-firstPickedPort >= 1024 {
		for range 100 {
			port := firstPickedPort + rand.IntN(lo-firstPickedPort)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err == nil {
				l.Close()
				return strconv.Itoa(port), nil
			}
		}
	}
	// A low ephemeral range, or every try taken: any port the kernel
	// gives.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("testtools: a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// firstPickedPort is the lowest port FreePort picks: above the fixed ports
// of the services a machine runs (PostgreSQL, Redis, ClickHouse, MinIO,
// RabbitMQ and the like).
const firstPickedPort = 20000

// ephemeralStart returns the first port of the kernel's ephemeral range,
// or Linux's default where it cannot be read.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 32768
	}
	lo, err := strconv.Atoi(string(f[0]))
	if err != nil {
		return 32768
	}
	return lo
}
