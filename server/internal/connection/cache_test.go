package connection

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/invalidation"
)

func TestCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := newCache(5 * time.Second)
	c.now = func() time.Time { return now }

	c.putConn(Connection{ID: "cxn_a", State: Ready}, c.generation())
	c.putCredentials("cxn_a", &Credentials{APIKey: "k"}, c.generation())
	c.putCredentials("cxn_none", nil, c.generation())
	if got, ok := c.conn("cxn_a"); !ok || got.State != Ready {
		t.Fatalf("conn %+v %v", got, ok)
	}
	if got, ok := c.credentials("cxn_a"); !ok || got.APIKey != "k" {
		t.Fatalf("credentials %+v %v", got, ok)
	}
	if got, ok := c.credentials("cxn_none"); !ok || got != nil {
		t.Fatalf("a connection without credentials is cached as such: %+v %v", got, ok)
	}
	// Another replica's change reaches this one within the TTL.
	now = now.Add(5*time.Second + time.Nanosecond)
	if _, ok := c.conn("cxn_a"); ok {
		t.Fatal("connection served after its TTL")
	}
	if _, ok := c.credentials("cxn_a"); ok {
		t.Fatal("credentials served after their TTL")
	}
	// This process's own change at once.
	c.putConn(Connection{ID: "cxn_b"}, c.generation())
	c.putCredentials("cxn_b", &Credentials{APIKey: "old"}, c.generation())
	c.forget("cxn_b")
	if _, ok := c.conn("cxn_b"); ok {
		t.Fatal("forgotten connection served")
	}
	if _, ok := c.credentials("cxn_b"); ok {
		t.Fatal("forgotten credentials served")
	}
	// Definitions of published versions are kept.
	d := &definition.Definition{}
	c.putDefinition("cxr_x", 2, d)
	now = now.Add(time.Hour)
	if got, ok := c.definition("cxr_x", 2); !ok || got != d {
		t.Fatal("definition not kept")
	}
	if _, ok := c.definition("cxr_x", 3); ok {
		t.Fatal("unknown version found")
	}
}

func TestCachePrune(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := newCache(time.Second)
	c.now = func() time.Time { return now }
	c.putConn(Connection{ID: "old"}, c.generation())
	now = now.Add(2 * time.Second)
	c.putConn(Connection{ID: "new"}, c.generation())
	c.mu.Lock()
	c.prune()
	_, oldKept := c.conns["old"]
	_, newKept := c.conns["new"]
	c.mu.Unlock()
	if oldKept || !newKept {
		t.Fatalf("prune kept old=%v new=%v", oldKept, newKept)
	}
}

func TestCacheReadRacingAChangeIsNotKept(t *testing.T) {
	c := newCache(time.Minute)
	gen := c.generation() // a read starts
	c.forget("cxn_a")     // a change is committed meanwhile
	c.putConn(Connection{ID: "cxn_a", State: Ready}, gen)
	c.putCredentials("cxn_a", &Credentials{APIKey: "stale"}, gen)
	if _, ok := c.conn("cxn_a"); ok {
		t.Error("a connection read before a change was cached after it")
	}
	if _, ok := c.credentials("cxn_a"); ok {
		t.Error("credentials read before a change were cached after it")
	}
}

func TestCacheForgetAll(t *testing.T) {
	c := newCache(time.Minute)
	c.putConn(Connection{ID: "cxn_a"}, c.generation())
	c.putCredentials("cxn_b", &Credentials{APIKey: "k"}, c.generation())
	c.forget(invalidation.All)
	_, connKept := c.conn("cxn_a")
	_, credsKept := c.credentials("cxn_b")
	if connKept || credsKept {
		t.Fatal("invalidation.All kept entries")
	}
}

// Two replicas (two services, each with its own bus and Redis client, one Redis): a change
// on one is dropped at once there and within a second on the other.
func TestCacheChangeReachesOtherReplica(t *testing.T) {
	mr := miniredis.RunT(t)
	replica := func() *Service {
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		b := invalidation.New(rdb, "", nil)
		s := &Service{CacheTTL: time.Hour} // the TTL cannot be what makes the change visible
		s.UseBus(b)
		b.Start()
		t.Cleanup(b.Close)
		deadline := time.Now().Add(2 * time.Second)
		for !b.Connected() {
			if time.Now().After(deadline) {
				t.Fatal("bus did not subscribe")
			}
			time.Sleep(5 * time.Millisecond)
		}
		return s
	}
	a, b := replica(), replica()
	for _, s := range []*Service{a, b} {
		c := s.cache()
		c.putConn(Connection{ID: "cxn_a", State: Ready}, c.generation())
		c.putCredentials("cxn_a", &Credentials{APIKey: "old"}, c.generation())
		c.putConn(Connection{ID: "cxn_other", State: Ready}, c.generation())
	}
	start := time.Now()
	a.Changed(t.Context(), "cxn_a")
	if _, ok := a.cache().credentials("cxn_a"); ok {
		t.Fatal("the changing replica still serves the old credentials")
	}
	for {
		_, connKept := b.cache().conn("cxn_a")
		_, credsKept := b.cache().credentials("cxn_a")
		if !connKept && !credsKept {
			break
		}
		if time.Since(start) > time.Second {
			t.Fatal("the other replica still serves the old connection after 1s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := b.cache().conn("cxn_other"); !ok {
		t.Error("an unrelated connection was dropped")
	}
}
