package oauth2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	xoauth2 "golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
)

// Client performs the OAuth2 exchanges of one connector version for one connection.
// It is safe for concurrent use.
type Client struct {
	def           *definition.OAuth2
	secret        string
	hc            *http.Client
	authorizeURL  string
	tokenURL      string
	revocationURL string
	authStyle     xoauth2.AuthStyle
}

// reservedAuthorizeParams are set by the flow itself; the definition's authorizeParams cannot
// override them.
var reservedAuthorizeParams = []string{
	"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method",
}

// reservedTokenParams likewise for tokenParams.
var reservedTokenParams = []string{
	"grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret", "refresh_token", "scope",
}

// NewClient builds a Client from a connector's OAuth2 block. clientSecret is the connector
// version's client secret (ignored for tokenEndpointAuthMethod "none"); config holds the
// connection's config values, used to render {{config.x}} in the endpoint URLs. hc carries
// every request (the proxy passes a client whose dials are guarded); nil means
// http.DefaultClient.
func NewClient(def *definition.OAuth2, clientSecret string, config map[string]string, hc *http.Client) (*Client, error) {
	if def == nil {
		return nil, errors.New("oauth2: connector has no oauth2 configuration")
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	c := &Client{def: def, secret: clientSecret, hc: hc}
	switch def.TokenEndpointAuthMethod {
	case definition.ClientSecretBasic, "":
		c.authStyle = xoauth2.AuthStyleInHeader
	case definition.ClientSecretPost:
		c.authStyle = xoauth2.AuthStyleInParams
	case definition.ClientAuthNone:
		c.authStyle = xoauth2.AuthStyleInParams
		c.secret = ""
	default:
		return nil, fmt.Errorf("oauth2: unknown tokenEndpointAuthMethod %q", def.TokenEndpointAuthMethod)
	}
	var err error
	if def.Grant == definition.GrantAuthorizationCode {
		if c.authorizeURL, err = definition.Render(def.AuthorizeURL, config); err != nil {
			return nil, fmt.Errorf("oauth2: authorizeUrl: %w", err)
		}
	}
	if c.tokenURL, err = definition.Render(def.TokenURL, config); err != nil {
		return nil, fmt.Errorf("oauth2: tokenUrl: %w", err)
	}
	if def.RevocationURL != "" {
		if c.revocationURL, err = definition.Render(def.RevocationURL, config); err != nil {
			return nil, fmt.Errorf("oauth2: revocationUrl: %w", err)
		}
	}
	return c, nil
}

// Grant returns the connector's grant (definition.GrantAuthorizationCode or
// definition.GrantClientCredentials).
func (c *Client) Grant() string { return c.def.Grant }

// RefreshLeadTime is the connector's refresh lead time (definition.DefaultRefreshLeadTime
// when unset).
func (c *Client) RefreshLeadTime() time.Duration {
	if c.def.RefreshLeadTime.Duration > 0 {
		return c.def.RefreshLeadTime.Duration
	}
	return definition.DefaultRefreshLeadTime
}

// HasRevocation reports whether the connector declares a revocation endpoint.
func (c *Client) HasRevocation() bool { return c.revocationURL != "" }

func (c *Client) config(redirectURI string, scopes []string) *xoauth2.Config {
	return &xoauth2.Config{
		ClientID:     c.def.ClientID,
		ClientSecret: c.secret,
		Endpoint:     xoauth2.Endpoint{AuthURL: c.authorizeURL, TokenURL: c.tokenURL, AuthStyle: c.authStyle},
		RedirectURL:  redirectURI,
		Scopes:       scopes,
	}
}

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, xoauth2.HTTPClient, c.hc)
}

// Scopes returns the scopes to request: every required scope of the definition, then the
// optional ones among requested, in definition order. Requested names the definition does not
// declare are dropped.
func (c *Client) Scopes(requested []string) []string {
	var out []string
	for _, s := range c.def.Scopes {
		if s.IsRequired() || slices.Contains(requested, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// AuthCodeURL returns the provider URL to send the user to, and the PKCE verifier to keep
// (server side, bound to state) for [Client.Exchange]; verifier is "" when the connector does
// not use PKCE. The URL carries the S256 challenge, the definition's authorizeParams, the
// required scopes and the requested optional ones (see [Client.Scopes]).
func (c *Client) AuthCodeURL(state, redirectURI string, scopes []string) (authURL string, verifier string) {
	var opts []xoauth2.AuthCodeOption
	for _, k := range sortedKeys(c.def.AuthorizeParams) {
		if !slices.Contains(reservedAuthorizeParams, k) {
			opts = append(opts, xoauth2.SetAuthURLParam(k, c.def.AuthorizeParams[k]))
		}
	}
	if c.def.UsesPKCE() {
		verifier = xoauth2.GenerateVerifier()
		opts = append(opts, xoauth2.S256ChallengeOption(verifier))
	}
	return c.config(redirectURI, c.Scopes(scopes)).AuthCodeURL(state, opts...), verifier
}

// Exchange trades an authorization code (and the PKCE verifier from [Client.AuthCodeURL]) for
// a token. redirectURI must be the one given to AuthCodeURL.
func (c *Client) Exchange(ctx context.Context, code, redirectURI, verifier string) (*Token, error) {
	opts := c.tokenParamOpts()
	if verifier != "" {
		opts = append(opts, xoauth2.VerifierOption(verifier))
	}
	t, err := c.config(redirectURI, nil).Exchange(c.ctx(ctx), code, opts...)
	if err != nil {
		return nil, newError("authorization_code", err, code, verifier, c.secret)
	}
	return fromX(t, ""), nil
}

// ClientCredentials fetches a token with the client credentials grant, sending the
// definition's scopes and tokenParams.
func (c *Client) ClientCredentials(ctx context.Context) (*Token, error) {
	params := url.Values{}
	for _, k := range sortedKeys(c.def.TokenParams) {
		if !slices.Contains(reservedTokenParams, k) {
			params.Set(k, c.def.TokenParams[k])
		}
	}
	cc := &clientcredentials.Config{
		ClientID: c.def.ClientID, ClientSecret: c.secret, TokenURL: c.tokenURL,
		Scopes: c.Scopes(nil), EndpointParams: params, AuthStyle: c.authStyle,
	}
	t, err := cc.Token(c.ctx(ctx))
	if err != nil {
		return nil, newError("client_credentials", err, c.secret)
	}
	return fromX(t, ""), nil
}

// RefreshToken uses a refresh token. A rotated refresh token in the answer replaces the old
// one; when the answer has none, the old one is kept in the returned Token.
// (tokenParams are not sent on refresh: golang.org/x/oauth2 builds the refresh request.)
func (c *Client) RefreshToken(ctx context.Context, refresh string) (*Token, error) {
	if refresh == "" {
		return nil, &Error{Op: "refresh_token", Code: CodeNoRefreshToken, Description: "the connection has no refresh token", Permanent: true}
	}
	src := c.config("", nil).TokenSource(c.ctx(ctx), &xoauth2.Token{RefreshToken: refresh, Expiry: time.Unix(1, 0)})
	t, err := src.Token()
	if err != nil {
		return nil, newError("refresh_token", err, refresh, c.secret)
	}
	return fromX(t, refresh), nil
}

// Renew gets a new token for a connection holding tok: a refresh for the authorization code
// grant, a new client credentials token otherwise.
func (c *Client) Renew(ctx context.Context, tok *Token) (*Token, error) {
	if c.def.Grant == definition.GrantClientCredentials {
		return c.ClientCredentials(ctx)
	}
	var refresh string
	if tok != nil {
		refresh = tok.RefreshToken
	}
	return c.RefreshToken(ctx, refresh)
}

// Revoke revokes token at the connector's revocation endpoint (RFC 7009), authenticating the
// client per tokenEndpointAuthMethod. hint is "access_token", "refresh_token" or "". Without a
// revocation endpoint there is nothing to do and Revoke returns nil.
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	if c.revocationURL == "" || token == "" {
		return nil
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	if c.authStyle == xoauth2.AuthStyleInParams {
		form.Set("client_id", c.def.ClientID)
		if c.secret != "" {
			form.Set("client_secret", c.secret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.revocationURL, strings.NewReader(form.Encode()))
	if err != nil {
		return &Error{Op: "revoke", Code: CodeNetwork, Description: "invalid revocation URL", Permanent: true}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.authStyle == xoauth2.AuthStyleInHeader {
		req.SetBasicAuth(url.QueryEscape(c.def.ClientID), url.QueryEscape(c.secret))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return transportError("revoke", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return httpError("revoke", resp.StatusCode, body, token, c.secret)
}

// Callback is what the provider sent back to the redirect URI.
type Callback struct {
	Code  string
	State string
}

// ParseCallback reads the query of the provider's redirect to the callback. A refusal by the
// user (error=access_denied) and any other error answer become an *Error (permanent: the user
// has to start over); a query with no code is an *Error with Code [CodeInvalidCallback].
// State is returned in both cases when present, so the caller can find and close the flow.
func ParseCallback(q url.Values) (Callback, error) {
	cb := Callback{Code: q.Get("code"), State: q.Get("state")}
	if code := q.Get("error"); code != "" {
		desc := q.Get("error_description")
		if code == CodeAccessDenied && desc == "" {
			desc = "the user denied access"
		}
		return Callback{State: cb.State}, &Error{Op: "callback", Code: scrub(code, 64, nil),
			Description: scrub(desc, maxDescriptionLength, nil), Permanent: true}
	}
	if cb.Code == "" {
		return Callback{State: cb.State}, &Error{Op: "callback", Code: CodeInvalidCallback,
			Description: "the callback has neither a code nor an error", Permanent: true}
	}
	return cb, nil
}

func (c *Client) tokenParamOpts() []xoauth2.AuthCodeOption {
	var opts []xoauth2.AuthCodeOption
	for _, k := range sortedKeys(c.def.TokenParams) {
		if !slices.Contains(reservedTokenParams, k) {
			opts = append(opts, xoauth2.SetAuthURLParam(k, c.def.TokenParams[k]))
		}
	}
	return opts
}

func fromX(t *xoauth2.Token, oldRefresh string) *Token {
	out := &Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry}
	if out.RefreshToken == "" {
		out.RefreshToken = oldRefresh
	}
	if s, ok := t.Extra("scope").(string); ok {
		out.Scope = s
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
