package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

func testStore(t *testing.T) (*Store, *miniredis.Miniredis) {
	t.Helper()
	mr := miniredis.RunT(t)
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rc.Close() })
	return &Store{Redis: rc, TTL: time.Minute}, mr
}

func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	s, mr := testStore(t)
	token, sess, err := s.Create(ctx, Session{Kind: Marketplace, ActorID: "act_1", Namespace: "root.u", ExternalID: "alice", SignerID: "act_s"})
	if err != nil {
		t.Fatal(err)
	}
	if sess.CSRF == "" || sess.CSRF == token || !sess.ExpiresAt.After(time.Now()) {
		t.Fatalf("session = %+v", sess)
	}
	got, err := s.Get(ctx, token)
	if err != nil || got.ActorID != "act_1" || got.Kind != Marketplace || got.CSRF != sess.CSRF {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	// Redis holds the token's hash, never the token.
	for _, k := range mr.Keys() {
		if strings.Contains(k, token) {
			t.Fatalf("redis key %q holds the token", k)
		}
		if v, _ := mr.Get(k); strings.Contains(v, token) {
			t.Fatalf("redis value holds the token")
		}
	}
	if !got.CheckCSRF(sess.CSRF) || got.CheckCSRF("") || got.CheckCSRF(sess.CSRF+"x") {
		t.Fatal("CheckCSRF")
	}
	if err := s.Delete(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after Delete: %v", err)
	}
}

func TestStoreRejects(t *testing.T) {
	ctx := context.Background()
	s, mr := testStore(t)
	token, _, err := s.Create(ctx, Session{Kind: Admin, ActorID: "act_1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "x", token + "A", strings.ToUpper(token), "../../etc"} {
		if _, err := s.Get(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("Get(%q) = %v, want ErrNoSession", bad, err)
		}
	}
	mr.FastForward(2 * time.Minute)
	if _, err := s.Get(ctx, token); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired: %v", err)
	}
	// Redis down: an error that is not ErrNoSession (the caller answers 503, not "log in").
	token, _, err = s.Create(ctx, Session{Kind: Admin, ActorID: "act_1"})
	if err != nil {
		t.Fatal(err)
	}
	mr.Close()
	if _, err := s.Get(ctx, token); err == nil || errors.Is(err, ErrNoSession) {
		t.Fatalf("redis down: %v", err)
	}
}
