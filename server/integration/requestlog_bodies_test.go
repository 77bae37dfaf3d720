package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/internal/blob"
	"github.com/authproxy/authproxy/server/testserver"
)

// recordingUpstream is a loopback API for body recording: it answers JSON holding a token
// and echoes the API key it received (in a header and in the body), as some APIs do, so a
// test can show the recorded bodies never keep the key.
func recordingUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		w.Header().Set("Set-Cookie", "session=upstream-session-cookie")
		w.Header().Set("X-Echo-Key", r.Header.Get("X-Api-Key"))
		w.Header().Set("X-Upstream-Secret", "upstream-header-secret")
		switch r.URL.Path {
		case "/api/binary":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte{0xff, 0x00, 0xfe, 0x01})
			return
		case "/api/text":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = fmt.Fprint(w, "plain text answer")
			return
		case "/api/fail":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = fmt.Fprint(w, `{"error":"boom","token":"fail-token-value"}`)
			return
		case "/api/big":
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"pad":%q,"token":"big-token-value"}`, strings.Repeat("x", 100<<10))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"echo":%q,"session":{"token":"response-token-value","list":[{"token":"nested-token-value"}]},"received":%d}`,
			r.Header.Get("X-Api-Key"), len(in))
	}))
	t.Cleanup(s.Close)
	return s
}

func recordingDefinition(base, bodies string) string {
	return plainRecordingDefinition(base, bodies) + "  redactJsonFields: [token, password]\n"
}

// plainRecordingDefinition records without JSON field redaction.
func plainRecordingDefinition(base, bodies string) string {
	return fmt.Sprintf(`display: {name: Recorded}
auth:
  type: api_key
  apiKey:
    placement: header
    headerName: X-Api-Key
upstream:
  allowedUrls: [%q]
  timeout: 5s
logging:
  bodies: %s
  redactHeaders: [X-Custom-Secret, X-Upstream-Secret]
`, base, bodies)
}

// connectionIn creates a connector in root with def and a connection in namespace ns.
func (h *harness) connectionIn(t *testing.T, ns, name, def, key string) sdk.Connection {
	t.Helper()
	c := h.admin
	cx := mkConnector(t, c, "root", name)
	v := mkConnectorVersion(t, c, cx.Id, def, nil)
	call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
	return *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: ns, ConnectorId: cx.Id, ApiKey: &key})).
		want(t, http.StatusCreated).JSON201
}

// proxyEnvelope calls the JSON proxy and fails on anything but a 200 envelope. (What the
// upstream answers goes back to the caller as is: the test upstream echoes the key there.)
func (h *harness) proxyEnvelope(t *testing.T, id string, r sdk.ProxyRequest) *sdk.ProxyResponse {
	t.Helper()
	resp, err := h.admin.ProxyConnectionWithResponse(t.Context(), id, r)
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("proxy %s: %d %s", r.Url, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200
}

// rawCall calls the streaming proxy and returns the status and the body read in full.
func (h *harness) rawCall(t *testing.T, id, method, upstreamURL string, header http.Header, body []byte) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	resp := h.rawProxy(t, id, method, upstreamURL, header, rd, int64(len(body)))
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, b
}

// entryFor waits for the one entry of connection id whose URL is url.
func entryFor(t *testing.T, c *sdk.ClientWithResponses, id, url string, seen *bodies) sdk.RequestLog {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, e := range requestLogs(t, c, sdk.ListRequestLogsParams{ConnectionId: &id}, seen) {
			if e.Url == url {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request log entry for %s on %s", url, id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getBodies(t *testing.T, c *sdk.ClientWithResponses, id string, seen *bodies) *sdk.RequestLogBodies {
	t.Helper()
	r := call(c.GetRequestLogBodiesWithResponse(t.Context(), id)).want(t, http.StatusOK)
	seen.add(r)
	if r.JSON200.Request == nil || r.JSON200.Response == nil {
		t.Fatalf("bodies of %s: %s", id, r.Body)
	}
	return r.JSON200
}

func wantRedactedHeader(t *testing.T, what string, h map[string][]string, name string) {
	t.Helper()
	vs := http.Header(h).Values(name)
	if len(vs) == 0 {
		t.Errorf("%s: header %s missing: %v", what, name, h)
	}
	for _, v := range vs {
		if v != "REDACTED" {
			t.Errorf("%s: header %s = %q, want REDACTED", what, name, v)
		}
	}
}

// TestRequestLogBodies: the connector's logging policy (always, errors, never) through both
// proxies; what is recorded is redacted (credentials, cookies, the connector's headers and
// JSON fields), capped, and readable only through GET …/bodies by who may get the entry; the
// API key appears in no response, database row or blob file.
func TestRequestLogBodies(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		up := recordingUpstream(t)
		const key = "rec-live-api-key-5f2b9c1d7e"
		var seen bodies
		always := h.connectionIn(t, "root", "rec-always", recordingDefinition(up.URL+"/api/", "always"), key)
		errorsOnly := h.connectionIn(t, "root", "rec-errors", recordingDefinition(up.URL+"/api/", "errors"), key)
		never := h.connectionIn(t, "root", "rec-never", recordingDefinition(up.URL+"/api/", "never"), key)
		plain := h.connectionIn(t, "root", "rec-plain", plainRecordingDefinition(up.URL+"/api/", "always"), key)

		// always, JSON proxy: a JSON request with a password, a custom secret header and a
		// cookie; the answer holds tokens and echoes the key.
		reqBody := `{"user":{"name":"ann","password":"request-password-value"},"n":1}`
		hdrs := map[string][]string{"Content-Type": {"application/json"}, "X-Custom-Secret": {"custom-secret-value"},
			"Cookie": {"caller=cookie-value"}, "X-Plain": {"visible"}}
		post := proxyReq(sdk.POST, up.URL+"/api/echo", hdrs)
		post.Body = &reqBody
		if r := h.proxyEnvelope(t, always.Id, post); r.Status != 200 || !strings.Contains(deref(r.Body), key) {
			t.Fatalf("echo through the proxy: %+v (the caller gets the upstream's answer as is)", r)
		}
		e := entryFor(t, h.admin, always.Id, up.URL+"/api/echo", &seen)
		if !e.BodiesRecorded || e.Kind != sdk.KindProxy {
			t.Fatalf("entry = %+v, want kind proxy with bodies recorded", e)
		}
		b := getBodies(t, h.admin, e.Id, &seen)
		if b.Request.Body != `{"n":1,"user":{"name":"ann","password":"REDACTED"}}` || b.Request.Encoding != sdk.EncodingText ||
			b.Request.Size != int64(len(reqBody)) || b.Request.Truncated {
			t.Errorf("recorded request = %+v", *b.Request)
		}
		for _, name := range []string{"X-Api-Key", "X-Custom-Secret", "Cookie"} {
			wantRedactedHeader(t, "request", b.Request.Headers, name)
		}
		if http.Header(b.Request.Headers).Get("X-Plain") != "visible" {
			t.Errorf("request headers = %v, want X-Plain kept", b.Request.Headers)
		}
		for _, name := range []string{"Set-Cookie", "X-Upstream-Secret", "X-Echo-Key"} {
			wantRedactedHeader(t, "response", b.Response.Headers, name)
		}
		var resp map[string]any
		if err := json.Unmarshal([]byte(b.Response.Body), &resp); err != nil {
			t.Fatalf("recorded response body %q: %v", b.Response.Body, err)
		}
		if want := `{"echo":"REDACTED","received":` + fmt.Sprint(len(reqBody)) + `,"session":{"list":[{"token":"REDACTED"}],"token":"REDACTED"}}`; b.Response.Body != want {
			t.Errorf("recorded response body = %s, want %s", b.Response.Body, want)
		}

		// always, streaming proxy: a request larger than the body limit must be redacted but
		// cannot be parsed, so it is not stored; a text answer is no JSON to redact either.
		big := []byte(`{"token":"raw-request-token","pad":"` + strings.Repeat("y", 80<<10) + `"}`)
		status, _ := h.rawCall(t, always.Id, http.MethodPut, up.URL+"/api/text", http.Header{"Content-Type": {"application/json"}}, big)
		if status != http.StatusOK {
			t.Fatalf("raw PUT: %d", status)
		}
		e = entryFor(t, h.admin, always.Id, up.URL+"/api/text", &seen)
		b = getBodies(t, h.admin, e.Id, &seen)
		if b.Request.Body != "" || !b.Request.Truncated || b.Request.Size != int64(len(big)) ||
			!strings.Contains(deref(b.Request.Omitted), "truncated") {
			t.Errorf("recorded oversized request = %+v, want no body, truncated, the full size and the omission noted", *b.Request)
		}
		if b.Response.Body != "" || b.Response.Size != int64(len("plain text answer")) || b.Response.Truncated ||
			!strings.Contains(deref(b.Response.Omitted), "not JSON") {
			t.Errorf("recorded text response = %+v", *b.Response)
		}
		// Without JSON fields to redact, any body is kept: a binary one as base64, a large one
		// up to the limit.
		status, _ = h.rawCall(t, plain.Id, http.MethodPost, up.URL+"/api/binary", http.Header{"Content-Type": {"application/json"}}, big)
		if status != http.StatusOK {
			t.Fatalf("raw POST binary: %d", status)
		}
		e = entryFor(t, h.admin, plain.Id, up.URL+"/api/binary", &seen)
		b = getBodies(t, h.admin, e.Id, &seen)
		if b.Response.Encoding != sdk.EncodingBase64 || b.Response.Body != "/wD+AQ==" || b.Response.Size != 4 || b.Response.Truncated {
			t.Errorf("recorded binary response = %+v", *b.Response)
		}
		if b.Request.Encoding != sdk.EncodingText || len(b.Request.Body) != 64<<10 || !b.Request.Truncated ||
			b.Request.Size != int64(len(big)) || b.Request.Body != string(big[:64<<10]) {
			t.Errorf("recorded large request: %d bytes (%s), truncated %t, size %d", len(b.Request.Body), b.Request.Encoding, b.Request.Truncated, b.Request.Size)
		}
		// A response over the limit: truncated, so not stored either.
		h.proxyEnvelope(t, always.Id, proxyReq(sdk.GET, up.URL+"/api/big", nil))
		e = entryFor(t, h.admin, always.Id, up.URL+"/api/big", &seen)
		b = getBodies(t, h.admin, e.Id, &seen)
		if b.Response.Body != "" || !b.Response.Truncated || b.Response.Size <= 64<<10 {
			t.Errorf("recorded big response = size %d truncated %t body %d bytes", b.Response.Size, b.Response.Truncated, len(b.Response.Body))
		}

		// errors: a 200 is not recorded, a 500 is (JSON proxy and streaming proxy).
		h.proxyEnvelope(t, errorsOnly.Id, proxyReq(sdk.GET, up.URL+"/api/ok", nil))
		h.proxyEnvelope(t, errorsOnly.Id, proxyReq(sdk.GET, up.URL+"/api/fail", nil))
		if status, _ := h.rawCall(t, errorsOnly.Id, http.MethodGet, up.URL+"/api/fail?raw=1", nil, nil); status != http.StatusInternalServerError {
			t.Fatalf("raw fail: %d", status)
		}
		okE := entryFor(t, h.admin, errorsOnly.Id, up.URL+"/api/ok", &seen)
		if okE.BodiesRecorded {
			t.Errorf("errors policy recorded a 200: %+v", okE)
		}
		call(h.admin.GetRequestLogBodiesWithResponse(ctx, okE.Id)).problem(t, http.StatusNotFound, "", "no recorded bodies")
		for _, u := range []string{up.URL + "/api/fail", up.URL + "/api/fail?raw=1"} {
			failE := entryFor(t, h.admin, errorsOnly.Id, u, &seen)
			if !failE.BodiesRecorded {
				t.Fatalf("errors policy did not record a 500: %+v", failE)
			}
			if b := getBodies(t, h.admin, failE.Id, &seen); b.Response.Body != `{"error":"boom","token":"REDACTED"}` {
				t.Errorf("recorded 500 = %s", b.Response.Body)
			}
		}
		// never: nothing, whatever the outcome.
		h.proxyEnvelope(t, never.Id, proxyReq(sdk.GET, up.URL+"/api/fail", nil))
		h.rawCall(t, never.Id, http.MethodGet, up.URL+"/api/ok", nil, nil)
		for _, u := range []string{up.URL + "/api/fail", up.URL + "/api/ok"} {
			ne := entryFor(t, h.admin, never.Id, u, &seen)
			if ne.BodiesRecorded {
				t.Errorf("never policy recorded %+v", ne)
			}
			call(h.admin.GetRequestLogBodiesWithResponse(ctx, ne.Id)).problem(t, http.StatusNotFound, "", "no recorded bodies")
		}

		// Who may read them: request_logs:get on the entry's namespace.
		recorded := entryFor(t, h.admin, always.Id, up.URL+"/api/echo", &seen)
		h.mkNamespace(t, "root.elsewhere")
		outsider := h.mkActor(t, "root.elsewhere", "outsider", perm("root.elsewhere.**", "request_logs", "*"))
		lister := h.mkActor(t, "root", "lister", perm("root", "request_logs", "list"))
		reader := h.mkActor(t, "root", "reader", perm("root", "request_logs", "get"))
		call(outsider.Client.GetRequestLogBodiesWithResponse(ctx, recorded.Id)).problem(t, http.StatusNotFound, "", "not found")
		call(lister.Client.GetRequestLogBodiesWithResponse(ctx, recorded.Id)).problem(t, http.StatusNotFound, "", "not found")
		call(h.admin.GetRequestLogBodiesWithResponse(ctx, "rlg_00000000000000000000missing")).problem(t, http.StatusNotFound, "", "not found")
		seen.add(call(reader.Client.GetRequestLogBodiesWithResponse(ctx, recorded.Id)).want(t, http.StatusOK))

		// The kind filter: every call here is a proxy call.
		proxyKind, tokenKind := sdk.KindProxy, sdk.KindToken
		all := requestLogs(t, h.admin, sdk.ListRequestLogsParams{ConnectionId: &always.Id}, &seen)
		onlyProxy := requestLogs(t, h.admin, sdk.ListRequestLogsParams{ConnectionId: &always.Id, Kind: &proxyKind}, &seen)
		if len(all) == 0 || len(onlyProxy) != len(all) {
			t.Errorf("kind=proxy listed %d of %d entries", len(onlyProxy), len(all))
		}
		if got := requestLogs(t, h.admin, sdk.ListRequestLogsParams{ConnectionId: &always.Id, Kind: &tokenKind}, &seen); len(got) != 0 {
			t.Errorf("kind=token listed proxy calls: %+v", got)
		}
		hr, hb := h.adminDo(t, http.MethodGet, "/api/v1/request-logs?kind=bogus", "", nil)
		wantProblem(t, hr, hb, http.StatusBadRequest, "kind", "")
		hr, hb = h.adminDo(t, http.MethodGet, "/api/v1/request-logs/log-1/bodies", "", nil)
		wantProblem(t, hr, hb, http.StatusBadRequest, "id", "")

		// The key is nowhere: responses (bodies and listings), the database, the blob files.
		seen.wantNone(t, key)
		stored := h.atRest(t)
		n := 0
		_ = filepath.WalkDir(filepath.Join(h.s.DataDir, "blobs"), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Error(err)
				return nil
			}
			n++
			stored["blob "+p] = b
			return nil
		})
		if n < 5 {
			t.Errorf("%d blob files under %s, want at least one per recorded call", n, filepath.Join(h.s.DataDir, "blobs"))
		}
		for _, secret := range []string{key, "request-password-value", "response-token-value", "custom-secret-value", "upstream-session-cookie"} {
			if at := stored.find([]byte(secret)); len(at) > 0 {
				t.Errorf("%q is stored: %v", secret, at)
			}
		}
	})
}

// TestRequestLogBodiesInS3: with the blob store on S3 (gofakes3, on loopback), recorded
// bodies land as objects under <namespace>/<yyyy>/<mm>/<dd>/<id>, encrypted, and read back.
func TestRequestLogBodiesInS3(t *testing.T) {
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			mem := s3mem.New()
			if err := mem.CreateBucket("bodies"); err != nil {
				t.Fatal(err)
			}
			fake := httptest.NewUnstartedServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
			fake.Config.ErrorLog = log.New(io.Discard, "", 0)
			fake.Start()
			t.Cleanup(fake.Close)
			b.Blob = &blob.Config{Driver: "s3", Bucket: "bodies", Prefix: "rl/", Region: "us-east-1", Endpoint: fake.URL,
				PathStyle: true, AccessKeyID: "test-access", SecretAccessKey: "test-secret"}
			s := testserver.Start(t, b)
			t.Cleanup(closeIdleConnections)
			signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{s: s, admin: s.AdminClient(t), adminSigner: signer}
			up := recordingUpstream(t)
			const key = "s3-api-key-8c7d6e5f4a3b"
			var seen bodies
			cn := h.connectionIn(t, "root", "rec-s3", recordingDefinition(up.URL+"/api/", "always"), key)
			h.proxyEnvelope(t, cn.Id, proxyReq(sdk.GET, up.URL+"/api/echo", nil))
			e := entryFor(t, h.admin, cn.Id, up.URL+"/api/echo", &seen)
			if !e.BodiesRecorded {
				t.Fatalf("entry = %+v", e)
			}
			got := getBodies(t, h.admin, e.Id, &seen)
			if !strings.Contains(got.Response.Body, `"echo":"REDACTED"`) {
				t.Errorf("recorded response = %s", got.Response.Body)
			}
			objKey := fmt.Sprintf("rl/root/%04d/%02d/%02d/%s", e.Time.UTC().Year(), int(e.Time.UTC().Month()), e.Time.UTC().Day(), e.Id)
			obj, err := mem.GetObject("bodies", objKey, nil)
			if err != nil {
				t.Fatalf("object %s: %v", objKey, err)
			}
			raw, _ := io.ReadAll(obj.Contents)
			obj.Contents.Close()
			if len(raw) == 0 || bytes.Contains(raw, []byte("REDACTED")) || bytes.Contains(raw, []byte(key)) || bytes.Contains(raw, []byte("echo")) {
				t.Errorf("object %s holds plaintext (%d bytes)", objKey, len(raw))
			}
			// A blob gone from the store: 410.
			if _, err := mem.DeleteObject("bodies", objKey); err != nil {
				t.Fatal(err)
			}
			call(h.admin.GetRequestLogBodiesWithResponse(t.Context(), e.Id)).problem(t, http.StatusGone, "", "no longer in the blob store")
			seen.wantNone(t, key)
		})
	}
}

// TestRequestLogBodiesTenantKey: the data keys of recorded bodies are sealed with the
// namespace's key: assigning a tenant key re-encrypts them (the blobs stay as they are and
// still read), and destroying that key makes them unreadable (410).
func TestRequestLogBodiesTenantKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		const ns = "root.tenants.rb"
		h.mkNamespace(t, "root.tenants")
		h.mkNamespace(t, ns)
		up := recordingUpstream(t)
		var seen bodies
		cn := h.connectionIn(t, ns, "rec-tenant", recordingDefinition(up.URL+"/api/", "always"), "tenant-api-key-0a1b2c3d")
		var ids []string
		for i := range 3 {
			u := fmt.Sprintf("%s/api/echo?i=%d", up.URL, i)
			h.proxyEnvelope(t, cn.Id, proxyReq(sdk.GET, u, nil))
			ids = append(ids, entryFor(t, h.admin, cn.Id, u, &seen).Id)
		}
		blobsBefore := blobFiles(t, h.s.DataDir)
		key := assignNewKey(t, h.admin, ns, "rb-key")
		v1 := keyVersionID(t, h.admin, key.Id, 1)
		waitStatus(t, h.admin, "recorded bodies under "+v1, func(st sdk.EncryptionStatus) bool {
			return onlyVersion(statusCounts(st, "request_logs", ns), v1, len(ids))
		})
		for _, id := range ids {
			if b := getBodies(t, h.admin, id, &seen); !strings.Contains(b.Response.Body, `"echo":"REDACTED"`) {
				t.Errorf("bodies of %s after re-encryption = %s", id, b.Response.Body)
			}
		}
		if after := blobFiles(t, h.s.DataDir); after != blobsBefore {
			t.Errorf("re-encryption rewrote blobs:\nbefore %s\nafter  %s", blobsBefore, after)
		}
		call(h.admin.DestroyKeyWithResponse(ctx, key.Id, sdk.KeyDestroy{Confirm: key.Id})).want(t, http.StatusOK)
		for _, id := range ids {
			call(h.admin.GetRequestLogBodiesWithResponse(ctx, id)).problem(t, http.StatusGone, "", "key that sealed them was destroyed")
			// The entry itself is still there.
			if e := call(h.admin.GetRequestLogWithResponse(ctx, id)).want(t, http.StatusOK).JSON200; !e.BodiesRecorded {
				t.Errorf("entry %s after the key was destroyed: %+v", id, e)
			}
		}
	})
}

// blobFiles renders every blob file (path and content hash) under the data dir.
func blobFiles(t *testing.T, dataDir string) string {
	t.Helper()
	var sb strings.Builder
	_ = filepath.WalkDir(filepath.Join(dataDir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
		}
		fmt.Fprintf(&sb, "%s:%x ", filepath.Base(p), b[:min(len(b), 48)])
		return nil
	})
	return sb.String()
}
