package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/authproxy/authproxy/server/internal/actor"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/session"
)

const (
	marketplaceBase = "/marketplace"
	adminBase       = "/admin"
	// csrfField is the form field (or X-CSRF-Token header) every mutating request carries.
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// realm is one kind of session: the marketplace on the public service or the admin pages.
type realm struct {
	kind     string // session.Marketplace or session.Admin
	audience string // the delegated token's aud: the service
	base     string
}

var (
	marketplaceRealm = realm{kind: session.Marketplace, audience: "public", base: marketplaceBase}
	adminRealm       = realm{kind: session.Admin, audience: "admin", base: adminBase}
)

// cookieName is the session cookie of a realm; __Host- (Secure, Path=/, no Domain) when
// cookies are Secure.
func (s *Site) cookieName(rl realm) string {
	name := "authproxy_" + rl.kind
	if s.Secure {
		return "__Host-" + name
	}
	return name
}

func (s *Site) setCookie(w http.ResponseWriter, rl realm, value string, maxAge int) {
	c := &http.Cookie{Name: s.cookieName(rl), Value: value, Path: "/", HttpOnly: true, Secure: s.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: maxAge}
	if rl.kind == session.Marketplace && len(s.FrameAncestors) > 0 && s.Secure {
		// Inside the host's iframe the cookie is third-party: only SameSite=None (with
		// Secure) is sent, and Partitioned keeps it to this embedding (CHIPS).
		c.SameSite = http.SameSiteNoneMode
		c.Partitioned = true
	}
	http.SetCookie(w, c)
}

// handoff exchanges a delegated token (?token= on GET, or the form field on POST) for a
// session cookie and sends the browser on without the token in its address bar.
func (s *Site) handoff(rl realm) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw := r.URL.Query().Get("token")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 32<<10)
			if err := r.ParseForm(); err == nil && r.PostForm.Get("token") != "" {
				raw = r.PostForm.Get("token")
			}
		}
		if raw == "" {
			s.toLogin(w, r, rl, "missing")
			return
		}
		token, sess, err := s.Broker.Start(r.Context(), raw, rl.audience, rl.kind)
		var refused *session.Refused
		if errors.As(err, &refused) {
			s.logger().InfoContext(r.Context(), "web: session hand-off refused", "realm", rl.kind, "reason", refused.Reason)
			s.toLogin(w, r, rl, "invalid")
			return
		}
		if err != nil {
			s.logger().ErrorContext(r.Context(), "web: session hand-off failed", "realm", rl.kind, "error", err)
			s.message(w, r, http.StatusServiceUnavailable, rl.base, "Temporarily unavailable", "Signing in is temporarily unavailable. Try again in a moment.")
			return
		}
		s.setCookie(w, rl, token, int(sess.ExpiresAt.Sub(sess.CreatedAt).Seconds()))
		s.headers(w, rl.kind == session.Marketplace)
		http.Redirect(w, r, rl.base+"/", http.StatusSeeOther)
	}
}

// toLogin sends a browser without a usable session to the host's login page, or shows a
// 401 page when none is configured.
func (s *Site) toLogin(w http.ResponseWriter, r *http.Request, rl realm, reason string) {
	s.headers(w, rl.kind == session.Marketplace)
	if s.LoginURL != "" && rl.kind == session.Marketplace {
		u, err := url.Parse(s.LoginURL)
		if err == nil {
			q := u.Query()
			q.Set("authproxy_error", "session_"+reason)
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
	}
	s.message(w, r, http.StatusUnauthorized, rl.base, "Sign in again",
		"This page needs a current sign-in. Open it again from the application you came from.")
}

type sessionKey struct{}

type actorKey struct{}

// actorFrom is the signed-in actor as read for this request.
func actorFrom(ctx context.Context) *actor.Actor {
	v, _ := ctx.Value(actorKey{}).(*actor.Actor)
	return v
}

func sessionFrom(ctx context.Context) *session.Session {
	v, _ := ctx.Value(sessionKey{}).(*session.Session)
	return v
}

// signedIn wraps h so that it runs only with a live session of the realm; mutating requests
// must also carry the session's CSRF token.
func (s *Site) signedIn(rl realm, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.cookieName(rl))
		if err != nil {
			s.toLogin(w, r, rl, "missing")
			return
		}
		sess, err := s.Sessions.Get(r.Context(), c.Value)
		if errors.Is(err, session.ErrNoSession) || (err == nil && sess.Kind != rl.kind) {
			s.setCookie(w, rl, "", -1)
			s.toLogin(w, r, rl, "expired")
			return
		}
		var act *actor.Actor
		if err == nil {
			// A session ends with its actor.
			var aerr error
			if act, aerr = s.Broker.Actors.Get(r.Context(), sess.ActorID); aerr != nil {
				if p := problem.As(aerr); p.Status == http.StatusNotFound {
					_ = s.Sessions.Delete(r.Context(), c.Value)
					s.setCookie(w, rl, "", -1)
					s.toLogin(w, r, rl, "expired")
					return
				}
				err = aerr
			}
		}
		if err != nil {
			s.logger().ErrorContext(r.Context(), "web: session lookup failed", "error", err)
			s.message(w, r, http.StatusServiceUnavailable, rl.base, "Temporarily unavailable", "This page is temporarily unavailable. Try again in a moment.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			formErr := r.ParseForm()
			token := r.Header.Get(csrfHeader)
			if token == "" && formErr == nil {
				token = r.PostForm.Get(csrfField)
			}
			if !sess.CheckCSRF(token) {
				s.render(w, r, http.StatusForbidden, "message", page{Title: "Request refused", Base: rl.base, Session: sess,
					Data: "This form has expired or did not come from this page. Go back, reload and try again."})
				return
			}
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, sess)
		h(w, r.WithContext(context.WithValue(ctx, actorKey{}, act)))
	}
}

// signOut ends the session.
func (s *Site) signOut(rl realm) http.HandlerFunc {
	return s.signedIn(rl, func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(s.cookieName(rl)); err == nil {
			_ = s.Sessions.Delete(r.Context(), c.Value)
		}
		s.setCookie(w, rl, "", -1)
		s.message(w, r, http.StatusOK, rl.base, "Signed out", "You are signed out. You can close this window.")
	})
}

// MarketplaceActor reports the actor of the browser's marketplace session, if it has a live
// one (for the OAuth2 callback, which refuses a flow begun by another user).
func (s *Site) MarketplaceActor(r *http.Request) (string, bool) {
	c, err := r.Cookie(s.cookieName(marketplaceRealm))
	if err != nil {
		return "", false
	}
	sess, err := s.Sessions.Get(r.Context(), c.Value)
	if err != nil || sess.Kind != session.Marketplace {
		return "", false
	}
	return sess.ActorID, true
}
