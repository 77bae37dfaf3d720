package testserver

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/proxy"
	"github.com/authproxy/authproxy/server/internal/proxy/guard"
)

// confine keeps the server's outbound calls (proxy, probes, OAuth2 exchanges) on loopback:
// its guard resolves only localhost, so a connector naming a real host (the examples' probes
// run after connect) fails at once, without a DNS query leaving the machine.
func confine(a *app.App, cfg config.Config) {
	policy := guard.Policy{AllowLoopback: cfg.Proxy.AllowLoopback, AllowPrivate: cfg.Proxy.AllowPrivate}
	a.Proxy.Client = proxy.NewClient(&guard.Dialer{Policy: policy, Resolver: loopbackOnly{}})
	a.Connections.HTTPClient = a.Proxy.Client
}

// loopbackOnly resolves localhost names to loopback and every other name to "no such host".
type loopbackOnly struct{}

func (loopbackOnly) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h != "localhost" && !strings.HasSuffix(h, ".localhost") {
		return nil, &net.DNSError{Err: "no such host (the test server resolves only localhost)", Name: host, IsNotFound: true}
	}
	switch network {
	case "ip4":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	case "ip6":
		return []netip.Addr{netip.IPv6Loopback()}, nil
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, nil
}
