package connection

import (
	"sync"
	"time"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
)

// DefaultCacheTTL bounds how long a replica keeps using a connection and its credentials
// after another replica changed them (this replica's own changes take effect at once).
const DefaultCacheTTL = 5 * time.Second

// cache keeps what the proxy needs per request in memory: the connection, its decrypted
// credentials (both for at most the TTL, and dropped at once when this process changes
// them) and parsed definitions of connector versions (kept as long as the process runs:
// a version that connections use has been published and never changes).
type cache struct {
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	conns map[string]cachedConn
	creds map[string]cachedCreds
	defs  sync.Map // defKey → *definition.Definition
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

func (c *cache) putConn(conn Connection) {
	c.mu.Lock()
	defer c.mu.Unlock()
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

func (c *cache) putCredentials(id string, creds *Credentials) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.creds) >= maxCached {
		c.prune()
	}
	c.creds[id] = cachedCreds{c: creds, expires: c.now().Add(c.ttl)}
}

// forget drops a connection and its credentials (after this process changed them).
func (c *cache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
