package connection

import (
	"testing"
	"time"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
)

func TestCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := newCache(5 * time.Second)
	c.now = func() time.Time { return now }

	c.putConn(Connection{ID: "cxn_a", State: Ready})
	c.putCredentials("cxn_a", &Credentials{APIKey: "k"})
	c.putCredentials("cxn_none", nil)
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
	c.putConn(Connection{ID: "cxn_b"})
	c.putCredentials("cxn_b", &Credentials{APIKey: "old"})
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
	c.putConn(Connection{ID: "old"})
	now = now.Add(2 * time.Second)
	c.putConn(Connection{ID: "new"})
	c.mu.Lock()
	c.prune()
	_, oldKept := c.conns["old"]
	_, newKept := c.conns["new"]
	c.mu.Unlock()
	if oldKept || !newKept {
		t.Fatalf("prune kept old=%v new=%v", oldKept, newKept)
	}
}
