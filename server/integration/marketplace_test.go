package integration_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/sdk"
)

// webUser is a cookie-keeping HTTP client that does not follow redirects, so each hop can
// be checked.
type webUser struct {
	t   testing.TB
	c   *http.Client
	jar *cookiejar.Jar
}

func newWebUser(t testing.TB) *webUser {
	jar, _ := cookiejar.New(nil)
	return &webUser{t: t, jar: jar, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *webUser) do(method, u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func (b *webUser) get(u string) (*http.Response, string) { return b.do(http.MethodGet, u, nil) }

func (b *webUser) want(resp *http.Response, body string, status int, substr string) {
	b.t.Helper()
	if resp.StatusCode != status || !strings.Contains(body, substr) {
		b.t.Fatalf("%s %s = %d, want %d containing %q; body:\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, substr, body)
	}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of the page body.
func csrf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	return m[1]
}

// keyUpstream answers 200 only to the API key "right-key" (in X-Api-Key).
func keyUpstream(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "right-key" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func keyConnectorDefinition(name, description, base string) string {
	return fmt.Sprintf(`display:
  name: %q
  description: %q
  categories: [demo]
auth:
  type: api_key
  apiKey: {placement: header, headerName: X-Api-Key}
upstream:
  allowedUrls: [%q]
probes:
  - {name: whoami, url: %q}
`, name, description, base+"/", base+"/me")
}

func TestMarketplace(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		up := keyUpstream(t)
		h.mkNamespace(t, "root.users")
		host := h.mkActor(t, "root", "hostapp", perm("root.users", "actors", "impersonate,create"))
		demo := mkConnector(t, c, "root", "demo")
		v := mkConnectorVersion(t, c, demo.Id, keyConnectorDefinition("Demo API", "Calls the **demo** API. [docs](https://example.com/docs)", up.URL), nil)
		call(c.PromoteConnectorVersionWithResponse(t.Context(), demo.Id, v.Version)).want(t, http.StatusOK)
		evil := mkConnector(t, c, "root", "evil")
		v = mkConnectorVersion(t, c, evil.Id, keyConnectorDefinition(`<script>alert(1)</script>Evil`,
			"Click [here](javascript:alert(1)) <img src=x onerror=alert(2)> <script>alert(3)</script>", up.URL), nil)
		call(c.PromoteConnectorVersionWithResponse(t.Context(), evil.Id, v.Version)).want(t, http.StatusOK)

		link, err := host.Signer.MarketplaceURL(h.s.PublicURL, sdk.SessionTokenOptions{User: "root.users/alice", Create: true})
		if err != nil {
			t.Fatal(err)
		}
		alice := newWebUser(t)
		resp, _ := alice.get(link)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/marketplace/" {
			t.Fatalf("hand-off = %d → %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		var cookie *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "authproxy_marketplace" {
				cookie = ck
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
			t.Fatalf("session cookie = %+v", cookie)
		}
		if resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("Referrer-Policy = %q", resp.Header.Get("Referrer-Policy"))
		}
		// The end user was created on first use.
		aliceActor := h.actorByExternalID(t, "root.users", "alice")

		// A replayed hand-off does not sign anyone in.
		resp, body := newWebUser(t).get(link)
		newWebUser(t).want(resp, body, http.StatusUnauthorized, "Sign in again")

		// The catalog: both connectors, hostile markup inert.
		resp, body = alice.get(h.s.PublicURL + "/marketplace/")
		alice.want(resp, body, http.StatusOK, "Demo API")
		if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;Evil") {
			t.Fatalf("catalog does not escape the connector name:\n%s", body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("CSP = %q", csp)
		}
		resp, body = alice.get(h.s.PublicURL + "/marketplace/?q=demo")
		alice.want(resp, body, http.StatusOK, "1 of 2 connectors")
		resp, body = alice.get(h.s.PublicURL + "/marketplace/connectors/" + evil.Id)
		alice.want(resp, body, http.StatusOK, "Click")
		for _, bad := range []string{"javascript:", "<script>alert", "onerror=", "<img src=x"} {
			if strings.Contains(body, bad) {
				t.Fatalf("connector page carries %q:\n%s", bad, body)
			}
		}
		resp, body = alice.get(h.s.PublicURL + "/marketplace/connectors/" + demo.Id)
		alice.want(resp, body, http.StatusOK, "<strong>demo</strong>")

		// Connect: without the CSRF token refused, a wrong key refused by the probe, the
		// right one connects.
		connectURL := h.s.PublicURL + "/marketplace/connectors/" + demo.Id + "/connect"
		resp, body = alice.get(connectURL)
		alice.want(resp, body, http.StatusOK, "API key")
		token := csrf(t, body)
		resp, body = alice.do(http.MethodPost, connectURL, url.Values{"apiKey": {"right-key"}})
		alice.want(resp, body, http.StatusForbidden, "did not come from this page")
		resp, body = alice.do(http.MethodPost, connectURL, url.Values{"apiKey": {"right-key"}, "csrf": {"forged"}})
		alice.want(resp, body, http.StatusForbidden, "did not come from this page")
		resp, body = alice.do(http.MethodPost, connectURL, url.Values{"apiKey": {"wrong-key"}, "csrf": {token}})
		alice.want(resp, body, http.StatusUnprocessableEntity, "whoami")
		if n := len(call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{OwnerActorId: &aliceActor.Id})).want(t, http.StatusOK).JSON200.Items); n != 0 {
			t.Fatalf("%d connections after refused attempts", n)
		}
		resp, _ = alice.do(http.MethodPost, connectURL, url.Values{"apiKey": {"right-key"}, "csrf": {token}})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/marketplace/connections?connected=") {
			t.Fatalf("connect = %d → %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		mine := call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{OwnerActorId: &aliceActor.Id})).want(t, http.StatusOK).JSON200.Items
		if len(mine) != 1 || mine[0].Namespace != "root.users" || mine[0].State != sdk.ConnectionReady || mine[0].Health != sdk.HealthHealthy || deref(mine[0].OwnerActorId) != aliceActor.Id {
			t.Fatalf("alice's connections = %+v", mine)
		}
		conn := mine[0]
		resp, body = alice.get(h.s.PublicURL + "/marketplace/connections")
		alice.want(resp, body, http.StatusOK, conn.Id)
		if strings.Contains(body, "right-key") {
			t.Fatal("the API key is on the page")
		}

		// Bob cannot see or act on alice's connection by its id.
		bobLink, _ := host.Signer.MarketplaceURL(h.s.PublicURL, sdk.SessionTokenOptions{User: "root.users/bob", Create: true})
		bob := newWebUser(t)
		if resp, _ := bob.get(bobLink); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("bob's hand-off = %d", resp.StatusCode)
		}
		resp, body = bob.get(h.s.PublicURL + "/marketplace/connections")
		bob.want(resp, body, http.StatusOK, "not connected any account")
		bobToken := csrf(t, body)
		for _, p := range []string{"/reconnect", "/disconnect"} {
			resp, body = bob.get(h.s.PublicURL + "/marketplace/connections/" + conn.Id + p)
			bob.want(resp, body, http.StatusNotFound, "no such connection")
			resp, body = bob.do(http.MethodPost, h.s.PublicURL+"/marketplace/connections/"+conn.Id+p, url.Values{"csrf": {bobToken}, "confirm": {"yes"}, "apiKey": {"x"}})
			bob.want(resp, body, http.StatusNotFound, "no such connection")
		}
		// Alice's CSRF token does not work in bob's session either.
		resp, body = bob.do(http.MethodPost, h.s.PublicURL+"/marketplace/connections/"+conn.Id+"/disconnect", url.Values{"csrf": {token}, "confirm": {"yes"}})
		bob.want(resp, body, http.StatusForbidden, "did not come from this page")
		if got := call(c.GetConnectionWithResponse(t.Context(), conn.Id)).want(t, http.StatusOK).JSON200; got.State != sdk.ConnectionReady {
			t.Fatalf("alice's connection is %s after bob's attempts", got.State)
		}

		// An end user who still owns a live connection is not deleted.
		call(c.DeleteActorWithResponse(t.Context(), aliceActor.Id)).problem(t, http.StatusConflict, "", "still owns 1 connection")

		// Reconnect with a wrong then a right key; disconnect after confirmation.
		reconnectURL := h.s.PublicURL + "/marketplace/connections/" + conn.Id + "/reconnect"
		resp, body = alice.do(http.MethodPost, reconnectURL, url.Values{"apiKey": {"wrong-key"}, "csrf": {token}})
		alice.want(resp, body, http.StatusUnprocessableEntity, "whoami")
		resp, _ = alice.do(http.MethodPost, reconnectURL, url.Values{"apiKey": {"right-key"}, "csrf": {token}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("reconnect = %d", resp.StatusCode)
		}
		resp, body = alice.get(h.s.PublicURL + "/marketplace/connections/" + conn.Id + "/disconnect")
		alice.want(resp, body, http.StatusOK, "no longer be able to use")
		resp, _ = alice.do(http.MethodPost, h.s.PublicURL+"/marketplace/connections/"+conn.Id+"/disconnect", url.Values{"csrf": {token}})
		if resp.StatusCode != http.StatusSeeOther || call(c.GetConnectionWithResponse(t.Context(), conn.Id)).want(t, http.StatusOK).JSON200.State != sdk.ConnectionReady {
			t.Fatal("a disconnect without the confirmation must only go back to the confirmation page")
		}
		resp, _ = alice.do(http.MethodPost, h.s.PublicURL+"/marketplace/connections/"+conn.Id+"/disconnect", url.Values{"csrf": {token}, "confirm": {"yes"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("disconnect = %d", resp.StatusCode)
		}
		if got := call(c.GetConnectionWithResponse(t.Context(), conn.Id)).want(t, http.StatusOK).JSON200; got.State != sdk.ConnectionDisconnected {
			t.Fatalf("after disconnect: %s", got.State)
		}

		// Once disconnected, the user can be deleted, and the session ends with the actor.
		bobActor := h.actorByExternalID(t, "root.users", "bob")
		call(c.DeleteActorWithResponse(t.Context(), bobActor.Id)).want(t, http.StatusNoContent)
		resp, body = bob.get(h.s.PublicURL + "/marketplace/")
		bob.want(resp, body, http.StatusUnauthorized, "Sign in again")

		// Signing out ends the session.
		resp, body = alice.get(h.s.PublicURL + "/marketplace/")
		resp, _ = alice.do(http.MethodPost, h.s.PublicURL+"/marketplace/signout", url.Values{"csrf": {csrf(t, body)}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sign out = %d", resp.StatusCode)
		}
		resp, body = alice.get(h.s.PublicURL + "/marketplace/")
		alice.want(resp, body, http.StatusUnauthorized, "Sign in again")
	})
}

func TestMarketplaceHandoffRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		h.mkNamespace(t, "root.users")
		h.mkNamespace(t, "root.other")
		noImpersonate := h.mkActor(t, "root", "reader", perm("root.users", "actors", "get,list,create"))
		noCreate := h.mkActor(t, "root", "nocreate", perm("root.users", "actors", "impersonate"))
		host := h.mkActor(t, "root", "hostapp", perm("root.users", "actors", "impersonate,create"))
		cases := []struct {
			name   string
			signer *sdk.Signer
			o      sdk.SessionTokenOptions
		}{
			{"signer without actors:impersonate", noImpersonate.Signer, sdk.SessionTokenOptions{User: "root.users/alice", Create: true}},
			{"signer without actors:create, user missing", noCreate.Signer, sdk.SessionTokenOptions{User: "root.users/alice", Create: true}},
			{"user missing, no create asked", host.Signer, sdk.SessionTokenOptions{User: "root.users/alice"}},
			{"user outside the signer's reach", host.Signer, sdk.SessionTokenOptions{User: "root.other/alice", Create: true}},
			{"admin audience on the marketplace", host.Signer, sdk.SessionTokenOptions{User: "root.users/alice", Create: true, Audience: sdk.AdminAudience}},
		}
		for _, tc := range cases {
			tok, err := tc.signer.SessionToken(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			b := newWebUser(t)
			resp, body := b.get(h.s.PublicURL + "/marketplace?token=" + url.QueryEscape(tok))
			if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
				t.Errorf("%s: %d, cookies %v\n%s", tc.name, resp.StatusCode, resp.Cookies(), body)
			}
		}
		h.wantNoActor(t, "root.users", "alice")
		// The hand-off also takes the token as a form POST (it then never appears in a URL).
		tok, _ := host.Signer.SessionToken(sdk.SessionTokenOptions{User: "root.users/dora", Create: true})
		poster := newWebUser(t)
		resp, body := poster.do(http.MethodPost, h.s.PublicURL+"/marketplace", url.Values{"token": {tok}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/marketplace/" || len(resp.Cookies()) != 1 {
			t.Fatalf("POST hand-off: %d %v\n%s", resp.StatusCode, resp.Cookies(), body)
		}
		resp, body = poster.get(h.s.PublicURL + "/marketplace/")
		poster.want(resp, body, http.StatusOK, "dora")
		// Garbage and a plain API token.
		for _, raw := range []string{"", "garbage", h.adminToken(t)} {
			resp, _ := newWebUser(t).get(h.s.PublicURL + "/marketplace?token=" + url.QueryEscape(raw))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("token %.10q: %d", raw, resp.StatusCode)
			}
		}
		// Pages without a session.
		for _, p := range []string{"/marketplace/", "/marketplace/connections", "/marketplace/connectors/cxr_x"} {
			resp, _ := newWebUser(t).get(h.s.PublicURL + p)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s without a session: %d", p, resp.StatusCode)
			}
		}
	})
}

func TestAdminPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		up := keyUpstream(t)
		h.mkNamespace(t, "root.tenants")
		h.mkNamespace(t, "root.tenants.acme")
		demo := mkConnector(t, c, "root", "demo")
		v := mkConnectorVersion(t, c, demo.Id, keyConnectorDefinition("Demo API", "demo", up.URL), nil)
		call(c.PromoteConnectorVersionWithResponse(t.Context(), demo.Id, v.Version)).want(t, http.StatusOK)
		key := "right-key"
		conn := call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.tenants.acme", ConnectorId: demo.Id, ApiKey: &key})).want(t, http.StatusCreated).JSON201

		link, err := h.adminSigner.AdminURL(h.s.AdminURL, sdk.SessionTokenOptions{User: h.s.AdminActor})
		if err != nil {
			t.Fatal(err)
		}
		op := newWebUser(t)
		if resp, _ := op.get(link); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/" {
			t.Fatalf("admin hand-off = %d", resp.StatusCode)
		}
		for path, want := range map[string]string{
			"/admin/":                             "acme",
			"/admin/connectors":                   "(primary)",
			"/admin/connections":                  conn.Id,
			"/admin/connections?health=unhealthy": "No connection matches",
			"/admin/encryption":                   "connections.credentials",
			"/admin/queues":                       "Queue",
			"/admin/request-logs":                 "Request log",
			"/admin/request-logs?statusMin=abc":   "status from must be a number",
		} {
			resp, body := op.get(h.s.AdminURL + path)
			op.want(resp, body, http.StatusOK, want)
		}
		resp, body := op.get(h.s.AdminURL + "/admin/request-logs/rlg_00000000000000000000000000")
		op.want(resp, body, http.StatusNotFound, "no such entry")
		resp, body = op.get(h.s.AdminURL + "/admin/request-logs?cursor=%21%21%21")
		op.want(resp, body, http.StatusOK, "the page cursor is not valid")

		// A marketplace session is not an admin session, and the reverse.
		tenantOp := h.mkActor(t, "root.tenants", "op", perm("root.tenants.**", "*", "get,list"), perm("root.tenants", "actors", "impersonate"))
		tl, _ := tenantOp.Signer.AdminURL(h.s.AdminURL, sdk.SessionTokenOptions{User: "root.tenants/op"})
		tb := newWebUser(t)
		if resp, _ := tb.get(tl); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("tenant operator hand-off = %d", resp.StatusCode)
		}
		resp, body = tb.get(h.s.AdminURL + "/admin/connectors")
		tb.want(resp, body, http.StatusOK, "No connector you may list")
		resp, body = tb.get(h.s.AdminURL + "/admin/queues")
		tb.want(resp, body, http.StatusOK, "operators of the root namespace")
		resp, body = tb.get(h.s.AdminURL + "/admin/connections")
		tb.want(resp, body, http.StatusOK, conn.Id)
	})
}

// TestMarketplaceOAuth2WrongUser: an OAuth2 flow begun in alice's marketplace session
// completes only in alice's browser with alice's session. Delivered to bob's browser (bob
// signed in) or to alice's browser after she signed out, the callback is refused and the
// connection stays in setup; in her session it comes back to "my connections".
func TestMarketplaceOAuth2WrongUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		h.mkNamespace(t, "root.users")
		host := h.mkActor(t, "root", "hostapp", perm("root.users", "actors", "impersonate,create"))
		as := newAuthServer(t, h.s.PublicURL+"/oauth2/callback")
		api := newBearerUpstream(t, as)
		cx := mkConnector(t, c, "root", "provider")
		secret := opClientSecret
		v := mkConnectorVersion(t, c, cx.Id, as.definition(api.URL), &secret)
		call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)

		signIn := func(user string) *webUser {
			link, err := host.Signer.MarketplaceURL(h.s.PublicURL, sdk.SessionTokenOptions{User: "root.users/" + user, Create: true})
			if err != nil {
				t.Fatal(err)
			}
			b := newWebUser(t)
			if resp, _ := b.get(link); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s's hand-off: %d", user, resp.StatusCode)
			}
			return b
		}
		// begin starts the flow in b's marketplace and approves it at the provider in b's
		// browser; it returns the new connection's id and the callback URL.
		seen := map[string]bool{}
		begin := func(b *webUser) (string, string) {
			connectURL := h.s.PublicURL + "/marketplace/connectors/" + cx.Id + "/connect"
			_, form := b.get(connectURL)
			resp, body := b.do(http.MethodPost, connectURL, url.Values{"csrf": {csrf(t, form)}})
			redirect := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(redirect, h.s.PublicURL+"/oauth2/redirect?") {
				t.Fatalf("connect: %d → %q\n%s", resp.StatusCode, redirect, body)
			}
			resp, _ = b.get(redirect)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("redirect: %d", resp.StatusCode)
			}
			callback := as.approveFrom(t, b.c, resp.Header.Get("Location"))
			conns := call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{ConnectorId: &cx.Id})).want(t, http.StatusOK).JSON200.Items
			for _, cn := range conns {
				if !seen[cn.Id] {
					seen[cn.Id] = true
					return cn.Id, callback
				}
			}
			t.Fatal("no new connection")
			return "", ""
		}
		// The callback cookie is bound to the browser; copy it to stand for an attacker who
		// also got hold of it, so that only the session decides.
		carry := func(from, to *webUser) {
			pub, _ := url.Parse(h.s.PublicURL + "/oauth2/callback")
			var flow []*http.Cookie
			for _, ck := range from.jar.Cookies(pub) {
				if strings.HasPrefix(ck.Name, "authproxy_oauth2_") {
					flow = append(flow, &http.Cookie{Name: ck.Name, Value: ck.Value, Path: "/oauth2/"})
				}
			}
			if len(flow) == 0 {
				t.Fatal("no flow cookie to carry")
			}
			to.jar.SetCookies(pub, flow)
		}

		alice, bob := signIn("alice"), signIn("bob")
		id, callback := begin(alice)
		carry(alice, bob)
		resp, body := bob.get(callback)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "another browser or by another user") {
			t.Fatalf("callback in bob's session: %d\n%s", resp.StatusCode, body)
		}
		if got := call(c.GetConnectionWithResponse(t.Context(), id)).want(t, http.StatusOK).JSON200; got.State != sdk.ConnectionSetup {
			t.Fatalf("after bob's callback: %s", got.State)
		}

		// Alice signed out before the callback: refused too (the flow needs her session).
		id2, callback2 := begin(alice)
		_, page := alice.get(h.s.PublicURL + "/marketplace/")
		alice.do(http.MethodPost, h.s.PublicURL+"/marketplace/signout", url.Values{"csrf": {csrf(t, page)}})
		resp, _ = alice.get(callback2)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("callback without a session: %d", resp.StatusCode)
		}
		if got := call(c.GetConnectionWithResponse(t.Context(), id2)).want(t, http.StatusOK).JSON200; got.State != sdk.ConnectionSetup {
			t.Fatalf("after a callback without a session: %s", got.State)
		}

		// In her session: back to "my connections", connected.
		alice = signIn("alice")
		id3, callback3 := begin(alice)
		resp, _ = alice.get(callback3)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/marketplace/connections?") ||
			!strings.Contains(resp.Header.Get("Location"), "oauth2=connected") {
			t.Fatalf("callback in alice's session: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := call(c.GetConnectionWithResponse(t.Context(), id3)).want(t, http.StatusOK).JSON200; got.State != sdk.ConnectionReady {
			t.Fatalf("after alice's callback: %s", got.State)
		}
		resp, body = alice.get(h.s.PublicURL + resp.Header.Get("Location"))
		alice.want(resp, body, http.StatusOK, "Connected.")
	})
}

// TestMarketplaceConfigFields: a connector's config fields are asked on the connect form,
// checked (required, pattern) with the error next to the field, and stored with the
// connection; the allowed URL follows the value.
func TestMarketplaceConfigFields(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		h.mkNamespace(t, "root.users")
		host := h.mkActor(t, "root", "hostapp", perm("root.users", "actors", "impersonate,create"))
		cx := mkConnector(t, c, "root", "tenanted")
		v := mkConnectorVersion(t, c, cx.Id, `display: {name: Tenanted API}
config:
  fields:
    - {name: subdomain, label: Your subdomain, description: The part before .example.com, required: true, pattern: "[a-z0-9-]{1,20}"}
auth: {type: none}
upstream:
  allowedUrls: ["https://{{config.subdomain}}.example.com/api/"]
`, nil)
		call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
		link, _ := host.Signer.MarketplaceURL(h.s.PublicURL, sdk.SessionTokenOptions{User: "root.users/carol", Create: true})
		carol := newWebUser(t)
		carol.get(link)
		connectURL := h.s.PublicURL + "/marketplace/connectors/" + cx.Id + "/connect"
		resp, form := carol.get(connectURL)
		carol.want(resp, form, http.StatusOK, `<label for="config-subdomain">Your subdomain`)
		token := csrf(t, form)
		for _, bad := range []string{"", "Not_Valid!"} {
			resp, body := carol.do(http.MethodPost, connectURL, url.Values{"csrf": {token}, "config.subdomain": {bad}})
			carol.want(resp, body, http.StatusUnprocessableEntity, `aria-invalid="true" aria-describedby="config-subdomain-error"`)
		}
		if n := len(call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{ConnectorId: &cx.Id})).want(t, http.StatusOK).JSON200.Items); n != 0 {
			t.Fatalf("%d connections after refused forms", n)
		}
		resp, _ = carol.do(http.MethodPost, connectURL, url.Values{"csrf": {token}, "config.subdomain": {"acme"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("connect: %d", resp.StatusCode)
		}
		got := call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{ConnectorId: &cx.Id})).want(t, http.StatusOK).JSON200.Items
		if len(got) != 1 || got[0].Config["subdomain"] != "acme" || got[0].State != sdk.ConnectionReady {
			t.Fatalf("connections: %+v", got)
		}
	})
}
