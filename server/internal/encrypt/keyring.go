package encrypt

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// Keyring defaults.
const (
	DefaultKeyTTL         = 5 * time.Minute
	DefaultKeyringMaxKeys = 1024
)

// Keyring is a [KeyLookup] that caches key versions from another KeyLookup in
// memory. An entry lives at most the TTL after it was loaded (not after it was
// last used), so a key version disabled or removed at the source stops working
// here within the TTL; call [Keyring.Forget] to drop it at once. At most
// MaxKeys entries are kept, least recently used evicted first. Failed lookups
// are not cached. Concurrent lookups of the same id share one call to the
// source.
//
// The Keyring keeps its own copy of each key's material, zeroes it when the
// entry is dropped, and hands every caller a fresh copy, so callers may keep
// or modify what they get. It is safe for concurrent use.
type Keyring struct {
	src    KeyLookup
	ttl    time.Duration
	max    int
	now    func() time.Time
	mu     sync.Mutex
	lru    *list.List // of *keyringEntry, most recently used first
	byID   map[string]*list.Element
	flight map[string]*keyringCall
}

type keyringEntry struct {
	id       string
	material []byte
	expires  time.Time
}

// keyringCall is a lookup in progress that later callers wait for.
type keyringCall struct {
	done chan struct{}
	kv   KeyVersion // the Keyring's own copy; read only
	err  error
	// stale: Forget or Purge ran during the load, so its result is handed
	// to the callers already waiting but not cached.
	stale bool
}

// KeyringOption configures [NewKeyring].
type KeyringOption func(*Keyring)

// WithTTL sets how long a loaded key version is kept (default [DefaultKeyTTL]).
// A ttl <= 0 keeps the default.
func WithTTL(ttl time.Duration) KeyringOption {
	return func(k *Keyring) {
		if ttl > 0 {
			k.ttl = ttl
		}
	}
}

// WithMaxKeys bounds the number of cached key versions (default
// [DefaultKeyringMaxKeys]). An n <= 0 keeps the default.
func WithMaxKeys(n int) KeyringOption {
	return func(k *Keyring) {
		if n > 0 {
			k.max = n
		}
	}
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) KeyringOption {
	return func(k *Keyring) { k.now = now }
}

// NewKeyring returns a Keyring in front of src.
func NewKeyring(src KeyLookup, opts ...KeyringOption) *Keyring {
	k := &Keyring{
		src:    src,
		ttl:    DefaultKeyTTL,
		max:    DefaultKeyringMaxKeys,
		now:    time.Now,
		lru:    list.New(),
		byID:   make(map[string]*list.Element),
		flight: make(map[string]*keyringCall),
	}
	for _, o := range opts {
		o(k)
	}
	return k
}

// KeyVersion returns the key version id from the cache, or loads it from the
// source. Errors from the source are returned as they are.
func (k *Keyring) KeyVersion(ctx context.Context, id string) (KeyVersion, error) {
	for {
		k.mu.Lock()
		if el, ok := k.byID[id]; ok {
			e := el.Value.(*keyringEntry)
			if k.now().Before(e.expires) {
				k.lru.MoveToFront(el)
				kv := KeyVersion{ID: id, Material: clone(e.material)}
				k.mu.Unlock()
				return kv, nil
			}
			k.removeLocked(el)
		}
		if c, ok := k.flight[id]; ok {
			k.mu.Unlock()
			select {
			case <-c.done:
			case <-ctx.Done():
				return KeyVersion{}, ctx.Err()
			}
			// A load that failed because its caller went away says nothing
			// about this caller: try again.
			if c.err != nil && isContextErr(c.err) && ctx.Err() == nil {
				continue
			}
			if c.err != nil {
				return KeyVersion{}, c.err
			}
			return KeyVersion{ID: id, Material: clone(c.kv.Material)}, nil
		}
		c := &keyringCall{done: make(chan struct{})}
		k.flight[id] = c
		k.mu.Unlock()
		return k.load(ctx, id, c)
	}
}

// load asks the source for id on behalf of c and caches the result.
func (k *Keyring) load(ctx context.Context, id string, c *keyringCall) (KeyVersion, error) {
	finished := false
	defer func() {
		if !finished { // the source panicked: release the waiters, let it propagate
			k.mu.Lock()
			k.endFlightLocked(id, c)
			c.err = errors.New("encrypt: key lookup panicked")
			k.mu.Unlock()
			close(c.done)
		}
	}()
	kv, err := k.src.KeyVersion(ctx, id)
	finished = true
	if err == nil {
		// Own copy for waiters: the source's slice may be shared or reused.
		kv = KeyVersion{ID: kv.ID, Material: clone(kv.Material)}
	}
	k.mu.Lock()
	k.endFlightLocked(id, c)
	if err == nil && !c.stale && kv.ID == id && len(kv.Material) == KeySize {
		k.insertLocked(id, kv.Material)
	}
	c.kv, c.err = kv, err
	k.mu.Unlock()
	close(c.done)
	if err != nil {
		return KeyVersion{}, err
	}
	return KeyVersion{ID: kv.ID, Material: clone(kv.Material)}, nil
}

func (k *Keyring) endFlightLocked(id string, c *keyringCall) {
	if k.flight[id] == c {
		delete(k.flight, id)
	}
}

func (k *Keyring) insertLocked(id string, material []byte) {
	if el, ok := k.byID[id]; ok { // defensive: never two entries for an id
		k.removeLocked(el)
	}
	now := k.now()
	// Make room: expired entries first, then the least recently used.
	for k.lru.Len() >= k.max {
		back := k.lru.Back()
		victim := back
		for el := back; el != nil; el = el.Prev() {
			if !now.Before(el.Value.(*keyringEntry).expires) {
				victim = el
				break
			}
		}
		k.removeLocked(victim)
	}
	e := &keyringEntry{id: id, material: clone(material), expires: now.Add(k.ttl)}
	k.byID[id] = k.lru.PushFront(e)
}

func (k *Keyring) removeLocked(el *list.Element) {
	e := k.lru.Remove(el).(*keyringEntry)
	delete(k.byID, e.id)
	clear(e.material)
}

// Forget drops id from the cache, so the next lookup goes to the source. Use it
// when a key version is disabled, deleted or found rotated. A load of id
// already in progress is not cached when it completes.
func (k *Keyring) Forget(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if el, ok := k.byID[id]; ok {
		k.removeLocked(el)
	}
	if c, ok := k.flight[id]; ok {
		c.stale = true
		delete(k.flight, id)
	}
}

// Purge drops every cached key version.
func (k *Keyring) Purge() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for el := k.lru.Front(); el != nil; el = k.lru.Front() {
		k.removeLocked(el)
	}
	for id, c := range k.flight {
		c.stale = true
		delete(k.flight, id)
	}
}

// Len is the number of cached key versions, expired ones included until they
// are next looked up or evicted.
func (k *Keyring) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lru.Len()
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
