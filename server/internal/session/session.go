// Package session keeps the browser sessions of the marketplace and the admin pages. A
// session starts from a delegated token (RFC 8693 style: signed by a service actor, naming
// the end user as sub and itself as act; see authn.VerifyDelegated): the Broker verifies it,
// checks that the signer may act for the user (actors:impersonate), creates the end-user
// actor on first use when the token asks and the signer may, and stores the session in
// Redis. The browser holds only an opaque random token; Redis holds its SHA-256, so a copy
// of Redis does not yield usable cookies. Each session carries a CSRF token for mutating
// requests.
package session

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
	"time"

	"github.com/redis/go-redis/v9"
)

// Kinds of sessions: which service they are valid on.
const (
	Marketplace = "marketplace" // the public service's marketplace pages
	Admin       = "admin"       // the admin service's pages
)

// Defaults.
const (
	DefaultTTL = time.Hour
	KeyPrefix  = "authproxy:session:"
)

// ErrNoSession is returned for a token that names no live session (unknown, expired,
// ended, malformed).
var ErrNoSession = errors.New("no such session")

// Session is one signed-in browser.
type Session struct {
	Kind string `json:"kind"`
	// ActorID, Namespace and ExternalID are the end user's actor.
	ActorID    string `json:"actorId"`
	Namespace  string `json:"namespace"`
	ExternalID string `json:"externalId"`
	// SignerID is the service actor that vouched for the user.
	SignerID  string    `json:"signerId"`
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// CheckCSRF reports whether token is the session's CSRF token (constant time).
func (s *Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

// Store keeps sessions in Redis.
type Store struct {
	Redis redis.UniversalClient
	// TTL is a session's lifetime (DefaultTTL when 0); it is not extended by use.
	TTL time.Duration
}

func (s *Store) ttl() time.Duration {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}

func random() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// key is where the session of token lives: its SHA-256, never the token itself.
func key(token string) string {
	h := sha256.Sum256([]byte(token))
	return KeyPrefix + hex.EncodeToString(h[:])
}

// wellFormed tells a token Create could have made from anything else, before Redis is asked.
func wellFormed(token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil && len(b) == 32
}

// Create stores a new session for sess (its CSRF token, times are filled in) and returns
// the opaque token for the cookie.
func (s *Store) Create(ctx context.Context, sess Session) (string, *Session, error) {
	if s.Redis == nil {
		return "", nil, errors.New("session: no Redis")
	}
	token, err := random()
	if err != nil {
		return "", nil, err
	}
	if sess.CSRF, err = random(); err != nil {
		return "", nil, err
	}
	sess.CreatedAt = time.Now().UTC().Truncate(time.Second)
	sess.ExpiresAt = sess.CreatedAt.Add(s.ttl())
	v, err := json.Marshal(sess)
	if err != nil {
		return "", nil, err
	}
	if err := s.Redis.Set(ctx, key(token), v, s.ttl()).Err(); err != nil {
		return "", nil, fmt.Errorf("session: store: %w", err)
	}
	return token, &sess, nil
}

// Get returns the live session of token, ErrNoSession when there is none.
func (s *Store) Get(ctx context.Context, token string) (*Session, error) {
	if !wellFormed(token) {
		return nil, ErrNoSession
	}
	v, err := s.Redis.Get(ctx, key(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("session: load: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(v, &sess); err != nil {
		return nil, ErrNoSession
	}
	if !time.Now().Before(sess.ExpiresAt) {
		return nil, ErrNoSession
	}
	return &sess, nil
}

// Delete ends the session of token (signing out); ending an unknown session is no error.
func (s *Store) Delete(ctx context.Context, token string) error {
	if !wellFormed(token) {
		return nil
	}
	return s.Redis.Del(ctx, key(token)).Err()
}
