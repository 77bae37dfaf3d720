package invalidation

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// recorder collects the keys a handler received.
type recorder struct {
	mu   sync.Mutex
	keys []string
}

func (r *recorder) handle(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, key)
}

func (r *recorder) has(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range r.keys {
		if k == key {
			return true
		}
	}
	return false
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = nil
}

func eventually(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func redisAddr(t *testing.T) string {
	if a := os.Getenv("AUTHPROXY_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return miniredis.RunT(t).Addr()
}

// startBus starts a bus on its own client, the way each replica has its own.
func startBus(t *testing.T, addr, channel string) *Bus {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	b := New(rdb, channel, nil)
	t.Cleanup(b.Close)
	return b
}

func TestBusReachesOtherReplicas(t *testing.T) {
	addr := redisAddr(t)
	channel := "test:invalidate:" + t.Name()
	a, b := startBus(t, addr, channel), startBus(t, addr, channel)
	var onA, onB, otherTopic recorder
	a.Subscribe(Actors, onA.handle)
	b.Subscribe(Actors, onB.handle)
	b.Subscribe(Connections, otherTopic.handle)
	a.Start()
	b.Start()
	eventually(t, 2*time.Second, func() bool { return a.Connected() && b.Connected() }, "both subscribed")
	onA.reset()
	onB.reset()
	otherTopic.reset()

	if err := a.Publish(t.Context(), Actors, "act_1"); err != nil {
		t.Fatal(err)
	}
	if !onA.has("act_1") {
		t.Error("the publishing replica's own handler did not run before Publish returned")
	}
	eventually(t, time.Second, func() bool { return onB.has("act_1") }, "the other replica sees the change")
	if otherTopic.has("act_1") {
		t.Error("a handler of another topic received the message")
	}
	time.Sleep(50 * time.Millisecond)
	onA.mu.Lock()
	n := len(onA.keys)
	onA.mu.Unlock()
	if n != 1 {
		t.Errorf("publisher's handler ran %d times, want once (its own echo is ignored)", n)
	}
}

func TestBusLostSubscriptionDropsEverything(t *testing.T) {
	mr := miniredis.RunT(t)
	b := startBus(t, mr.Addr(), "test:invalidate")
	var got recorder
	b.Subscribe(Connections, got.handle)
	b.Start()
	eventually(t, 2*time.Second, b.Connected, "subscribed")
	got.reset()

	mr.Close() // Redis goes away: messages may be missed from now on
	eventually(t, 3*time.Second, func() bool { return !b.Connected() }, "loss noticed")
	if !got.has(All) {
		t.Error("handlers were not told to drop everything when the subscription was lost")
	}
	if err := b.Publish(t.Context(), Connections, "cxn_1"); err == nil {
		t.Error("Publish without Redis reported success")
	}
	if !got.has("cxn_1") {
		t.Error("local handlers must run even when Redis is down")
	}

	got.reset()
	if err := mr.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, b.Connected, "resubscribed")
	if !got.has(All) {
		t.Error("handlers were not told to drop everything on resubscription")
	}
}

func TestNilBus(t *testing.T) {
	var b *Bus
	b.Subscribe(Actors, func(string) {})
	b.Start()
	if err := b.Publish(t.Context(), Actors, "x"); err != nil {
		t.Fatal(err)
	}
	if b.Connected() {
		t.Error("a nil bus is not connected")
	}
	b.Close()
}
