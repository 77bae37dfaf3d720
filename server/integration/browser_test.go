package integration_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/testserver"
)

// EnvChromium names the Chromium binary of the browser tests. .ci/run installs Debian's
// chromium and sets it, so there a missing browser fails the run; elsewhere the tests look
// for chromium on PATH and skip without one.
const EnvChromium = "AUTHPROXY_TEST_CHROMIUM"

// EnvArtifacts is the directory the browser tests save their screenshots in (default
// bin/artifacts/browser at the repository root).
const EnvArtifacts = "AUTHPROXY_TEST_ARTIFACTS"

// chrome starts a headless Chromium that opens no connection beyond loopback: background
// networking, component updates, sync and QUIC off, a fresh profile. It fails the test on
// any JavaScript dialog (an injected alert would open one).
func chrome(t *testing.T) context.Context {
	t.Helper()
	bin := os.Getenv(EnvChromium)
	if bin == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		t.Skip("no Chromium: install Debian's chromium or set " + EnvChromium)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s=%s: %v", EnvChromium, bin, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	err := chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			t.Errorf("a JavaScript dialog opened (%s: %q): injected script ran", d.Type, d.Message)
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}()
		}
	})
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// artifacts is where screenshots go.
func artifacts(t *testing.T) string {
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		dir = filepath.Join("..", "..", "bin", "artifacts", "browser")
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// step runs actions with a deadline and saves a full-page screenshot named name.
func step(t *testing.T, ctx context.Context, dir, name string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := chromedp.Do(sctx, actions...)
	var shot []byte
	if err == nil {
		// A page still being laid out after a navigation has no size yet ("Cannot take
		// screenshot with 0 width"): try again for a moment.
		for range 20 {
			if shot, err = chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		t.Fatalf("%s: %v\nat %s\n%s", name, err, loc, html)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// until waits for a JavaScript condition, across navigations (a page that is being replaced
// just does not answer yet).
func until(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			if ok, err := chromedp.Evaluate[bool](expr)(ctx, t); err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// text is the visible text of the page.
func text(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBrowserMarketplace walks the marketplace in headless Chromium: hand-off, catalog,
// a connector with hostile markup, an API-key connect with a wrong then a right key, the
// full OAuth2 connect flow against the independent provider, reconnect, disconnect, and a
// replayed hand-off landing on the host's login page.
func TestBrowserMarketplace(t *testing.T) {
	ctx := chrome(t)
	dir := artifacts(t)
	hostLogin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<!doctype html><title>Host login</title><h1>Host login</h1><p id=reason>%s</p>", r.URL.Query().Get("authproxy_error"))
	}))
	t.Cleanup(hostLogin.Close)

	var o testserver.Options
	if b := testserver.Backends(); len(b) > 0 {
		o = b[0]
	}
	o.Configure = func(c *config.Config) { c.Marketplace.LoginURL = hostLogin.URL + "/login" }
	s := testserver.Start(t, o)
	t.Cleanup(closeIdleConnections)
	signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{s: s, admin: s.AdminClient(t), adminSigner: signer}
	c := h.admin

	// Connectors: an API key one with a probe, one whose display data is hostile, and an
	// OAuth2 one on the independent provider.
	up := keyUpstream(t)
	h.mkNamespace(t, "root.users")
	host := h.mkActor(t, "root", "hostapp", perm("root.users", "actors", "impersonate,create"))
	demo := mkConnector(t, c, "root", "demo")
	v := mkConnectorVersion(t, c, demo.Id, keyConnectorDefinition("Demo API", "Calls the **demo** API.", up.URL), nil)
	call(c.PromoteConnectorVersionWithResponse(t.Context(), demo.Id, v.Version)).want(t, http.StatusOK)
	evil := mkConnector(t, c, "root", "evil")
	v = mkConnectorVersion(t, c, evil.Id, keyConnectorDefinition(`<img src=x onerror=alert(1)>Evil <script>alert(2)</script>`,
		"Click [me](javascript:alert(3)) <script>alert(4)</script> <a href=\"javascript:alert(5)\">raw</a>", up.URL), nil)
	call(c.PromoteConnectorVersionWithResponse(t.Context(), evil.Id, v.Version)).want(t, http.StatusOK)
	as := newAuthServer(t, s.PublicURL+"/oauth2/callback")
	api := newBearerUpstream(t, as)
	oauth := mkConnector(t, c, "root", "provider")
	secret := opClientSecret
	v = mkConnectorVersion(t, c, oauth.Id, as.definition(api.URL), &secret)
	call(c.PromoteConnectorVersionWithResponse(t.Context(), oauth.Id, v.Version)).want(t, http.StatusOK)

	link, err := host.Signer.MarketplaceURL(s.PublicURL, sdk.SessionTokenOptions{User: "root.users/alice", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	step(t, ctx, dir, "01-catalog", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`.cards`)))
	if loc := location(t, ctx); loc != s.PublicURL+"/marketplace/" || strings.Contains(loc, "token") {
		t.Fatalf("after the hand-off the browser is at %s", loc)
	}
	jsCookie, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil || strings.Contains(jsCookie, "authproxy") {
		t.Fatalf("the session cookie is visible to scripts (HttpOnly missing): %q %v", jsCookie, err)
	}

	// Search narrows the catalog; the hostile connector renders inert.
	step(t, ctx, dir, "02-search", chromedp.SendKeys(chromedp.CSS(`#q`), "demo"), chromedp.Submit(chromedp.CSS(`#q`)),
		until(`location.search.includes("q=demo") && document.readyState === "complete" && document.querySelector(".count") !== null`))
	if got := text(t, ctx); !strings.Contains(got, "1 of 3 connectors") {
		t.Fatalf("search: %s", got)
	}
	step(t, ctx, dir, "03-hostile-connector", chromedp.Navigate(s.PublicURL+"/marketplace/connectors/"+evil.Id), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	hrefs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href') || '')`))
	if err != nil {
		t.Fatal(err)
	}
	for _, href := range hrefs {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(href)), "javascript:") {
			t.Fatalf("a javascript: link survived: %q", href)
		}
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('script:not([src])').length + document.querySelectorAll('img[onerror]').length`))
	if err != nil || scripts != 0 {
		t.Fatalf("inline scripts or handlers on the page: %d %v", scripts, err)
	}

	// API key: a wrong key is refused by the connector's probe, the right one connects.
	step(t, ctx, dir, "04-connector", chromedp.Navigate(s.PublicURL+"/marketplace/connectors/"+demo.Id), chromedp.WaitVisible(chromedp.CSS(`a.button`)))
	step(t, ctx, dir, "05-apikey-form", chromedp.Click(chromedp.CSS(`a.button`)), chromedp.WaitVisible(chromedp.CSS(`#apiKey`)))
	step(t, ctx, dir, "06-apikey-wrong", chromedp.SendKeys(chromedp.CSS(`#apiKey`), "wrong-key"), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.error`)))
	if got := text(t, ctx); !strings.Contains(got, "whoami") {
		t.Fatalf("wrong key page: %s", got)
	}
	step(t, ctx, dir, "07-apikey-connected", chromedp.SendKeys(chromedp.CSS(`#apiKey`), "right-key"), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)))
	if got := text(t, ctx); !strings.Contains(got, "Demo API") || !strings.Contains(got, "ready") || !strings.Contains(got, "healthy") {
		t.Fatalf("my connections after connecting: %s", got)
	}

	// OAuth2: through the provider's login page and back.
	step(t, ctx, dir, "08-oauth2-connect", chromedp.Navigate(s.PublicURL+"/marketplace/connectors/"+oauth.Id+"/connect"),
		chromedp.WaitVisible(chromedp.CSS(`main form button[type=submit]`)))
	step(t, ctx, dir, "09-provider-login", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#username`)))
	if loc := location(t, ctx); !strings.HasPrefix(loc, as.issuer+"/") {
		t.Fatalf("expected the provider's login page, at %s", loc)
	}
	hostName := strings.Split(strings.TrimPrefix(as.issuer, "http://"), ":")[0]
	step(t, ctx, dir, "10-oauth2-connected", chromedp.SendKeys(chromedp.CSS(`#username`), "test-user@"+hostName),
		chromedp.SendKeys(chromedp.CSS(`#password`), "verysecure"), chromedp.Submit(chromedp.CSS(`#username`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if loc := location(t, ctx); !strings.HasPrefix(loc, s.PublicURL+"/marketplace/connections") {
		t.Fatalf("after the provider the browser is at %s", loc)
	}
	if got := text(t, ctx); !strings.Contains(got, "Connected.") || !strings.Contains(got, "Test provider") {
		t.Fatalf("my connections after OAuth2: %s", got)
	}
	alice := h.actorByExternalID(t, "root.users", "alice")
	mine := call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{OwnerActorId: &alice.Id})).want(t, http.StatusOK).JSON200.Items
	var oauthConn, keyConn sdk.Connection
	for _, m := range mine {
		switch m.ConnectorId {
		case oauth.Id:
			oauthConn = m
		case demo.Id:
			keyConn = m
		}
	}
	if oauthConn.State != sdk.ConnectionReady || keyConn.State != sdk.ConnectionReady {
		t.Fatalf("alice's connections: %+v", mine)
	}
	// The connection works through the proxy with the token the browser flow obtained.
	resp := call(c.ProxyConnectionWithResponse(t.Context(), oauthConn.Id, proxyReq(sdk.GET, api.URL+"/me", nil))).want(t, http.StatusOK)
	if resp.JSON200.Status != http.StatusOK {
		t.Fatalf("proxy through the OAuth2 connection: %d", resp.JSON200.Status)
	}

	// Reconnect the API key one, then disconnect the OAuth2 one after confirming.
	step(t, ctx, dir, "11-reconnect", chromedp.Navigate(s.PublicURL+"/marketplace/connections/"+keyConn.Id+"/reconnect"), chromedp.WaitVisible(chromedp.CSS(`#apiKey`)))
	step(t, ctx, dir, "12-reconnected", chromedp.SendKeys(chromedp.CSS(`#apiKey`), "right-key"), chromedp.Click(chromedp.CSS(`main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)))
	// Reconnect the OAuth2 one: through the provider again, the same connection id.
	step(t, ctx, dir, "12b-oauth2-reconnect", chromedp.Navigate(s.PublicURL+"/marketplace/connections/"+oauthConn.Id+"/reconnect"),
		chromedp.WaitVisible(chromedp.CSS(`main form button[type=submit]`)))
	step(t, ctx, dir, "12c-provider-login-again", chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#username`)))
	step(t, ctx, dir, "12d-oauth2-reconnected", chromedp.SendKeys(chromedp.CSS(`#username`), "test-user@"+hostName),
		chromedp.SendKeys(chromedp.CSS(`#password`), "verysecure"), chromedp.Submit(chromedp.CSS(`#username`)),
		until(`location.pathname === "/marketplace/connections" && document.querySelector(".flash.ok") !== null`))
	if got := call(c.GetConnectionWithResponse(t.Context(), oauthConn.Id)).want(t, http.StatusOK).JSON200; got.State != sdk.ConnectionReady {
		t.Fatalf("after reconnecting: %s", got.State)
	}
	if n := as.grantCalls("authorization_code"); n != 2 {
		t.Fatalf("%d code exchanges at the provider, want 2 (connect and reconnect)", n)
	}
	step(t, ctx, dir, "13-disconnect-confirm", chromedp.Navigate(s.PublicURL+"/marketplace/connections/"+oauthConn.Id+"/disconnect"), chromedp.WaitVisible(chromedp.CSS(`button.danger`)))
	step(t, ctx, dir, "14-disconnected", chromedp.Click(chromedp.CSS(`button.danger`)), chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)))
	if got := call(c.GetConnectionWithResponse(t.Context(), oauthConn.Id)).want(t, http.StatusOK).JSON200; got.State != sdk.ConnectionDisconnected {
		t.Fatalf("after disconnecting: %s", got.State)
	}
	if text := text(t, ctx); strings.Contains(text, "Test provider") {
		t.Fatalf("the disconnected connection is still listed: %s", text)
	}

	// The hand-off link again (replayed), and an expired one: both land on the host's login.
	step(t, ctx, dir, "15-replayed-handoff", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`#reason`)))
	if loc := location(t, ctx); !strings.HasPrefix(loc, hostLogin.URL+"/login") || !strings.Contains(loc, "session_invalid") {
		t.Fatalf("a replayed hand-off went to %s", loc)
	}
	expired, _ := host.Signer.SessionToken(sdk.SessionTokenOptions{User: "root.users/alice", Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }})
	step(t, ctx, dir, "16-expired-handoff", chromedp.Navigate(s.PublicURL+"/marketplace?token="+expired), chromedp.WaitVisible(chromedp.CSS(`#reason`)))
	if loc := location(t, ctx); !strings.HasPrefix(loc, hostLogin.URL+"/login") {
		t.Fatalf("an expired hand-off went to %s", loc)
	}
}

// TestBrowserAdmin signs an operator in to the admin pages and visits each.
func TestBrowserAdmin(t *testing.T) {
	ctx := chrome(t)
	dir := artifacts(t)
	var o testserver.Options
	if b := testserver.Backends(); len(b) > 0 {
		o = b[0]
	}
	s := testserver.Start(t, o)
	t.Cleanup(closeIdleConnections)
	signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{s: s, admin: s.AdminClient(t), adminSigner: signer}
	up := keyUpstream(t)
	h.mkNamespace(t, "root.tenants")
	h.mkNamespace(t, "root.tenants.acme")
	demo := mkConnector(t, h.admin, "root", "demo")
	v := mkConnectorVersion(t, h.admin, demo.Id, keyConnectorDefinition("Demo API", "demo", up.URL)+"logging: {bodies: always}\n", nil)
	call(h.admin.PromoteConnectorVersionWithResponse(t.Context(), demo.Id, v.Version)).want(t, http.StatusOK)
	key := "right-key"
	conn := call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.tenants.acme", ConnectorId: demo.Id, ApiKey: &key})).want(t, http.StatusCreated).JSON201
	call(h.admin.ProxyConnectionWithResponse(t.Context(), conn.Id, proxyReq(sdk.GET, up.URL+"/items", nil))).want(t, http.StatusOK)

	link, err := signer.AdminURL(s.AdminURL, sdk.SessionTokenOptions{User: s.AdminActor})
	if err != nil {
		t.Fatal(err)
	}
	step(t, ctx, dir, "01-namespaces", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`.tree`)))
	step(t, ctx, dir, "02-connectors", chromedp.Navigate(s.AdminURL+"/admin/connectors"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	step(t, ctx, dir, "03-connections", chromedp.Navigate(s.AdminURL+"/admin/connections"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	step(t, ctx, dir, "04-encryption", chromedp.Navigate(s.AdminURL+"/admin/encryption"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	step(t, ctx, dir, "05-queues", chromedp.Navigate(s.AdminURL+"/admin/queues"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	// The request log shows up within the writer's batch interval.
	deadline := time.Now().Add(10 * time.Second)
	for {
		step(t, ctx, dir, "06-request-log", chromedp.Navigate(s.AdminURL+"/admin/request-logs"), chromedp.WaitVisible(chromedp.CSS(`h1`)))
		if strings.Contains(text(t, ctx), "/items") || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	step(t, ctx, dir, "07-request-log-entry", chromedp.Click(chromedp.CSS(`tbody a`)), chromedp.WaitVisible(chromedp.CSS(`dl`)))
	if got := text(t, ctx); !strings.Contains(got, conn.Id) || strings.Contains(got, key) ||
		!strings.Contains(got, "Recorded response") || !strings.Contains(got, `{"ok":true}`) || !strings.Contains(got, "REDACTED") {
		t.Fatalf("request log entry page (recorded bodies shown, the key redacted): %s", got)
	}
}

// TestBrowserEmbedded shows the marketplace inside a host page's iframe: it loads for a host
// origin listed in marketplace.frameAncestors, and Chromium refuses to show it in the
// iframe of any other origin (the frame ends on Chromium's error page).
func TestBrowserEmbedded(t *testing.T) {
	ctx := chrome(t)
	dir := artifacts(t)
	var s *testserver.Server
	var signer *sdk.Signer
	hostPage := func(w http.ResponseWriter, r *http.Request) {
		link, err := signer.MarketplaceURL(s.PublicURL, sdk.SessionTokenOptions{User: "root.users/alice", Create: true})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, `<!doctype html><title>Host</title><h1>Host app</h1><iframe id="mp" title="Connections" src="%s" width="900" height="600"></iframe>`, link)
	}
	allowed := httptest.NewServer(http.HandlerFunc(hostPage))
	t.Cleanup(allowed.Close)
	other := httptest.NewServer(http.HandlerFunc(hostPage))
	t.Cleanup(other.Close)

	var o testserver.Options
	if b := testserver.Backends(); len(b) > 0 {
		o = b[0]
	}
	o.Configure = func(c *config.Config) { c.Marketplace.FrameAncestors = []string{allowed.URL} }
	s = testserver.Start(t, o)
	t.Cleanup(closeIdleConnections)
	admin, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{s: s, admin: s.AdminClient(t), adminSigner: admin}
	h.mkNamespace(t, "root.users")
	signer = h.mkActor(t, "root", "hostapp", perm("root.users", "actors", "impersonate,create")).Signer

	// childURL is the URL the iframe ended on, once it left about:blank.
	childURL := func() string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			res, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
			if err == nil && res.FrameTree != nil && len(res.FrameTree.ChildFrames) == 1 {
				if u := res.FrameTree.ChildFrames[0].Frame.URL; u != "" && u != "about:blank" && !strings.Contains(u, "/marketplace?token=") {
					return u
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("the iframe did not load")
		return ""
	}
	step(t, ctx, dir, "01-embedded", chromedp.Navigate(allowed.URL), chromedp.WaitVisible(chromedp.CSS(`#mp`)))
	if u := childURL(); u != s.PublicURL+"/marketplace/" {
		t.Fatalf("in the allowed host's iframe the marketplace ended at %q", u)
	}
	time.Sleep(300 * time.Millisecond) // let the frame paint for the screenshot
	step(t, ctx, dir, "02-embedded-painted")

	step(t, ctx, dir, "03-other-origin", chromedp.Navigate(other.URL), chromedp.WaitVisible(chromedp.CSS(`#mp`)))
	if u := childURL(); strings.HasPrefix(u, s.PublicURL) {
		t.Fatalf("a host origin not in frameAncestors showed the marketplace (%q)", u)
	}
}
