package integration_test

import (
	"bytes"
	"crypto/sha256"
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

const streamSize = 20 << 20

// patterned is n bytes of a repeating pattern, produced as read (never held in memory).
type patterned struct{ n, off int64 }

func (p *patterned) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func patternSum(n int64) [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, &patterned{n: n})
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// streamUpstream is a loopback API for the streaming proxy tests.
type streamUpstream struct {
	*httptest.Server
	mu       sync.Mutex
	header   http.Header
	got      int64
	gotSum   [32]byte
	chunked  bool
	released chan struct{} // closed by the test once it has read the first chunk
	finished chan struct{} // closed by /api/events when it wrote its last chunk
}

func newStreamUpstream(t *testing.T) *streamUpstream {
	u := &streamUpstream{released: make(chan struct{}), finished: make(chan struct{})}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		u.mu.Lock()
		u.header = r.Header.Clone()
		u.got = n
		copy(u.gotSum[:], h.Sum(nil))
		u.chunked = len(r.TransferEncoding) > 0
		u.mu.Unlock()
		switch r.URL.Path {
		case "/api/download":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Connection", "X-Hop")
			w.Header().Set("X-Hop", "must not pass")
			w.Header().Set("X-Authproxy-Proxied", "spoofed")
			w.Header().Set("X-Upstream", "yes")
			_, _ = io.Copy(w, &patterned{n: streamSize})
		case "/api/events":
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "data: first\n\n")
			http.NewResponseController(w).Flush()
			select {
			case <-u.released:
			case <-time.After(5 * time.Second):
				return // the proxy buffered: the test fails on the missing second event
			}
			_, _ = io.WriteString(w, "data: second\n\n")
			close(u.finished)
		case "/api/slow":
			time.Sleep(2 * time.Second)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"method":%q,"size":%d}`, r.Method, n)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *streamUpstream) seen() (http.Header, int64, [32]byte, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.header, u.got, u.gotSum, u.chunked
}

func streamDefinition(base, timeout string) string {
	return fmt.Sprintf("display: {name: Stream}\nauth:\n  type: api_key\n  apiKey:\n    placement: header\n    headerName: X-Api-Key\nupstream:\n  allowedUrls: [%q]\n  timeout: %s\n", base, timeout)
}

// rawProxy calls the streaming proxy endpoint of connection id as the admin.
func (h *harness) rawProxy(t *testing.T, id, method, upstreamURL string, header http.Header, body io.Reader, length int64) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.s.AdminURL+"/api/v1/connections/"+id+"/_proxy_raw", body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.ContentLength = length
	if upstreamURL != "" {
		req.Header.Set("X-AuthProxy-Upstream-Url", upstreamURL)
	}
	if err := h.adminSigner.RequestEditor(sdk.AudienceAdmin)(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestProxyRawStreams(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newStreamUpstream(t)
		const key = "stream-key-0123456789"
		cn := h.apiKeyConnection(t, "stream", streamDefinition(up.URL+"/api/", "20s"), key)

		// A 20 MiB upload of unknown length, streamed (chunked), past the API's 1 MiB body limit.
		resp := h.rawProxy(t, cn.Id, http.MethodPut, up.URL+"/api/upload?x=1", http.Header{
			"Content-Type":    {"application/octet-stream"},
			"Connection":      {"X-Drop"},
			"X-Drop":          {"1"},
			"X-Authproxy-Foo": {"secret-ish"},
			"X-Trace":         {"abc"},
		}, io.MultiReader(&patterned{n: streamSize}), -1)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Authproxy-Proxied") != "1" {
			t.Fatalf("upload: %d %v %s", resp.StatusCode, resp.Header, b)
		}
		hdr, n, sum, chunked := up.seen()
		if n != streamSize || sum != patternSum(streamSize) || !chunked {
			t.Fatalf("upstream got %d bytes (chunked %v), want %d", n, chunked, streamSize)
		}
		if hdr.Get("X-Api-Key") != key || hdr.Get("X-Trace") != "abc" || hdr.Get("X-Drop") != "" ||
			hdr.Get("Authorization") != "" || hdr.Get("X-Authproxy-Foo") != "" || hdr.Get("X-Authproxy-Upstream-Url") != "" {
			t.Fatalf("forwarded headers %v", hdr)
		}

		// A 20 MiB download, streamed back with the upstream's headers less hop-by-hop ones.
		resp = h.rawProxy(t, cn.Id, http.MethodGet, up.URL+"/api/download", nil, nil, 0)
		hs := sha256.New()
		got, err := io.Copy(hs, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK || got != streamSize || [32]byte(hs.Sum(nil)) != patternSum(streamSize) {
			t.Fatalf("download: %d, %d bytes, %v", resp.StatusCode, got, err)
		}
		if resp.Header.Get("X-Upstream") != "yes" || resp.Header.Get("X-Hop") != "" || resp.Header.Get("Connection") != "" ||
			resp.Header.Values("X-Authproxy-Proxied")[0] != "1" || len(resp.Header.Values("X-Authproxy-Proxied")) != 1 {
			t.Fatalf("download headers %v", resp.Header)
		}
		if hdr, _, _, _ := up.seen(); hdr.Get("Authorization") != "" {
			t.Fatalf("the caller's Authorization was forwarded: %v", hdr)
		}

		// Server-sent events: the first event arrives before the upstream has finished.
		resp = h.rawProxy(t, cn.Id, http.MethodGet, up.URL+"/api/events", http.Header{"Accept": {"text/event-stream"}}, nil, 0)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
		}
		first := make([]byte, len("data: first\n\n"))
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: first\n\n" {
			t.Fatalf("first event %q %v", first, err)
		}
		select {
		case <-up.finished:
			t.Fatal("the upstream finished before the first event was read")
		default:
		}
		close(up.released)
		rest, _ := io.ReadAll(resp.Body)
		if string(rest) != "data: second\n\n" {
			t.Fatalf("rest %q", rest)
		}

		// HEAD and a body-less POST.
		resp = h.rawProxy(t, cn.Id, http.MethodHead, up.URL+"/api/x", nil, nil, 0)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD: %d", resp.StatusCode)
		}

		// The request log has one entry per call, with the bytes actually streamed.
		logs := waitRequestLogs(t, h.admin, sdk.ListRequestLogsParams{ConnectionId: &cn.Id}, 4, &bodies{})
		sizes := map[string][2]int64{}
		for _, e := range logs {
			sizes[e.Method+" "+e.Url[strings.LastIndex(e.Url, "/"):]] = [2]int64{e.RequestSize, e.ResponseSize}
			if e.Status != http.StatusOK {
				t.Fatalf("log entry %+v", e)
			}
		}
		if sizes["PUT /upload?x=1"][0] != streamSize || sizes["GET /download"] != [2]int64{0, streamSize} ||
			sizes["GET /events"] != [2]int64{0, int64(len("data: first\n\ndata: second\n\n"))} {
			t.Fatalf("logged sizes %v", sizes)
		}
	})
}

func TestProxyRawRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newStreamUpstream(t)
		cn := h.apiKeyConnection(t, "stream", streamDefinition(up.URL+"/api/", "300ms"), "k")
		check := func(resp *http.Response, status int, substr string) {
			t.Helper()
			b, _ := io.ReadAll(resp.Body)
			if resp.Header.Get("X-Authproxy-Proxied") != "" {
				t.Fatalf("a refusal is marked as the upstream's: %v", resp.Header)
			}
			wantProblem(t, resp, b, status, "", substr)
		}
		check(h.rawProxy(t, cn.Id, http.MethodGet, up.URL+"/private/x?k=leak", nil, nil, 0), http.StatusForbidden, "is not under the connector's allowed upstream URLs")
		check(h.rawProxy(t, cn.Id, http.MethodGet, up.URL+"/api/slow", nil, nil, 0), http.StatusGatewayTimeout, "did not answer within the connector's timeout")
		check(h.rawProxy(t, cn.Id, http.MethodPost, "", nil, strings.NewReader("x"), 1), http.StatusBadRequest, "X-AuthProxy-Upstream-Url")
		inner := h.apiKeyConnection(t, "internal", streamDefinition("http://10.0.0.5/", "300ms"), "k")
		check(h.rawProxy(t, inner.Id, http.MethodGet, "http://10.0.0.5/x", nil, nil, 0), http.StatusForbidden, "private address")
		// Authentication and connections:proxy, like the envelope.
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.s.AdminURL+"/api/v1/connections/"+cn.Id+"/_proxy_raw", nil)
		req.Header.Set("X-AuthProxy-Upstream-Url", up.URL+"/api/x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		check(resp, http.StatusUnauthorized, "")
		reader := h.mkActor(t, "root", "reader", perm("root", "connections", "get,list"))
		api, err := sdk.NewAuthenticatedClient(h.s.APIURL, reader.Signer, sdk.AudienceAPI)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sdk.NewConnectionClient(api, cn.Id).Get(up.URL + "/api/x")
		var pe *sdk.ProxyError
		if !errors.As(err, &pe) || pe.Status != http.StatusForbidden || !strings.Contains(pe.Detail, "not permitted to proxy") {
			t.Fatalf("reader: %v", err)
		}
		call(h.admin.DisconnectConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK)
		check(h.rawProxy(t, cn.Id, http.MethodPut, up.URL+"/api/x", nil, bytes.NewReader([]byte("body")), 4), http.StatusConflict, "not ready")
	})
}

// TestSDKConnectionClientStreams: the SDK's http.Client streams both ways.
func TestSDKConnectionClientStreams(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newStreamUpstream(t)
		cn := h.apiKeyConnection(t, "stream", streamDefinition(up.URL+"/api/", "20s"), "sdk-key")
		app := h.mkActor(t, "root", "app", perm("root", "connections", "get,proxy"))
		api, err := sdk.NewAuthenticatedClient(h.s.APIURL, app.Signer, sdk.AudienceAPI)
		if err != nil {
			t.Fatal(err)
		}
		hc := sdk.NewConnectionClient(api, cn.Id)
		resp, err := hc.Post(up.URL+"/api/upload", "application/octet-stream", &patterned{n: streamSize})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if _, n, sum, _ := up.seen(); resp.StatusCode != http.StatusOK || n != streamSize || sum != patternSum(streamSize) {
			t.Fatalf("upload: %d %s, upstream got %d", resp.StatusCode, b, n)
		}
		resp, err = hc.Get(up.URL + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		first := make([]byte, len("data: first\n\n"))
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: first\n\n" {
			t.Fatalf("first event %q %v", first, err)
		}
		close(up.released)
		if rest, _ := io.ReadAll(resp.Body); string(rest) != "data: second\n\n" || resp.Header.Get("X-Authproxy-Proxied") != "" {
			t.Fatalf("rest %q, headers %v", rest, resp.Header)
		}
	})
}
