package requestlog

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type memRecorder struct {
	mu sync.Mutex
	es []Entry
}

func (m *memRecorder) Record(e Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.es = append(m.es, e)
}

func (m *memRecorder) entries() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Entry(nil), m.es...)
}

func TestTokenTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"access_token":"at-secret-value"}`)
		}
	}))
	defer srv.Close()
	rec := &memRecorder{}
	bound := &Identity{Namespace: "root.bound", ConnectionID: "cxn_bound", ConnectorID: "cxr_1", ConnectorVersion: 2}
	hc := &http.Client{Transport: &TokenTransport{Recorder: rec, Identity: bound}}
	post := func(ctx context.Context, path string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path+"?client_secret=s3cr3t", strings.NewReader("grant_type=refresh_token&refresh_token=rt"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	}
	ctx := WithIdentity(context.Background(), Identity{Namespace: "root.ctx", ConnectionID: "cxn_ctx", ConnectorID: "cxr_2", ConnectorVersion: 3,
		Labels: map[string]string{"a": "b"}})
	post(ctx, "/token")
	post(context.Background(), "/bad")
	post(ctx, "/down")
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	post(tctx, "/slow")
	cancel()
	es := rec.entries()
	if len(es) != 4 {
		t.Fatalf("%d entries: %+v", len(es), es)
	}
	ok, bad, down, slow := es[0], es[1], es[2], es[3]
	if ok.Kind != KindToken || ok.ConnectionID != "cxn_ctx" || ok.Namespace != "root.ctx" || ok.Labels["a"] != "b" || ok.Status != 200 ||
		ok.ErrorClass != "" || ok.Method != http.MethodPost || ok.RequestSize == 0 || ok.ResponseSize != int64(len(`{"access_token":"at-secret-value"}`)) ||
		ok.ResponseContentType != "application/json" || ok.RequestContentType != "application/x-www-form-urlencoded" {
		t.Errorf("ok entry = %+v", ok)
	}
	if strings.Contains(ok.URL, "s3cr3t") || !strings.Contains(ok.URL, "client_secret=REDACTED") {
		t.Errorf("url = %s", ok.URL)
	}
	if bad.ConnectionID != "cxn_bound" || bad.ErrorClass != ClassRejected || bad.Status != 400 {
		t.Errorf("rejected entry = %+v", bad)
	}
	if down.ErrorClass != ClassUpstreamError || down.Status != 503 {
		t.Errorf("5xx entry = %+v", down)
	}
	if slow.ErrorClass != ClassTimeout || slow.Status != 0 {
		t.Errorf("timeout entry = %+v", slow)
	}

	// Without an identity (context or bound), nothing is recorded.
	rec2 := &memRecorder{}
	hc = &http.Client{Transport: &TokenTransport{Recorder: rec2}}
	post(context.Background(), "/token")
	if n := len(rec2.entries()); n != 0 {
		t.Errorf("%d entries without an identity", n)
	}
}
