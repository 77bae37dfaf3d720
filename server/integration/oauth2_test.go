package integration_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authproxy/authproxy/sdk"
)

// The independent authorization server of these tests: zitadel's op package with its example
// in-memory storage on 127.0.0.1, its web client registered with the redirect URI of the
// AuthProxy under test.

const (
	opClientID     = "authproxy-web"
	opClientSecret = "op-web-client-secret-value"
	opServiceID    = "sid1" // the example storage's service user (client credentials)
	opServiceKey   = "verysecret"
)

type authServer struct {
	t       *testing.T
	issuer  string
	storage *storage.Storage
	grants  sync.Map // grant_type → *atomic.Int64
}

func newAuthServer(t *testing.T, redirectURI string) *authServer {
	t.Helper()
	return newAuthServerWith(t, redirectURI, nil)
}

// newAuthServerWith is newAuthServer whose provider uses wrap(storage) when wrap is set.
func newAuthServerWith(t *testing.T, redirectURI string, wrap func(*storage.Storage) op.Storage) *authServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	a := &authServer{t: t, issuer: "http://" + srv.Listener.Addr().String()}
	a.storage = storage.NewStorageWithClients(storage.NewUserStore(a.issuer), map[string]*storage.Client{
		opClientID: storage.WebClient(opClientID, opClientSecret, redirectURI),
	})
	var st op.Storage = a.storage
	if wrap != nil {
		st = wrap(a.storage)
	}
	p, err := op.NewProvider(&op.Config{
		CryptoKey: sha256.Sum256([]byte("integration test provider")), CodeMethodS256: true,
		AuthMethodPost: true, GrantTypeRefreshToken: true,
	}, st, op.StaticIssuer(a.issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// The user refuses consent: the provider itself encodes the error redirect.
	mux.HandleFunc("/deny", func(w http.ResponseWriter, r *http.Request) {
		ar, err := a.storage.AuthRequestByID(r.Context(), r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, "unknown auth request", http.StatusBadRequest)
			return
		}
		op.AuthRequestError(w, r, ar, oidc.ErrAccessDenied().WithDescription("The user denied access"), p)
	})
	// The provider's sign-in page, for the browser tests (the example storage sends the user
	// to /login/username?authRequestID=…); the HTTP-level tests sign in through the storage.
	mux.HandleFunc("GET /login/username", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprintf(w, `<!doctype html><title>Provider sign-in</title><h1>Sign in to the provider</h1>
<form method="post"><input type="hidden" name="id" value="%s">
<label>User <input id="username" name="username"></label> <label>Password <input id="password" name="password" type="password"></label>
<button type="submit">Sign in</button></form>`, html.EscapeString(r.URL.Query().Get("authRequestID")))
	})
	mux.HandleFunc("POST /login/username", func(w http.ResponseWriter, r *http.Request) {
		id := r.PostFormValue("id")
		if err := a.storage.CheckUsernamePassword(r.PostFormValue("username"), r.PostFormValue("password"), id); err != nil {
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" && r.Method == http.MethodPost {
			_ = r.ParseForm()
			c, _ := a.grants.LoadOrStore(r.PostForm.Get("grant_type"), new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
		}
		p.ServeHTTP(w, r)
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return a
}

func (a *authServer) grantCalls(grant string) int64 {
	if c, ok := a.grants.Load(grant); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// introspect asks the provider whether an access token is active.
func (a *authServer) introspect(token string) bool {
	a.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, a.issuer+"/oauth/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(opClientID, opClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Error(err)
		return false
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		a.t.Errorf("introspect: status %d: %v", resp.StatusCode, err)
	}
	return out.Active
}

func (a *authServer) definition(upstream string) string {
	return fmt.Sprintf(`display: {name: Test provider}
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
    # The example provider's access tokens live 5 minutes, the default lead time.
    refreshLeadTime: 30s
upstream:
  allowedUrls: [%q]
`, opClientID, a.issuer, a.issuer, a.issuer, upstream+"/")
}

func (a *authServer) ccDefinition(upstream string) string {
	return fmt.Sprintf(`display: {name: Test service}
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
`, opServiceID, a.issuer, upstream+"/")
}

// browser is the user's browser: it keeps cookies and never follows redirects by itself.
var browser = newBrowser()

// newBrowser returns another browser, with its own cookies.
func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func browse(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func redirectTo(t *testing.T, u string) *url.URL {
	t.Helper()
	resp, body := browse(t, u)
	if resp.StatusCode/100 != 3 {
		t.Fatalf("GET %s: status %d, want a redirect: %s", u, resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// login follows authorizeUrl to the provider's login page and returns the auth request id.
func (a *authServer) login(t *testing.T, authorizeURL string) string {
	t.Helper()
	providerURL := redirectTo(t, authorizeURL) // the public service's /oauth2/redirect
	if !strings.HasPrefix(providerURL.String(), a.issuer+"/authorize?") {
		t.Fatalf("redirect went to %s", providerURL)
	}
	q := providerURL.Query()
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("no PKCE challenge in %s", providerURL)
	}
	loginPage := redirectTo(t, providerURL.String())
	id := loginPage.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("the provider did not redirect to its login page: %s", loginPage)
	}
	return id
}

// approve logs the example user in and returns the callback URL the provider sends the
// browser to.
func (a *authServer) approve(t *testing.T, authorizeURL string) string {
	t.Helper()
	id := a.login(t, authorizeURL)
	host := strings.Split(strings.TrimPrefix(a.issuer, "http://"), ":")[0]
	if err := a.storage.CheckUsernamePassword("test-user@"+host, "verysecure", id); err != nil {
		t.Fatal(err)
	}
	return redirectTo(t, a.issuer+"/authorize/callback?id="+url.QueryEscape(id)).String()
}

// deny refuses consent and returns the callback URL.
func (a *authServer) deny(t *testing.T, authorizeURL string) string {
	t.Helper()
	id := a.login(t, authorizeURL)
	return redirectTo(t, a.issuer+"/deny?id="+url.QueryEscape(id)).String()
}

// bearerUpstream accepts requests whose bearer token the provider says is active, answers 401
// otherwise, and answers 401 to the next rejectNext requests whatever their token.
type bearerUpstream struct {
	*httptest.Server
	mu         sync.Mutex
	tokens     []string
	rejectNext atomic.Int32
}

func newBearerUpstream(t *testing.T, as *authServer) *bearerUpstream {
	u := &bearerUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		u.mu.Lock()
		u.tokens = append(u.tokens, tok)
		u.mu.Unlock()
		if u.rejectNext.Load() > 0 {
			u.rejectNext.Add(-1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !ok || tok == "" || (as != nil && !as.introspect(tok)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "ok %s %s", r.Method, body)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *bearerUpstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.tokens...)
}

func connState(t *testing.T, c *sdk.ClientWithResponses, id string) sdk.Connection {
	t.Helper()
	return *call(c.GetConnectionWithResponse(t.Context(), id)).want(t, http.StatusOK).JSON200
}

func TestOAuth2AuthorizationCode(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		as := newAuthServer(t, h.s.PublicURL+"/oauth2/callback")
		up := newBearerUpstream(t, as)
		cx := mkConnector(t, c, "root", "provider")
		v := mkConnectorVersion(t, c, cx.Id, as.definition(up.URL), strPtr(opClientSecret))
		call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
		create := func() sdk.Connection {
			t.Helper()
			cn := *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id})).
				want(t, http.StatusCreated).JSON201
			if cn.State != sdk.ConnectionSetup || cn.AuthorizeUrl == nil || !strings.HasPrefix(*cn.AuthorizeUrl, h.s.PublicURL+"/oauth2/redirect?state=") {
				t.Fatalf("created: state %s, authorizeUrl %v", cn.State, cn.AuthorizeUrl)
			}
			return cn
		}
		proxyCall := func(id string) *sdk.ProxyConnectionResponse {
			t.Helper()
			r, err := c.ProxyConnectionWithResponse(t.Context(), id, sdk.ProxyRequest{Method: sdk.POST, Url: up.URL + "/v1/thing", Body: strPtr(`{"a":1}`),
				Headers: &map[string][]string{"Authorization": {"Bearer caller-own-token"}}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}

		cn := create()
		// The connection cannot be used before it is authorized.
		if r := proxyCall(cn.Id); r.StatusCode() != http.StatusConflict {
			t.Fatalf("proxy before authorization: %d %s", r.StatusCode(), r.Body)
		}
		callback := as.approve(t, *cn.AuthorizeUrl)
		cbURL, _ := url.Parse(callback)
		if !strings.HasPrefix(callback, h.s.PublicURL+"/oauth2/callback?") || cbURL.Query().Get("code") == "" {
			t.Fatalf("callback %s", callback)
		}

		// A tampered state (well formed, never issued) and a malformed one change nothing.
		q := cbURL.Query()
		state := q.Get("state")
		tampered := []byte(state)
		if tampered[0] == 'A' {
			tampered[0] = 'B'
		} else {
			tampered[0] = 'A'
		}
		for _, s := range []string{string(tampered), "not-a-state", ""} {
			q.Set("state", s)
			resp, body := browse(t, h.s.PublicURL+"/oauth2/callback?"+q.Encode())
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Start connecting again") {
				t.Fatalf("callback with state %q: %d %s", s, resp.StatusCode, body)
			}
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionSetup {
			t.Fatalf("after tampered callbacks: %s", got.State)
		}

		// The real callback connects the account.
		resp, body := browse(t, callback)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "connected") {
			t.Fatalf("callback: %d %s", resp.StatusCode, body)
		}
		if strings.Contains(body, cbURL.Query().Get("code")) {
			t.Fatal("the callback page shows the code")
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionReady || got.Health != sdk.HealthHealthy {
			t.Fatalf("after callback: %s %s", got.State, got.Health)
		}
		// Replayed callback: the state was consumed.
		resp, body = browse(t, callback)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already completed") {
			t.Fatalf("replayed callback: %d %s", resp.StatusCode, body)
		}
		// The authorize link is single use too.
		if resp, _ := browse(t, *cn.AuthorizeUrl); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("used authorize link: %d", resp.StatusCode)
		}

		// Proxy: the provider's token goes upstream, never the caller's.
		r := proxyCall(cn.Id)
		if r.StatusCode() != http.StatusOK || r.JSON200.Status != http.StatusOK || r.JSON200.Body == nil || *r.JSON200.Body != `ok POST {"a":1}` {
			t.Fatalf("proxy: %d %s", r.StatusCode(), r.Body)
		}
		seen := up.seen()
		access := seen[len(seen)-1]
		if access == "" || access == "caller-own-token" || !as.introspect(access) {
			t.Fatalf("upstream saw token %q", access)
		}

		// An upstream 401: one forced refresh (refresh_token grant), one replay with the new token.
		refreshes := as.grantCalls("refresh_token")
		up.rejectNext.Store(1)
		r = proxyCall(cn.Id)
		if r.StatusCode() != http.StatusOK || r.JSON200.Status != http.StatusOK || *r.JSON200.Body != `ok POST {"a":1}` {
			t.Fatalf("proxy after 401: %d %s", r.StatusCode(), r.Body)
		}
		if n := as.grantCalls("refresh_token") - refreshes; n != 1 {
			t.Fatalf("%d refreshes after one 401", n)
		}
		seen = up.seen()
		fresh := seen[len(seen)-1]
		if fresh == access || seen[len(seen)-2] != access || !as.introspect(fresh) {
			t.Fatal("the replay did not carry a new access token")
		}
		// Two 401s in a row: only one replay, the second 401 goes back to the caller.
		up.rejectNext.Store(2)
		r = proxyCall(cn.Id)
		if r.StatusCode() != http.StatusOK || r.JSON200.Status != http.StatusUnauthorized {
			t.Fatalf("proxy after two 401s: %d %s", r.StatusCode(), r.Body)
		}
		seen = up.seen()
		current := seen[len(seen)-1]

		// Disconnect revokes the tokens at the provider.
		call(c.DisconnectConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK)
		if as.introspect(current) {
			t.Fatal("access token still active after disconnect")
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionDisconnected {
			t.Fatalf("after disconnect: %s", got.State)
		}

		// The user refuses: the connection fails, with a reason.
		denied := create()
		callback = as.deny(t, *denied.AuthorizeUrl)
		resp, body = browse(t, callback)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "denied") {
			t.Fatalf("denied callback: %d %s", resp.StatusCode, body)
		}
		got := connState(t, c, denied.Id)
		if got.State != sdk.ConnectionFailed || got.HealthReason == nil || !strings.Contains(*got.HealthReason, "denied") {
			t.Fatalf("after denial: %s %v", got.State, got.HealthReason)
		}
		if resp, _ := browse(t, callback); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("replayed denial: %d", resp.StatusCode)
		}

		// An exchange the provider refuses (a forged code) fails the connection too (in the
		// browser that opened the link).
		forged := create()
		u, _ := url.Parse(*forged.AuthorizeUrl)
		redirectTo(t, *forged.AuthorizeUrl)
		resp, body = browse(t, h.s.PublicURL+"/oauth2/callback?"+url.Values{"state": {u.Query().Get("state")}, "code": {"forged-code"}}.Encode())
		if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "forged-code") || strings.Contains(body, opClientSecret) {
			t.Fatalf("forged code: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, forged.Id); got.State != sdk.ConnectionFailed {
			t.Fatalf("after a refused exchange: %s", got.State)
		}
	})
}

func TestOAuth2ClientCredentials(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		as := newAuthServer(t, h.s.PublicURL+"/oauth2/callback")
		up := newBearerUpstream(t, nil)
		good := mkConnector(t, c, "root", "service")
		v := mkConnectorVersion(t, c, good.Id, as.ccDefinition(up.URL), strPtr(opServiceKey))
		call(c.PromoteConnectorVersionWithResponse(t.Context(), good.Id, v.Version)).want(t, http.StatusOK)
		cn := *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: good.Id})).
			want(t, http.StatusCreated).JSON201
		if cn.State != sdk.ConnectionReady || cn.AuthorizeUrl != nil {
			t.Fatalf("client credentials connection: %s %v", cn.State, cn.AuthorizeUrl)
		}
		r := call(c.ProxyConnectionWithResponse(t.Context(), cn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: up.URL + "/x"})).want(t, http.StatusOK)
		if r.JSON200.Status != http.StatusOK {
			t.Fatalf("proxy: %+v", r.JSON200)
		}
		if seen := up.seen(); seen[len(seen)-1] == "" {
			t.Fatal("no bearer token upstream")
		}

		// A wrong client secret: 502 and no connection.
		bad := mkConnector(t, c, "root", "service-bad")
		bv := mkConnectorVersion(t, c, bad.Id, as.ccDefinition(up.URL), strPtr("wrong-secret-value"))
		call(c.PromoteConnectorVersionWithResponse(t.Context(), bad.Id, bv.Version)).want(t, http.StatusOK)
		p := call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: bad.Id})).
			problem(t, http.StatusBadGateway, "", "client credentials")
		if strings.Contains(fmt.Sprint(p), "wrong-secret-value") {
			t.Fatal("the client secret is in the problem")
		}
		list := call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{ConnectorId: &bad.Id})).want(t, http.StatusOK).JSON200
		if len(list.Items) != 0 {
			t.Fatalf("%d connections written after a failed token fetch", len(list.Items))
		}
	})
}

// TestOAuth2RefreshFaults uses a hand-written token endpoint (faults only): a client
// credentials token that expires at once, then refusals.
func TestOAuth2RefreshFaults(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		var mode atomic.Value // "ok", "5xx", "invalid_client"
		mode.Store("ok")
		var n atomic.Int64
		tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch mode.Load() {
			case "5xx":
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"error":"temporarily_unavailable"}`)
			case "invalid_client":
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"client secret expired"}`)
			default:
				_, _ = fmt.Fprintf(w, `{"access_token":"fault-token-%d","token_type":"Bearer","expires_in":1}`, n.Add(1))
			}
		}))
		t.Cleanup(tokens.Close)
		up := newBearerUpstream(t, nil)
		def := fmt.Sprintf(`display: {name: Faulty}
auth:
  type: oauth2
  oauth2:
    grant: client_credentials
    clientId: svc
    clientSecretRef: version
    tokenUrl: %s/token
    refreshLeadTime: 5s
upstream:
  allowedUrls: [%q]
`, tokens.URL, up.URL+"/")
		cx := mkConnector(t, c, "root", "faulty")
		v := mkConnectorVersion(t, c, cx.Id, def, strPtr("fault-client-secret"))
		call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
		cn := *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id})).
			want(t, http.StatusCreated).JSON201
		proxy := func() *sdk.ProxyConnectionResponse {
			r, err := c.ProxyConnectionWithResponse(t.Context(), cn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: up.URL + "/x"})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		// The token expires within the lead time: each call renews it first.
		if r := proxy(); r.StatusCode() != http.StatusOK || up.seen()[len(up.seen())-1] != "fault-token-2" {
			t.Fatalf("proxy with renewal: %d %s, upstream saw %v", r.StatusCode(), r.Body, up.seen())
		}
		// A 5xx at the token endpoint is transient: 502, the connection stays healthy.
		mode.Store("5xx")
		if r := proxy(); r.StatusCode() != http.StatusBadGateway {
			t.Fatalf("token endpoint 5xx: %d %s", r.StatusCode(), r.Body)
		}
		if got := connState(t, c, cn.Id); got.Health != sdk.HealthHealthy {
			t.Fatalf("health after a transient failure: %s", got.Health)
		}
		// invalid_client is permanent: 409, the connection is marked unhealthy with the reason.
		mode.Store("invalid_client")
		r := proxy()
		if r.StatusCode() != http.StatusConflict || !strings.Contains(string(r.Body), "unhealthy") || strings.Contains(string(r.Body), "fault-client-secret") {
			t.Fatalf("token endpoint invalid_client: %d %s", r.StatusCode(), r.Body)
		}
		got := connState(t, c, cn.Id)
		if got.Health != sdk.HealthUnhealthy || got.HealthReason == nil || !strings.Contains(*got.HealthReason, "invalid_client") {
			t.Fatalf("after a permanent failure: %s %v", got.Health, got.HealthReason)
		}
		// It recovers when the provider does: a stored token makes it healthy again.
		mode.Store("ok")
		if r := proxy(); r.StatusCode() != http.StatusOK {
			t.Fatalf("after recovery: %d %s", r.StatusCode(), r.Body)
		}
		if got := connState(t, c, cn.Id); got.Health != sdk.HealthHealthy {
			t.Fatalf("health after recovery: %s", got.Health)
		}
	})
}
