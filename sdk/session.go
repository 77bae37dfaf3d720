package sdk

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultSessionTokenTTL is the lifetime of delegated session tokens: long enough for a
// redirect, short enough that a leaked link is soon useless (the server accepts at most 10
// minutes, and each token once).
const DefaultSessionTokenTTL = 2 * time.Minute

// Audiences of delegated session tokens.
const (
	// MarketplaceAudience is the public service, where the marketplace pages live.
	MarketplaceAudience = "public"
	// AdminAudience is the admin service, where the admin pages live.
	AdminAudience = "admin"
)

// SessionTokenOptions configures a delegated session token.
type SessionTokenOptions struct {
	// User is the end user the session is for: "<namespace>/<externalId>" or an actor id.
	User string
	// Audience is MarketplaceAudience (default) or AdminAudience.
	Audience string
	// Create asks the server to create the end-user actor on first use (the signer needs
	// actors:create in the user's namespace as well as actors:impersonate).
	Create bool
	// TTL is the token lifetime; DefaultSessionTokenTTL when zero.
	TTL time.Duration
	// Now overrides the clock (tests).
	Now func() time.Time
}

type sessionClaims struct {
	jwt.RegisteredClaims
	Act    map[string]string `json:"act"`
	Create bool              `json:"create,omitempty"`
}

// SessionToken signs a single-use delegated token (RFC 8693 style: sub = the end user,
// act = this signer) that starts a browser session for the user. The signer needs
// actors:impersonate on the user's namespace.
func (s *Signer) SessionToken(o SessionTokenOptions) (string, error) {
	if s == nil || s.key == nil {
		return "", errors.New("signer is not initialised; use NewSigner")
	}
	if o.User == "" {
		return "", errors.New("session token: the user is required")
	}
	if !strings.HasPrefix(o.User, "act_") {
		if ns, ext, ok := strings.Cut(o.User, "/"); !ok || ns == "" || ext == "" {
			return "", fmt.Errorf("session token: user %q must be <namespace>/<externalId> or an actor id", o.User)
		}
	}
	aud := o.Audience
	if aud == "" {
		aud = MarketplaceAudience
	}
	if aud != MarketplaceAudience && aud != AdminAudience {
		return "", fmt.Errorf("session token: audience %q must be %q or %q", aud, MarketplaceAudience, AdminAudience)
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultSessionTokenTTL
	}
	if ttl < 0 {
		return "", fmt.Errorf("session token: TTL %s is negative", ttl)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	iat := now().Truncate(time.Second)
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate token id: %w", err)
	}
	claims := sessionClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   o.User,
			Audience:  jwt.ClaimStrings{aud},
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
			ID:        base64.RawURLEncoding.EncodeToString(b[:]),
		},
		Act:    map[string]string{"sub": s.actor},
		Create: o.Create,
	}
	t := jwt.NewWithClaims(s.method, claims)
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign session token: %w", err)
	}
	return signed, nil
}

// MarketplaceURL returns the link that signs user in to the marketplace of the public
// service at publicURL (for example "https://connect.example.com"): redirect the user's
// browser there, or load it in an iframe. The link works once, for DefaultSessionTokenTTL.
func (s *Signer) MarketplaceURL(publicURL string, o SessionTokenOptions) (string, error) {
	o.Audience = MarketplaceAudience
	return s.sessionURL(publicURL, "/marketplace", o)
}

// AdminURL returns the link that signs user (an operator actor) in to the admin pages of
// the admin service at adminURL.
func (s *Signer) AdminURL(adminURL string, o SessionTokenOptions) (string, error) {
	o.Audience = AdminAudience
	return s.sessionURL(adminURL, "/admin", o)
}

func (s *Signer) sessionURL(base, path string, o SessionTokenOptions) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", base)
	}
	tok, err := s.SessionToken(o)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = url.Values{"token": {tok}}.Encode()
	u.Fragment = ""
	return u.String(), nil
}
