package sdk

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestTokenSourceReusesUntilHalfLife(t *testing.T) {
	priv, _, _ := GenerateKeyPair()
	s, err := NewSigner("act_9", priv)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2031, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	ts := s.TokenSource(TokenOptions{Audience: []string{AudienceAPI}, TTL: 4 * time.Minute, Now: func() time.Time { return now }})

	first, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []time.Duration{0, time.Second, 118 * time.Second} {
		now = now.Add(step)
		got, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		if got != first {
			t.Fatalf("after %v: a new token, want the first one reused", step)
		}
		c, _ := parseToken(t, got, s.PublicKey(), "EdDSA", now)
		if left := c.ExpiresAt.Sub(now); left < 2*time.Minute {
			t.Fatalf("handed out a token with %v left, less than half its lifetime", left)
		}
	}
	now = now.Add(time.Second) // half the lifetime since iat (truncated to the second) has passed
	second, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("token reused past half its lifetime")
	}
	c, _ := parseToken(t, second, s.PublicKey(), "EdDSA", now)
	if !c.IssuedAt.Time.Equal(now.Truncate(time.Second)) {
		t.Fatalf("renewed token iat %v, want %v", c.IssuedAt.Time, now.Truncate(time.Second))
	}
}

func TestTokenSourceSingleUseIsNeverReused(t *testing.T) {
	priv, _, _ := GenerateKeyPair()
	s, err := NewSigner("act_9", priv)
	if err != nil {
		t.Fatal(err)
	}
	ts := s.TokenSource(TokenOptions{Audience: []string{AudienceAPI}, SingleUse: true})
	seen := map[string]bool{}
	for range 5 {
		tok, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok] {
			t.Fatal("a single-use token was handed out twice")
		}
		seen[tok] = true
		c, _ := parseToken(t, tok, s.PublicKey(), "EdDSA", time.Now())
		if c.ID == "" {
			t.Fatal("single-use token without jti")
		}
	}
}

func TestRequestEditorReusesTokens(t *testing.T) {
	priv, _, _ := GenerateKeyPair()
	s, err := NewSigner("act_9", priv)
	if err != nil {
		t.Fatal(err)
	}
	edit := s.RequestEditor(AudienceAPI)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	for range 20 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://127.0.0.1/", nil)
			if err := edit(req.Context(), req); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[req.Header.Get("Authorization")] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(seen) != 1 {
		t.Fatalf("20 requests carried %d different tokens, want 1", len(seen))
	}
	// Another editor (another client) has its own token.
	other := s.RequestEditor(AudienceAdmin)
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	if err := other(req.Context(), req); err != nil {
		t.Fatal(err)
	}
	if seen[req.Header.Get("Authorization")] {
		t.Fatal("a token for api was used for admin")
	}
}
