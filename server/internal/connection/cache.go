package connection

import (
	"context"
	"sync"
	"time"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/invalidation"
)

// DefaultCacheTTL bounds how long a replica keeps using a connection and its credentials
// after another replica changed them when the announcement of the change is lost (Redis
// unavailable); announced changes reach every replica within about a second, and this
// replica's own changes take effect at once.
const DefaultCacheTTL = 5 * time.Second

// cache keeps what the proxy needs per request in memory: the connection, its decrypted
// credentials (both for at most the TTL, and dropped at once when any replica changes
// them) and parsed definitions of connector versions (kept as long as the process runs:
// a version that connections use has been published and never changes).
type cache struct {
	ttl   time.Duration
	now   func() time.Time
	bus   *invalidation.Bus
	mu    sync.Mutex
	gen   uint64 // bumped by every invalidation; a read racing one is not stored
	conns map[string]cachedConn
	creds map[string]cachedCreds
	defs  sync.Map // defKey → *definition.Definition
}

// UseBus has the connection cache follow the changes every replica announces on b, and
// announce this replica's own on it. Call it once, before the first request.
func (s *Service) UseBus(b *invalidation.Bus) {
	c := s.cache()
	c.bus = b
	b.Subscribe(invalidation.Connections, c.forget)
}

// Changed drops what this replica caches of the connection at once and tells the other
// replicas to do the same. Every method that changes a connection's row or credentials
// calls it after the change is committed.
func (s *Service) Changed(ctx context.Context, connectionID string) {
	c := s.cache()
	c.forget(connectionID)
	_ = c.bus.Publish(ctx, invalidation.Connections, connectionID) // failures are logged; caches expire
}

type cachedConn struct {
	c       Connection
	expires time.Time
}

type cachedCreds struct {
	c       *Credentials // nil: the connection has none
	expires time.Time
}

type defKey struct {
	connectorID string
	version     int
}

func newCache(ttl time.Duration) *cache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &cache{ttl: ttl, now: time.Now, conns: map[string]cachedConn{}, creds: map[string]cachedCreds{}}
}

// maxCached bounds each map; when full, expired entries go first, then everything.
const maxCached = 100_000

func (c *cache) conn(id string) (Connection, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.conns[id]
	if !ok || c.now().After(e.expires) {
		return Connection{}, false
	}
	return e.c, true
}

// generation is read before loading from the database and handed to put*, which then
// store nothing if an invalidation happened meanwhile.
func (c *cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *cache) putConn(conn Connection, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.conns) >= maxCached {
		c.prune()
	}
	c.conns[conn.ID] = cachedConn{c: conn, expires: c.now().Add(c.ttl)}
}

func (c *cache) credentials(id string) (*Credentials, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.creds[id]
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	return e.c, true
}

func (c *cache) putCredentials(id string, creds *Credentials, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.creds) >= maxCached {
		c.prune()
	}
	c.creds[id] = cachedCreds{c: creds, expires: c.now().Add(c.ttl)}
}

// forget drops a connection and its credentials; invalidation.All drops every one.
func (c *cache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if id == invalidation.All {
		clear(c.conns)
		clear(c.creds)
		return
	}
	delete(c.conns, id)
	delete(c.creds, id)
}

// prune drops expired entries, or all when none has expired. Callers hold mu.
func (c *cache) prune() {
	now := c.now()
	n := len(c.conns) + len(c.creds)
	for k, e := range c.conns {
		if now.After(e.expires) {
			delete(c.conns, k)
		}
	}
	for k, e := range c.creds {
		if now.After(e.expires) {
			delete(c.creds, k)
		}
	}
	if len(c.conns)+len(c.creds) == n {
		clear(c.conns)
		clear(c.creds)
	}
}

func (c *cache) definition(connectorID string, version int) (*definition.Definition, bool) {
	v, ok := c.defs.Load(defKey{connectorID, version})
	if !ok {
		return nil, false
	}
	return v.(*definition.Definition), true
}

func (c *cache) putDefinition(connectorID string, version int, d *definition.Definition) {
	c.defs.Store(defKey{connectorID, version}, d)
}
