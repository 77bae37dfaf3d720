package authn

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// minNonceTTL keeps a claimed id at least this long, even when until is (nearly) past.
const minNonceTTL = time.Second

// RedisNonces is a NonceStore backed by Redis: claiming an id is a SET NX whose key expires
// at until.
type RedisNonces struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewRedisNonces returns a NonceStore storing ids under prefix (e.g. "authproxy:jti:").
func NewRedisNonces(c redis.UniversalClient, prefix string) *RedisNonces {
	return &RedisNonces{client: c, prefix: prefix, now: time.Now}
}

// Claim reserves id until the given time; fresh is false when it was already reserved.
//
// The expiry is sent as a duration computed from the local clock (the clock the Verifier
// judges exp by) rather than as an absolute time, so a Redis clock running ahead cannot
// release an id while the token is still accepted.
func (n *RedisNonces) Claim(ctx context.Context, id string, until time.Time) (bool, error) {
	if id == "" {
		return false, errors.New("authn: empty nonce id")
	}
	ttl := until.Sub(n.now())
	if ttl < minNonceTTL {
		ttl = minNonceTTL
	}
	// Round up to whole milliseconds: Redis PX has millisecond resolution.
	if r := ttl % time.Millisecond; r != 0 {
		ttl += time.Millisecond - r
	}
	fresh, err := n.client.SetNX(ctx, n.prefix+id, 1, ttl).Result()
	if err != nil {
		return false, err
	}
	return fresh, nil
}
