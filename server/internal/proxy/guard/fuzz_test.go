package guard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
)

// pipeDialer hands out in-memory connections and records every address it
// is asked for; it never touches the network.
type pipeDialer struct {
	mu    sync.Mutex
	calls []string
}

func (p *pipeDialer) DialContext(_ context.Context, _, address string) (net.Conn, error) {
	p.mu.Lock()
	p.calls = append(p.calls, address)
	p.mu.Unlock()
	client, server := net.Pipe()
	_ = server.Close()
	return client, nil
}

// FuzzCheckAddr parses arbitrary strings as addresses. For every string
// that parses, the default policy must never allow an address the standard
// library considers loopback, private, link-local, unspecified or
// multicast — in any spelling, including IPv4-mapped IPv6 — and a refused
// literal must never reach the underlying dialer. Nothing may panic.
func FuzzCheckAddr(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "10.0.0.5",
		"172.16.0.1", "192.168.1.1", "fd00::1", "fe80::1%eth0", "169.254.169.254",
		"::ffff:169.254.169.254", "fd00:ec2::254", "100.64.0.1", "0.0.0.0", "::",
		"224.0.0.1", "ff02::1", "255.255.255.255", "64:ff9b::7f00:1",
		"2002:7f00:1::", "93.184.216.34", "2606:2800:220:1::1", "", "localhost",
		"0177.0.0.1", "0x7f.1", "2130706433", "127.1", "[::1]", "::ffff:0:7f00:1",
	} {
		f.Add(s)
	}
	deny := Policy{}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			// Not a literal: the dialer must resolve it (here: NXDOMAIN)
			// and never dial it.
			pd := &pipeDialer{}
			d := &Dialer{Resolver: newResolver(nil), Underlying: pd}
			if conn, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort(s, "80")); err == nil {
				_ = conn.Close()
				t.Fatalf("non-literal %q was dialed", s)
			}
			if len(pd.calls) != 0 {
				t.Fatalf("non-literal %q reached the dialer: %v", s, pd.calls)
			}
			return
		}

		class, ok := deny.CheckAddr(a)
		if ok != (class == ClassPublic) {
			t.Fatalf("CheckAddr(%s) = (%q, %v): only public may be allowed by default", a, class, ok)
		}
		u := a.WithZone("").Unmap()
		if ok && (u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsLinkLocalMulticast() ||
			u.IsInterfaceLocalMulticast() || u.IsMulticast() || u.IsUnspecified() || !u.IsGlobalUnicast()) {
			t.Fatalf("default policy allows %s (%s)", a, class)
		}
		if u.Is4() {
			mapped := netip.AddrFrom16(u.As16())
			if mc, mok := deny.CheckAddr(mapped); mc != class || mok != ok {
				t.Fatalf("%s is (%q, %v) but its mapped form %s is (%q, %v)", u, class, ok, mapped, mc, mok)
			}
		}
		// Opening loopback and private never opens metadata.
		if Classify(a) == ClassMetadata {
			if _, ok := (Policy{AllowLoopback: true, AllowPrivate: true}).CheckAddr(a); ok {
				t.Fatalf("metadata %s allowed by AllowLoopback+AllowPrivate", a)
			}
		}

		pd := &pipeDialer{}
		d := &Dialer{Resolver: newResolver(nil), Underlying: pd}
		address := net.JoinHostPort(a.String(), "80")
		conn, err := d.DialContext(context.Background(), "tcp", address)
		if conn != nil {
			_ = conn.Close()
		}
		if !ok && len(pd.calls) != 0 {
			t.Fatalf("refused %s reached the dialer: %v", a, pd.calls)
		}
		if host, _, serr := net.SplitHostPort(address); serr != nil || host != a.String() {
			// Zones can hold characters ("[", "]") that no host:port can
			// carry; such an address must simply fail to dial.
			if err == nil {
				t.Fatalf("unrepresentable %q was dialed", address)
			}
			return
		}
		var re *RefusedError
		switch {
		case ok && err != nil:
			t.Fatalf("allowed %s not dialed: %v", a, err)
		case !ok && !errors.As(err, &re):
			t.Fatalf("refused %s: error %v is not a *RefusedError", a, err)
		case !ok:
			_ = re.Error()
		}
	})
}
