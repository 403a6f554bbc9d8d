package sources

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrForbiddenAddress reports a connection refused by the SSRF guard.
var ErrForbiddenAddress = errors.New("sources: address not allowed")

// forbidden reports whether a source URL may not reach ip: loopback,
// private (RFC 1918, RFC 4193), link-local (including cloud metadata at
// 169.254.169.254), CGNAT, unspecified and multicast addresses. Source URLs
// come from API requests, so without this a request could make Cairn probe
// its own network.
func forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	return cgnat.Contains(ip)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// guardControl is a net.Dialer Control function: it runs after name
// resolution for every address actually dialled, so a host name that
// resolves (or re-resolves, as in DNS rebinding) to an internal address is
// refused at connect time, not only when the URL is checked.
func guardControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrForbiddenAddress, address, err)
	}
	if forbidden(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	return nil
}

// NewDialer returns the dialer HTTP sources use; unless allowPrivate is set
// it refuses internal addresses.
func NewDialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{}
	if !allowPrivate {
		d.Control = guardControl
	}
	return d
}
