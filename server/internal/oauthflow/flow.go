// Package oauthflow runs the OAuth2 authorization code flow of connections through the
// public service: the API creates the connection in state setup (or re-authorizes one) and
// a single-use state in Redis bound to the connection and the actor; GET /oauth2/redirect
// binds the flow to the browser that opens it and sends it to the provider; GET
// /oauth2/callback consumes the state, checks the browser binding, exchanges the code (with
// the PKCE verifier kept server side) and stores the token.
//
// Browser binding: the redirect sets a short-lived cookie (HttpOnly, SameSite=Lax, Path
// /oauth2/, Secure when the public URL is https, named after a hash prefix of the state)
// holding a random nonce whose SHA-256 it records next to the state with SET NX, so a
// second visit of the same link is refused and cannot obtain a nonce. The callback refuses
// (403, connection unchanged) a browser whose cookie is missing or does not match, and a
// session (SessionActor) of another actor than the one that began the flow. A refused
// callback still consumes the state: the code it carried has been seen by another browser,
// so the flow must be started again.
package oauthflow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
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
	// BindingPrefix keys the SHA-256 of the browser nonce of a state (see the package doc).
	BindingPrefix = "authproxy:oauth2:browser:"
	RedirectPath  = "/oauth2/redirect"
	CallbackPath  = "/oauth2/callback"
	// CookiePrefix starts the name of a flow's browser cookie.
	CookiePrefix = "authproxy_oauth2_"
	cookiePath   = "/oauth2/"
)

// Flow runs authorization code flows.
type Flow struct {
	Connections *connection.Service
	Redis       redis.UniversalClient
	// PublicURL returns the base URL of the public service (no trailing slash).
	PublicURL func() string
	// StateTTL bounds how long a flow may take (DefaultStateTTL).
	StateTTL time.Duration
	// SessionActor, when set, reports the actor of the browser's session on the public
	// service (the marketplace session). A flow for a known end user (Options.User: the
	// connection's owner, or the marketplace user who began it) is refused at the redirect
	// and the callback in a session of another actor; a flow begun in the marketplace
	// (Options.RequireSession) also without one. Other flows rely on the browser binding.
	SessionActor func(*http.Request) (actorID string, ok bool)
	Logger       *slog.Logger
}

// pending is what a state stands for, kept in Redis until the callback consumes it.
type pending struct {
	ConnectionID string `json:"connectionId"`
	ActorID      string `json:"actorId"`
	Verifier     string `json:"verifier"`
	RedirectURI  string `json:"redirectUri"`
	AuthorizeURL string `json:"authorizeUrl"`
	// Reauthorize marks the flow of a connection that was ready when it began: the callback
	// replaces its token, and a refusal or failure at the provider leaves it as it is.
	Reauthorize bool `json:"reauthorize,omitempty"`
	// ExpiresAt ends the flow even where Redis does not enforce key expiry (the in-process
	// Redis of dev mode).
	ExpiresAt time.Time `json:"expiresAt"`
	// User, RequireSession and ReturnTo are the flow's Options.
	User           string `json:"user,omitempty"`
	RequireSession bool   `json:"requireSession,omitempty"`
	ReturnTo       string `json:"returnTo,omitempty"`
}

// Options shape a flow begun for an end user.
type Options struct {
	// User is the end user expected to complete the flow: a browser in another user's
	// session is refused. Empty: the connection's owner, if it has one.
	User string
	// RequireSession refuses a browser without User's session (flows begun in the
	// marketplace, whose pages the user returns to).
	RequireSession bool
	// ReturnTo is a path on the public service under /marketplace/ that the browser goes
	// back to, with ?oauth2=connected|denied|expired|failed, instead of the result page.
	ReturnTo string
}

func (p *pending) expired() bool { return !p.ExpiresAt.IsZero() && time.Now().After(p.ExpiresAt) }

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

func (f *Flow) publicURL() string {
	if f.PublicURL != nil {
		return f.PublicURL()
	}
	return ""
}

// Begin starts the flow of a connection on behalf of actorID and returns the URL of the
// public service to send the user to. A connection in setup is authorized for the first
// time; a ready one is re-authorized: it keeps its token until the callback stores the new
// one.
func (f *Flow) Begin(ctx context.Context, c *connection.Connection, actorID string) (string, error) {
	return f.BeginWith(ctx, c, actorID, Options{})
}

// BeginWith is Begin with options for flows begun for an end user.
func (f *Flow) BeginWith(ctx context.Context, c *connection.Connection, actorID string, o Options) (string, error) {
	if o.ReturnTo != "" && (!strings.HasPrefix(o.ReturnTo, "/marketplace/") || strings.ContainsAny(o.ReturnTo, "?#\\") || strings.Contains(o.ReturnTo, "//")) {
		return "", fmt.Errorf("oauthflow: return path %q is not a plain /marketplace/ path", o.ReturnTo)
	}
	if o.User == "" {
		o.User = c.OwnerActorID
	}
	if o.RequireSession && o.User == "" {
		return "", errors.New("oauthflow: a flow that requires a session needs its user")
	}
	base := f.publicURL()
	if base == "" {
		return "", problem.Conflict("the server has no public URL configured (publicUrl): OAuth2 authorization is unavailable")
	}
	if f.Redis == nil {
		return "", problem.New(http.StatusServiceUnavailable, "OAuth2 authorization is unavailable: no Redis")
	}
	if c.State != connection.Setup && c.State != connection.Ready {
		return "", problem.Conflict("connection %s is %s: it cannot be authorized", c.ID, c.State)
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
	v, err := json.Marshal(pending{ConnectionID: c.ID, ActorID: actorID, Verifier: verifier, RedirectURI: redirectURI,
		AuthorizeURL: authURL, Reauthorize: c.State == connection.Ready, ExpiresAt: time.Now().Add(f.ttl()),
		User: o.User, RequireSession: o.RequireSession, ReturnTo: o.ReturnTo})
	if err != nil {
		return "", err
	}
	if err := f.Redis.Set(ctx, StatePrefix+state, v, f.ttl()).Err(); err != nil {
		return "", problem.New(http.StatusServiceUnavailable, "OAuth2 authorization is unavailable: storing the flow state failed: %v", err)
	}
	return base + RedirectPath + "?" + url.Values{"state": {state}}.Encode(), nil
}

// Authorize begins the flow of connection c (BeginWith). When it cannot begin, a
// connection in setup is failed with the reason: nobody could complete it.
func (f *Flow) Authorize(ctx context.Context, c *connection.Connection, actorID string, o Options) (string, error) {
	u, err := f.BeginWith(ctx, c, actorID, o)
	if err != nil && c.State == connection.Setup {
		if ferr := f.Connections.MarkFailed(context.WithoutCancel(ctx), c.ID, "starting the OAuth2 authorization failed"); ferr != nil {
			f.logger().ErrorContext(ctx, "oauth2: marking the connection failed", "connection", c.ID, "error", ferr)
		}
	}
	return u, err
}

// Reauthorize authorizes connection id again (connection.Service.Reauthorize) and, for the
// authorization code grant, begins its flow; authorizeURL is empty when no flow is needed
// (client credentials fetched a new token at once).
func (f *Flow) Reauthorize(ctx context.Context, connectionID, actorID string, o Options) (c *connection.Connection, authorizeURL string, err error) {
	c, needsFlow, err := f.Connections.Reauthorize(ctx, connectionID)
	if err != nil || !needsFlow {
		return c, "", err
	}
	u, err := f.Authorize(ctx, c, actorID, o)
	if err != nil {
		return nil, "", err
	}
	return c, u, nil
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

// CookieName is the name of the browser cookie of a state: a hash prefix of the state, so
// flows in the same browser do not overwrite each other's cookie and the state itself is not
// repeated in it.
func CookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return CookiePrefix + hex.EncodeToString(sum[:8])
}

func nonceHash(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:])
}

// otherSession tells whether the request's session rules it out for p: a session of another
// user than the flow's, or none when the flow requires one.
func (f *Flow) otherSession(r *http.Request, p *pending) bool {
	actorID, ok := "", false
	if f.SessionActor != nil {
		actorID, ok = f.SessionActor(r)
	}
	if p.RequireSession {
		return !ok || actorID != p.User
	}
	return ok && p.User != "" && actorID != p.User
}

const (
	wrongBrowserTitle = "Authorization started in another browser"
	wrongBrowserText  = "This authorization was started in another browser or by another user, so it was not completed and nothing changed. Start connecting again from the application, in this browser."
)

func (f *Flow) redirect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	state := r.URL.Query().Get("state")
	if !validState(state) {
		page(w, http.StatusBadRequest, "Authorization link not valid", "This authorization link is malformed. Start connecting again from the application.")
		return
	}
	v, err := f.Redis.Get(ctx, StatePrefix+state).Bytes()
	if errors.Is(err, redis.Nil) {
		page(w, http.StatusBadRequest, "Authorization link expired", "This authorization link is unknown, expired or already used. Start connecting again from the application.")
		return
	}
	if err != nil {
		f.unavailable(w, r, "oauth2 redirect: redis", err)
		return
	}
	var p pending
	if err := json.Unmarshal(v, &p); err != nil || p.AuthorizeURL == "" {
		page(w, http.StatusBadRequest, "Authorization link not valid", "This authorization link cannot be used. Start connecting again from the application.")
		return
	}
	if p.expired() {
		page(w, http.StatusBadRequest, "Authorization link expired", "This authorization link is unknown, expired or already used. Start connecting again from the application.")
		return
	}
	if f.otherSession(r, &p) {
		page(w, http.StatusForbidden, wrongBrowserTitle, wrongBrowserText)
		return
	}
	// Bind the flow to this browser, once: a second visit gets no nonce.
	nonce := rand.Text()
	ttl, err := f.Redis.PTTL(ctx, StatePrefix+state).Result()
	if err != nil {
		f.unavailable(w, r, "oauth2 redirect: redis", err)
		return
	}
	if ttl <= 0 {
		ttl = f.ttl()
	}
	ok, err := f.Redis.SetNX(ctx, BindingPrefix+state, nonceHash(nonce), ttl).Result()
	if err != nil {
		f.unavailable(w, r, "oauth2 redirect: redis", err)
		return
	}
	if !ok {
		page(w, http.StatusBadRequest, "Authorization link already used", "This authorization link was already opened; it works only once. Start connecting again from the application.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName(state), Value: nonce, Path: cookiePath, MaxAge: int((ttl + time.Second - 1) / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(f.publicURL(), "https://")})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.AuthorizeURL, http.StatusFound)
}

func (f *Flow) unavailable(w http.ResponseWriter, r *http.Request, msg string, err error) {
	f.logger().ErrorContext(r.Context(), msg, "error", err)
	page(w, http.StatusServiceUnavailable, "Temporarily unavailable", "The authorization service is temporarily unavailable. Start connecting again in a moment.")
}

// sameBrowser checks the browser binding of a consumed state (and consumes the binding).
func (f *Flow) sameBrowser(ctx context.Context, r *http.Request, state string) (bool, error) {
	want, err := f.Redis.GetDel(ctx, BindingPrefix+state).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil // the redirect was never visited
	}
	if err != nil {
		return false, err
	}
	ck, err := r.Cookie(CookieName(state))
	if err != nil || ck.Value == "" {
		return false, nil
	}
	return subtle.ConstantTimeCompare([]byte(nonceHash(ck.Value)), []byte(want)) == 1, nil
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
		f.unavailable(w, r, "oauth2 callback: redis", err)
		return
	}
	var p pending
	if err := json.Unmarshal(v, &p); err != nil || p.ConnectionID == "" {
		page(w, http.StatusBadRequest, "Authorization not valid", "This authorization cannot be completed. Start connecting again from the application.")
		return
	}
	if p.expired() {
		page(w, http.StatusBadRequest, "Authorization not valid", "This authorization is unknown, expired or already completed. Start connecting again from the application.")
		return
	}
	// The rest must not be cut short by a closing browser.
	ctx = context.WithoutCancel(ctx)
	// The flow's cookie has served its purpose, whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: CookieName(cb.State), Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(f.publicURL(), "https://")})
	same, err := f.sameBrowser(ctx, r, cb.State)
	if err != nil {
		f.unavailable(w, r, "oauth2 callback: redis", err)
		return
	}
	if !same || f.otherSession(r, &p) {
		// Refused without touching the connection; the state stays consumed.
		f.logger().WarnContext(ctx, "oauth2 callback refused: another browser or session", "connection", p.ConnectionID)
		page(w, http.StatusForbidden, wrongBrowserTitle, wrongBrowserText)
		return
	}
	// A flow begun in the marketplace goes back there with its outcome; the result pages
	// are for flows begun through the API.
	done := func(status int, outcome, title, message string) {
		if p.ReturnTo != "" {
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, p.ReturnTo+"?"+url.Values{"oauth2": {outcome}, "connection": {p.ConnectionID}}.Encode(), http.StatusSeeOther)
			return
		}
		page(w, status, title, message)
	}
	fail := func(status int, title, reason string) {
		// Only a connection still in setup fails; a re-authorized ready one keeps its token.
		if err := f.Connections.MarkFailed(ctx, p.ConnectionID, reason); err != nil {
			f.logger().ErrorContext(ctx, "oauth2 callback: marking the connection failed", "connection", p.ConnectionID, "error", err)
		}
		if p.Reauthorize {
			reason += " The connection keeps its current authorization."
		}
		outcome := "failed"
		if status == http.StatusForbidden {
			outcome = "denied"
		}
		done(status, outcome, title, reason)
	}
	if cbErr != nil {
		var oe *oauth2.Error
		if errors.As(cbErr, &oe) && oe.Code == oauth2.CodeAccessDenied {
			if p.Reauthorize {
				fail(http.StatusForbidden, "Access denied", "Access was denied at the provider, so the connection was not authorized again. You can close this window.")
				return
			}
			fail(http.StatusForbidden, "Access denied", "Access was denied at the provider, so the connection was not made. You can close this window.")
			return
		}
		fail(http.StatusBadRequest, "Authorization failed", "The provider answered with an error: "+cbErr.Error())
		return
	}
	c, err := f.Connections.AwaitingAuthorization(ctx, p.ConnectionID, p.Reauthorize)
	if err != nil {
		if pr := problem.As(err); pr.Status == http.StatusNotFound {
			page(w, http.StatusBadRequest, "Authorization not valid", "The connection being authorized no longer exists.")
			return
		} else if pr.Status == http.StatusConflict {
			page(w, http.StatusConflict, "Authorization not needed", pr.Detail)
			return
		}
		f.logger().ErrorContext(ctx, "oauth2 callback: reading the connection", "connection", p.ConnectionID, "error", err)
		page(w, http.StatusInternalServerError, "Authorization failed", "Reading the connection failed. Start connecting again.")
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
	if err := f.Connections.CompleteAuthorization(ctx, c.ID, tok, p.Reauthorize); err != nil {
		if pr := problem.As(err); pr.Status == http.StatusConflict {
			page(w, http.StatusConflict, "Authorization not needed", pr.Detail+" Nothing was stored.")
			return
		}
		f.logger().ErrorContext(ctx, "oauth2 callback: storing the token", "connection", c.ID, "error", err)
		page(w, http.StatusInternalServerError, "Authorization failed", "Storing the authorization failed. Start connecting again.")
		return
	}
	if p.Reauthorize {
		done(http.StatusOK, "connected", "Authorized again", "The account is connected again with the new authorization. You can close this window.")
		return
	}
	done(http.StatusOK, "connected", "Connected", "The account is connected. You can close this window.")
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
