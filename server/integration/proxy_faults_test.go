package integration_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// forwarder is a TCP relay in front of Redis that the test can cut (fault injection): while
// cut it closes every relayed connection and every new one at once.
type forwarder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

func newForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { _ = ln.Close(); f.setCut(true) })
	go f.serve()
	return f
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

func (f *forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut {
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *forwarder) serve() {
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", f.target)
		if err != nil || !f.track(in, out) {
			_ = in.Close()
			if out != nil {
				_ = out.Close()
			}
			continue
		}
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}

func (f *forwarder) setCut(cut bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = cut
	if cut {
		for c := range f.conns {
			_ = c.Close()
		}
		clear(f.conns)
	}
}

// TestProxyRedisDown: without Redis, a valid OAuth2 token still proxies; a call that needs a
// refresh answers 503 and says why, and the connection stays healthy.
func TestProxyRedisDown(t *testing.T) {
	var fwds sync.Map // backend name → *forwarder
	eachBackendWith(t, func(t *testing.T, o *testserver.Options) {
		target := o.RedisAddr
		if target == "" {
			target = miniredis.RunT(t).Addr()
		}
		f := newForwarder(t, target)
		fwds.Store(o.Name, f)
		o.RedisAddr = f.addr()
	}, func(t *testing.T, h *harness) {
		name := strings.TrimPrefix(t.Name(), "TestProxyRedisDown/")
		v, _ := fwds.Load(name)
		f := v.(*forwarder)
		c := h.admin
		s := newACSetup(t, h, "redis-down")
		cn := s.connect(t)
		status, tok := s.proxy(t, cn.Id)
		if status != http.StatusOK {
			t.Fatalf("proxy: %d", status)
		}

		f.setCut(true)
		if status, got := s.proxy(t, cn.Id); status != http.StatusOK || got != tok {
			t.Fatalf("proxy with a valid token and Redis down: %d", status)
		}
		// The upstream refuses the token: the refresh needs the lock, which needs Redis.
		refreshes := s.as.grantCalls("refresh_token")
		s.up.rejectNext.Store(1)
		call(c.ProxyConnectionWithResponse(t.Context(), cn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: s.up.URL + "/v1/me"})).
			problem(t, http.StatusServiceUnavailable, "", "the lock service cannot be reached")
		if n := s.as.grantCalls("refresh_token") - refreshes; n != 0 {
			t.Fatalf("%d unlocked refreshes with Redis down", n)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionReady || got.Health != sdk.HealthHealthy {
			t.Fatalf("after a refresh without Redis: %s %s", got.State, got.Health)
		}

		// Redis is back: the next refusal refreshes.
		f.setCut(false)
		s.up.rejectNext.Store(1)
		if status, got := s.proxy(t, cn.Id); status != http.StatusOK || got == tok {
			t.Fatalf("proxy after Redis came back: %d, new token %v", status, got != tok)
		}
	})
}

// faultUpstream cuts its connection after part of the body, or answers slowly.
func newFaultUpstream(t *testing.T) *httptest.Server {
	u := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/cut":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", "1048576")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(make([]byte, 64<<10))
			_ = http.NewResponseController(w).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		case "/api/slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func TestProxyUpstreamFaults(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		up := newFaultUpstream(t)
		cn := h.apiKeyConnection(t, "faults", streamDefinition(up.URL+"/api/", "300ms"), "fault-key-0123456789")
		byConn := sdk.ListRequestLogsParams{ConnectionId: &cn.Id}

		// Closed mid-stream: the streaming caller's read fails...
		resp := h.rawProxy(t, cn.Id, http.MethodGet, up.URL+"/api/cut", nil, nil, 0)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("raw: %d", resp.StatusCode)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil || n >= 1<<20 {
			t.Fatalf("raw read of a cut stream: %d bytes, error %v", n, err)
		}
		// ...and the buffered one gets a 502.
		call(c.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, up.URL+"/api/cut", nil))).
			problem(t, http.StatusBadGateway, "", "calling the upstream "+strings.TrimPrefix(up.URL, "http://")+" failed")
		es := waitRequestLogs(t, c, byConn, 2, &bodies{})
		for _, e := range es {
			if e.ErrorClass == nil || *e.ErrorClass != sdk.ErrorUpstreamError || e.ResponseSize != 64<<10 || e.Url != up.URL+"/api/cut" {
				t.Errorf("request log of a cut stream: class %v, %d bytes, %s", e.ErrorClass, e.ResponseSize, e.Url)
			}
		}

		// A slow upstream: the connector's timeout applies, through both forms.
		start := time.Now()
		resp = h.rawProxy(t, cn.Id, http.MethodGet, up.URL+"/api/slow", nil, nil, 0)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "did not answer within the connector's timeout") {
			t.Fatalf("raw slow: %d %s", resp.StatusCode, body)
		}
		call(c.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, up.URL+"/api/slow", nil))).
			problem(t, http.StatusGatewayTimeout, "", "did not answer within the connector's timeout")
		if took := time.Since(start); took > 4*time.Second {
			t.Fatalf("two calls with a 300ms timeout took %s", took)
		}
		es = waitRequestLogs(t, c, byConn, 4, &bodies{})
		for _, e := range es[:2] {
			if e.ErrorClass == nil || *e.ErrorClass != sdk.ErrorTimeout || e.Status != 0 || e.DurationMs < 250 || e.Url != up.URL+"/api/slow" {
				t.Errorf("request log of a timeout: class %v, status %d, %vms, %s", e.ErrorClass, e.Status, e.DurationMs, e.Url)
			}
		}
	})
}
