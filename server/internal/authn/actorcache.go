package authn

import (
	"context"
	"sync"
	"time"
)

// DefaultActorCacheTTL bounds how long a cached actor is used without reading it again: the
// staleness after a change on another replica whose announcement was lost.
const DefaultActorCacheTTL = 5 * time.Second

// maxCachedActors bounds the actor cache; when full, expired entries go first, then all.
const maxCachedActors = 50_000

// ActorCache is an ActorLookup that keeps the principals another ActorLookup returns in
// memory for at most the TTL. Invalidate drops an actor at once; the actor and namespace
// services call it (through the invalidation bus) on every change. Unknown subjects are not
// cached. Principals handed out are shared and must not be modified.
type ActorCache struct {
	next ActorLookup
	ttl  time.Duration
	now  func() time.Time

	mu      sync.RWMutex
	gen     uint64 // bumped by every invalidation; a lookup racing one is not stored
	entries map[string]cachedActor
}

type cachedActor struct {
	p       *Principal
	expires time.Time
}

// NewActorCache caches next's answers for ttl (DefaultActorCacheTTL when ≤ 0).
func NewActorCache(next ActorLookup, ttl time.Duration) *ActorCache {
	if ttl <= 0 {
		ttl = DefaultActorCacheTTL
	}
	return &ActorCache{next: next, ttl: ttl, now: time.Now, entries: map[string]cachedActor{}}
}

// LookupActor implements ActorLookup.
func (c *ActorCache) LookupActor(ctx context.Context, subject string) (*Principal, error) {
	c.mu.RLock()
	e, ok := c.entries[subject]
	gen := c.gen
	c.mu.RUnlock()
	if ok && c.now().Before(e.expires) {
		return e.p, nil
	}
	p, err := c.next.LookupActor(ctx, subject)
	if err != nil || p == nil {
		return p, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		// Something changed while we were reading: what we read may predate it.
		return p, nil
	}
	if len(c.entries) >= maxCachedActors {
		c.prune()
	}
	c.entries[subject] = cachedActor{p: p, expires: c.now().Add(c.ttl)}
	return p, nil
}

// Invalidate drops the actor with this id (under every subject it was looked up by); All
// ("") drops every actor.
func (c *ActorCache) Invalidate(actorID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if actorID == "" {
		clear(c.entries)
		return
	}
	for k, e := range c.entries {
		if e.p.ID == actorID {
			delete(c.entries, k)
		}
	}
}

// InvalidateAll drops every actor (a namespace changed, or invalidations may have been
// missed).
func (c *ActorCache) InvalidateAll(string) { c.Invalidate("") }

// prune drops expired entries, or all when none has expired. Callers hold mu.
func (c *ActorCache) prune() {
	now := c.now()
	n := len(c.entries)
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) == n {
		clear(c.entries)
	}
}
