// Package oauthflow runs the OAuth2 authorization code flow of connections through the
// public service: the API creates the connection in state setup and a single-use state in
// Redis bound to the connection and the actor; GET /oauth2/redirect sends the browser to the
// provider; GET /oauth2/callback consumes the state, exchanges the code (with the PKCE
// verifier kept server side) and stores the token.
package oauthflow

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// Defaults.
const (
	DefaultStateTTL = 10 * time.Minute
	StatePrefix     = "authproxy:oauth2:state:"
	RedirectPath    = "/oauth2/redirect"
	CallbackPath    = "/oauth2/callback"
)

// Flow runs authorization code flows.
type Flow struct {
	Connections *connection.Service
	Redis       redis.UniversalClient
	// PublicURL returns the base URL of the public service (no trailing slash).
	PublicURL func() string
	// StateTTL bounds how long a flow may take (DefaultStateTTL).
	StateTTL time.Duration
	Logger   *slog.Logger
}

// pending is what a state stands for, kept in Redis until the callback consumes it.
type pending struct {
	ConnectionID string `json:"connectionId"`
	ActorID      string `json:"actorId"`
	Verifier     string `json:"verifier"`
	RedirectURI  string `json:"redirectUri"`
	AuthorizeURL string `json:"authorizeUrl"`
}

func (f *Flow) ttl() time.Duration {
	if f.StateTTL > 0 {
		return f.StateTTL
	}
	return DefaultStateTTL
}

func (f *Flow) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

// Begin starts the flow of a connection in setup on behalf of actorID and returns the URL
// of the public service to send the user to.
func (f *Flow) Begin(ctx context.Context, c *connection.Connection, actorID string) (string, error) {
	base := ""
	if f.PublicURL != nil {
		base = f.PublicURL()
	}
	if base == "" {
		return "", problem.Conflict("the server has no public URL configured (publicUrl): OAuth2 authorization is unavailable")
	}
	if f.Redis == nil {
		return "", problem.New(http.StatusServiceUnavailable, "OAuth2 authorization is unavailable: no Redis")
	}
	cl, err := f.Connections.ClientFor(ctx, c)
	if err != nil {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	state := base64.RawURLEncoding.EncodeToString(b)
	redirectURI := base + CallbackPath
	authURL, verifier := cl.AuthCodeURL(state, redirectURI, nil)
	v, err := json.Marshal(pending{ConnectionID: c.ID, ActorID: actorID, Verifier: verifier, RedirectURI: redirectURI, AuthorizeURL: authURL})
	if err != nil {
		return "", err
	}
	if err := f.Redis.Set(ctx, StatePrefix+state, v, f.ttl()).Err(); err != nil {
		return "", problem.New(http.StatusServiceUnavailable, "OAuth2 authorization is unavailable: storing the flow state failed: %v", err)
	}
	return base + RedirectPath + "?" + url.Values{"state": {state}}.Encode(), nil
}

// Register adds the redirect and callback routes to mux.
func (f *Flow) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+RedirectPath, f.redirect)
	mux.HandleFunc("GET "+CallbackPath, f.callback)
}

// validState tells a state Begin could have made from anything else (before Redis is asked).
func validState(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

func (f *Flow) redirect(w http.ResponseWriter, r *http.Request) {
	state := r.URL.Query().Get("state")
	if !validState(state) {
		page(w, http.StatusBadRequest, "Authorization link not valid", "This authorization link is malformed. Start connecting again from the application.")
		return
	}
	v, err := f.Redis.Get(r.Context(), StatePrefix+state).Bytes()
	if errors.Is(err, redis.Nil) {
		page(w, http.StatusBadRequest, "Authorization link expired", "This authorization link is unknown, expired or already used. Start connecting again from the application.")
		return
	}
	if err != nil {
		f.logger().ErrorContext(r.Context(), "oauth2 redirect: redis", "error", err)
		page(w, http.StatusServiceUnavailable, "Temporarily unavailable", "The authorization service is temporarily unavailable. Try again in a moment.")
		return
	}
	var p pending
	if err := json.Unmarshal(v, &p); err != nil || p.AuthorizeURL == "" {
		page(w, http.StatusBadRequest, "Authorization link not valid", "This authorization link cannot be used. Start connecting again from the application.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.AuthorizeURL, http.StatusFound)
}

func (f *Flow) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cb, cbErr := oauth2.ParseCallback(r.URL.Query())
	if !validState(cb.State) {
		page(w, http.StatusBadRequest, "Authorization not valid", "The answer from the provider carries no valid state. Start connecting again from the application.")
		return
	}
	// Consume the state atomically: a replayed callback finds nothing.
	v, err := f.Redis.GetDel(ctx, StatePrefix+cb.State).Bytes()
	if errors.Is(err, redis.Nil) {
		page(w, http.StatusBadRequest, "Authorization not valid", "This authorization is unknown, expired or already completed. Start connecting again from the application.")
		return
	}
	if err != nil {
		f.logger().ErrorContext(ctx, "oauth2 callback: redis", "error", err)
		page(w, http.StatusServiceUnavailable, "Temporarily unavailable", "The authorization service is temporarily unavailable. Start connecting again in a moment.")
		return
	}
	var p pending
	if err := json.Unmarshal(v, &p); err != nil || p.ConnectionID == "" {
		page(w, http.StatusBadRequest, "Authorization not valid", "This authorization cannot be completed. Start connecting again from the application.")
		return
	}
	// The rest must not be cut short by a closing browser.
	ctx = context.WithoutCancel(ctx)
	fail := func(status int, title, reason string) {
		if err := f.Connections.MarkFailed(ctx, p.ConnectionID, reason); err != nil {
			f.logger().ErrorContext(ctx, "oauth2 callback: marking the connection failed", "connection", p.ConnectionID, "error", err)
		}
		page(w, status, title, reason)
	}
	if cbErr != nil {
		var oe *oauth2.Error
		if errors.As(cbErr, &oe) && oe.Code == oauth2.CodeAccessDenied {
			fail(http.StatusForbidden, "Access denied", "Access was denied at the provider, so the connection was not made. You can close this window.")
			return
		}
		fail(http.StatusBadRequest, "Authorization failed", "The provider answered with an error: "+cbErr.Error())
		return
	}
	c, err := f.Connections.Get(ctx, p.ConnectionID)
	if err != nil {
		page(w, http.StatusBadRequest, "Authorization not valid", "The connection being authorized no longer exists.")
		return
	}
	if c.State != connection.Setup {
		page(w, http.StatusConflict, "Authorization not needed", fmt.Sprintf("The connection is %s, not waiting for an authorization.", c.State))
		return
	}
	cl, err := f.Connections.ClientFor(ctx, c)
	if err != nil {
		f.logger().ErrorContext(ctx, "oauth2 callback: client", "connection", c.ID, "error", err)
		fail(http.StatusInternalServerError, "Authorization failed", "The connector's OAuth2 configuration cannot be used.")
		return
	}
	xctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tok, err := cl.Exchange(xctx, cb.Code, p.RedirectURI, p.Verifier)
	if err != nil {
		fail(http.StatusBadGateway, "Authorization failed", "Exchanging the authorization code at the provider failed: "+err.Error())
		return
	}
	if err := f.Connections.Save(ctx, c.ID, 0, tok); err != nil {
		if errors.Is(err, oauth2.ErrStale) {
			page(w, http.StatusConflict, "Authorization not needed", "The connection changed while it was being authorized; nothing was stored.")
			return
		}
		f.logger().ErrorContext(ctx, "oauth2 callback: storing the token", "connection", c.ID, "error", err)
		page(w, http.StatusInternalServerError, "Authorization failed", "Storing the authorization failed. Start connecting again.")
		return
	}
	page(w, http.StatusOK, "Connected", "The account is connected. You can close this window.")
}

// page writes a small, plain HTML page.
func page(w http.ResponseWriter, status int, title, message string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	t, m := html.EscapeString(title), html.EscapeString(message)
	_, _ = fmt.Fprintf(w, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>\n<body><h1>%s</h1>\n<p>%s</p></body></html>\n", t, t, m)
}
