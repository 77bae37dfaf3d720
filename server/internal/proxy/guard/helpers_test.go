package guard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
)

var errNXDomain = errors.New("no such host (fake)")

// fakeResolver answers from a fixed table and counts lookups per host. A
// host missing from the table is an NXDOMAIN. It never touches the network.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	errs    map[string]error
	calls   map[string]int
	// next, if set, replaces the answer after the first lookup of a host
	// (a rebinding DNS server).
	next map[string][]netip.Addr
}

func newResolver(answers map[string][]string) *fakeResolver {
	r := &fakeResolver{
		answers: map[string][]netip.Addr{},
		errs:    map[string]error{},
		calls:   map[string]int{},
		next:    map[string][]netip.Addr{},
	}
	for host, as := range answers {
		r.answers[host] = parseAddrs(as)
	}
	return r
}

func parseAddrs(as []string) []netip.Addr {
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[host]++
	if network != "ip" && network != "ip4" && network != "ip6" {
		return nil, fmt.Errorf("fake resolver: bad network %q", network)
	}
	if err, ok := r.errs[host]; ok {
		return nil, err
	}
	as, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: errNXDomain.Error(), Name: host, IsNotFound: true}
	}
	if n, ok := r.next[host]; ok && r.calls[host] > 1 {
		as = n
	}
	return append([]netip.Addr(nil), as...), nil
}

func (r *fakeResolver) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

// recordingDialer is the underlying dialer in every test. It records every
// attempt and guarantees no packet leaves loopback:
//   - an address that is not an IP literal fails the test (the guard must
//     never hand a name to the dialer: that would be a second resolution);
//   - an address listed in pipes gets an in-memory net.Pipe connection;
//   - an address listed in forward is connected to the loopback address it
//     maps to (so an HTTP request to a "public" address completes against a
//     local httptest server);
//   - a loopback address is dialed for real;
//   - anything else fails the test and is not dialed.
type recordingDialer struct {
	t       testing.TB
	mu      sync.Mutex
	pipes   map[netip.AddrPort]bool
	forward map[netip.AddrPort]string
	failing map[netip.AddrPort]bool // refused with an error, not dialed
	calls   []string
}

func newDialer(t testing.TB) *recordingDialer {
	return &recordingDialer{
		t:       t,
		pipes:   map[netip.AddrPort]bool{},
		forward: map[netip.AddrPort]string{},
		failing: map[netip.AddrPort]bool{},
	}
}

var errFakeDial = errors.New("fake dial failure")

func (d *recordingDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.mu.Lock()
	d.calls = append(d.calls, address)
	d.mu.Unlock()

	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		d.t.Errorf("underlying dialer got a non-literal address %q (second resolution?)", address)
		return nil, fmt.Errorf("test dialer: %q is not an IP literal", address)
	}
	switch {
	case d.failing[ap]:
		return nil, errFakeDial
	case d.pipes[ap]:
		client, server := net.Pipe()
		go func() { _ = server.Close() }()
		return client, nil
	case d.forward[ap] != "":
		var nd net.Dialer
		return nd.DialContext(ctx, "tcp", d.forward[ap])
	case ap.Addr().Unmap().IsLoopback():
		var nd net.Dialer
		return nd.DialContext(ctx, network, address)
	}
	d.t.Errorf("attempted to dial non-loopback address %s", address)
	return nil, fmt.Errorf("test dialer: refusing to dial %s", address)
}

func (d *recordingDialer) attempts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}
