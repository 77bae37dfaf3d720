package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// logBuffer is a concurrency-safe sink for the server's logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// eachBackendLogged is eachBackend with the server's logs, at debug level, captured in a
// buffer the test can read.
func eachBackendLogged(t *testing.T, fn func(t *testing.T, h *harness, logs *logBuffer)) {
	t.Helper()
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			logs := &logBuffer{}
			b.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			s := testserver.Start(t, b)
			t.Cleanup(closeIdleConnections)
			signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
			if err != nil {
				t.Fatalf("admin signer: %v", err)
			}
			fn(t, &harness{s: s, admin: s.AdminClient(t), adminSigner: signer}, logs)
		})
	}
}

// tokenRecorder sits in front of the provider's token endpoint and records every token the
// provider issues, so that a test knows the refresh tokens it never sees upstream.
type tokenRecorder struct {
	*httptest.Server
	mu                    sync.Mutex
	access, refresh, idTk []string
}

func newTokenRecorder(t *testing.T, issuer string) *tokenRecorder {
	t.Helper()
	target, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	rec := &tokenRecorder{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.URL.Path != "/oauth/token" {
				return nil
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			var tok struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
				IDToken      string `json:"id_token"`
			}
			if json.Unmarshal(b, &tok) == nil {
				rec.mu.Lock()
				if tok.AccessToken != "" {
					rec.access = append(rec.access, tok.AccessToken)
				}
				if tok.RefreshToken != "" {
					rec.refresh = append(rec.refresh, tok.RefreshToken)
				}
				if tok.IDToken != "" {
					rec.idTk = append(rec.idTk, tok.IDToken)
				}
				rec.mu.Unlock()
			}
			return nil
		},
	}
	rec.Server = httptest.NewServer(rp)
	t.Cleanup(rec.Close)
	return rec
}

func (r *tokenRecorder) issued() (access, refresh, id []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.access...), append([]string(nil), r.refresh...), append([]string(nil), r.idTk...)
}

// collected is every raw API response body and page a test saw, by label.
type collected struct {
	n int
	s storedBytes
}

func (c *collected) add(label string, body []byte) {
	if c.s == nil {
		c.s = storedBytes{}
	}
	c.n++
	c.s[fmt.Sprintf("response %03d (%s)", c.n, label)] = bytes.Clone(body)
}

// TestNoSecretsInLogsResponsesOrAtRest: after API-key, client-credentials and
// authorization-code connections are created, used (with 401-triggered refreshes),
// request-logged, listed and one disconnected, no API key, client secret, access token or
// refresh token appears — raw or in base64/base64url/hex — in the server's debug logs, in
// any API response, in the request log, or in what the database stores.
func TestNoSecretsInLogsResponsesOrAtRest(t *testing.T) {
	eachBackendLogged(t, func(t *testing.T, h *harness, logs *logBuffer) {
		ctx := t.Context()
		c := h.admin
		var seen collected

		// --- API key connections (query and bearer placement) --------------------------
		up := newUpstream(t)
		apiKey := "scan-api-key-" + fmt.Sprintf("%x", randomBytes(t, 12))
		keyConns := []sdk.Connection{
			h.apiKeyConnection(t, "scan-key-query", apiKeyDefinition(up.URL+"/api/", "query"), apiKey),
			h.apiKeyConnection(t, "scan-key-bearer", apiKeyDefinition(up.URL+"/api/", "bearer"), apiKey),
		}
		proxied := map[string]int{}
		proxy := func(label, id string, req sdk.ProxyRequest) *sdk.ProxyConnectionResponse {
			t.Helper()
			r, err := c.ProxyConnectionWithResponse(ctx, id, req)
			if err != nil {
				t.Fatal(err)
			}
			seen.add("proxy "+label, r.Body)
			proxied[id]++
			return r
		}
		for _, cn := range keyConns {
			for i := range 3 {
				r := proxy("api key", cn.Id, proxyReq(sdk.GET, fmt.Sprintf("%s/api/items?page=%d", up.URL, i), nil))
				if r.StatusCode() != http.StatusOK || r.JSON200.Status != http.StatusOK {
					t.Fatalf("api key proxy: %d %s", r.StatusCode(), r.Body)
				}
			}
		}
		if in := up.last(t); in.Header.Get("Authorization") != "Bearer "+apiKey {
			t.Fatalf("the API key did not reach the upstream: %v", in.Header)
		}

		// --- a connection recording bodies, whose upstream echoes the key ---------------
		// (What the upstream answers goes back to the caller as is, so that answer is not
		// scanned; the recorded copy, the blob files and the bodies API are.)
		echoUp := recordingUpstream(t)
		recConn := h.connectionIn(t, "root", "scan-key-recorded", recordingDefinition(echoUp.URL+"/api/", "always"), apiKey)
		keyConns = append(keyConns, recConn)
		for _, path := range []string{"/api/echo", "/api/fail"} {
			body := `{"password":"x","apiKey":"` + apiKey + `"}`
			r, err := c.ProxyConnectionWithResponse(ctx, recConn.Id, sdk.ProxyRequest{Method: sdk.POST, Url: echoUp.URL + path, Body: &body,
				Headers: &map[string][]string{"Content-Type": {"application/json"}}})
			if err != nil || r.JSON200 == nil || !strings.Contains(deref(r.JSON200.Body), apiKey) && path == "/api/echo" {
				t.Fatalf("recorded proxy %s: %v %s", path, err, r.Body)
			}
			proxied[recConn.Id]++
		}

		// --- the provider, with a recorder in front of its token endpoint ---------------
		as := newAuthServer(t, h.s.PublicURL+"/oauth2/callback")
		rec := newTokenRecorder(t, as.issuer)

		// --- client credentials ------------------------------------------------------------
		ccUp := newBearerUpstream(t, nil)
		ccDef := fmt.Sprintf(`display: {name: Scan service}
auth:
  type: oauth2
  oauth2:
    grant: client_credentials
    clientId: %s
    clientSecretRef: version
    tokenEndpointAuthMethod: client_secret_post
    tokenUrl: %s/oauth/token
    scopes:
      - {name: openid, reason: Identify the account.}
upstream:
  allowedUrls: [%q]
`, opServiceID, rec.URL, ccUp.URL+"/")
		ccx := mkConnector(t, c, "root", "scan-service")
		ccv := call(c.CreateConnectorVersionWithResponse(ctx, ccx.Id, sdk.ConnectorVersionCreate{Definition: ccDef, ClientSecret: strPtr(opServiceKey)})).
			want(t, http.StatusCreated)
		seen.add("create cc connector version", ccv.Body)
		call(c.PromoteConnectorVersionWithResponse(ctx, ccx.Id, ccv.JSON201.Version)).want(t, http.StatusOK)
		ccr := call(c.CreateConnectionWithResponse(ctx, sdk.ConnectionCreate{Namespace: "root", ConnectorId: ccx.Id})).want(t, http.StatusCreated)
		seen.add("create cc connection", ccr.Body)
		ccConn := *ccr.JSON201
		if ccConn.State != sdk.ConnectionReady {
			t.Fatalf("client credentials connection: %s", ccConn.State)
		}
		for i := range 4 {
			if i == 2 {
				ccUp.rejectNext.Store(1) // a 401: one forced token fetch, one replay
			}
			r := proxy("client credentials", ccConn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: fmt.Sprintf("%s/x?i=%d", ccUp.URL, i)})
			if r.StatusCode() != http.StatusOK || r.JSON200.Status != http.StatusOK {
				t.Fatalf("client credentials proxy %d: %d %s", i, r.StatusCode(), r.Body)
			}
		}

		// --- authorization code ---------------------------------------------------------
		acUp := newBearerUpstream(t, as)
		acDef := fmt.Sprintf(`display: {name: Scan provider}
auth:
  type: oauth2
  oauth2:
    grant: authorization_code
    clientId: %s
    clientSecretRef: version
    authorizeUrl: %s/authorize
    tokenUrl: %s/oauth/token
    revocationUrl: %s/revoke
    scopes:
      - {name: openid, reason: Identify the account.}
      - {name: offline_access, reason: Keep working offline.}
    refreshLeadTime: 30s
upstream:
  allowedUrls: [%q]
`, opClientID, as.issuer, rec.URL, rec.URL, acUp.URL+"/")
		acx := mkConnector(t, c, "root", "scan-provider")
		acv := call(c.CreateConnectorVersionWithResponse(ctx, acx.Id, sdk.ConnectorVersionCreate{Definition: acDef, ClientSecret: strPtr(opClientSecret)})).
			want(t, http.StatusCreated)
		seen.add("create ac connector version", acv.Body)
		call(c.PromoteConnectorVersionWithResponse(ctx, acx.Id, acv.JSON201.Version)).want(t, http.StatusOK)
		acr := call(c.CreateConnectionWithResponse(ctx, sdk.ConnectionCreate{Namespace: "root", ConnectorId: acx.Id})).want(t, http.StatusCreated)
		seen.add("create ac connection", acr.Body)
		acConn := *acr.JSON201
		if acConn.AuthorizeUrl == nil {
			t.Fatalf("authorization code connection has no authorize URL: %s", acr.Body)
		}
		callback := as.approve(t, *acConn.AuthorizeUrl)
		cbURL, _ := url.Parse(callback)
		code := cbURL.Query().Get("code")
		resp, page := browse(t, callback)
		seen.add("callback page", []byte(page))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("callback: %d %s", resp.StatusCode, page)
		}
		refreshes := as.grantCalls("refresh_token")
		for i := range 4 {
			if i == 2 {
				acUp.rejectNext.Store(1) // a 401: one refresh_token grant, one replay
			}
			body := fmt.Sprintf(`{"i":%d}`, i)
			r := proxy("authorization code", acConn.Id, sdk.ProxyRequest{Method: sdk.POST, Url: acUp.URL + "/v1/thing", Body: &body})
			if r.StatusCode() != http.StatusOK || r.JSON200.Status != http.StatusOK {
				t.Fatalf("authorization code proxy %d: %d %s", i, r.StatusCode(), r.Body)
			}
		}
		if n := as.grantCalls("refresh_token") - refreshes; n != 1 {
			t.Fatalf("%d refresh_token grants after one upstream 401, want 1", n)
		}

		// --- request log, listings, disconnect --------------------------------------------
		var rlBodies bodies
		allConns := append(append([]sdk.Connection{}, keyConns...), ccConn, acConn)
		var entries []sdk.RequestLog
		for _, cn := range allConns {
			id := cn.Id
			p := sdk.ListRequestLogsParams{ConnectionId: &id}
			deadline := time.Now().Add(15 * time.Second)
			var got []sdk.RequestLog
			for {
				got = requestLogs(t, c, p, &rlBodies)
				if len(got) >= proxied[id] || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(got) < proxied[id] {
				t.Fatalf("%d request log entries for %s, want at least %d", len(got), id, proxied[id])
			}
		}
		// Let a last batch (token exchanges) land, then read everything again.
		time.Sleep(1500 * time.Millisecond)
		entries = requestLogs(t, c, sdk.ListRequestLogsParams{}, &rlBodies)
		recorded := 0
		for _, e := range entries {
			rlBodies.add(call(c.GetRequestLogWithResponse(ctx, e.Id)).want(t, http.StatusOK))
			if e.BodiesRecorded {
				recorded++
				rlBodies.add(call(c.GetRequestLogBodiesWithResponse(ctx, e.Id)).want(t, http.StatusOK))
			}
		}
		if recorded != 2 {
			t.Errorf("%d entries with recorded bodies, want 2", recorded)
		}
		t.Logf("%d request log entries", len(entries))

		call(c.DisconnectConnectionWithResponse(ctx, acConn.Id)).want(t, http.StatusOK)
		seen.add("list connections", call(c.ListConnectionsWithResponse(ctx, &sdk.ListConnectionsParams{})).want(t, http.StatusOK).Body)
		seen.add("list connectors", call(c.ListConnectorsWithResponse(ctx, &sdk.ListConnectorsParams{})).want(t, http.StatusOK).Body)
		for _, cn := range allConns {
			seen.add("get connection "+cn.Id, call(c.GetConnectionWithResponse(ctx, cn.Id)).want(t, http.StatusOK).Body)
			seen.add("get connector "+cn.ConnectorId, call(c.GetConnectorWithResponse(ctx, cn.ConnectorId)).want(t, http.StatusOK).Body)
			seen.add("list versions of "+cn.ConnectorId, call(c.ListConnectorVersionsWithResponse(ctx, cn.ConnectorId, nil)).want(t, http.StatusOK).Body)
		}
		if got := connState(t, c, acConn.Id); got.State != sdk.ConnectionDisconnected {
			t.Fatalf("after disconnect: %s", got.State)
		}
		for i, b := range rlBodies {
			seen.add(fmt.Sprintf("request log API %d", i), b)
		}
		// The request log API shows the URLs it logged: the query key must be redacted there.
		rlAll := bytes.Join(rlBodies, []byte("\n"))
		if !bytes.Contains(rlAll, []byte(keyConns[0].Id)) {
			t.Errorf("the request log API bodies do not name connection %s", keyConns[0].Id)
		}

		// --- the secrets ------------------------------------------------------------------
		access, refresh, idTokens := rec.issued()
		if len(refresh) == 0 {
			t.Fatalf("the provider issued no refresh token (issued %d access tokens)", len(access))
		}
		upstreamTokens := map[string]bool{}
		for _, tok := range append(ccUp.seen(), acUp.seen()...) {
			if tok != "" {
				upstreamTokens[tok] = true
			}
		}
		for _, tok := range access {
			delete(upstreamTokens, tok)
		}
		if len(upstreamTokens) != 0 {
			t.Errorf("the upstreams saw %d bearer tokens the recorder did not see issued", len(upstreamTokens))
		}
		t.Logf("searching for %d access tokens, %d refresh tokens, %d ID tokens, an API key, two client secrets and an authorization code",
			len(access), len(refresh), len(idTokens))
		var secrets []needle
		secrets = append(secrets, encodings("the API key", []byte(apiKey))...)
		secrets = append(secrets, encodings("the authorization-code client secret", []byte(opClientSecret))...)
		secrets = append(secrets, encodings("the client-credentials client secret", []byte(opServiceKey))...)
		for i, tok := range access {
			secrets = append(secrets, encodings(fmt.Sprintf("access token %d", i), []byte(tok))...)
		}
		for i, tok := range refresh {
			secrets = append(secrets, encodings(fmt.Sprintf("refresh token %d", i), []byte(tok))...)
		}
		for i, tok := range idTokens {
			secrets = append(secrets, encodings(fmt.Sprintf("ID token %d", i), []byte(tok))...)
		}
		if code != "" {
			secrets = append(secrets, encodings("the authorization code", []byte(code))...)
		}

		// --- where to look ----------------------------------------------------------------
		logged := storedBytes{"server log": logs.Bytes()}
		stored := h.atRest(t)
		// Any other file the server wrote in its data dir (blobs, spill files).
		_ = filepath.WalkDir(h.s.DataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if _, ok := stored[p]; ok || filepath.Base(p) == "root_key" || p == h.s.AdminKeyFile {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil {
				stored["data dir file "+p] = b
			}
			return nil
		})

		// The search must be able to fail: the connection ids are stored in the clear and
		// appear in the debug log (request paths) and in the responses.
		for _, cn := range allConns {
			for name, s := range map[string]storedBytes{"the database": stored, "the server log": logged, "the API responses": seen.s} {
				if len(s.find([]byte(cn.Id))) == 0 {
					t.Errorf("connection id %s is not found in %s: the search does not see what is there", cn.Id, name)
				}
			}
		}
		// And the request-log rows are among what is scanned at rest.
		for _, e := range entries {
			if len(stored.find([]byte(e.Id))) == 0 {
				t.Errorf("request log entry %s is not found in the database: the scan misses the request-log rows", e.Id)
			}
		}
		blobFiles := 0
		for place := range stored {
			if strings.Contains(place, string(filepath.Separator)+"blobs"+string(filepath.Separator)) {
				blobFiles++
			}
		}
		if blobFiles != recorded {
			t.Errorf("%d blob files scanned, want one per recorded call (%d): %v", blobFiles, recorded, stored.places())
		}
		t.Logf("scanned %d bytes of server log, %d API responses, %d stored files (%v)", len(logged["server log"]), len(seen.s), len(stored), stored.places())

		for _, n := range secrets {
			for name, s := range map[string]storedBytes{"the server log": logged, "the API responses": seen.s, "the database and data dir": stored} {
				if at := s.find(n.b); len(at) > 0 {
					t.Errorf("%s is in %s in plaintext: %s%s", n.what, name, strings.Join(at, "; "), hitContext(s, at[0], n.b))
				}
			}
		}
	})
}

// hitContext shows the surroundings of the first hit ("<place> at byte <offset>").
func hitContext(s storedBytes, at string, needle []byte) string {
	i := strings.LastIndex(at, " at byte ")
	if i < 0 {
		return ""
	}
	var off int
	if _, err := fmt.Sscan(at[i+len(" at byte "):], &off); err != nil {
		return ""
	}
	data := s[at[:i]]
	lo, hi := max(0, off-160), min(len(data), off+len(needle)+80)
	return fmt.Sprintf("\n    first hit in context: %q", data[lo:hi])
}
