package integration_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// eachBackendWith is eachBackend on servers started with options changed by mod.
func eachBackendWith(t *testing.T, mod func(*testing.T, *testserver.Options), fn func(t *testing.T, h *harness)) {
	t.Helper()
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			mod(t, &b)
			s := testserver.Start(t, b)
			t.Cleanup(closeIdleConnections)
			signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
			if err != nil {
				t.Fatalf("admin signer: %v", err)
			}
			fn(t, &harness{s: s, admin: s.AdminClient(t), adminSigner: signer})
		})
	}
}

func browseWith(t *testing.T, b *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// approveFrom logs the example user in at the provider URL the redirect sent the browser
// to, and returns the callback URL.
func (a *authServer) approveFrom(t *testing.T, b *http.Client, providerURL string) string {
	t.Helper()
	resp, body := browseWith(t, b, providerURL)
	loginPage, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode/100 != 3 {
		t.Fatalf("provider: %d %s", resp.StatusCode, body)
	}
	id := loginPage.Query().Get("authRequestID")
	host := strings.Split(strings.TrimPrefix(a.issuer, "http://"), ":")[0]
	if err := a.storage.CheckUsernamePassword("test-user@"+host, "verysecure", id); err != nil {
		t.Fatal(err)
	}
	resp, body = browseWith(t, b, a.issuer+"/authorize/callback?id="+url.QueryEscape(id))
	if resp.StatusCode/100 != 3 {
		t.Fatalf("provider callback: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

func TestOAuth2CallbackBrowserBinding(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		s := newACSetup(t, h, "bound")

		// Begun by the admin, opened in the user's browser, delivered in another browser
		// (another user's): refused, the connection stays in setup, the state is consumed.
		cn := s.create(t)
		callback := s.as.approve(t, *cn.AuthorizeUrl)
		code := mustQuery(t, callback, "code")
		resp, body := browseWith(t, newBrowser(), callback)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "started in another browser") || strings.Contains(body, code) {
			t.Fatalf("callback in another browser: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionSetup {
			t.Fatalf("after a refused callback: %s", got.State)
		}
		resp, body = browse(t, callback)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already completed") {
			t.Fatalf("the right browser after a refusal: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionSetup {
			t.Fatalf("after the refused flow: %s", got.State)
		}

		// A separate flow in the right browser completes.
		cn = s.create(t)
		if code, body := s.authorize(t, *cn.AuthorizeUrl); code != http.StatusOK {
			t.Fatalf("callback in the right browser: %d %s", code, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionReady {
			t.Fatalf("after the right browser's callback: %s", got.State)
		}

		// The redirect binds once: its cookie is scoped and flagged, and a second visit (in
		// any browser) gets no nonce.
		cn = s.create(t)
		first := newBrowser()
		resp, _ = browseWith(t, first, *cn.AuthorizeUrl)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("redirect: %d", resp.StatusCode)
		}
		cookies := resp.Cookies()
		state := mustQuery(t, *cn.AuthorizeUrl, "state")
		if len(cookies) != 1 {
			t.Fatalf("redirect set %d cookies", len(cookies))
		}
		ck := cookies[0]
		if !strings.HasPrefix(ck.Name, "authproxy_oauth2_") || ck.Path != "/oauth2/" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode ||
			ck.Secure || ck.MaxAge <= 0 || strings.Contains(ck.Name+ck.Value, state) || len(ck.Value) < 20 {
			t.Fatalf("cookie %+v", ck)
		}
		providerURL := resp.Header.Get("Location")
		for _, b := range []*http.Client{first, newBrowser()} {
			resp, body := browseWith(t, b, *cn.AuthorizeUrl)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already opened") || len(resp.Cookies()) != 0 {
				t.Fatalf("second visit of the redirect: %d %s", resp.StatusCode, body)
			}
		}
		// A browser presenting that cookie name with another value is refused too.
		callback = s.as.approveFrom(t, first, providerURL)
		forger := newBrowser()
		pub, _ := url.Parse(h.s.PublicURL + "/oauth2/")
		forger.Jar.SetCookies(pub, []*http.Cookie{{Name: ck.Name, Value: "forged-nonce-value-0123456789", Path: "/oauth2/"}})
		resp, body = browseWith(t, forger, callback)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "started in another browser") {
			t.Fatalf("callback with a forged cookie: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionSetup {
			t.Fatalf("after a forged cookie: %s", got.State)
		}

		// A callback whose redirect was never visited (no binding at all) is refused.
		cn = s.create(t)
		resp, body = browse(t, h.s.PublicURL+"/oauth2/callback?"+url.Values{"state": {mustQuery(t, *cn.AuthorizeUrl, "state")}, "code": {"x"}}.Encode())
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("callback without a redirect: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionSetup {
			t.Fatalf("after a callback without a redirect: %s", got.State)
		}
	})
}

func mustQuery(t *testing.T, u, key string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Query().Get(key) == "" {
		t.Fatalf("no %s in %s", key, u)
	}
	return p.Query().Get(key)
}

// sessionCookie stands in for the marketplace session of the next step: the actor id the
// browser is logged in as.
const sessionCookie = "test_session_actor"

func TestOAuth2CallbackSessionActor(t *testing.T) {
	eachBackendWith(t, func(_ *testing.T, o *testserver.Options) {
		o.OAuth2SessionActor = func(r *http.Request) (string, bool) {
			ck, err := r.Cookie(sessionCookie)
			if err != nil {
				return "", false
			}
			return ck.Value, true
		}
	}, func(t *testing.T, h *harness) {
		c := h.admin
		s := newACSetup(t, h, "session")
		pub, _ := url.Parse(h.s.PublicURL + "/")
		login := func(b *http.Client, actorID string) {
			b.Jar.SetCookies(pub, []*http.Cookie{{Name: sessionCookie, Value: actorID, Path: "/"}})
		}
		run := func(b *http.Client, cn sdk.Connection) string {
			t.Helper()
			resp, body := browseWith(t, b, *cn.AuthorizeUrl)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("redirect: %d %s", resp.StatusCode, body)
			}
			return s.as.approveFrom(t, b, resp.Header.Get("Location"))
		}

		// The flows are for an end user: connections owned by alice.
		alice := h.mkActor(t, "root", "alice")
		owned := func(t *testing.T) sdk.Connection {
			t.Helper()
			return *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: s.cx.Id, OwnerActorId: &alice.Id})).
				want(t, http.StatusCreated).JSON201
		}

		// The same browser, but by the callback it is logged in as someone else: refused.
		b := newBrowser()
		cn := owned(t)
		callback := run(b, cn)
		login(b, "act_someone_else")
		resp, body := browseWith(t, b, callback)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "started in another browser") {
			t.Fatalf("callback in another actor's session: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionSetup {
			t.Fatalf("after a refused callback: %s", got.State)
		}
		// Opening the link in another actor's session is refused before the provider.
		cn = owned(t)
		resp, body = browseWith(t, b, *cn.AuthorizeUrl)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Fatalf("redirect in another actor's session: %d %s", resp.StatusCode, body)
		}
		// Logged in as the connection's owner: accepted.
		b = newBrowser()
		login(b, alice.Id)
		cn = owned(t)
		resp, body = browseWith(t, b, run(b, cn))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("callback in the owner's session: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionReady {
			t.Fatalf("after the owner's callback: %s", got.State)
		}
		// A connection without an owner is for no one in particular: any session (or none)
		// completes it in the browser that opened the link.
		b = newBrowser()
		login(b, "act_someone_else")
		cn = s.create(t)
		resp, body = browseWith(t, b, run(b, cn))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("callback of an unowned connection: %d %s", resp.StatusCode, body)
		}
	})
}

func TestOAuth2ExpiredState(t *testing.T) {
	const ttl = 1500 * time.Millisecond
	eachBackendWith(t, func(_ *testing.T, o *testserver.Options) { o.OAuth2StateTTL = ttl }, func(t *testing.T, h *harness) {
		c := h.admin
		s := newACSetup(t, h, "expiring")
		// The user approves in time, but the callback arrives after the state expired.
		cn := s.create(t)
		callback := s.as.approve(t, *cn.AuthorizeUrl)
		unused := s.create(t)
		time.Sleep(ttl + 200*time.Millisecond)
		resp, body := browse(t, callback)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "unknown, expired or already completed") {
			t.Fatalf("late callback: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, cn.Id); got.State == sdk.ConnectionReady {
			t.Fatal("an expired flow connected the account")
		}
		// A link opened too late does not reach the provider.
		resp, body = browse(t, *unused.AuthorizeUrl)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "unknown, expired or already used") {
			t.Fatalf("late redirect: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, unused.Id); got.State == sdk.ConnectionReady {
			t.Fatal("an expired link connected the account")
		}
	})
}
