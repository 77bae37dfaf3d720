package oauth2

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
)

func mustClient(t *testing.T, def *definition.OAuth2, secret string) *Client {
	t.Helper()
	c, err := NewClient(def, secret, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAuthorizationCodePKCE(t *testing.T) {
	o := newTestOP(t)
	for _, method := range []string{definition.ClientSecretBasic, definition.ClientSecretPost} {
		t.Run(method, func(t *testing.T) {
			c := mustClient(t, o.def(webClientID, method), webClientSecret)
			authURL, verifier := c.AuthCodeURL("state-xyz", webRedirect, nil)
			if verifier == "" {
				t.Fatal("no PKCE verifier")
			}
			cb, err := ParseCallback(o.authorize(authURL))
			if err != nil {
				t.Fatal(err)
			}
			if cb.State != "state-xyz" {
				t.Fatalf("state %q", cb.State)
			}
			tok, err := c.Exchange(context.Background(), cb.Code, webRedirect, verifier)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || tok.RefreshToken == "" || !tok.ValidFor(time.Minute) {
				t.Fatalf("bad token %v", tok)
			}
			if !strings.EqualFold(tok.TokenType, "bearer") {
				t.Fatalf("token type %q", tok.TokenType)
			}
			form := o.lastTokenForm()
			if form.Get("code_verifier") != verifier {
				t.Fatal("verifier not sent")
			}
			_, secretInForm := form["client_secret"]
			if secretInForm != (method == definition.ClientSecretPost) {
				t.Fatalf("client_secret in form = %v for %s", secretInForm, method)
			}
			if !o.introspect(tok.AccessToken) {
				t.Fatal("provider says the access token is not active")
			}
			// The code is single use.
			_, err = c.Exchange(context.Background(), cb.Code, webRedirect, verifier)
			if !IsPermanent(err) || strings.Contains(err.Error(), cb.Code) {
				t.Fatalf("replayed code: %v", err)
			}
		})
	}
}

func TestAuthorizationCodePublicClient(t *testing.T) {
	o := newTestOP(t)
	c := mustClient(t, o.def(nativeClientID, definition.ClientAuthNone), "ignored-secret")
	tok := o.connect(c, nativeRedirect)
	if tok.AccessToken == "" {
		t.Fatal("no access token")
	}
	form := o.lastTokenForm()
	if form.Get("client_id") != nativeClientID || form.Has("client_secret") {
		t.Fatalf("public client form: client_id=%q client_secret present=%v", form.Get("client_id"), form.Has("client_secret"))
	}
	// A public client's refresh works too.
	if _, err := c.RefreshToken(context.Background(), tok.RefreshToken); err != nil {
		t.Fatal(err)
	}
}

func TestPKCEMismatchRefused(t *testing.T) {
	o := newTestOP(t)
	c := mustClient(t, o.def(webClientID, definition.ClientSecretBasic), webClientSecret)
	authURL, _ := c.AuthCodeURL("s", webRedirect, nil)
	cb, err := ParseCallback(o.authorize(authURL))
	if err != nil {
		t.Fatal(err)
	}
	wrong := "wrong-verifier-0123456789-0123456789-0123456789"
	_, err = c.Exchange(context.Background(), cb.Code, webRedirect, wrong)
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != "invalid_grant" || !oe.Permanent || oe.Status != 400 {
		t.Fatalf("PKCE mismatch: %#v", err)
	}
	for _, s := range []string{cb.Code, wrong, webClientSecret} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error message leaks a secret: %s", err)
		}
	}
}

func TestUserDenial(t *testing.T) {
	o := newTestOP(t)
	c := mustClient(t, o.def(webClientID, definition.ClientSecretBasic), webClientSecret)
	authURL, _ := c.AuthCodeURL("state-deny", webRedirect, nil)
	id := o.startLogin(authURL)
	q := o.follow("/deny?id=" + url.QueryEscape(id))
	cb, err := ParseCallback(q)
	var oe *Error
	if !errors.As(err, &oe) || oe.Code != CodeAccessDenied || !oe.Permanent {
		t.Fatalf("denial: %v (query %v)", err, q)
	}
	if cb.State != "state-deny" || cb.Code != "" {
		t.Fatalf("denial callback %+v", cb)
	}
	if !strings.Contains(err.Error(), "access_denied") || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("unclear message: %s", err)
	}
	if _, err := ParseCallback(url.Values{"state": {"x"}}); !errors.As(err, &oe) || oe.Code != CodeInvalidCallback {
		t.Fatalf("empty callback: %v", err)
	}
}

func TestRefreshRotation(t *testing.T) {
	o := newTestOP(t)
	c := mustClient(t, o.def(webClientID, definition.ClientSecretBasic), webClientSecret)
	first := o.connect(c, webRedirect)
	second, err := c.RefreshToken(context.Background(), first.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessToken == first.AccessToken || second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatal("the provider rotates refresh tokens; the new one must replace the old")
	}
	if !o.introspect(second.AccessToken) {
		t.Fatal("refreshed access token not active")
	}
	// The rotated-away refresh token is dead: invalid_grant, permanent.
	_, err = c.RefreshToken(context.Background(), first.RefreshToken)
	if !IsPermanent(err) || strings.Contains(err.Error(), first.RefreshToken) {
		t.Fatalf("old refresh token: %v", err)
	}
	if _, err := c.RefreshToken(context.Background(), second.RefreshToken); err != nil {
		t.Fatalf("rotated refresh token: %v", err)
	}
}

func TestClientCredentials(t *testing.T) {
	o := newTestOP(t)
	def := &definition.OAuth2{
		Grant: definition.GrantClientCredentials, ClientID: ccClientID, TokenEndpointAuthMethod: definition.ClientSecretPost,
		TokenURL: o.issuer + "/oauth/{{config.path}}", Scopes: []definition.Scope{{Name: "openid"}},
		TokenParams: map[string]string{"audience": "api://demo", "grant_type": "evil"},
	}
	c, err := NewClient(def, ccClientSecret, map[string]string{"path": "token"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.ClientCredentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || !tok.ValidFor(time.Minute) {
		t.Fatalf("bad token %v", tok)
	}
	form := o.lastTokenForm()
	if form.Get("grant_type") != "client_credentials" || form.Get("audience") != "api://demo" || form.Get("scope") != "openid" {
		t.Fatalf("form: grant_type=%q audience=%q scope=%q", form.Get("grant_type"), form.Get("audience"), form.Get("scope"))
	}
	// Renew on a client credentials connection fetches a new token.
	tok2, err := c.Renew(context.Background(), tok)
	if err != nil || tok2.AccessToken == tok.AccessToken {
		t.Fatalf("renew: %v", err)
	}
	// Wrong secret: invalid_client is permanent and the secret is not in the message.
	bad, _ := NewClient(def, "wrong-secret-value", map[string]string{"path": "token"}, nil)
	_, err = bad.ClientCredentials(context.Background())
	if !IsPermanent(err) || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatalf("bad secret: %v", err)
	}
}

func TestRevocation(t *testing.T) {
	o := newTestOP(t)
	for _, method := range []string{definition.ClientSecretBasic, definition.ClientSecretPost} {
		t.Run(method, func(t *testing.T) {
			c := mustClient(t, o.def(webClientID, method), webClientSecret)
			tok := o.connect(c, webRedirect)
			if !o.introspect(tok.AccessToken) {
				t.Fatal("not active before revocation")
			}
			if err := c.Revoke(context.Background(), tok.AccessToken, "access_token"); err != nil {
				t.Fatal(err)
			}
			if o.introspect(tok.AccessToken) {
				t.Fatal("access token still active after revocation")
			}
			if err := c.Revoke(context.Background(), tok.RefreshToken, "refresh_token"); err != nil {
				t.Fatal(err)
			}
			_, err := c.RefreshToken(context.Background(), tok.RefreshToken)
			if !IsPermanent(err) {
				t.Fatalf("refresh after revocation: %v", err)
			}
		})
	}
	t.Run("wrong client secret", func(t *testing.T) {
		good := mustClient(t, o.def(webClientID, definition.ClientSecretBasic), webClientSecret)
		tok := o.connect(good, webRedirect)
		bad := mustClient(t, o.def(webClientID, definition.ClientSecretBasic), "not-the-secret")
		err := bad.Revoke(context.Background(), tok.RefreshToken, "refresh_token")
		var oe *Error
		if !errors.As(err, &oe) || !oe.Permanent || strings.Contains(err.Error(), tok.RefreshToken) || strings.Contains(err.Error(), "not-the-secret") {
			t.Fatalf("revoke with a bad secret: %v", err)
		}
	})
	t.Run("no endpoint", func(t *testing.T) {
		def := o.def(webClientID, definition.ClientSecretBasic)
		def.RevocationURL = ""
		c := mustClient(t, def, webClientSecret)
		if c.HasRevocation() {
			t.Fatal("HasRevocation")
		}
		calls := o.grantCalls("")
		if err := c.Revoke(context.Background(), "tok", ""); err != nil || o.grantCalls("") != calls {
			t.Fatalf("revoke without endpoint: %v", err)
		}
	})
}

func TestAuthCodeURL(t *testing.T) {
	f := false
	def := &definition.OAuth2{
		Grant: definition.GrantAuthorizationCode, ClientID: "cid", TokenEndpointAuthMethod: definition.ClientSecretBasic,
		AuthorizeURL: "https://{{config.host}}/authorize?tenant=t1", TokenURL: "https://{{config.host}}/token",
		Scopes:          []definition.Scope{{Name: "read"}, {Name: "write", Required: &f}, {Name: "admin", Required: &f}},
		AuthorizeParams: map[string]string{"prompt": "consent", "state": "evil", "client_id": "evil"},
	}
	c, err := NewClient(def, "s", map[string]string{"host": "example.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, verifier := c.AuthCodeURL("st", "https://app.test/cb", []string{"write", "undeclared"})
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Host != "example.test" || q.Get("tenant") != "t1" {
		t.Fatalf("url %s", raw)
	}
	sum := sha256.Sum256([]byte(verifier))
	want := map[string]string{
		"response_type": "code", "client_id": "cid", "redirect_uri": "https://app.test/cb", "state": "st",
		"scope": "read write", "prompt": "consent", "code_challenge_method": "S256",
		"code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]),
	}
	for k, v := range want {
		if got := q[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	def.PKCE = &f
	raw, verifier = c.AuthCodeURL("st", "https://app.test/cb", nil)
	if verifier != "" || strings.Contains(raw, "code_challenge") {
		t.Fatalf("PKCE off: %s", raw)
	}
	if _, err := NewClient(def, "s", map[string]string{}, nil); err == nil {
		t.Fatal("missing config value accepted")
	}
	def.TokenEndpointAuthMethod = "private_key_jwt"
	if _, err := NewClient(def, "s", map[string]string{"host": "h"}, nil); err == nil {
		t.Fatal("unknown auth method accepted")
	}
}
