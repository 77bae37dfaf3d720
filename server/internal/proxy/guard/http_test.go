package guard

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// newLoopbackServer starts an httptest server on 127.0.0.1 (httptest never
// listens elsewhere) that answers "ok <host>".
func newLoopbackServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "ok %s", r.Host)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func serverAddrPort(t *testing.T, srv *httptest.Server) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if !ap.Addr().IsLoopback() {
		t.Fatalf("test server is not on loopback: %s", ap)
	}
	return ap
}

func newClient(d *Dialer, check func(*http.Request, []*http.Request) error) *http.Client {
	tr := d.Transport(nil)
	return &http.Client{Transport: tr, CheckRedirect: check}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body), nil
}

func requireRefused(t *testing.T, err error, class Class) *RefusedError {
	t.Helper()
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("error = %v (%T), want a *url.Error", err, err)
	}
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want a *RefusedError inside the *url.Error", err)
	}
	if re.Class != class {
		t.Fatalf("refusal class = %q, want %q (%v)", re.Class, class, re)
	}
	return re
}

func TestTransportEndToEnd(t *testing.T) {
	srv := newLoopbackServer(t)
	ap := serverAddrPort(t, srv)
	port := ap.Port()

	tests := []struct {
		name    string
		policy  Policy
		url     string
		refuse  Class // "" means the request must succeed
		wantBod string
	}{
		{name: "loopback literal with AllowLoopback", policy: Policy{AllowLoopback: true},
			url: fmt.Sprintf("http://127.0.0.1:%d/x", port), wantBod: fmt.Sprintf("ok 127.0.0.1:%d", port)},
		{name: "loopback name with AllowLoopback", policy: Policy{AllowLoopback: true},
			url: fmt.Sprintf("http://loop.example:%d/x", port), wantBod: fmt.Sprintf("ok loop.example:%d", port)},
		{name: "loopback literal refused by default",
			url: fmt.Sprintf("http://127.0.0.1:%d/x", port), refuse: ClassLoopback},
		{name: "loopback name refused by default",
			url: fmt.Sprintf("http://loop.example:%d/x", port), refuse: ClassLoopback},
		{name: "mapped loopback name refused by default",
			url: fmt.Sprintf("http://v6.example:%d/x", port), refuse: ClassLoopback},
		{name: "mixed name refused", policy: Policy{AllowPrivate: true},
			url: fmt.Sprintf("http://mixed.example:%d/x", port), refuse: ClassLoopback},
		{name: "private name refused", url: "http://internal.example/", refuse: ClassPrivate},
		{name: "private literal refused", url: "http://10.0.0.5/", refuse: ClassPrivate},
		{name: "private 172 literal refused", url: "https://172.16.0.1/", refuse: ClassPrivate},
		{name: "private 192 literal refused", url: "http://192.168.0.1:8080/", refuse: ClassPrivate},
		{name: "metadata literal refused", url: "http://169.254.169.254/latest/meta-data/", refuse: ClassMetadata},
		{name: "metadata name refused", url: "http://meta.example/latest/meta-data/", refuse: ClassMetadata},
		{name: "metadata refused with AllowPrivate and AllowLoopback", policy: Policy{AllowPrivate: true, AllowLoopback: true},
			url: "http://169.254.169.254/", refuse: ClassMetadata},
		{name: "mapped metadata literal refused", url: "http://[::ffff:169.254.169.254]/", refuse: ClassMetadata},
		{name: "link-local v6 literal refused", url: "http://[fe80::1]/", refuse: ClassLinkLocal},
		{name: "ULA literal refused", url: "https://[fd00::1]/", refuse: ClassPrivate},
		{name: "unspecified literal refused", url: "http://0.0.0.0/", refuse: ClassUnspecified},
		// A "public" name: the test dialer forwards 93.184.216.34:80 to the
		// loopback server, so the request completes without leaving loopback.
		{name: "public name allowed", url: "http://public.example/hello", wantBod: "ok public.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := newResolver(testNames)
			rd := newDialer(t)
			rd.forward[netip.MustParseAddrPort("93.184.216.34:80")] = ap.String()
			d := &Dialer{Policy: tt.policy, Resolver: res, Underlying: rd}
			c := newClient(d, NeverFollow)
			defer c.CloseIdleConnections()

			resp, body, err := get(t, c, tt.url)
			if tt.refuse != "" {
				requireRefused(t, err, tt.refuse)
				if got := rd.attempts(); len(got) != 0 {
					t.Errorf("refused request reached the dialer: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET %s: %v", tt.url, err)
			}
			if resp.StatusCode != http.StatusOK || body != tt.wantBod {
				t.Errorf("GET %s = %d %q, want 200 %q", tt.url, resp.StatusCode, body, tt.wantBod)
			}
		})
	}
}

// TLS keeps using the URL's host for SNI and verification although the TCP
// connection goes to the checked IP: httptest's certificate is valid for
// example.com, which the fake resolver maps to a public address that the
// test dialer forwards to the loopback TLS server.
func TestTransportTLSUsesOriginalHost(t *testing.T) {
	var sni atomic.Value
	sni.Store("")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "tls ok")
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(hello.ServerName)
		return nil, nil
	}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ap := serverAddrPort(t, srv)

	res := newResolver(map[string][]string{"example.com": {"93.184.216.34"}})
	rd := newDialer(t)
	rd.forward[netip.MustParseAddrPort("93.184.216.34:443")] = ap.String()
	d := &Dialer{Resolver: res, Underlying: rd}

	base := srv.Client().Transport.(*http.Transport) // trusts the test CA
	c := &http.Client{Transport: d.Transport(base), CheckRedirect: NeverFollow}
	defer c.CloseIdleConnections()

	resp, body, err := get(t, c, "https://example.com/")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	if resp.StatusCode != http.StatusOK || body != "tls ok" {
		t.Fatalf("GET = %d %q", resp.StatusCode, body)
	}
	if got := sni.Load().(string); got != "example.com" {
		t.Errorf("SNI = %q, want example.com", got)
	}
	if got := rd.attempts(); !slices.Equal(got, []string{"93.184.216.34:443"}) {
		t.Errorf("dial attempts = %v", got)
	}
	if got := res.total(); got != 1 {
		t.Errorf("resolver called %d times, want 1", got)
	}
}

// Transport must remove everything that would route around DialContext.
func TestTransportClearsBypasses(t *testing.T) {
	var bypassed atomic.Bool
	bypass := func(context.Context, string, string) (net.Conn, error) {
		bypassed.Store(true)
		return nil, errors.New("bypass dialer used")
	}
	base := &http.Transport{
		Proxy:          http.ProxyURL(&url.URL{Scheme: "http", Host: "127.0.0.1:1"}),
		DialContext:    bypass,
		DialTLSContext: bypass,
		Dial: func(string, string) (net.Conn, error) { //nolint:staticcheck
			bypassed.Store(true)
			return nil, errors.New("bypass dialer used")
		},
		ProxyConnectHeader: http.Header{"X-Test": {"1"}},
	}
	d := &Dialer{Resolver: newResolver(testNames), Underlying: newDialer(t)}
	tr := d.Transport(base)
	if tr == base {
		t.Fatal("Transport must return a clone")
	}
	if tr.Proxy != nil || tr.DialTLSContext != nil || tr.Dial != nil || tr.DialTLS != nil || tr.ProxyConnectHeader != nil { //nolint:staticcheck
		t.Fatal("Transport left a proxy or dial hook that bypasses the guard")
	}
	if base.Proxy == nil || base.DialTLSContext == nil {
		t.Fatal("Transport modified its base")
	}

	c := &http.Client{Transport: tr, CheckRedirect: NeverFollow}
	for _, u := range []string{"http://169.254.169.254/", "https://169.254.169.254/"} {
		_, _, err := get(t, c, u)
		requireRefused(t, err, ClassMetadata)
	}
	if bypassed.Load() {
		t.Error("a base transport dial hook was used")
	}

	// And with a nil base (http.DefaultTransport, which honours
	// HTTP_PROXY), the environment proxy is dropped too.
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	if d.Transport(nil).Proxy != nil {
		t.Error("Transport(nil) kept the environment proxy")
	}
}

// redirector answers every request with a 302 to target.
func newRedirector(t *testing.T, target string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRedirectNotFollowedByDefault(t *testing.T) {
	red := newRedirector(t, "http://169.254.169.254/latest/meta-data/iam/")
	rd := newDialer(t)
	d := &Dialer{Policy: Policy{AllowLoopback: true}, Resolver: newResolver(testNames), Underlying: rd}

	for name, check := range map[string]func(*http.Request, []*http.Request) error{
		"NeverFollow":         NeverFollow,
		"zero RedirectPolicy": RedirectPolicy{}.CheckRedirect,
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(d, check)
			defer c.CloseIdleConnections()
			resp, _, err := get(t, c, red.URL+"/start")
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			if resp.StatusCode != http.StatusFound {
				t.Errorf("status = %d, want the 302 passed back", resp.StatusCode)
			}
			if loc := resp.Header.Get("Location"); loc != "http://169.254.169.254/latest/meta-data/iam/" {
				t.Errorf("Location = %q", loc)
			}
		})
	}
	for _, a := range rd.attempts() {
		if strings.HasPrefix(a, "169.254.") {
			t.Errorf("dial attempted to %s", a)
		}
	}
}

func TestRedirectFollowedIsStillGuarded(t *testing.T) {
	final := newLoopbackServer(t)
	finalAP := serverAddrPort(t, final)

	tests := []struct {
		name   string
		target string
		policy RedirectPolicy
		refuse Class // "" means the redirect must be followed to final
		body   string
	}{
		{name: "to metadata literal", target: "http://169.254.169.254/latest/meta-data/",
			policy: RedirectPolicy{Max: 5}, refuse: ClassMetadata},
		{name: "to metadata name", target: "http://meta.example/latest/meta-data/",
			policy: RedirectPolicy{Max: 5}, refuse: ClassMetadata},
		{name: "to mapped metadata literal", target: "http://[::ffff:169.254.169.254]/",
			policy: RedirectPolicy{Max: 5}, refuse: ClassMetadata},
		{name: "to private name", target: "http://internal.example/admin",
			policy: RedirectPolicy{Max: 5}, refuse: ClassPrivate},
		{name: "to private literal", target: "https://10.0.0.5/",
			policy: RedirectPolicy{Max: 5}, refuse: ClassPrivate},
		{name: "to mixed name", target: "http://mixedv6.example/",
			policy: RedirectPolicy{Max: 5}, refuse: ClassMetadata},
		{name: "to host not allowed", target: "http://public.example/",
			policy: RedirectPolicy{Max: 5, AllowHost: func(h string) bool { return h == "127.0.0.1" }}, refuse: ClassHostNotAllowed},
		{name: "to allowed loopback host", target: final.URL + "/done",
			policy: RedirectPolicy{Max: 5, AllowHost: func(h string) bool { return h == "127.0.0.1" }},
			body:   "ok " + finalAP.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			red := newRedirector(t, tt.target)
			rd := newDialer(t)
			// AllowLoopback so the first hop (the loopback redirector) is
			// reachable; the redirect targets must still be refused.
			d := &Dialer{Policy: Policy{AllowLoopback: true}, Resolver: newResolver(testNames), Underlying: rd}
			c := newClient(d, tt.policy.CheckRedirect)
			defer c.CloseIdleConnections()

			resp, body, err := get(t, c, red.URL+"/start")
			if tt.refuse != "" {
				re := requireRefused(t, err, tt.refuse)
				t.Logf("refused as expected: %v", re)
			} else {
				if err != nil {
					t.Fatalf("GET: %v", err)
				}
				if resp.StatusCode != http.StatusOK || body != tt.body {
					t.Errorf("GET = %d %q, want 200 %q", resp.StatusCode, body, tt.body)
				}
			}
			// Only the loopback servers were ever dialed.
			for _, a := range rd.attempts() {
				ap, err := netip.ParseAddrPort(a)
				if err != nil || !ap.Addr().IsLoopback() {
					t.Errorf("dial attempted to %s", a)
				}
			}
		})
	}
}

func TestRedirectPolicyMax(t *testing.T) {
	// A loopback server that redirects to itself forever.
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/again", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	d := &Dialer{Policy: Policy{AllowLoopback: true}, Resolver: newResolver(testNames), Underlying: newDialer(t)}
	c := newClient(d, RedirectPolicy{Max: 3}.CheckRedirect)
	defer c.CloseIdleConnections()
	_, _, err := get(t, c, srv.URL)
	if err == nil || !strings.Contains(err.Error(), "stopped after 3 redirects") {
		t.Fatalf("error = %v, want stop after 3 redirects", err)
	}
}
