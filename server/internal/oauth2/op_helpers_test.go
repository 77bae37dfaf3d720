package oauth2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
)

// The independent authorization server: zitadel's op package with its example in-memory
// storage, served on 127.0.0.1 by httptest.

const (
	webClientID     = "web"
	webClientSecret = "web-client-secret-value"
	nativeClientID  = "native"
	webRedirect     = "http://127.0.0.1:9999/callback" // never dialed: redirects are read, not followed
	nativeRedirect  = "http://127.0.0.1/callback"
	ccClientID      = "sid1" // the example storage's service user
	ccClientSecret  = "verysecret"
)

type testOP struct {
	t        *testing.T
	srv      *httptest.Server
	issuer   string
	storage  *storage.Storage
	provider *op.Provider

	mu         sync.Mutex
	tokenForms []url.Values // every form posted to the token endpoint
	grants     map[string]*atomic.Int64
}

func newTestOP(t *testing.T) *testOP {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1
	o := &testOP{t: t, srv: srv, issuer: "http://" + srv.Listener.Addr().String(), grants: map[string]*atomic.Int64{}}
	clients := map[string]*storage.Client{
		webClientID:    storage.WebClient(webClientID, webClientSecret, webRedirect),
		nativeClientID: storage.NativeClient(nativeClientID, nativeRedirect),
	}
	o.storage = storage.NewStorageWithClients(storage.NewUserStore(o.issuer), clients)
	cfg := &op.Config{
		CryptoKey:             sha256.Sum256([]byte("oauth2 package test")),
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
	}
	p, err := op.NewProvider(cfg, o.storage, op.StaticIssuer(o.issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	o.provider = p
	mux := http.NewServeMux()
	// /deny lets the "user" refuse consent: the provider itself encodes the error redirect.
	mux.HandleFunc("/deny", func(w http.ResponseWriter, r *http.Request) {
		ar, err := o.storage.AuthRequestByID(r.Context(), r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, "unknown auth request", http.StatusBadRequest)
			return
		}
		op.AuthRequestError(w, r, ar, oidc.ErrAccessDenied().WithDescription("The user denied access"), p)
	})
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" && r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			o.mu.Lock()
			o.tokenForms = append(o.tokenForms, form)
			c, ok := o.grants[form.Get("grant_type")]
			if !ok {
				c = new(atomic.Int64)
				o.grants[form.Get("grant_type")] = c
			}
			o.mu.Unlock()
			c.Add(1)
		}
		p.ServeHTTP(w, r)
	}))
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return o
}

func (o *testOP) grantCalls(grant string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.grants[grant]; ok {
		return c.Load()
	}
	return 0
}

func (o *testOP) lastTokenForm() url.Values {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.tokenForms[len(o.tokenForms)-1]
}

// def returns a connector OAuth2 block pointing at the provider.
func (o *testOP) def(clientID, method string) *definition.OAuth2 {
	return &definition.OAuth2{
		Grant:                   definition.GrantAuthorizationCode,
		ClientID:                clientID,
		TokenEndpointAuthMethod: method,
		AuthorizeURL:            o.issuer + "/authorize",
		TokenURL:                o.issuer + "/oauth/token",
		RevocationURL:           o.issuer + "/revoke",
		Scopes:                  []definition.Scope{{Name: "openid"}, {Name: "offline_access"}},
	}
}

func noRedirectClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// startLogin opens authURL at the provider and returns the auth request id of the login page
// it redirects to.
func (o *testOP) startLogin(authURL string) string {
	o.t.Helper()
	resp, err := noRedirectClient().Get(authURL)
	if err != nil {
		o.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		o.t.Fatalf("authorize: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	id := loc.Query().Get("authRequestID")
	if id == "" {
		o.t.Fatalf("authorize did not redirect to the login page: %s", loc)
	}
	return id
}

// follow GETs path on the provider and returns the query of the redirect it answers with.
func (o *testOP) follow(path string) url.Values {
	o.t.Helper()
	resp, err := noRedirectClient().Get(o.issuer + path)
	if err != nil {
		o.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode/100 != 3 {
		o.t.Fatalf("%s: status %d, location %q", path, resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// authorize runs the user's side: log in as the example user and approve; it returns the
// callback query the provider redirects the browser to.
func (o *testOP) authorize(authURL string) url.Values {
	o.t.Helper()
	id := o.startLogin(authURL)
	host := strings.Split(strings.TrimPrefix(o.issuer, "http://"), ":")[0]
	if err := o.storage.CheckUsernamePassword("test-user@"+host, "verysecure", id); err != nil {
		o.t.Fatal(err)
	}
	return o.follow("/authorize/callback?id=" + url.QueryEscape(id))
}

// introspect asks the provider whether an access token is active (as the web client).
func (o *testOP) introspect(token string) bool {
	o.t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, o.issuer+"/oauth/introspect",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(webClientID, webClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Active bool `json:"active"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		o.t.Fatalf("introspect: status %d: %v", resp.StatusCode, err)
	}
	return out.Active
}

// connect runs the whole authorization code flow with c and returns the token.
func (o *testOP) connect(c *Client, redirect string) *Token {
	o.t.Helper()
	authURL, verifier := c.AuthCodeURL("state-1", redirect, nil)
	cb, err := ParseCallback(o.authorize(authURL))
	if err != nil {
		o.t.Fatal(err)
	}
	tok, err := c.Exchange(context.Background(), cb.Code, redirect, verifier)
	if err != nil {
		o.t.Fatal(err)
	}
	return tok
}
