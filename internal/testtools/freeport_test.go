package testtools

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePort takes ports one after the other: each must be one a server
// can listen on, and lie below the kernel's ephemeral range (where the
// range leaves room), so that no outgoing connection can be given it.
func TestFreePort(t *testing.T) {
	lo := ephemeralStart()
	for range 50 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			t.Fatalf("port %q is not a number", port)
		}
		if lo-firstPickedPort >= 1024 && (n < firstPickedPort || n >= lo) {
			t.Errorf("port %d is outside [%d, %d), below the ephemeral range", n, firstPickedPort, lo)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			t.Fatalf("port %d cannot be listened on: %v", n, err)
		}
		l.Close()
	}
	if a := FreeAddr(t); a == "" {
		t.Error("FreeAddr gave no address")
	}
}
