package oauth2

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
)

// memStore is an in-memory Store with generation fencing.
type memStore struct {
	mu    sync.Mutex
	tok   map[string]*Token
	gen   map[string]int64
	stale atomic.Int64 // Saves refused with ErrStale
	saves atomic.Int64
}

func newMemStore() *memStore { return &memStore{tok: map[string]*Token{}, gen: map[string]int64{}} }

func (s *memStore) Load(_ context.Context, id string) (*Token, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tok[id]
	if !ok {
		return nil, 0, ErrNoToken
	}
	cp := *t
	return &cp, s.gen[id], nil
}

func (s *memStore) Save(_ context.Context, id string, gen int64, t *Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen[id] != gen {
		s.stale.Add(1)
		return ErrStale
	}
	cp := *t
	s.tok[id] = &cp
	s.gen[id]++
	s.saves.Add(1)
	return nil
}

func (s *memStore) put(id string, t *Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := *t
	s.tok[id] = &cp
	s.gen[id]++
}

func (s *memStore) get(id string) *Token {
	t, _, _ := s.Load(context.Background(), id)
	return t
}

// testRedis is a real Redis at AUTHPROXY_TEST_REDIS_ADDR, else miniredis.
type testRedis struct {
	addr   string
	mini   *miniredis.Miniredis
	prefix string
}

func newTestRedis(t *testing.T) *testRedis {
	t.Helper()
	r := &testRedis{prefix: "authproxy-test:" + rand.Text() + ":"}
	if addr := os.Getenv("AUTHPROXY_TEST_REDIS_ADDR"); addr != "" {
		r.addr = addr
		c := r.client(t)
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("AUTHPROXY_TEST_REDIS_ADDR=%s: %v", addr, err)
		}
		t.Cleanup(func() { // remove this test's keys (a lock some test left held)
			ctx := context.Background()
			keys, _ := c.Keys(ctx, r.prefix+"*").Result()
			if len(keys) > 0 {
				c.Del(ctx, keys...)
			}
		})
		return r
	}
	r.mini = miniredis.RunT(t) // 127.0.0.1
	r.addr = r.mini.Addr()
	return r
}

func (r *testRedis) client(t *testing.T) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: 1})
	t.Cleanup(func() { c.Close() })
	return c
}

// expire lets a lock of the given TTL run out.
func (r *testRedis) expire(ttl time.Duration) {
	if r.mini != nil {
		r.mini.FastForward(ttl * 2)
		return
	}
	time.Sleep(ttl * 2)
}

func (r *testRedis) refresher(t *testing.T, store Store, ttl time.Duration) *Refresher {
	return &Refresher{Store: store, Redis: r.client(t), LockTTL: ttl, KeyPrefix: r.prefix}
}

func expired(t *Token) *Token {
	cp := *t
	cp.Expiry = time.Now().Add(-time.Minute)
	return &cp
}

// TestConcurrentRefreshAcrossReplicas: 500 concurrent Token() calls on an expired token,
// spread over two Refreshers (two replicas) sharing one Redis, make exactly one call to the
// provider's token endpoint, and every caller gets the new token.
func TestConcurrentRefreshAcrossReplicas(t *testing.T) {
	o := newTestOP(t)
	rd := newTestRedis(t)
	c := mustClient(t, o.def(webClientID, definition.ClientSecretBasic), webClientSecret)
	initial := o.connect(c, webRedirect)
	store := newMemStore()
	store.put("conn-1", expired(initial))
	replicas := []*Refresher{rd.refresher(t, store, 10*time.Second), rd.refresher(t, store, 10*time.Second)}

	before := o.grantCalls("refresh_token")
	const n = 500
	var wg sync.WaitGroup
	results := make([]*Token, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			results[i], errs[i] = replicas[i%2].Token(ctx, "conn-1", c, time.Minute)
		}()
	}
	close(start)
	wg.Wait()
	if got := o.grantCalls("refresh_token") - before; got != 1 {
		t.Fatalf("token endpoint refresh calls = %d, want exactly 1", got)
	}
	stored := store.get("conn-1")
	if stored.AccessToken == initial.AccessToken || stored.RefreshToken == initial.RefreshToken || store.saves.Load() != 1 {
		t.Fatalf("store not updated once (saves=%d)", store.saves.Load())
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if results[i].AccessToken != stored.AccessToken {
			t.Fatalf("caller %d got a different token", i)
		}
	}
	if !o.introspect(stored.AccessToken) {
		t.Fatal("the new token is not active at the provider")
	}
}

// TestFencingAfterLockExpiry: a refresher whose lock expires during a slow exchange is fenced
// off: its Save is refused with ErrStale and the newer token survives.
func TestFencingAfterLockExpiry(t *testing.T) {
	rd := newTestRedis(t)
	var n atomic.Int64
	firstArrived := make(chan struct{})
	releaseFirst := make(chan struct{})
	srv, calls := faultServer(t, func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i == 1 {
			close(firstArrived)
			<-releaseFirst // the slow provider answer
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","refresh_token":"rt-%d","token_type":"bearer","expires_in":3600}`, i, i)
	})
	c := mustClient(t, faultDef(srv.URL), faultSecret)
	store := newMemStore()
	store.put("conn-1", &Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)})
	const ttl = 200 * time.Millisecond
	slow := rd.refresher(t, store, ttl)
	fast := rd.refresher(t, store, ttl)

	type res struct {
		tok *Token
		err error
	}
	slowDone := make(chan res, 1)
	go func() {
		tok, err := slow.Token(context.Background(), "conn-1", c, time.Minute)
		slowDone <- res{tok, err}
	}()
	<-firstArrived
	rd.expire(ttl) // the slow refresher's lock runs out mid-exchange

	tok, err := fast.Token(context.Background(), "conn-1", c, time.Minute)
	if err != nil || tok.AccessToken != "at-2" {
		t.Fatalf("second refresher: %v %v", tok, err)
	}
	close(releaseFirst)
	r := <-slowDone
	if r.err != nil {
		t.Fatal(r.err)
	}
	if store.stale.Load() != 1 {
		t.Fatalf("stale saves = %d, want 1", store.stale.Load())
	}
	if got := store.get("conn-1"); got.AccessToken != "at-2" || got.RefreshToken != "rt-2" {
		t.Fatalf("the newer token was overwritten: %s", got.AccessToken)
	}
	if r.tok.AccessToken != "at-2" {
		t.Fatalf("fenced refresher returned %s, want the stored at-2", r.tok.AccessToken)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls %d", calls.Load())
	}
}

func TestLockReleaseIsCompareAndDelete(t *testing.T) {
	rd := newTestRedis(t)
	c := rd.client(t)
	ctx := context.Background()
	key := rd.prefix + "conn-x"
	if err := c.Set(ctx, key, "other-owner", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := releaseScript.Run(ctx, c, []string{key}, "me").Err(); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get(ctx, key).Result(); v != "other-owner" {
		t.Fatal("released someone else's lock")
	}
	releaseScript.Run(ctx, c, []string{key}, "other-owner")
	if n, _ := c.Exists(ctx, key).Result(); n != 0 {
		t.Fatal("own lock not released")
	}
}

func TestForceRefresh(t *testing.T) {
	o := newTestOP(t)
	rd := newTestRedis(t)
	c := mustClient(t, o.def(webClientID, definition.ClientSecretBasic), webClientSecret)
	store := newMemStore()
	seen := o.connect(c, webRedirect)
	store.put("conn-1", seen)
	a, b := rd.refresher(t, store, 5*time.Second), rd.refresher(t, store, 5*time.Second)
	before := o.grantCalls("refresh_token")

	// Upstream said 401 to a valid-looking token: refresh although it has not expired.
	var wg sync.WaitGroup
	out := make([]*Token, 20)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := a
			if i%2 == 1 {
				r = b
			}
			tok, err := r.ForceRefresh(context.Background(), "conn-1", c, seen)
			if err != nil {
				t.Error(err)
				return
			}
			out[i] = tok
		}()
	}
	wg.Wait()
	if got := o.grantCalls("refresh_token") - before; got != 1 {
		t.Fatalf("refresh calls %d, want 1", got)
	}
	stored := store.get("conn-1")
	for _, tok := range out {
		if tok == nil || tok.AccessToken != stored.AccessToken || tok.AccessToken == seen.AccessToken {
			t.Fatal("a caller did not get the new token")
		}
	}
	// A late 401 for the old token: already replaced, nothing to do.
	tok, err := a.ForceRefresh(context.Background(), "conn-1", c, seen)
	if err != nil || tok.AccessToken != stored.AccessToken || o.grantCalls("refresh_token")-before != 1 {
		t.Fatalf("late force refresh: %v", err)
	}
}

func TestRefreshPermanentFailure(t *testing.T) {
	rd := newTestRedis(t)
	srv, calls := faultServer(t, reply(400, "application/json", `{"error":"invalid_grant"}`))
	c := mustClient(t, faultDef(srv.URL), faultSecret)
	store := newMemStore()
	store.put("conn-1", &Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)})
	r := rd.refresher(t, store, time.Second)
	_, err := r.Token(context.Background(), "conn-1", c, time.Minute)
	if !IsPermanent(err) || calls.Load() != 1 || store.saves.Load() != 0 {
		t.Fatalf("permanent failure: %v (calls %d)", err, calls.Load())
	}
	// The lock was released: the next attempt is not blocked.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := r.Token(ctx, "conn-1", c, time.Minute); !IsPermanent(err) || calls.Load() != 2 {
		t.Fatalf("second attempt: %v", err)
	}
}

func TestRedisDown(t *testing.T) {
	mini := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mini.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond, DialerRetries: 1})
	defer rc.Close()
	srv, calls := faultServer(t, reply(200, "application/json", `{"access_token":"at-new","expires_in":3600}`))
	c := mustClient(t, faultDef(srv.URL), faultSecret)
	store := newMemStore()
	r := &Refresher{Store: store, Redis: rc}
	mini.Close()

	store.put("valid", &Token{AccessToken: "at-valid", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)})
	tok, err := r.Token(context.Background(), "valid", c, time.Minute)
	if err != nil || tok.AccessToken != "at-valid" {
		t.Fatalf("valid token with Redis down: %v", err)
	}
	store.put("expired", &Token{AccessToken: "at-old", RefreshToken: "rt", Expiry: time.Now().Add(-time.Minute)})
	_, err = r.Token(context.Background(), "expired", c, time.Minute)
	if !errors.Is(err, ErrRefreshUnavailable) {
		t.Fatalf("expired token with Redis down: %v", err)
	}
	if _, err := r.ForceRefresh(context.Background(), "valid", c, &Token{AccessToken: "at-valid"}); !errors.Is(err, ErrRefreshUnavailable) {
		t.Fatalf("force refresh with Redis down: %v", err)
	}
	if calls.Load() != 0 || store.get("expired").AccessToken != "at-old" {
		t.Fatal("refreshed without the lock")
	}
	noRedis := &Refresher{Store: store}
	if _, err := noRedis.Token(context.Background(), "expired", c, time.Minute); !errors.Is(err, ErrRefreshUnavailable) {
		t.Fatalf("nil Redis: %v", err)
	}
	if _, err := noRedis.Token(context.Background(), "missing", c, time.Minute); !errors.Is(err, ErrNoToken) {
		t.Fatalf("missing: %v", err)
	}
}

func TestWaiterBoundedByContext(t *testing.T) {
	rd := newTestRedis(t)
	srv, calls := faultServer(t, reply(200, "application/json", `{"access_token":"at-new","expires_in":3600}`))
	c := mustClient(t, faultDef(srv.URL), faultSecret)
	store := newMemStore()
	store.put("conn-1", &Token{AccessToken: "at-old", RefreshToken: "rt", Expiry: time.Now().Add(-time.Minute)})
	r := rd.refresher(t, store, time.Minute)
	// Another replica holds the lock and never finishes.
	if err := rd.client(t).Set(context.Background(), rd.prefix+"conn-1", "other", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Token(ctx, "conn-1", c, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second || calls.Load() != 0 {
		t.Fatalf("waiter: %v after %s", err, time.Since(start))
	}
}
