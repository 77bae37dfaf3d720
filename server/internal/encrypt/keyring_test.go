package encrypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingLookup serves keys "kv_0".."kv_N" (material derived from the id)
// and counts calls per id.
type countingLookup struct {
	mu    sync.Mutex
	calls map[string]int
	gen   byte // bumped to simulate different material at the source
}

func (l *countingLookup) KeyVersion(_ context.Context, id string) (KeyVersion, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	l.calls[id]++
	if id == "kv_missing" {
		return KeyVersion{}, ErrUnknownKey
	}
	return KeyVersion{ID: id, Material: bytes.Repeat([]byte{byte(len(id)) + l.gen}, KeySize)}, nil
}

func (l *countingLookup) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[id]
}

func TestKeyringTTL(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	src := &countingLookup{}
	k := NewKeyring(src, WithTTL(time.Minute), WithClock(clock.Now))

	for _, tc := range []struct {
		advance time.Duration
		calls   int
	}{
		{0, 1},                // first load
		{30 * time.Second, 1}, // cached
		{29 * time.Second, 1}, // 59s: still cached
		{time.Second, 2},      // 60s: expired, reloaded
		{59 * time.Second, 2}, // cached again
		{2 * time.Minute, 3},  // expired
	} {
		clock.Advance(tc.advance)
		kv, err := k.KeyVersion(ctx, "kv_1")
		if err != nil || kv.ID != "kv_1" || len(kv.Material) != KeySize {
			t.Fatalf("KeyVersion = %+v, %v", kv, err)
		}
		if got := src.count("kv_1"); got != tc.calls {
			t.Fatalf("after +%v: %d source calls, want %d", tc.advance, got, tc.calls)
		}
	}
}

func TestKeyringDefaultTTL(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	src := &countingLookup{}
	k := NewKeyring(src, WithClock(clock.Now))
	k.KeyVersion(context.Background(), "kv_1")
	clock.Advance(DefaultKeyTTL - time.Nanosecond)
	k.KeyVersion(context.Background(), "kv_1")
	if src.count("kv_1") != 1 {
		t.Fatal("reloaded before the default TTL")
	}
	clock.Advance(time.Nanosecond)
	k.KeyVersion(context.Background(), "kv_1")
	if src.count("kv_1") != 2 {
		t.Fatal("not reloaded after the default TTL")
	}
}

func TestKeyringForgetAndErrors(t *testing.T) {
	ctx := context.Background()
	src := &countingLookup{}
	k := NewKeyring(src)

	k.KeyVersion(ctx, "kv_1")
	k.KeyVersion(ctx, "kv_1")
	k.Forget("kv_1")
	k.Forget("kv_never_loaded")
	k.KeyVersion(ctx, "kv_1")
	if got := src.count("kv_1"); got != 2 {
		t.Fatalf("%d source calls after Forget, want 2", got)
	}

	for range 3 {
		if _, err := k.KeyVersion(ctx, "kv_missing"); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("err = %v, want ErrUnknownKey", err)
		}
	}
	if got := src.count("kv_missing"); got != 3 {
		t.Fatalf("failed lookups cached: %d calls, want 3", got)
	}

	k.Purge()
	if k.Len() != 0 {
		t.Fatalf("Len after Purge = %d", k.Len())
	}
}

func TestKeyringReturnsCopies(t *testing.T) {
	ctx := context.Background()
	k := NewKeyring(StaticKeys(keyA))
	kv, _ := k.KeyVersion(ctx, "kv_A")
	clear(kv.Material)
	kv2, _ := k.KeyVersion(ctx, "kv_A")
	if !bytes.Equal(kv2.Material, keyA.Material) {
		t.Fatal("a caller's change reached the cache")
	}
	if !bytes.Equal(keyA.Material, bytes.Repeat([]byte{0xA1}, KeySize)) {
		t.Fatal("the source's material was modified")
	}
}

func TestKeyringSizeBoundAndZeroing(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(0, 0)}
	src := &countingLookup{}
	k := NewKeyring(src, WithMaxKeys(3), WithClock(clock.Now))

	for i := range 3 {
		k.KeyVersion(ctx, fmt.Sprintf("kv_%d", i))
	}
	// Keep kv_0 recently used, so kv_1 is the least recently used.
	k.KeyVersion(ctx, "kv_0")
	k.mu.Lock()
	evicted := k.byID["kv_1"].Value.(*keyringEntry).material
	k.mu.Unlock()

	k.KeyVersion(ctx, "kv_3")
	if k.Len() != 3 {
		t.Fatalf("Len = %d, want 3", k.Len())
	}
	if !bytes.Equal(evicted, make([]byte, KeySize)) {
		t.Fatal("evicted material was not zeroed")
	}
	k.KeyVersion(ctx, "kv_0")
	if src.count("kv_0") != 1 {
		t.Fatal("recently used kv_0 was evicted")
	}
	k.KeyVersion(ctx, "kv_1")
	if src.count("kv_1") != 2 {
		t.Fatal("least recently used kv_1 was not evicted")
	}

	// Expired entries go before live ones, however recently used.
	clock2 := &fakeClock{t: time.Unix(0, 0)}
	src2 := &countingLookup{}
	k2 := NewKeyring(src2, WithMaxKeys(3), WithTTL(time.Minute), WithClock(clock2.Now))
	k2.KeyVersion(ctx, "kv_1")
	clock2.Advance(30 * time.Second)
	k2.KeyVersion(ctx, "kv_2")
	k2.KeyVersion(ctx, "kv_3")
	k2.KeyVersion(ctx, "kv_1") // most recently used, but expires first
	clock2.Advance(30 * time.Second)
	k2.KeyVersion(ctx, "kv_4") // full: must drop the expired kv_1, not kv_2
	k2.KeyVersion(ctx, "kv_2")
	if src2.count("kv_2") != 1 {
		t.Fatal("live kv_2 evicted while an expired entry remained")
	}

	k.KeyVersion(ctx, "kv_9")
	k.mu.Lock()
	forgotten := k.byID["kv_9"].Value.(*keyringEntry).material
	k.mu.Unlock()
	k.Forget("kv_9")
	if !bytes.Equal(forgotten, make([]byte, KeySize)) {
		t.Fatal("forgotten material was not zeroed")
	}
}

// blockingLookup blocks every call until release is closed.
type blockingLookup struct {
	calls   atomic.Int32
	started chan struct{}
	release chan struct{}
}

func (l *blockingLookup) KeyVersion(ctx context.Context, id string) (KeyVersion, error) {
	if l.calls.Add(1) == 1 {
		close(l.started)
	}
	select {
	case <-l.release:
		return testKey(id, 0x42), nil
	case <-ctx.Done():
		return KeyVersion{}, ctx.Err()
	}
}

func TestKeyringSharesConcurrentLoads(t *testing.T) {
	src := &blockingLookup{started: make(chan struct{}), release: make(chan struct{})}
	k := NewKeyring(src)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			kv, err := k.KeyVersion(context.Background(), "kv_shared")
			if err == nil && !bytes.Equal(kv.Material, testKey("", 0x42).Material) {
				err = errors.New("wrong material")
			}
			errs <- err
		})
	}
	<-src.started
	time.Sleep(20 * time.Millisecond) // let the others queue up behind it
	close(src.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d source calls for one id, want the load shared", n)
	}
}

func TestKeyringCancelledLeaderDoesNotFailWaiters(t *testing.T) {
	src := &blockingLookup{started: make(chan struct{}), release: make(chan struct{})}
	k := NewKeyring(src)
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := k.KeyVersion(leaderCtx, "kv_x")
		leaderErr <- err
	}()
	<-src.started
	waiterErr := make(chan error, 1)
	go func() {
		_, err := k.KeyVersion(context.Background(), "kv_x")
		waiterErr <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader err = %v", err)
	}
	close(src.release)
	if err := <-waiterErr; err != nil {
		t.Fatalf("waiter failed because the leader was cancelled: %v", err)
	}
}

func TestKeyringForgetDuringLoad(t *testing.T) {
	src := &blockingLookup{started: make(chan struct{}), release: make(chan struct{})}
	k := NewKeyring(src)
	done := make(chan error)
	go func() {
		_, err := k.KeyVersion(context.Background(), "kv_x")
		done <- err
	}()
	<-src.started
	k.Forget("kv_x") // e.g. the key version was disabled meanwhile
	close(src.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if k.Len() != 0 {
		t.Fatal("a load that overlapped Forget was cached")
	}
	k.KeyVersion(context.Background(), "kv_x")
	if n := src.calls.Load(); n != 2 {
		t.Fatalf("%d source calls, want 2", n)
	}
}

func TestKeyringConcurrent(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(0, 0)}
	src := &countingLookup{}
	k := NewKeyring(src, WithMaxKeys(4), WithTTL(time.Second), WithClock(clock.Now))
	want := func(id string) []byte { return bytes.Repeat([]byte{byte(len(id))}, KeySize) }

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				id := fmt.Sprintf("kv_%d", (g+i)%7)
				switch i % 50 {
				case 10:
					k.Forget(id)
				case 20:
					clock.Advance(300 * time.Millisecond)
				case 30:
					k.Len()
				case 49:
					if g == 0 {
						k.Purge()
					}
				}
				kv, err := k.KeyVersion(ctx, id)
				if err != nil {
					t.Error(err)
					return
				}
				if kv.ID != id || !bytes.Equal(kv.Material, want(id)) {
					t.Errorf("got %q with wrong material for %q", kv.ID, id)
					return
				}
				clear(kv.Material) // must not affect the cache or others
			}
		})
	}
	wg.Wait()
	if n := k.Len(); n > 4 {
		t.Fatalf("Len = %d, above the bound", n)
	}
}

func TestKeyringWithOpen(t *testing.T) {
	ctx := context.Background()
	k := NewKeyring(StaticKeys(keyA))
	s := mustSeal(t, keyA, secret, rowAAD)
	for range 2 {
		got, err := Open(ctx, k, s, rowAAD)
		if err != nil || string(got) != secret {
			t.Fatalf("Open via keyring = %q, %v", got, err)
		}
	}
	if _, err := Open(ctx, k, mustSeal(t, keyB, secret, rowAAD), rowAAD); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
}
