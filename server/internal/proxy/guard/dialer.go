package guard

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Resolver looks up the addresses of a host. *net.Resolver implements it;
// network is "ip", "ip4" or "ip6".
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ContextDialer opens a connection. *net.Dialer implements it. The guard
// only ever passes it an IP literal address ("10.0.0.5:443", "[::1]:80").
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// RefusedError is returned when the guard refuses a connection. Callers map
// it to HTTP 403 with errors.As (it survives wrapping in *url.Error and
// *net.OpError).
type RefusedError struct {
	// Host is the host as requested: a DNS name or an IP literal.
	Host string
	// Addr is the refused address; the zero Addr when the host itself was
	// refused (an empty host, or a redirect to a host not allowed).
	Addr netip.Addr
	// Class is the reason.
	Class Class
}

// Error reads, for example,
// "refused to connect to 10.0.0.5 (private address) for host internal.example".
func (e *RefusedError) Error() string {
	if !e.Addr.IsValid() {
		host := "empty host"
		if e.Host != "" {
			host = "host " + e.Host
		}
		return fmt.Sprintf("refused to connect to %s (%s)", host, e.Class.description())
	}
	msg := fmt.Sprintf("refused to connect to %s (%s)", e.Addr, e.Class.description())
	if e.Host != "" && e.Host != e.Addr.String() {
		msg += " for host " + e.Host
	}
	return msg
}

// Dialer dials only addresses its Policy allows. The zero Dialer uses the
// zero Policy (public addresses only), net.DefaultResolver and a net.Dialer.
// A Dialer is safe for concurrent use; do not change its fields while it is
// in use.
type Dialer struct {
	Policy Policy
	// Resolver resolves names; nil means net.DefaultResolver. It is called
	// exactly once per dial of a name and never for an IP literal.
	Resolver Resolver
	// Underlying opens the connection to a checked IP literal; nil means a
	// net.Dialer (30s timeout and keep-alive, like http.DefaultTransport)
	// whose Control hook checks the address once more at connect time.
	Underlying ContextDialer
}

// DialContext resolves the host of address, refuses with a *RefusedError if
// ANY resolved address is disallowed by the policy, and otherwise dials the
// checked addresses in the resolver's order until one connects. Only "tcp",
// "tcp4" and "tcp6" are supported.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var lookupNet string
	switch network {
	case "tcp":
		lookupNet = "ip"
	case "tcp4":
		lookupNet = "ip4"
	case "tcp6":
		lookupNet = "ip6"
	default:
		return nil, fmt.Errorf("guard: unsupported network %q", network)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	if host == "" {
		// net.Dial treats an empty host as the local system.
		return nil, &RefusedError{Class: ClassUnspecified}
	}

	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = d.resolver().LookupNetIP(ctx, lookupNet, host)
		if err != nil {
			return nil, fmt.Errorf("guard: resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("guard: resolve %s: no addresses", host)
		}
	}

	// Check every address before dialing any: refusing only the bad ones
	// and dialing "the first allowed" would let a rebinding resolver steer
	// the connection by ordering its answers.
	for _, a := range addrs {
		if class, ok := d.Policy.CheckAddr(a); !ok {
			return nil, &RefusedError{Host: host, Addr: a, Class: class}
		}
	}

	dialer := d.underlying()
	var firstErr error
	seen := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		if a.Is4In6() {
			a = a.Unmap() // resolvers may return v4 answers in mapped form
		}
		if seen[a] {
			continue
		}
		seen[a] = true
		conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// Transport returns a clone of base (http.DefaultTransport when base is
// nil) that dials through d. It clears Proxy — an environment HTTP proxy
// would make the proxy's address, not the upstream's, the one dialed and
// checked — and the Dial, DialTLS and DialTLSContext hooks, which would
// bypass DialContext.
//
// Only the TCP connection is redirected to the checked IP: TLS still uses
// the URL's host for SNI and certificate verification, and the Host header
// is unchanged, so virtual hosting and certificate checks work as before.
func (d *Dialer) Transport(base *http.Transport) *http.Transport {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	t := base.Clone()
	t.Proxy = nil
	t.OnProxyConnectResponse = nil
	t.GetProxyConnectHeader = nil
	t.ProxyConnectHeader = nil
	t.Dial = nil    //nolint:staticcheck // clearing the deprecated hooks is the point
	t.DialTLS = nil //nolint:staticcheck
	t.DialTLSContext = nil
	t.DialContext = d.DialContext
	return t
}

func (d *Dialer) resolver() Resolver {
	if d.Resolver != nil {
		return d.Resolver
	}
	return net.DefaultResolver
}

func (d *Dialer) underlying() ContextDialer {
	if d.Underlying != nil {
		return d.Underlying
	}
	policy := d.Policy
	return &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		// Defence in depth: the address actually connected to is checked
		// again, in case the dial path ever changes.
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("guard: unexpected dial address %q", address)
			}
			if class, ok := policy.CheckAddr(ap.Addr()); !ok {
				return &RefusedError{Host: ap.Addr().String(), Addr: ap.Addr(), Class: class}
			}
			return nil
		},
	}
}
