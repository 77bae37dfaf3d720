// Command host-app is a minimal host web application that embeds the AuthProxy
// marketplace: it signs its users in (by name only — it is a demo), and for each page view
// signs a short-lived, single-use delegated token for the user with the SDK and shows the
// marketplace in an iframe (and as a link, for the redirect style).
//
// At start it sets itself up through the admin API, as Terraform would in production: the
// namespaces root.hostapp and root.hostapp.users, a service actor root.hostapp/host-app
// with a fresh key and only the permissions it needs (actors:impersonate and actors:create
// on root.hostapp.users, so that users are created on first use), and a demo connector.
//
// Run it against a dev server (`make run`, then export the variables its banner prints):
//
//	AUTHPROXY_MARKETPLACE_FRAME_ANCESTORS=http://127.0.0.1:8090 make run   # in one shell
//	go run ./examples/host-app                                             # in another
//
// and open http://127.0.0.1:8090. The server must allow the host's origin to frame the
// marketplace (marketplace.frameAncestors); without it the link still works.
//
// With -check it signs a user in, follows the marketplace link like a browser, connects the
// demo connector through the marketplace form, checks the connection through the API,
// removes what it created and exits: `make e2e` runs it that way.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"html"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

const (
	hostNamespace  = "root.hostapp"
	usersNamespace = "root.hostapp.users"
	serviceActor   = "host-app"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address to serve the host application on")
	check := flag.Bool("check", false, "sign a user in, connect through the marketplace, verify, clean up and exit")
	flag.Parse()
	if err := run(*addr, *check); err != nil {
		log.Fatalf("host-app: %v", err)
	}
}

func run(addr string, check bool) error {
	for _, v := range []string{"AUTHPROXY_ADMIN_URL", "AUTHPROXY_ACTOR", "AUTHPROXY_PRIVATE_KEY_FILE", "AUTHPROXY_PUBLIC_URL"} {
		if os.Getenv(v) == "" {
			return fmt.Errorf("%s is not set: start a dev server (make run) and export the variables it prints", v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := sdk.NewClientFromKeyFile(os.Getenv("AUTHPROXY_ADMIN_URL"), os.Getenv("AUTHPROXY_ACTOR"),
		os.Getenv("AUTHPROXY_PRIVATE_KEY_FILE"), sdk.AudienceAdmin)
	if err != nil {
		return err
	}
	h, err := setUp(ctx, admin)
	if err != nil {
		return err
	}
	h.publicURL = os.Getenv("AUTHPROXY_PUBLIC_URL")
	if check {
		defer h.tearDown(admin)
	}

	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	base := "http://" + l.Addr().String()
	if !check {
		fmt.Printf("host-app: open %s (marketplace at %s)\n", base, h.publicURL)
		select {}
	}
	return h.check(ctx, admin, base)
}

// host is the application: its service actor's signer and a key for its own session cookies.
type host struct {
	signer      *sdk.Signer
	actorID     string
	connectorID string
	publicURL   string
	cookieKey   []byte
}

// setUp creates (or refreshes) what the host needs on AuthProxy.
func setUp(ctx context.Context, admin *sdk.ClientWithResponses) (*host, error) {
	for _, ns := range []string{hostNamespace, usersNamespace} {
		r, err := admin.CreateNamespaceWithResponse(ctx, sdk.CreateNamespaceJSONRequestBody{Path: ns})
		if err != nil || (r.StatusCode() != http.StatusCreated && r.StatusCode() != http.StatusConflict) {
			return nil, apiErr("create namespace "+ns, r, err)
		}
	}
	priv, pub, err := sdk.GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	perms := []sdk.Permission{{Namespace: usersNamespace, Resources: []sdk.Resource{sdk.ResourceActors}, Verbs: []sdk.Verb{sdk.VerbImpersonate, sdk.VerbCreate}}}
	var actorID string
	a, err := admin.CreateActorWithResponse(ctx, sdk.CreateActorJSONRequestBody{Namespace: hostNamespace, ExternalId: serviceActor,
		PublicKeys: &[]string{pub}, Permissions: &perms})
	switch {
	case err != nil:
		return nil, err
	case a.JSON201 != nil:
		actorID = a.JSON201.Id
	case a.StatusCode() == http.StatusConflict:
		// Started before: give the actor this run's key.
		got, err := admin.GetActorByExternalIdWithResponse(ctx, hostNamespace, serviceActor)
		if err != nil || got.JSON200 == nil {
			return nil, apiErr("get actor", got, err)
		}
		actorID = got.JSON200.Id
		p, err := admin.UpdateActorWithResponse(ctx, actorID, sdk.UpdateActorJSONRequestBody{PublicKeys: &[]string{pub}, Permissions: &perms})
		if err != nil || p.JSON200 == nil {
			return nil, apiErr("update actor", p, err)
		}
	default:
		return nil, apiErr("create actor", a, nil)
	}
	signer, err := sdk.NewSigner(hostNamespace+"/"+serviceActor, priv)
	if err != nil {
		return nil, err
	}
	connectorID, err := demoConnector(ctx, admin)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &host{signer: signer, actorID: actorID, connectorID: connectorID, cookieKey: key}, nil
}

// demoConnector publishes a no-auth connector in the host's namespace, so the catalog has
// something to connect (production connectors come from Terraform).
func demoConnector(ctx context.Context, admin *sdk.ClientWithResponses) (string, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	cx, err := admin.CreateConnectorWithResponse(ctx, sdk.ConnectorCreate{Namespace: hostNamespace, Name: fmt.Sprintf("weather-%x", b)})
	if err != nil || cx.JSON201 == nil {
		return "", apiErr("create connector", cx, err)
	}
	def := `display:
  name: Open-Meteo weather
  description: "Free weather forecasts. **No account needed**: connecting only records that you use it."
  categories: [weather]
auth: {type: none}
upstream:
  allowedUrls: ["https://api.open-meteo.com/v1/"]
`
	v, err := admin.CreateConnectorVersionWithResponse(ctx, cx.JSON201.Id, sdk.ConnectorVersionCreate{Definition: def})
	if err != nil || v.JSON201 == nil {
		return "", apiErr("create connector version", v, err)
	}
	if p, err := admin.PromoteConnectorVersionWithResponse(ctx, cx.JSON201.Id, v.JSON201.Version); err != nil || p.JSON200 == nil {
		return "", apiErr("promote", p, err)
	}
	return cx.JSON201.Id, nil
}

// --- the host's own sign-in (a name in an HMAC-signed cookie) -------------------------------

func (h *host) sign(user string) string {
	m := hmac.New(sha256.New, h.cookieKey)
	m.Write([]byte(user))
	return base64.RawURLEncoding.EncodeToString([]byte(user)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *host) user(r *http.Request) string {
	c, err := r.Cookie("hostapp_user")
	if err != nil {
		return ""
	}
	u, sig, ok := strings.Cut(c.Value, ".")
	name, err1 := base64.RawURLEncoding.DecodeString(u)
	if !ok || err1 != nil || !hmac.Equal([]byte(h.sign(string(name))), []byte(c.Value)) || sig == "" {
		return ""
	}
	return string(name)
}

var userRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host app</title></head>
<body>
<h1>Host app</h1>
{{if .User}}
<p>Signed in as <strong>{{.User}}</strong>. <a href="/logout">Sign out</a></p>
<p><a id="open" href="{{.Link}}" target="_blank" rel="noopener">Open the marketplace in a new window</a></p>
<iframe id="marketplace" title="Connected accounts" src="{{.Frame}}" width="100%" height="700"></iframe>
{{else}}
<form method="post" action="/login">
<label for="user">Your name</label> <input id="user" name="user" pattern="[a-z0-9][a-z0-9._-]*" required>
<button type="submit">Sign in</button>
</form>
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
{{end}}
</body></html>`))

func (h *host) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		data := struct{ User, Link, Frame, Error string }{User: h.user(r), Error: r.URL.Query().Get("error")}
		if data.User != "" {
			// Each link is single use: one for the iframe, one for the new window.
			var err error
			o := sdk.SessionTokenOptions{User: usersNamespace + "/" + data.User, Create: true}
			if data.Frame, err = h.signer.MarketplaceURL(h.publicURL, o); err == nil {
				data.Link, err = h.signer.MarketplaceURL(h.publicURL, o)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		_ = page.Execute(w, data)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		user := strings.ToLower(strings.TrimSpace(r.PostFormValue("user")))
		if !userRe.MatchString(user) {
			http.Redirect(w, r, "/?error="+url.QueryEscape("Use lower-case letters, digits, '.', '_' or '-'."), http.StatusSeeOther)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "hostapp_user", Value: h.sign(user), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "hostapp_user", Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	return mux
}

// --- the self-check -------------------------------------------------------------------------

var (
	iframeRe = regexp.MustCompile(`<iframe id="marketplace"[^>]* src="([^"]+)"`)
	csrfRe   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// check does what a user does in a browser: sign in to the host, open the marketplace the
// host embeds, connect the demo connector, and sees it in "my connections".
func (h *host) check(ctx context.Context, admin *sdk.ClientWithResponses, base string) error {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) (string, string, error) {
		resp, err := b.Get(u)
		if err != nil {
			return "", "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", "", fmt.Errorf("GET %s: %d\n%s", u, resp.StatusCode, body)
		}
		return resp.Request.URL.String(), string(body), nil
	}
	if _, err := b.PostForm(base+"/login", url.Values{"user": {"alice"}}); err != nil {
		return err
	}
	_, home, err := get(base + "/")
	if err != nil {
		return err
	}
	m := iframeRe.FindStringSubmatch(home)
	if m == nil {
		return fmt.Errorf("the host page has no marketplace iframe:\n%s", home)
	}
	link := html.UnescapeString(m[1])
	at, catalog, err := get(link)
	if err != nil {
		return err
	}
	if !strings.Contains(catalog, "Open-Meteo weather") {
		return errors.New("the marketplace catalog does not show the demo connector")
	}
	// The link is single use: another browser opening it again is not signed in.
	if resp, err := http.Get(link); err != nil {
		return err
	} else if resp.Body.Close(); resp.StatusCode == http.StatusOK {
		return errors.New("a marketplace link worked twice")
	}
	fmt.Printf("host-app: alice reached %s\n", at)
	connectURL := h.publicURL + "/marketplace/connectors/" + h.connectorID + "/connect"
	_, form, err := get(connectURL)
	if err != nil {
		return err
	}
	c := csrfRe.FindStringSubmatch(form)
	if c == nil {
		return errors.New("the connect form has no CSRF token")
	}
	resp, err := b.PostForm(connectURL, url.Values{"csrf": {c[1]}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Request.URL.Path, "/marketplace/connections") {
		return fmt.Errorf("connecting ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	user, err := admin.GetActorByExternalIdWithResponse(ctx, usersNamespace, "alice")
	if err != nil || user.JSON200 == nil {
		return apiErr("the marketplace did not create alice", user, err)
	}
	list, err := admin.ListConnectionsWithResponse(ctx, &sdk.ListConnectionsParams{OwnerActorId: &user.JSON200.Id})
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 1 || list.JSON200.Items[0].State != sdk.ConnectionReady {
		return apiErr("alice's connections", list, err)
	}
	fmt.Printf("host-app: alice connected %s through the marketplace: %s\n", h.connectorID, list.JSON200.Items[0].Id)
	fmt.Println("host-app: OK")
	return nil
}

// tearDown removes what the check created.
func (h *host) tearDown(admin *sdk.ClientWithResponses) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if user, err := admin.GetActorByExternalIdWithResponse(ctx, usersNamespace, "alice"); err == nil && user.JSON200 != nil {
		if list, err := admin.ListConnectionsWithResponse(ctx, &sdk.ListConnectionsParams{OwnerActorId: &user.JSON200.Id}); err == nil && list.JSON200 != nil {
			for _, c := range list.JSON200.Items {
				_, _ = admin.DisconnectConnectionWithResponse(ctx, c.Id)
				_, _ = admin.DeleteConnectionWithResponse(ctx, c.Id)
			}
		}
		_, _ = admin.DeleteActorWithResponse(ctx, user.JSON200.Id)
	}
	_, _ = admin.DemoteConnectorWithResponse(ctx, h.connectorID)
	if vs, err := admin.ListConnectorVersionsWithResponse(ctx, h.connectorID, nil); err == nil && vs.JSON200 != nil {
		for _, v := range vs.JSON200.Items {
			_, _ = admin.ArchiveConnectorVersionWithResponse(ctx, h.connectorID, v.Version)
		}
	}
	_, _ = admin.DeleteConnectorWithResponse(ctx, h.connectorID)
	_, _ = admin.DeleteActorWithResponse(ctx, h.actorID)
	_, _ = admin.DeleteNamespaceWithResponse(ctx, usersNamespace)
	_, _ = admin.DeleteNamespaceWithResponse(ctx, hostNamespace)
}

type statusCoder interface{ StatusCode() int }

func apiErr(what string, r statusCoder, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if r == nil {
		return errors.New(what + ": no answer")
	}
	return fmt.Errorf("%s: AuthProxy answered %d", what, r.StatusCode())
}
