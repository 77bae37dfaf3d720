package authn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
)

// testReplay exercises single use against a Redis reachable through c, under prefix.
func testReplay(t *testing.T, c redis.UniversalClient, prefix string) {
	t.Helper()
	ctx := context.Background()
	k := keys(t)
	store := NewRedisNonces(c, prefix)
	v := &Verifier{Actors: testActors(t), Nonces: store, SystemSecret: testSecret}
	now := time.Now()

	jti := "jti-" + randomHex(t)
	base := with(claimsAt(now, "act_1", "api", 5*time.Minute), "jti", jti)
	raw := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: base}.sign(t)

	// A token failing another check does not burn its jti.
	if r := reasonOf(t, func() error { _, err := v.Verify(ctx, raw, "admin"); return err }()); r != `token audience does not include "admin"` {
		t.Fatalf("reason = %q", r)
	}

	id, err := v.Verify(ctx, raw, "api")
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	if id.TokenID != jti {
		t.Fatalf("TokenID = %q, want %q", id.TokenID, jti)
	}
	for i := 0; i < 2; i++ {
		if r := reasonOf(t, func() error { _, err := v.Verify(ctx, raw, "api"); return err }()); r != "token has already been used" {
			t.Fatalf("replay %d: reason = %q", i, r)
		}
	}

	// The nonce key lives until exp + leeway.
	key := prefix + "5:act_1:" + jti
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := 5*time.Minute + DefaultLeeway
	if ttl <= want-10*time.Second || ttl > want {
		t.Fatalf("nonce TTL = %v, want about %v", ttl, want)
	}

	// The same jti is scoped by actor: another actor may use it.
	other := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "sub", "act_2")}.sign(t)
	if _, err := v.Verify(ctx, other, "api"); err != nil {
		t.Fatalf("same jti, other actor: %v", err)
	}
	// A different token of the same actor with a fresh jti is accepted.
	fresh := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "jti", jti+"-2")}.sign(t)
	if _, err := v.Verify(ctx, fresh, "api"); err != nil {
		t.Fatalf("fresh jti: %v", err)
	}
	// The external-id form of the subject resolves to the same actor, hence the same scope.
	viaExternal := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "sub", "root.team/ci")}.sign(t)
	if r := reasonOf(t, func() error { _, err := v.Verify(ctx, viaExternal, "api"); return err }()); r != "token has already been used" {
		t.Fatalf("external id replay: reason = %q", r)
	}
	// System tokens are single use too.
	sys := tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer, "jti", jti+"-sys")}.sign(t)
	if _, err := v.Verify(ctx, sys, "api"); err != nil {
		t.Fatalf("system token: %v", err)
	}
	if r := reasonOf(t, func() error { _, err := v.Verify(ctx, sys, "api"); return err }()); r != "token has already been used" {
		t.Fatalf("system replay: reason = %q", r)
	}
}

func randomHex(t testing.TB) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func TestReplayMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	testReplay(t, c, "authproxy:test:jti:")
}

func TestReplayRedis(t *testing.T) {
	addr := os.Getenv("AUTHPROXY_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("AUTHPROXY_TEST_REDIS_ADDR is not set")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping %s: %v", addr, err)
	}
	prefix := "authproxy:test:" + randomHex(t) + ":jti:"
	t.Cleanup(func() {
		ks, _ := c.Keys(ctx, prefix+"*").Result()
		if len(ks) > 0 {
			_ = c.Del(ctx, ks...).Err()
		}
	})
	testReplay(t, c, prefix)
}

func TestRedisNoncesExpiry(t *testing.T) {
	mr := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	n := NewRedisNonces(c, "p:")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	n.now = func() time.Time { return now }

	fresh, err := n.Claim(ctx, "a", now.Add(90*time.Second))
	if err != nil || !fresh {
		t.Fatalf("first claim: %v %v", fresh, err)
	}
	if got := mr.TTL("p:a"); got != 90*time.Second {
		t.Fatalf("TTL = %v, want 90s", got)
	}
	if fresh, err := n.Claim(ctx, "a", now.Add(90*time.Second)); err != nil || fresh {
		t.Fatalf("second claim: %v %v", fresh, err)
	}
	mr.FastForward(91 * time.Second)
	if fresh, err := n.Claim(ctx, "a", now.Add(time.Minute)); err != nil || !fresh {
		t.Fatalf("claim after expiry: %v %v", fresh, err)
	}

	// An until in the past still reserves the id briefly.
	if fresh, err := n.Claim(ctx, "b", now.Add(-time.Hour)); err != nil || !fresh {
		t.Fatalf("past until: %v %v", fresh, err)
	}
	if got := mr.TTL("p:b"); got != minNonceTTL {
		t.Fatalf("TTL = %v, want %v", got, minNonceTTL)
	}

	if _, err := n.Claim(ctx, "", now.Add(time.Minute)); err == nil {
		t.Fatal("empty id accepted")
	}

	// A store failure is an error, never a fresh claim.
	mr.SetError("ERR injected failure")
	fresh, err = n.Claim(ctx, "c", now.Add(time.Minute))
	if err == nil || fresh {
		t.Fatalf("closed store: %v %v", fresh, err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Fatal("store failure reported as a token rejection")
	}
}
