package oauth2

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

var (
	// ErrStale is returned by [Store.Save] when the stored generation is no longer the one the
	// refresher loaded: someone else saved a newer token, which must not be overwritten.
	ErrStale = errors.New("oauth2: stored token changed since it was loaded")
	// ErrRefreshUnavailable means a refresh is needed but cannot be coordinated (Redis is
	// unreachable or not configured). It is never worked around with an unlocked refresh.
	// Callers map it to 503.
	ErrRefreshUnavailable = errors.New("oauth2: token refresh unavailable: the refresh lock service cannot be reached")
	// ErrNoToken is returned when the store holds no token for the connection.
	ErrNoToken = errors.New("oauth2: the connection has no token")
)

// Store loads and saves a connection's token with a generation used for fencing. It is
// implemented by the connection service.
type Store interface {
	// Load returns the connection's token and its generation. A connection without a token
	// returns a nil token (or an error wrapping ErrNoToken).
	Load(ctx context.Context, connectionID string) (tok *Token, generation int64, err error)
	// Save stores tok only if the stored generation is still gen (fencing), bumping it; it
	// returns ErrStale otherwise. Access and refresh token are saved together, atomically.
	Save(ctx context.Context, connectionID string, gen int64, tok *Token) error
}

// Defaults for [Refresher].
const (
	DefaultLockTTL         = 30 * time.Second
	DefaultRefreshTimeout  = 45 * time.Second
	DefaultPollInterval    = 10 * time.Millisecond
	DefaultMaxPollInterval = 250 * time.Millisecond
	DefaultKeyPrefix       = "authproxy:oauth2:refresh:"
)

// Refresher hands out valid tokens and makes sure at most one refresh per connection runs at a
// time across all replicas: an in-process single-flight, then a Redis lock (SET NX PX, released
// by compare-and-delete), then a re-load from the Store under the lock (another replica may have
// refreshed already), then the exchange, then a fenced Save with the generation loaded under the
// lock. A refresher whose lock expired mid-exchange gets ErrStale from Save, does not overwrite,
// and returns the newer stored token. Replicas that do not get the lock poll with backoff until
// the lock is free or the stored token changes.
//
// The zero value is not usable: set Store and Redis. Other fields have defaults.
type Refresher struct {
	Store Store
	Redis redis.UniversalClient
	// LockTTL is how long the refresh lock is held at most (DefaultLockTTL).
	LockTTL time.Duration
	// RefreshTimeout bounds one coordinated refresh, waiting for the lock included
	// (DefaultRefreshTimeout). Each caller is also bounded by its own context.
	RefreshTimeout time.Duration
	// PollInterval and MaxPollInterval bound the waiters' backoff.
	PollInterval, MaxPollInterval time.Duration
	// KeyPrefix prefixes the Redis lock keys (DefaultKeyPrefix).
	KeyPrefix string

	group singleflight.Group
}

// releaseScript deletes the lock only if it still holds our value.
var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end`)

// Token returns a valid token for the connection, refreshing it first when it expires within
// lead. A still-valid token is returned without touching Redis.
func (r *Refresher) Token(ctx context.Context, connectionID string, c *Client, lead time.Duration) (*Token, error) {
	tok, _, err := r.load(ctx, connectionID)
	if err != nil {
		return nil, err
	}
	if tok.ValidFor(lead) {
		return tok, nil
	}
	needs := func(t *Token) bool { return !t.ValidFor(lead) }
	return r.do(ctx, "t:"+connectionID, connectionID, c, needs)
}

// ForceRefresh is for an upstream 401 on a request made with seen: it refreshes unless another
// refresher already replaced seen, and returns the current token either way.
func (r *Refresher) ForceRefresh(ctx context.Context, connectionID string, c *Client, seen *Token) (*Token, error) {
	if seen == nil {
		return nil, errors.New("oauth2: ForceRefresh needs the token that was refused")
	}
	needs := func(t *Token) bool { return t.AccessToken == seen.AccessToken || !t.ValidFor(0) }
	tok, _, err := r.load(ctx, connectionID)
	if err != nil {
		return nil, err
	}
	if !needs(tok) {
		return tok, nil
	}
	sum := sha256.Sum256([]byte(seen.AccessToken))
	return r.do(ctx, "f:"+connectionID+":"+hex.EncodeToString(sum[:8]), connectionID, c, needs)
}

func (r *Refresher) load(ctx context.Context, id string) (*Token, int64, error) {
	tok, gen, err := r.Store.Load(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if tok == nil {
		return nil, 0, ErrNoToken
	}
	return tok, gen, nil
}

// do runs one coordinated refresh per key in this process; every caller waits for it bounded
// by its own context, and the refresh itself is not canceled when the first caller goes away.
func (r *Refresher) do(ctx context.Context, key, id string, c *Client, needs func(*Token) bool) (*Token, error) {
	ch := r.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.refreshTimeout())
		defer cancel()
		return r.coordinate(fctx, id, c, needs)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Token), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *Refresher) coordinate(ctx context.Context, id string, c *Client, needs func(*Token) bool) (*Token, error) {
	if r.Redis == nil {
		return nil, ErrRefreshUnavailable
	}
	lockKey := r.prefix() + id
	wait := r.pollInterval()
	for {
		tok, gen, err := r.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if !needs(tok) {
			return tok, nil
		}
		owner := rand.Text()
		ok, err := r.Redis.SetNX(ctx, lockKey, owner, r.lockTTL()).Result()
		if err != nil {
			return nil, r.redisError(ctx, err)
		}
		if ok {
			return r.refreshLocked(ctx, id, c, needs, lockKey, owner)
		}
		// Someone else refreshes: wait until the lock is gone or the stored token changed.
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("oauth2: waiting for another replica's token refresh: %w", ctx.Err())
			case <-t.C:
			}
			wait = min(wait*2, r.maxPollInterval())
			_, g, err := r.load(ctx, id)
			if err != nil {
				return nil, err
			}
			if g != gen {
				break
			}
			n, err := r.Redis.Exists(ctx, lockKey).Result()
			if err != nil {
				return nil, r.redisError(ctx, err)
			}
			if n == 0 {
				break
			}
		}
	}
}

func (r *Refresher) refreshLocked(ctx context.Context, id string, c *Client, needs func(*Token) bool, lockKey, owner string) (*Token, error) {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		// A failed release only delays the next refresh until the TTL ends.
		_ = releaseScript.Run(rctx, r.Redis, []string{lockKey}, owner).Err()
	}()
	// Re-load under the lock: another replica may have refreshed while we waited for it.
	tok, gen, err := r.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !needs(tok) {
		return tok, nil
	}
	fresh, err := c.Renew(ctx, tok)
	if err != nil {
		if IsPermanent(err) {
			// With rotation, a refresher whose lock expired can lose the race at the provider:
			// if a newer token was saved meanwhile, that one is the answer, not the error.
			if cur, g, lerr := r.load(ctx, id); lerr == nil && g != gen && !needs(cur) {
				return cur, nil
			}
		}
		return nil, err
	}
	if err := r.Store.Save(ctx, id, gen, fresh); err != nil {
		if !errors.Is(err, ErrStale) {
			return nil, err
		}
		// Fenced off: our lock expired and a newer token was stored. Keep that one.
		cur, _, lerr := r.load(ctx, id)
		if lerr != nil {
			return nil, lerr
		}
		return cur, nil
	}
	return fresh, nil
}

func (r *Refresher) redisError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("oauth2: token refresh: %w", ctx.Err())
	}
	return fmt.Errorf("%w: %v", ErrRefreshUnavailable, err)
}

func (r *Refresher) lockTTL() time.Duration {
	if r.LockTTL > 0 {
		return r.LockTTL
	}
	return DefaultLockTTL
}

func (r *Refresher) refreshTimeout() time.Duration {
	if r.RefreshTimeout > 0 {
		return r.RefreshTimeout
	}
	return DefaultRefreshTimeout
}

func (r *Refresher) pollInterval() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return DefaultPollInterval
}

func (r *Refresher) maxPollInterval() time.Duration {
	if r.MaxPollInterval > 0 {
		return r.MaxPollInterval
	}
	return DefaultMaxPollInterval
}

func (r *Refresher) prefix() string {
	if r.KeyPrefix != "" {
		return r.KeyPrefix
	}
	return DefaultKeyPrefix
}
