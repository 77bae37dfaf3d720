// Package guard is the dial-time egress guard of the authenticating proxy.
//
// Credentials must only ever reach the upstream hosts a connector allows,
// and never an internal address. Checking the URL is not enough: a public
// name can resolve to 127.0.0.1, a resolver can answer differently on the
// second lookup (DNS rebinding), an IP can be spelled as an IPv4-mapped IPv6
// address, and an upstream can redirect anywhere. So the check sits where
// the address is final — at dial time:
//
//   - [Dialer.DialContext] resolves the host once, checks every resolved
//     address against a [Policy], refuses the dial if any address is
//     disallowed, and then dials the checked IP literal (never the name
//     again, so there is no second resolution to race).
//   - [Dialer.Transport] wires the guard into an [net/http.Transport] and
//     removes everything that would bypass it (environment proxies, custom
//     TLS dialers).
//   - [RedirectPolicy] decides whether an [net/http.Client] follows redirects;
//     by default it never does, and the proxy hands the 3xx back to its
//     caller. Any hop that is followed is dialed through the guard anyway.
//
// Refusals are [*RefusedError] values; callers map them to HTTP 403 with
// errors.As.
package guard

import (
	"net/netip"
)

// Class names the kind of address an IP is, as far as egress is concerned.
// It is the reason carried by a [RefusedError].
type Class string

// Address classes. Only [ClassPublic] is allowed by the zero [Policy].
const (
	ClassPublic      Class = "public"      // global unicast
	ClassLoopback    Class = "loopback"    // 127/8, ::1
	ClassPrivate     Class = "private"     // 10/8, 172.16/12, 192.168/16, fc00::/7
	ClassCGNAT       Class = "cgnat"       // 100.64/10 shared address space
	ClassLinkLocal   Class = "link-local"  // 169.254/16, fe80::/10
	ClassMetadata    Class = "metadata"    // cloud instance metadata endpoints
	ClassUnspecified Class = "unspecified" // 0/8, ::, and an empty host
	ClassMulticast   Class = "multicast"   // 224/4, ff00::/8
	ClassBroadcast   Class = "broadcast"   // 255.255.255.255
	ClassReserved    Class = "reserved"    // documentation, benchmarking, future use, non-global IPv6
	ClassInvalid     Class = "invalid"     // not an IP address

	// ClassHostNotAllowed is used by [RedirectPolicy] when a redirect
	// target's host is not in the allowed set; no address is involved.
	ClassHostNotAllowed Class = "host-not-allowed"
)

func (c Class) description() string {
	switch c {
	case ClassMetadata:
		return "cloud metadata address"
	case ClassCGNAT:
		return "carrier-grade NAT address"
	case ClassHostNotAllowed:
		return "host not allowed"
	case ClassInvalid:
		return "invalid address"
	}
	return string(c) + " address"
}

// Policy says which non-public addresses may be dialed. The zero Policy
// allows only global unicast addresses.
//
// Unspecified, multicast, broadcast and invalid addresses are never allowed,
// whatever the policy says: none of them is a meaningful upstream, and
// dialing 0.0.0.0 reaches the local machine.
type Policy struct {
	// AllowLoopback opens 127/8 and ::1 (tests and local development).
	AllowLoopback bool
	// AllowPrivate opens RFC 1918 (10/8, 172.16/12, 192.168/16), unique
	// local IPv6 (fc00::/7) and the RFC 6598 shared space (100.64/10), for
	// on-premises APIs. Metadata addresses inside those ranges stay refused.
	AllowPrivate bool
	// AllowedCIDRs are explicit exceptions: an address inside one of them is
	// allowed whatever its class (except the never-allowed classes above).
	// This is the only way to open link-local or metadata addresses, so list
	// narrow prefixes: 0.0.0.0/0 opens 169.254.169.254 too. IPv4-mapped
	// IPv6 prefixes (::ffff:10.0.0.0/104) are treated as their IPv4 form.
	AllowedCIDRs []netip.Prefix
}

// CheckAddr classifies a and reports whether the policy allows dialing it.
// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
func (p Policy) CheckAddr(a netip.Addr) (Class, bool) {
	c := Classify(a)
	switch c {
	case ClassPublic:
		return c, true
	case ClassInvalid, ClassUnspecified, ClassMulticast, ClassBroadcast:
		return c, false
	}
	if p.listed(a) {
		return c, true
	}
	switch c {
	case ClassLoopback:
		return c, p.AllowLoopback
	case ClassPrivate, ClassCGNAT:
		return c, p.AllowPrivate
	}
	return c, false
}

func (p Policy) listed(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, pfx := range p.AllowedCIDRs {
		if !pfx.IsValid() {
			continue
		}
		if pa := pfx.Addr(); pa.Is4In6() && pfx.Bits() >= 96 {
			pfx = netip.PrefixFrom(pa.Unmap(), pfx.Bits()-96)
		}
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

var (
	v4ThisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	v4Loopback    = netip.MustParsePrefix("127.0.0.0/8")
	v4LinkLocal   = netip.MustParsePrefix("169.254.0.0/16")
	v4CGNAT       = netip.MustParsePrefix("100.64.0.0/10")
	v4Multicast   = netip.MustParsePrefix("224.0.0.0/4")
	v4Broadcast   = netip.MustParseAddr("255.255.255.255")
	v4Private     = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
	}
	v4Reserved = []netip.Prefix{
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
		netip.MustParsePrefix("192.88.99.0/24"),  // deprecated 6to4 relay anycast
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
		netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
		netip.MustParsePrefix("240.0.0.0/4"),     // future use
	}
	metadata = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OCI, DigitalOcean, ...
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
		netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	}

	v6GlobalUnicast = netip.MustParsePrefix("2000::/3")
	v6LinkLocal     = netip.MustParsePrefix("fe80::/10")
	v6SiteLocal     = netip.MustParsePrefix("fec0::/10") // deprecated
	v6ULA           = netip.MustParsePrefix("fc00::/7")
	v6Multicast     = netip.MustParsePrefix("ff00::/8")
	v6NAT64         = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 well-known prefix
	v66to4          = netip.MustParsePrefix("2002::/16")
	v6Reserved      = []netip.Prefix{
		netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments, incl. Teredo 2001::/32
		netip.MustParsePrefix("2001:db8::/32"), // documentation
		netip.MustParsePrefix("3fff::/20"),     // documentation (RFC 9637)
	}
)

// Classify returns the class of a. IPv4-mapped IPv6 addresses
// (::ffff:127.0.0.1) are classified as the IPv4 address they carry, as are
// the IPv4 addresses embedded in NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
// addresses when those are not public. Any IPv6 address outside 2000::/3
// that has no more specific class is [ClassReserved].
func Classify(a netip.Addr) Class {
	if !a.IsValid() {
		return ClassInvalid
	}
	a = a.WithZone("").Unmap()
	for _, m := range metadata {
		if a == m {
			return ClassMetadata
		}
	}
	if a.Is4() {
		return classify4(a)
	}
	return classify6(a)
}

func classify4(a netip.Addr) Class {
	switch {
	case v4ThisNetwork.Contains(a):
		return ClassUnspecified
	case v4Loopback.Contains(a):
		return ClassLoopback
	case v4LinkLocal.Contains(a):
		return ClassLinkLocal
	case v4CGNAT.Contains(a):
		return ClassCGNAT
	case v4Multicast.Contains(a):
		return ClassMulticast
	case a == v4Broadcast:
		return ClassBroadcast
	case containsAny(v4Private, a):
		return ClassPrivate
	case containsAny(v4Reserved, a):
		return ClassReserved
	}
	return ClassPublic
}

func classify6(a netip.Addr) Class {
	switch {
	case a.IsUnspecified():
		return ClassUnspecified
	case a.IsLoopback():
		return ClassLoopback
	case v6LinkLocal.Contains(a):
		return ClassLinkLocal
	case v6ULA.Contains(a):
		return ClassPrivate
	case v6Multicast.Contains(a):
		return ClassMulticast
	case v6NAT64.Contains(a):
		b := a.As16()
		return embedded(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case v66to4.Contains(a):
		b := a.As16()
		return embedded(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	case v6SiteLocal.Contains(a), containsAny(v6Reserved, a), !v6GlobalUnicast.Contains(a):
		return ClassReserved
	}
	return ClassPublic
}

// embedded classifies an IPv4 address carried inside an IPv6 translation or
// tunnelling address: the IPv6 address is as reachable as the IPv4 one.
func embedded(v4 netip.Addr) Class {
	for _, m := range metadata {
		if v4 == m {
			return ClassMetadata
		}
	}
	return classify4(v4)
}

func containsAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
