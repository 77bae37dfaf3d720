package integration_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

// upstream is a loopback third-party API that records what reached it.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Clone(r.Context()))
		u.mu.Unlock()
		switch r.URL.Path {
		case "/api/slow":
			time.Sleep(800 * time.Millisecond)
		case "/api/limited":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		case "/api/redirect":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		case "/api/binary":
			_, _ = w.Write([]byte{0xff, 0x00, 0xfe})
			return
		}
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "must not pass")
		_, _ = fmt.Fprintf(w, `{"path":%q,"method":%q}`, r.URL.Path, r.Method)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) last(t *testing.T) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("nothing reached the upstream")
	}
	return u.seen[len(u.seen)-1]
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

func apiKeyDefinition(base, placement string) string {
	extra := ""
	switch placement {
	case "header":
		extra = "    headerName: X-Api-Key\n    prefix: \"Key \"\n"
	case "query":
		extra = "    queryParam: api_key\n"
	case "basic":
		extra = "    username: svc\n"
	}
	return fmt.Sprintf("display: {name: Demo}\nauth:\n  type: api_key\n  apiKey:\n    placement: %s\n%supstream:\n  allowedUrls: [%q]\n  timeout: 300ms\n", placement, extra, base)
}

func (h *harness) apiKeyConnection(t *testing.T, name, def, key string) sdk.Connection {
	t.Helper()
	c := h.admin
	cx := mkConnector(t, c, "root", name)
	v := mkConnectorVersion(t, c, cx.Id, def, nil)
	call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
	return *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id, ApiKey: &key})).
		want(t, http.StatusCreated).JSON201
}

func proxyReq(method sdk.ProxyRequestMethod, url string, headers map[string][]string) sdk.ProxyRequest {
	r := sdk.ProxyRequest{Method: method, Url: url}
	if headers != nil {
		r.Headers = &headers
	}
	return r
}

func TestProxyAPIKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newUpstream(t)
		const key = "live-key-0123456789abcdef"
		var seen bodies
		for _, placement := range []string{"bearer", "header", "query", "basic"} {
			cn := h.apiKeyConnection(t, "demo-"+placement, apiKeyDefinition(up.URL+"/api/", placement), key)
			r := call(h.admin.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, up.URL+"/api/items?page=2",
				map[string][]string{"Authorization": {"Bearer caller-own-token"}, "X-Trace": {"abc"}, "Connection": {"X-Drop"}, "X-Drop": {"1"}}))).
				want(t, http.StatusOK)
			seen.add(r)
			got := r.JSON200
			if got.Status != http.StatusOK || got.Body == nil || !strings.Contains(*got.Body, `"path":"/api/items"`) {
				t.Fatalf("%s: response %+v", placement, got)
			}
			if got.Headers["X-Upstream"] == nil || got.Headers["X-Hop"] != nil || got.Headers["Connection"] != nil {
				t.Fatalf("%s: response headers %v", placement, got.Headers)
			}
			in := up.last(t)
			if in.Header.Get("X-Trace") != "abc" || in.Header.Get("X-Drop") != "" || in.URL.Query().Get("page") != "2" {
				t.Fatalf("%s: forwarded %v %v", placement, in.Header, in.URL)
			}
			switch placement {
			case "bearer":
				if in.Header.Get("Authorization") != "Bearer "+key {
					t.Fatalf("bearer: Authorization %q", in.Header.Get("Authorization"))
				}
			case "header":
				if in.Header.Get("X-Api-Key") != "Key "+key || in.Header.Get("Authorization") != "" {
					t.Fatalf("header: %v", in.Header)
				}
			case "query":
				if in.URL.Query().Get("api_key") != key || in.Header.Get("Authorization") != "" {
					t.Fatalf("query: %v %v", in.URL, in.Header)
				}
			case "basic":
				if u, p, ok := in.BasicAuth(); !ok || u != "svc" || p != key {
					t.Fatalf("basic: %q %q", u, p)
				}
			}
			if strings.Contains(in.Header.Get("Authorization"), "caller-own-token") {
				t.Fatalf("%s: the caller's own Authorization was forwarded", placement)
			}
		}
		cn := h.apiKeyConnection(t, "demo", apiKeyDefinition(up.URL+"/api/", "query"), key)
		// 429 and Retry-After pass through; binary bodies come back as base64.
		lim := call(h.admin.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, up.URL+"/api/limited", nil))).want(t, http.StatusOK).JSON200
		if lim.Status != http.StatusTooManyRequests || lim.Headers["Retry-After"][0] != "7" {
			t.Fatalf("429: %+v", lim)
		}
		bin := call(h.admin.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, up.URL+"/api/binary", nil))).want(t, http.StatusOK).JSON200
		if bin.Body != nil || bin.BodyBase64 == nil || string(*bin.BodyBase64) != "\xff\x00\xfe" {
			t.Fatalf("binary: %+v", bin)
		}
		// Redirects come back, never followed (here: to the metadata address).
		before := up.count()
		red := call(h.admin.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, up.URL+"/api/redirect", nil))).want(t, http.StatusOK).JSON200
		if red.Status != http.StatusFound || red.Headers["Location"][0] != "http://169.254.169.254/latest/meta-data/" || up.count() != before+1 {
			t.Fatalf("redirect: %+v", red)
		}
		// The connector's timeout applies.
		slow := call(h.admin.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, up.URL+"/api/slow", nil))).
			problem(t, http.StatusGatewayTimeout, "", "did not answer within the connector's timeout")
		seen.add(slow)
		// Outside the allowed URLs: refused before anything is sent.
		before = up.count()
		for _, u := range []string{up.URL + "/private/x", up.URL + "/apix", "http://127.0.0.1:1/api/"} {
			p := call(h.admin.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, u+"?api_key=leak", nil))).
				problem(t, http.StatusForbidden, "", "is not under the connector's allowed upstream URLs")
			if strings.Contains(deref(p.Detail), "leak") {
				t.Fatalf("query echoed in %q", deref(p.Detail))
			}
		}
		call(h.admin.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, "ftp://example.com/", nil))).
			problem(t, http.StatusBadRequest, "url", "absolute http or https URL")
		if up.count() != before {
			t.Fatal("a refused request reached the upstream")
		}
		seen.wantNone(t, key)
	})
}

func TestProxyRefusesInternalAddresses(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		// Connectors that (wrongly) allow internal addresses: the dial guard still refuses
		// them, before any packet is sent (the addresses are literals, checked before dialing).
		for _, tc := range []struct{ name, base, class string }{
			{"private10", "http://10.0.0.5/", "private address"},
			{"private172", "http://172.16.3.4/", "private address"},
			{"private192", "http://192.168.1.1/", "private address"},
			{"metadata", "http://169.254.169.254/", "metadata"},
			{"linklocal", "http://169.254.10.10/", "link-local"},
			{"mapped", "http://[::ffff:10.1.2.3]/", "private address"},
		} {
			cn := h.apiKeyConnection(t, tc.name, apiKeyDefinition(tc.base, "bearer"), "k")
			call(h.admin.ProxyConnectionWithResponse(t.Context(), cn.Id, proxyReq(sdk.GET, tc.base+"latest", nil))).
				problem(t, http.StatusForbidden, "", tc.class)
		}
	})
}

func TestProxyAuthorization(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newUpstream(t)
		h.mkNamespace(t, "root.p")
		cx := mkConnector(t, h.admin, "root", "demo")
		v := mkConnectorVersion(t, h.admin, cx.Id, apiKeyDefinition(up.URL+"/api/", "bearer"), nil)
		call(h.admin.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
		cn := *call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.p", ConnectorId: cx.Id, ApiKey: strPtr("k")})).
			want(t, http.StatusCreated).JSON201
		other := *call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id, ApiKey: strPtr("k")})).
			want(t, http.StatusCreated).JSON201
		reader := h.mkActor(t, "root.p", "reader", perm("root.p.**", "connections", "get,list"))
		app := h.mkActor(t, "root.p", "app", perm("root.p.**", "connections", "get,proxy"))
		req := proxyReq(sdk.GET, up.URL+"/api/x", nil)
		call(reader.Client.ProxyConnectionWithResponse(t.Context(), cn.Id, req)).problem(t, http.StatusForbidden, "", "not permitted to proxy")
		call(app.Client.ProxyConnectionWithResponse(t.Context(), other.Id, req)).problem(t, http.StatusNotFound, "", "connection not found")
		call(app.Client.ProxyConnectionWithResponse(t.Context(), cn.Id, req)).want(t, http.StatusOK)
		call(h.admin.DisconnectConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK)
		call(app.Client.ProxyConnectionWithResponse(t.Context(), cn.Id, req)).problem(t, http.StatusConflict, "", "is disconnected, not ready")
	})
}

func TestSDKConnectionClient(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newUpstream(t)
		cn := h.apiKeyConnection(t, "demo", apiKeyDefinition(up.URL+"/api/", "header"), "sdk-key")
		app := h.mkActor(t, "root", "app", perm("root", "connections", "get,proxy"))
		api, err := sdk.NewAuthenticatedClient(h.s.APIURL, app.Signer, sdk.AudienceAPI)
		if err != nil {
			t.Fatal(err)
		}
		hc := sdk.NewConnectionClient(api, cn.Id)
		resp, err := hc.Post(up.URL+"/api/things", "application/json", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"method":"POST"`) || resp.Header.Get("X-Upstream") != "yes" {
			t.Fatalf("response %d %v %s", resp.StatusCode, resp.Header, b)
		}
		if in := up.last(t); in.Header.Get("X-Api-Key") != "Key sdk-key" || in.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("upstream got %v", in.Header)
		}
		// Refusals are errors, upstream statuses are responses.
		_, err = hc.Get("http://10.0.0.1/api/x")
		var pe *sdk.ProxyError
		if !errors.As(err, &pe) || pe.Status != http.StatusForbidden {
			t.Fatalf("outside the allowed URLs: %v", err)
		}
		resp, err = hc.Get(up.URL + "/api/limited")
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "7" {
			t.Fatalf("429: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}
