package authn

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/authproxy/authproxy/server/internal/authz"
)

// DefaultMaxCachedTokens bounds a TokenCache made with NewTokenCache(0).
const DefaultMaxCachedTokens = 50_000

// TokenCache remembers tokens the Verifier has verified, keyed by a SHA-256 hash of the
// audience and the whole token (the token itself is never stored), each until its exp.
//
// What a hit skips is parsing and the signature check. What it does not skip: the actor is
// looked up again (from the actor cache when there is one) and must still be the same actor
// with the signing key still registered, so a deleted actor, a removed key or changed
// permissions take effect on cached tokens exactly as on new ones. Tokens with a jti
// (single use) are never cached.
type TokenCache struct {
	max int

	mu      sync.RWMutex
	entries map[tokenKey]cachedToken
}

type tokenKey [sha256.Size]byte

type cachedToken struct {
	subject   string
	actorID   string
	system    bool
	key       string // fingerprint of the signing key (empty for system tokens)
	audience  string
	narrowing []authz.Permission
	expires   time.Time // the token's exp
}

// NewTokenCache returns a cache of at most max tokens (DefaultMaxCachedTokens when ≤ 0).
func NewTokenCache(max int) *TokenCache {
	if max <= 0 {
		max = DefaultMaxCachedTokens
	}
	return &TokenCache{max: max, entries: map[tokenKey]cachedToken{}}
}

// Len reports how many tokens are cached.
func (c *TokenCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

func hashToken(audience, raw string) tokenKey {
	h := sha256.New()
	h.Write([]byte(audience))
	h.Write([]byte{0})
	h.Write([]byte(raw))
	var k tokenKey
	h.Sum(k[:0])
	return k
}

func (c *TokenCache) get(k tokenKey) (cachedToken, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.entries[k]
	return e, ok
}

func (c *TokenCache) put(k tokenKey, e cachedToken, now time.Time) {
	if !now.Before(e.expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		n := len(c.entries)
		for key, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) == n {
			clear(c.entries)
		}
	}
	c.entries[k] = e
}

func (c *TokenCache) drop(k tokenKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
}

// cached answers from the token cache. hit is false when the token must be verified in
// full: not cached, expired, or its actor or key changed since.
func (v *Verifier) cached(ctx context.Context, k tokenKey, audience string, now time.Time) (*Identity, bool, error) {
	e, ok := v.Tokens.get(k)
	if !ok {
		return nil, false, nil
	}
	if !now.Before(e.expires) || e.audience != audience {
		v.Tokens.drop(k)
		return nil, false, nil
	}
	p, err := v.Actors.LookupActor(ctx, e.subject)
	if err != nil || p == nil {
		// Verify in full: it reports the precise reason (unknown actor, store failure).
		v.Tokens.drop(k)
		return nil, false, nil
	}
	if !e.system {
		if p.ID != e.actorID || !hasKey(p, e.key) {
			v.Tokens.drop(k)
			return nil, false, nil
		}
	}
	return &Identity{Principal: p, System: e.system, Narrowing: e.narrowing, Audience: audience, ExpiresAt: e.expires}, true, nil
}

func hasKey(p *Principal, fingerprint string) bool {
	for i := range p.Keys {
		if p.Keys[i].Fingerprint == fingerprint {
			return true
		}
	}
	return false
}
