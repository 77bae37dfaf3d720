package guard

import (
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr string
		want Class
	}{
		// public
		{"93.184.216.34", ClassPublic},
		{"8.8.8.8", ClassPublic},
		{"1.1.1.1", ClassPublic},
		{"172.15.255.255", ClassPublic},
		{"172.32.0.0", ClassPublic},
		{"100.63.255.255", ClassPublic},
		{"100.128.0.0", ClassPublic},
		{"2606:2800:220:1:248:1893:25c8:1946", ClassPublic},
		{"2001:4860:4860::8888", ClassPublic},
		{"::ffff:93.184.216.34", ClassPublic},
		{"64:ff9b::5db8:d822", ClassPublic}, // NAT64 of 93.184.216.34
		{"2002:5db8:d822::1", ClassPublic},  // 6to4 of 93.184.216.34

		// loopback
		{"127.0.0.1", ClassLoopback},
		{"127.255.255.254", ClassLoopback},
		{"::1", ClassLoopback},
		{"::ffff:127.0.0.1", ClassLoopback},
		{"::ffff:7f00:1", ClassLoopback},
		{"64:ff9b::7f00:1", ClassLoopback}, // NAT64 of 127.0.0.1
		{"2002:7f00:1::", ClassLoopback},   // 6to4 of 127.0.0.1

		// private
		{"10.0.0.5", ClassPrivate},
		{"10.255.255.255", ClassPrivate},
		{"172.16.0.1", ClassPrivate},
		{"172.31.255.255", ClassPrivate},
		{"192.168.1.1", ClassPrivate},
		{"fc00::1", ClassPrivate},
		{"fd12:3456:789a::1", ClassPrivate},
		{"::ffff:10.0.0.5", ClassPrivate},
		{"::ffff:192.168.0.1", ClassPrivate},
		{"64:ff9b::a00:5", ClassPrivate},  // NAT64 of 10.0.0.5
		{"2002:c0a8:101::", ClassPrivate}, // 6to4 of 192.168.1.1

		// CGNAT
		{"100.64.0.1", ClassCGNAT},
		{"100.127.255.255", ClassCGNAT},
		{"::ffff:100.64.0.1", ClassCGNAT},

		// link-local
		{"169.254.0.1", ClassLinkLocal},
		{"169.254.169.253", ClassLinkLocal},
		{"fe80::1", ClassLinkLocal},
		{"fe80::1%eth0", ClassLinkLocal},
		{"febf::1", ClassLinkLocal},
		{"::ffff:169.254.1.1", ClassLinkLocal},

		// metadata
		{"169.254.169.254", ClassMetadata},
		{"::ffff:169.254.169.254", ClassMetadata},
		{"::ffff:a9fe:a9fe", ClassMetadata},
		{"64:ff9b::a9fe:a9fe", ClassMetadata},
		{"2002:a9fe:a9fe::", ClassMetadata},
		{"fd00:ec2::254", ClassMetadata},
		{"100.100.100.200", ClassMetadata},

		// unspecified
		{"0.0.0.0", ClassUnspecified},
		{"0.1.2.3", ClassUnspecified},
		{"::", ClassUnspecified},
		{"::ffff:0.0.0.0", ClassUnspecified},

		// multicast and broadcast
		{"224.0.0.1", ClassMulticast},
		{"239.255.255.250", ClassMulticast},
		{"ff02::1", ClassMulticast},
		{"ff05::1:3", ClassMulticast},
		{"::ffff:224.0.0.1", ClassMulticast},
		{"255.255.255.255", ClassBroadcast},
		{"::ffff:255.255.255.255", ClassBroadcast},

		// reserved / non-global
		{"192.0.2.1", ClassReserved},
		{"198.51.100.1", ClassReserved},
		{"203.0.113.1", ClassReserved},
		{"198.18.0.1", ClassReserved},
		{"192.0.0.8", ClassReserved},
		{"240.0.0.1", ClassReserved},
		{"255.255.255.254", ClassReserved},
		{"2001:db8::1", ClassReserved},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", ClassReserved}, // Teredo
		{"3fff::1", ClassReserved},
		{"fec0::1", ClassReserved},
		{"100::1", ClassReserved},
		{"::127.0.0.1", ClassReserved}, // deprecated IPv4-compatible
		{"::ffff:0:7f00:1", ClassReserved},
		{"64:ff9b:1::a00:5", ClassReserved},
		{"4000::1", ClassReserved},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := Classify(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Classify(%s) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
	if got := Classify(netip.Addr{}); got != ClassInvalid {
		t.Errorf("Classify(zero Addr) = %q, want %q", got, ClassInvalid)
	}
}

func TestPolicyCheckAddr(t *testing.T) {
	prefixes := func(ps ...string) []netip.Prefix {
		out := make([]netip.Prefix, len(ps))
		for i, p := range ps {
			out[i] = netip.MustParsePrefix(p)
		}
		return out
	}
	var (
		deny     = Policy{}
		loopback = Policy{AllowLoopback: true}
		private  = Policy{AllowPrivate: true}
		both     = Policy{AllowLoopback: true, AllowPrivate: true}
	)
	tests := []struct {
		name   string
		policy Policy
		addr   string
		class  Class
		allow  bool
	}{
		{"public", deny, "93.184.216.34", ClassPublic, true},
		{"public v6", deny, "2606:2800:220:1::1", ClassPublic, true},
		{"public mapped", deny, "::ffff:93.184.216.34", ClassPublic, true},

		{"loopback refused", deny, "127.0.0.1", ClassLoopback, false},
		{"loopback v6 refused", deny, "::1", ClassLoopback, false},
		{"loopback mapped refused", deny, "::ffff:127.0.0.1", ClassLoopback, false},
		{"private refused", deny, "10.0.0.5", ClassPrivate, false},
		{"private 172 refused", deny, "172.16.3.4", ClassPrivate, false},
		{"private 192 refused", deny, "192.168.0.10", ClassPrivate, false},
		{"ula refused", deny, "fd00::1", ClassPrivate, false},
		{"private mapped refused", deny, "::ffff:10.0.0.5", ClassPrivate, false},
		{"cgnat refused", deny, "100.64.1.1", ClassCGNAT, false},
		{"link-local refused", deny, "169.254.1.1", ClassLinkLocal, false},
		{"link-local v6 refused", deny, "fe80::1", ClassLinkLocal, false},
		{"metadata refused", deny, "169.254.169.254", ClassMetadata, false},
		{"reserved refused", deny, "192.0.2.1", ClassReserved, false},

		{"AllowLoopback opens 127/8", loopback, "127.0.0.1", ClassLoopback, true},
		{"AllowLoopback opens ::1", loopback, "::1", ClassLoopback, true},
		{"AllowLoopback opens mapped loopback", loopback, "::ffff:127.0.0.1", ClassLoopback, true},
		{"AllowLoopback keeps private refused", loopback, "10.0.0.5", ClassPrivate, false},
		{"AllowLoopback keeps metadata refused", loopback, "169.254.169.254", ClassMetadata, false},

		{"AllowPrivate opens 10/8", private, "10.0.0.5", ClassPrivate, true},
		{"AllowPrivate opens 172.16/12", private, "172.20.0.1", ClassPrivate, true},
		{"AllowPrivate opens 192.168/16", private, "192.168.1.1", ClassPrivate, true},
		{"AllowPrivate opens ULA", private, "fd12::1", ClassPrivate, true},
		{"AllowPrivate opens CGNAT", private, "100.64.0.1", ClassCGNAT, true},
		{"AllowPrivate keeps loopback refused", private, "127.0.0.1", ClassLoopback, false},
		{"AllowPrivate keeps metadata refused", private, "169.254.169.254", ClassMetadata, false},
		{"AllowPrivate keeps mapped metadata refused", private, "::ffff:169.254.169.254", ClassMetadata, false},
		{"AllowPrivate keeps AWS v6 metadata refused", private, "fd00:ec2::254", ClassMetadata, false},
		{"AllowPrivate keeps Alibaba metadata refused", private, "100.100.100.200", ClassMetadata, false},
		{"AllowPrivate keeps link-local refused", private, "169.254.1.1", ClassLinkLocal, false},
		{"both keep metadata refused", both, "169.254.169.254", ClassMetadata, false},
		{"both keep link-local v6 refused", both, "fe80::1", ClassLinkLocal, false},

		{"AllowedCIDRs opens one private host", Policy{AllowedCIDRs: prefixes("10.1.2.3/32")}, "10.1.2.3", ClassPrivate, true},
		{"AllowedCIDRs opens mapped form too", Policy{AllowedCIDRs: prefixes("10.1.2.0/24")}, "::ffff:10.1.2.9", ClassPrivate, true},
		{"AllowedCIDRs mapped prefix", Policy{AllowedCIDRs: prefixes("::ffff:10.1.2.0/120")}, "10.1.2.9", ClassPrivate, true},
		{"AllowedCIDRs does not open neighbours", Policy{AllowedCIDRs: prefixes("10.1.2.3/32")}, "10.1.2.4", ClassPrivate, false},
		{"AllowedCIDRs opens listed metadata", Policy{AllowedCIDRs: prefixes("169.254.169.254/32")}, "169.254.169.254", ClassMetadata, true},
		{"AllowedCIDRs opens listed link-local", Policy{AllowedCIDRs: prefixes("fe80::/64")}, "fe80::1%eth0", ClassLinkLocal, true},
		{"AllowedCIDRs link-local does not open metadata by AllowPrivate", Policy{AllowPrivate: true, AllowedCIDRs: prefixes("169.254.1.0/24")}, "169.254.169.254", ClassMetadata, false},
		{"AllowedCIDRs opens loopback", Policy{AllowedCIDRs: prefixes("127.0.0.1/32")}, "127.0.0.1", ClassLoopback, true},
		{"AllowedCIDRs never opens unspecified", Policy{AllowedCIDRs: prefixes("0.0.0.0/0")}, "0.0.0.0", ClassUnspecified, false},
		{"AllowedCIDRs never opens ::", Policy{AllowedCIDRs: prefixes("::/0")}, "::", ClassUnspecified, false},
		{"AllowedCIDRs never opens multicast", Policy{AllowedCIDRs: prefixes("224.0.0.0/4")}, "224.0.0.1", ClassMulticast, false},
		{"AllowedCIDRs never opens broadcast", Policy{AllowedCIDRs: prefixes("0.0.0.0/0")}, "255.255.255.255", ClassBroadcast, false},
		{"invalid prefix ignored", Policy{AllowedCIDRs: []netip.Prefix{{}}}, "10.0.0.5", ClassPrivate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class, ok := tt.policy.CheckAddr(netip.MustParseAddr(tt.addr))
			if class != tt.class || ok != tt.allow {
				t.Errorf("CheckAddr(%s) = (%q, %v), want (%q, %v)", tt.addr, class, ok, tt.class, tt.allow)
			}
		})
	}
	if _, ok := (Policy{AllowLoopback: true, AllowPrivate: true}).CheckAddr(netip.Addr{}); ok {
		t.Error("the zero Addr must never be allowed")
	}
}

func TestRefusedErrorMessage(t *testing.T) {
	tests := []struct {
		err  RefusedError
		want string
	}{
		{RefusedError{Host: "internal.example", Addr: netip.MustParseAddr("10.0.0.5"), Class: ClassPrivate},
			"refused to connect to 10.0.0.5 (private address) for host internal.example"},
		{RefusedError{Host: "meta.example", Addr: netip.MustParseAddr("169.254.169.254"), Class: ClassMetadata},
			"refused to connect to 169.254.169.254 (cloud metadata address) for host meta.example"},
		{RefusedError{Host: "127.0.0.1", Addr: netip.MustParseAddr("127.0.0.1"), Class: ClassLoopback},
			"refused to connect to 127.0.0.1 (loopback address)"},
		{RefusedError{Host: "fe80::1", Addr: netip.MustParseAddr("fe80::1"), Class: ClassLinkLocal},
			"refused to connect to fe80::1 (link-local address)"},
		{RefusedError{Host: "100.64.0.1", Addr: netip.MustParseAddr("100.64.0.1"), Class: ClassCGNAT},
			"refused to connect to 100.64.0.1 (carrier-grade NAT address)"},
		{RefusedError{Class: ClassUnspecified},
			"refused to connect to empty host (unspecified address)"},
		{RefusedError{Host: "evil.example", Class: ClassHostNotAllowed},
			"refused to connect to host evil.example (host not allowed)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func BenchmarkCheckAddr(b *testing.B) {
	p := Policy{AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	addrs := parseAddrs([]string{"93.184.216.34", "10.0.0.5", "::ffff:127.0.0.1", "2606:2800:220:1::1", "169.254.169.254"})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.CheckAddr(addrs[i%len(addrs)])
	}
}
