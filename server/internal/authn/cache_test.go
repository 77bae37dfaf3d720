package authn

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authproxy/authproxy/server/internal/authz"
)

// mutableActors is an actor source whose actors tests change, counting lookups.
type mutableActors struct {
	mu      sync.Mutex
	m       actorMap
	lookups int
	during  func() // runs inside a lookup, after the read (to race an invalidation)
}

func (a *mutableActors) LookupActor(ctx context.Context, subject string) (*Principal, error) {
	a.mu.Lock()
	a.lookups++
	p, err := a.m.LookupActor(ctx, subject)
	during := a.during
	a.mu.Unlock()
	if during != nil {
		during()
	}
	return p, err
}

func (a *mutableActors) set(subjects []string, p *Principal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range subjects {
		if p == nil {
			delete(a.m, s)
		} else {
			a.m[s] = p
		}
	}
}

func (a *mutableActors) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookups
}

// cachingVerifier is a Verifier with both caches over mutable actors, on a settable clock.
func cachingVerifier(t *testing.T) (*Verifier, *mutableActors, *ActorCache, *time.Time) {
	src := &mutableActors{m: testActors(t)}
	now := testNow
	ac := NewActorCache(src, time.Minute)
	ac.now = func() time.Time { return now }
	v := &Verifier{Actors: ac, Tokens: NewTokenCache(0), Nonces: memNonces{}, SystemSecret: testSecret,
		Leeway: -1, Now: func() time.Time { return now }}
	return v, src, ac, &now
}

func edToken(t *testing.T, sub string, now time.Time, ttl time.Duration, extra ...any) string {
	k := keys(t)
	return tok{method: jwt.SigningMethodEdDSA, key: k.ed, kid: fp(t, k.ed.Public()),
		claims: with(claimsAt(now, sub, "api", ttl), extra...)}.sign(t)
}

func TestTokenCacheServesRepeatsWithoutLookupsOrParsing(t *testing.T) {
	v, src, _, _ := cachingVerifier(t)
	raw := edToken(t, "act_1", testNow, 5*time.Minute)
	for range 10 {
		id, err := v.Verify(t.Context(), raw, "api")
		if err != nil {
			t.Fatal(err)
		}
		if id.Principal.ID != "act_1" || id.ExpiresAt.Unix() != testNow.Add(5*time.Minute).Unix() {
			t.Fatalf("identity = %+v", id)
		}
	}
	if n := src.count(); n != 1 {
		t.Errorf("actor source read %d times for 10 verifications, want 1", n)
	}
	if n := v.Tokens.Len(); n != 1 {
		t.Errorf("token cache holds %d tokens, want 1", n)
	}
}

func TestTokenCacheNeverOutlivesExp(t *testing.T) {
	v, _, _, now := cachingVerifier(t)
	raw := edToken(t, "act_1", testNow, 2*time.Minute)
	if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
		t.Fatal(err)
	}
	*now = testNow.Add(2 * time.Minute) // exactly exp
	if got := reasonOf(t, verifyErr(v, raw, "api")); got != "token has expired" {
		t.Errorf("at exp: %q, want token has expired", got)
	}
	if v.Tokens.Len() != 0 {
		t.Error("an expired token is still cached")
	}
}

func verifyErr(v *Verifier, raw, aud string) error {
	_, err := v.Verify(context.Background(), raw, aud)
	return err
}

func TestTokenCacheRevocationTakesEffectAtOnce(t *testing.T) {
	k := keys(t)
	a1 := func(t *testing.T, src *mutableActors) *Principal { return src.m["act_1"] }

	t.Run("key removed", func(t *testing.T) {
		v, src, ac, _ := cachingVerifier(t)
		raw := edToken(t, "act_1", testNow, 5*time.Minute)
		if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
			t.Fatal(err)
		}
		old := a1(t, src)
		changed := *old
		changed.Keys = []PublicKey{registered(t, k.p256.Public())}
		src.set([]string{"act_1", "root.team/ci"}, &changed)
		ac.Invalidate("act_1")
		if got := reasonOf(t, verifyErr(v, raw, "api")); got != "signing key is not registered for this actor" {
			t.Errorf("after the key was removed: %q", got)
		}
	})
	t.Run("actor deleted", func(t *testing.T) {
		v, src, ac, _ := cachingVerifier(t)
		raw := edToken(t, "root.team/ci", testNow, 5*time.Minute)
		if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
			t.Fatal(err)
		}
		src.set([]string{"act_1", "root.team/ci"}, nil)
		ac.Invalidate("act_1") // by id, though it was looked up by external id
		if got := reasonOf(t, verifyErr(v, raw, "api")); got != "unknown actor" {
			t.Errorf("after the actor was deleted: %q", got)
		}
	})
	t.Run("permissions changed", func(t *testing.T) {
		v, src, ac, _ := cachingVerifier(t)
		raw := edToken(t, "act_1", testNow, 5*time.Minute)
		if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
			t.Fatal(err)
		}
		changed := *a1(t, src)
		changed.Permissions = []authz.Permission{}
		src.set([]string{"act_1"}, &changed)
		ac.Invalidate("act_1")
		id, err := v.Verify(t.Context(), raw, "api")
		if err != nil {
			t.Fatal(err)
		}
		if len(id.Principal.Permissions) != 0 {
			t.Errorf("cached token still carries the old permissions %v", id.Principal.Permissions)
		}
	})
	t.Run("subject now names another actor", func(t *testing.T) {
		v, src, ac, _ := cachingVerifier(t)
		raw := edToken(t, "root.team/ci", testNow, 5*time.Minute)
		if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
			t.Fatal(err)
		}
		other := &Principal{ID: "act_9", Namespace: "root.team", ExternalID: "ci", Keys: []PublicKey{registered(t, k.p256.Public())}}
		src.set([]string{"root.team/ci"}, other)
		ac.Invalidate("act_1")
		if got := reasonOf(t, verifyErr(v, raw, "api")); got != "signing key is not registered for this actor" {
			t.Errorf("token of the old actor used for the new one: %q", got)
		}
	})
}

func TestTokenCacheNeverHoldsSingleUseTokens(t *testing.T) {
	v, _, _, _ := cachingVerifier(t)
	raw := edToken(t, "act_1", testNow, 5*time.Minute, "jti", "once-0001")
	if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
		t.Fatal(err)
	}
	if v.Tokens.Len() != 0 {
		t.Fatal("a single-use token was cached")
	}
	if got := reasonOf(t, verifyErr(v, raw, "api")); got != "token has already been used" {
		t.Errorf("replay: %q", got)
	}
}

func TestTokenCacheIsPerAudienceAndPerExactToken(t *testing.T) {
	v, _, _, _ := cachingVerifier(t)
	k := keys(t)
	raw := tok{method: jwt.SigningMethodEdDSA, key: k.ed, kid: fp(t, k.ed.Public()),
		claims: claimsAt(testNow, "act_1", "api", 5*time.Minute)}.sign(t)
	if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
		t.Fatal(err)
	}
	if got := reasonOf(t, verifyErr(v, raw, "admin")); !strings.Contains(got, "audience") {
		t.Errorf("token for api served for admin: %q", got)
	}
	// The same header and claims with another signature is another token.
	parts := strings.Split(raw, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	if got := reasonOf(t, verifyErr(v, forged, "api")); got != "signature is invalid" {
		t.Errorf("forged signature: %q", got)
	}
}

func TestTokenCacheKeysAreNotTheToken(t *testing.T) {
	v, _, _, _ := cachingVerifier(t)
	raw := edToken(t, "act_1", testNow, 5*time.Minute)
	if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
		t.Fatal(err)
	}
	v.Tokens.mu.RLock()
	dump := fmt.Sprintf("%v %+v", v.Tokens.entries, v.Tokens.entries)
	v.Tokens.mu.RUnlock()
	sig := raw[strings.LastIndexByte(raw, '.')+1:]
	for _, secret := range []string{raw, sig} {
		if strings.Contains(dump, secret) {
			t.Fatal("the token cache holds the token or its signature")
		}
	}
}

func TestTokenCacheIsBounded(t *testing.T) {
	v, _, _, _ := cachingVerifier(t)
	v.Tokens = NewTokenCache(3)
	for i := range 10 {
		raw := edToken(t, "act_1", testNow, time.Duration(i+1)*time.Minute)
		if _, err := v.Verify(t.Context(), raw, "api"); err != nil {
			t.Fatal(err)
		}
		if n := v.Tokens.Len(); n > 3 {
			t.Fatalf("cache holds %d tokens, bound is 3", n)
		}
	}
}

func TestActorCache(t *testing.T) {
	t.Run("invalidate by id drops every subject", func(t *testing.T) {
		src := &mutableActors{m: testActors(t)}
		c := NewActorCache(src, time.Minute)
		for _, s := range []string{"act_1", "root.team/ci", "act_2"} {
			if _, err := c.LookupActor(t.Context(), s); err != nil {
				t.Fatal(err)
			}
		}
		c.Invalidate("act_1")
		before := src.count()
		for _, s := range []string{"act_1", "root.team/ci", "act_2"} {
			if _, err := c.LookupActor(t.Context(), s); err != nil {
				t.Fatal(err)
			}
		}
		if got := src.count() - before; got != 2 {
			t.Errorf("%d reads after invalidating act_1, want 2 (its two subjects; act_2 stays cached)", got)
		}
	})
	t.Run("expires after the TTL", func(t *testing.T) {
		src := &mutableActors{m: testActors(t)}
		c := NewActorCache(src, 5*time.Second)
		now := testNow
		c.now = func() time.Time { return now }
		_, _ = c.LookupActor(t.Context(), "act_1")
		now = now.Add(5 * time.Second)
		_, _ = c.LookupActor(t.Context(), "act_1")
		if src.count() != 2 {
			t.Errorf("read %d times, want 2 (the entry expired)", src.count())
		}
	})
	t.Run("a read racing an invalidation is not kept", func(t *testing.T) {
		src := &mutableActors{m: testActors(t)}
		c := NewActorCache(src, time.Minute)
		src.during = func() { c.Invalidate("act_1") }
		_, _ = c.LookupActor(t.Context(), "act_1")
		src.during = nil
		_, _ = c.LookupActor(t.Context(), "act_1")
		if src.count() != 2 {
			t.Errorf("read %d times, want 2 (the racing read must not be cached)", src.count())
		}
	})
	t.Run("unknown actors are not cached", func(t *testing.T) {
		src := &mutableActors{m: testActors(t)}
		c := NewActorCache(src, time.Minute)
		for range 2 {
			if _, err := c.LookupActor(t.Context(), "act_nope"); err == nil {
				t.Fatal("unknown actor found")
			}
		}
		if src.count() != 2 {
			t.Errorf("read %d times, want 2", src.count())
		}
	})
}
