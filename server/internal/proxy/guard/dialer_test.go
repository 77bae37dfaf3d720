package guard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
)

// The names every dial test can resolve. Only the fake resolver knows them.
var testNames = map[string][]string{
	"public.example":   {"93.184.216.34"},
	"public6.example":  {"2606:2800:220:1:248:1893:25c8:1946"},
	"dual.example":     {"2606:2800:220:1:248:1893:25c8:1946", "93.184.216.34"},
	"internal.example": {"10.0.0.5"},
	"corp.example":     {"172.16.8.9"},
	"home.example":     {"192.168.1.10"},
	"ula.example":      {"fd00::5"},
	"cgnat.example":    {"100.64.0.7"},
	"meta.example":     {"169.254.169.254"},
	"meta6.example":    {"fd00:ec2::254"},
	"ll.example":       {"169.254.10.10"},
	"ll6.example":      {"fe80::1"},
	"loop.example":     {"127.0.0.1"},
	"loop6.example":    {"::1"},
	"v6.example":       {"::ffff:127.0.0.1"},
	"mapped10.example": {"::ffff:10.0.0.5"},
	"nat64.example":    {"64:ff9b::7f00:1"},
	"6to4.example":     {"2002:a9fe:a9fe::1"},
	"zero.example":     {"0.0.0.0"},
	"mcast.example":    {"224.0.0.251"},
	"bcast.example":    {"255.255.255.255"},
	"mixed.example":    {"93.184.216.34", "127.0.0.1"},
	"mixed2.example":   {"93.184.216.34", "2606:2800:220:1::1", "10.0.0.5"},
	"mixedv6.example":  {"2606:2800:220:1::1", "::ffff:169.254.169.254"},
	"empty.example":    {},
}

func TestDialContext(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		address string
		network string // default "tcp"
		// Refusal expectations; refuse == "" means the dial must succeed.
		refuse     Class
		refuseAddr string
		// pipes are the non-loopback addresses the test dialer may "connect"
		// to (in memory); wantDial is the exact list of dial attempts.
		pipes    []string
		failing  []string // addresses whose dial fails
		wantDial []string
		lookups  int
	}{
		// Names resolving to refused classes: refused, nothing dialed.
		{name: "name to private 10/8", address: "internal.example:443", refuse: ClassPrivate, refuseAddr: "10.0.0.5", lookups: 1},
		{name: "name to private 172.16/12", address: "corp.example:443", refuse: ClassPrivate, refuseAddr: "172.16.8.9", lookups: 1},
		{name: "name to private 192.168/16", address: "home.example:443", refuse: ClassPrivate, refuseAddr: "192.168.1.10", lookups: 1},
		{name: "name to ULA", address: "ula.example:443", refuse: ClassPrivate, refuseAddr: "fd00::5", lookups: 1},
		{name: "name to CGNAT", address: "cgnat.example:443", refuse: ClassCGNAT, refuseAddr: "100.64.0.7", lookups: 1},
		{name: "name to metadata", address: "meta.example:80", refuse: ClassMetadata, refuseAddr: "169.254.169.254", lookups: 1},
		{name: "name to AWS v6 metadata", address: "meta6.example:80", refuse: ClassMetadata, refuseAddr: "fd00:ec2::254", lookups: 1},
		{name: "name to link-local", address: "ll.example:80", refuse: ClassLinkLocal, refuseAddr: "169.254.10.10", lookups: 1},
		{name: "name to link-local v6", address: "ll6.example:80", refuse: ClassLinkLocal, refuseAddr: "fe80::1", lookups: 1},
		{name: "name to loopback", address: "loop.example:80", refuse: ClassLoopback, refuseAddr: "127.0.0.1", lookups: 1},
		{name: "name to loopback v6", address: "loop6.example:80", refuse: ClassLoopback, refuseAddr: "::1", lookups: 1},
		{name: "name to mapped loopback", address: "v6.example:80", refuse: ClassLoopback, refuseAddr: "::ffff:127.0.0.1", lookups: 1},
		{name: "name to mapped private", address: "mapped10.example:80", refuse: ClassPrivate, refuseAddr: "::ffff:10.0.0.5", lookups: 1},
		{name: "name to NAT64 loopback", address: "nat64.example:80", refuse: ClassLoopback, refuseAddr: "64:ff9b::7f00:1", lookups: 1},
		{name: "name to 6to4 metadata", address: "6to4.example:80", refuse: ClassMetadata, refuseAddr: "2002:a9fe:a9fe::1", lookups: 1},
		{name: "name to unspecified", address: "zero.example:80", refuse: ClassUnspecified, refuseAddr: "0.0.0.0", lookups: 1},
		{name: "name to multicast", address: "mcast.example:80", refuse: ClassMulticast, refuseAddr: "224.0.0.251", lookups: 1},
		{name: "name to broadcast", address: "bcast.example:80", refuse: ClassBroadcast, refuseAddr: "255.255.255.255", lookups: 1},

		// Mixed answers: one bad address refuses the whole dial, even when
		// a good one comes first.
		{name: "mixed public+loopback", address: "mixed.example:443", refuse: ClassLoopback, refuseAddr: "127.0.0.1", lookups: 1},
		{name: "mixed public+private last", address: "mixed2.example:443", refuse: ClassPrivate, refuseAddr: "10.0.0.5", lookups: 1},
		{name: "mixed v6 public+mapped metadata", address: "mixedv6.example:443", refuse: ClassMetadata, refuseAddr: "::ffff:169.254.169.254", lookups: 1},
		{name: "mixed refused even with AllowLoopback if metadata", policy: Policy{AllowLoopback: true}, address: "mixedv6.example:443", refuse: ClassMetadata, refuseAddr: "::ffff:169.254.169.254", lookups: 1},

		// IP literals: checked directly, never resolved.
		{name: "literal loopback", address: "127.0.0.1:80", refuse: ClassLoopback, refuseAddr: "127.0.0.1"},
		{name: "literal loopback 127/8", address: "127.1.2.3:80", refuse: ClassLoopback, refuseAddr: "127.1.2.3"},
		{name: "literal ::1", address: "[::1]:80", refuse: ClassLoopback, refuseAddr: "::1"},
		{name: "literal mapped loopback", address: "[::ffff:127.0.0.1]:80", refuse: ClassLoopback, refuseAddr: "::ffff:127.0.0.1"},
		{name: "literal mapped loopback hex", address: "[::ffff:7f00:1]:80", refuse: ClassLoopback, refuseAddr: "::ffff:127.0.0.1"},
		{name: "literal private", address: "10.0.0.5:443", refuse: ClassPrivate, refuseAddr: "10.0.0.5"},
		{name: "literal metadata", address: "169.254.169.254:80", refuse: ClassMetadata, refuseAddr: "169.254.169.254"},
		{name: "literal mapped metadata", address: "[::ffff:169.254.169.254]:80", refuse: ClassMetadata, refuseAddr: "::ffff:169.254.169.254"},
		{name: "literal link-local with zone", address: "[fe80::1%eth0]:80", refuse: ClassLinkLocal, refuseAddr: "fe80::1%eth0"},
		{name: "literal ULA", address: "[fd00::1]:80", refuse: ClassPrivate, refuseAddr: "fd00::1"},
		{name: "literal unspecified", address: "0.0.0.0:80", refuse: ClassUnspecified, refuseAddr: "0.0.0.0"},
		{name: "literal ::", address: "[::]:80", refuse: ClassUnspecified, refuseAddr: "::"},
		{name: "literal multicast v6", address: "[ff02::1]:80", refuse: ClassMulticast, refuseAddr: "ff02::1"},
		{name: "empty host", address: ":80", refuse: ClassUnspecified},

		// Policy exceptions.
		{name: "AllowPrivate dials private name", policy: Policy{AllowPrivate: true}, address: "internal.example:443",
			pipes: []string{"10.0.0.5:443"}, wantDial: []string{"10.0.0.5:443"}, lookups: 1},
		{name: "AllowPrivate still refuses metadata", policy: Policy{AllowPrivate: true}, address: "meta.example:80", refuse: ClassMetadata, refuseAddr: "169.254.169.254", lookups: 1},
		{name: "AllowPrivate still refuses loopback", policy: Policy{AllowPrivate: true}, address: "loop.example:80", refuse: ClassLoopback, refuseAddr: "127.0.0.1", lookups: 1},
		{name: "AllowLoopback still refuses private", policy: Policy{AllowLoopback: true}, address: "internal.example:80", refuse: ClassPrivate, refuseAddr: "10.0.0.5", lookups: 1},
		{name: "AllowedCIDRs refuses host outside the prefix", policy: Policy{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/30")}}, address: "internal.example:443",
			refuse: ClassPrivate, refuseAddr: "10.0.0.5", lookups: 1},
		{name: "AllowedCIDRs dials listed host", policy: Policy{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.4/30")}}, address: "internal.example:443",
			pipes: []string{"10.0.0.5:443"}, wantDial: []string{"10.0.0.5:443"}, lookups: 1},
		{name: "AllowedCIDRs opens metadata only when listed", policy: Policy{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}, address: "meta.example:80",
			pipes: []string{"169.254.169.254:80"}, wantDial: []string{"169.254.169.254:80"}, lookups: 1},
		{name: "mapped private dialed as IPv4", policy: Policy{AllowPrivate: true}, address: "mapped10.example:80",
			pipes: []string{"10.0.0.5:80"}, wantDial: []string{"10.0.0.5:80"}, lookups: 1},

		// Public addresses: dialed by checked literal, never by name.
		{name: "public name", address: "public.example:443",
			pipes: []string{"93.184.216.34:443"}, wantDial: []string{"93.184.216.34:443"}, lookups: 1},
		{name: "public v6 name", address: "public6.example:443",
			pipes: []string{"[2606:2800:220:1:248:1893:25c8:1946]:443"}, wantDial: []string{"[2606:2800:220:1:248:1893:25c8:1946]:443"}, lookups: 1},
		{name: "public literal", address: "93.184.216.34:80",
			pipes: []string{"93.184.216.34:80"}, wantDial: []string{"93.184.216.34:80"}},
		{name: "tcp4 network", address: "public.example:443", network: "tcp4",
			pipes: []string{"93.184.216.34:443"}, wantDial: []string{"93.184.216.34:443"}, lookups: 1},
		{name: "dual stack falls back to second checked address", address: "dual.example:443",
			pipes:    []string{"93.184.216.34:443"},
			failing:  []string{"[2606:2800:220:1:248:1893:25c8:1946]:443"},
			wantDial: []string{"[2606:2800:220:1:248:1893:25c8:1946]:443", "93.184.216.34:443"}, lookups: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newResolver(testNames)
			rd := newDialer(t)
			for _, p := range tt.pipes {
				rd.pipes[netip.MustParseAddrPort(p)] = true
			}
			for _, p := range tt.failing {
				rd.failing[netip.MustParseAddrPort(p)] = true
			}
			d := &Dialer{Policy: tt.policy, Resolver: res, Underlying: rd}
			network := tt.network
			if network == "" {
				network = "tcp"
			}

			conn, err := d.DialContext(context.Background(), network, tt.address)
			if conn != nil {
				_ = conn.Close()
			}
			if tt.refuse != "" {
				var re *RefusedError
				if !errors.As(err, &re) {
					t.Fatalf("DialContext(%s) error = %v, want *RefusedError", tt.address, err)
				}
				if re.Class != tt.refuse {
					t.Errorf("class = %q, want %q", re.Class, tt.refuse)
				}
				wantAddr := netip.Addr{}
				if tt.refuseAddr != "" {
					wantAddr = netip.MustParseAddr(tt.refuseAddr)
				}
				if re.Addr != wantAddr {
					t.Errorf("refused addr = %v, want %v", re.Addr, wantAddr)
				}
				host, _, _ := net.SplitHostPort(tt.address)
				if re.Host != host {
					t.Errorf("refused host = %q, want %q", re.Host, host)
				}
				if got := rd.attempts(); len(got) != 0 {
					t.Errorf("refused dial still reached the dialer: %v", got)
				}
			} else {
				if err != nil {
					t.Fatalf("DialContext(%s) error = %v", tt.address, err)
				}
				if got := rd.attempts(); !slices.Equal(got, tt.wantDial) {
					t.Errorf("dial attempts = %v, want %v", got, tt.wantDial)
				}
			}
			if got := res.total(); got != tt.lookups {
				t.Errorf("resolver called %d times, want %d", got, tt.lookups)
			}
		})
	}
}

func TestDialContextRefusedMessage(t *testing.T) {
	d := &Dialer{Resolver: newResolver(testNames), Underlying: newDialer(t)}
	_, err := d.DialContext(context.Background(), "tcp", "internal.example:443")
	const want = "refused to connect to 10.0.0.5 (private address) for host internal.example"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

func TestDialContextResolverErrors(t *testing.T) {
	errBoom := errors.New("resolver exploded")
	res := newResolver(testNames)
	res.errs["boom.example"] = errBoom

	tests := []struct {
		host    string
		wantIs  error
		wantDNS bool
	}{
		{host: "boom.example", wantIs: errBoom},
		{host: "nxdomain.example", wantDNS: true},
		{host: "empty.example"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			rd := newDialer(t)
			d := &Dialer{Resolver: res, Underlying: rd}
			conn, err := d.DialContext(context.Background(), "tcp", tt.host+":443")
			if conn != nil || err == nil {
				t.Fatalf("DialContext = (%v, %v), want an error", conn, err)
			}
			var re *RefusedError
			if errors.As(err, &re) {
				t.Errorf("resolver failure reported as refusal: %v", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error = %v, want it to wrap %v", err, tt.wantIs)
			}
			var dnsErr *net.DNSError
			if tt.wantDNS && !errors.As(err, &dnsErr) {
				t.Errorf("error = %v, want a *net.DNSError", err)
			}
			if got := rd.attempts(); len(got) != 0 {
				t.Errorf("dialer reached after resolver failure: %v", got)
			}
		})
	}
}

// A rebinding resolver answers with a public address first and loopback
// afterwards. Each dial resolves exactly once and dials the literal it
// checked, so the rebinding answer can only ever reach the check.
func TestDialContextNoSecondLookup(t *testing.T) {
	res := newResolver(map[string][]string{"rebind.example": {"93.184.216.34"}})
	res.next["rebind.example"] = parseAddrs([]string{"127.0.0.1"})
	rd := newDialer(t)
	rd.pipes[netip.MustParseAddrPort("93.184.216.34:443")] = true
	d := &Dialer{Resolver: res, Underlying: rd}

	conn, err := d.DialContext(context.Background(), "tcp", "rebind.example:443")
	if err != nil {
		t.Fatalf("first dial: %v", err)
	}
	_ = conn.Close()
	if got := res.total(); got != 1 {
		t.Fatalf("resolver called %d times for one dial, want 1", got)
	}
	if got := rd.attempts(); !slices.Equal(got, []string{"93.184.216.34:443"}) {
		t.Fatalf("dial attempts = %v, want only the checked literal", got)
	}

	// The second dial gets the rebound answer, which is checked and refused.
	_, err = d.DialContext(context.Background(), "tcp", "rebind.example:443")
	var re *RefusedError
	if !errors.As(err, &re) || re.Class != ClassLoopback {
		t.Fatalf("second dial error = %v, want a loopback refusal", err)
	}
	if got := res.total(); got != 2 {
		t.Errorf("resolver called %d times for two dials, want 2", got)
	}
	if got := rd.attempts(); len(got) != 1 {
		t.Errorf("dial attempts = %v, want the first dial's only", got)
	}
}

func TestDialContextUnsupportedNetwork(t *testing.T) {
	for _, network := range []string{"udp", "unix", "ip4:icmp", ""} {
		rd := newDialer(t)
		res := newResolver(testNames)
		d := &Dialer{Resolver: res, Underlying: rd}
		if _, err := d.DialContext(context.Background(), network, "public.example:443"); err == nil {
			t.Errorf("network %q: want an error", network)
		}
		if len(rd.attempts()) != 0 || res.total() != 0 {
			t.Errorf("network %q: resolver or dialer reached", network)
		}
	}
}

func TestDialContextBadAddress(t *testing.T) {
	rd := newDialer(t)
	d := &Dialer{Resolver: newResolver(testNames), Underlying: rd}
	for _, addr := range []string{"public.example", "[::1", "a:b:c"} {
		if _, err := d.DialContext(context.Background(), "tcp", addr); err == nil {
			t.Errorf("address %q: want an error", addr)
		}
	}
	if got := rd.attempts(); len(got) != 0 {
		t.Errorf("dialer reached: %v", got)
	}
}

func TestDialContextAllAttemptsFail(t *testing.T) {
	rd := newDialer(t)
	rd.failing[netip.MustParseAddrPort("[2606:2800:220:1:248:1893:25c8:1946]:443")] = true
	rd.failing[netip.MustParseAddrPort("93.184.216.34:443")] = true
	d := &Dialer{Resolver: newResolver(testNames), Underlying: rd}
	_, err := d.DialContext(context.Background(), "tcp", "dual.example:443")
	if !errors.Is(err, errFakeDial) {
		t.Fatalf("error = %v, want the dial failure", err)
	}
	if got := len(rd.attempts()); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}

// The default underlying dialer re-checks the address in its Control hook,
// which runs before connect(2): a refused literal handed to it directly
// never leaves the socket. Only loopback is involved.
func TestDefaultUnderlyingRechecks(t *testing.T) {
	srv := newLoopbackServer(t)
	addr := srv.Listener.Addr().String()

	strict := &Dialer{}
	_, err := strict.underlying().DialContext(context.Background(), "tcp", addr)
	var re *RefusedError
	if !errors.As(err, &re) || re.Class != ClassLoopback {
		t.Fatalf("default underlying dialer error = %v, want a loopback refusal", err)
	}

	open := &Dialer{Policy: Policy{AllowLoopback: true}, Resolver: newResolver(testNames)}
	conn, err := open.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("AllowLoopback dial through the default underlying dialer: %v", err)
	}
	_ = conn.Close()
}
