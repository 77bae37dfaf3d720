package sdk

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSessionToken(t *testing.T) {
	priv, _, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner("root.apps/host", priv)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	raw, err := s.SessionToken(SessionTokenOptions{User: "root.users/alice", Create: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var c sessionClaims
	_, err = jwt.NewParser(jwt.WithTimeFunc(func() time.Time { return now })).ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return s.PublicKey(), nil })
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "root.users/alice" || c.Act["sub"] != "root.apps/host" || !c.Create || c.ID == "" ||
		len(c.Audience) != 1 || c.Audience[0] != MarketplaceAudience || c.ExpiresAt.Sub(c.IssuedAt.Time) != DefaultSessionTokenTTL {
		t.Fatalf("claims = %+v", c)
	}
	again, _ := s.SessionToken(SessionTokenOptions{User: "root.users/alice"})
	var c2 sessionClaims
	if _, _, err := jwt.NewParser().ParseUnverified(again, &c2); err != nil || c2.ID == c.ID {
		t.Fatalf("each token must get its own jti: %v", err)
	}

	link, err := s.MarketplaceURL("https://connect.example.com/base/", SessionTokenOptions{User: "act_123"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	if u.Host != "connect.example.com" || u.Path != "/base/marketplace" || u.Query().Get("token") == "" {
		t.Fatalf("link = %s", link)
	}
	admin, err := s.AdminURL("http://127.0.0.1:8082", SessionTokenOptions{User: "root/admin"})
	if err != nil || !strings.HasPrefix(admin, "http://127.0.0.1:8082/admin?token=") {
		t.Fatalf("admin link = %s, %v", admin, err)
	}

	for _, tc := range []struct {
		o    SessionTokenOptions
		want string
	}{
		{SessionTokenOptions{}, "user is required"},
		{SessionTokenOptions{User: "alice"}, "must be <namespace>/<externalId>"},
		{SessionTokenOptions{User: "root.users/"}, "must be <namespace>/<externalId>"},
		{SessionTokenOptions{User: "root.users/alice", Audience: "api"}, "audience"},
		{SessionTokenOptions{User: "root.users/alice", TTL: -time.Second}, "negative"},
	} {
		if _, err := s.SessionToken(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
	}
	if _, err := s.MarketplaceURL("connect.example.com", SessionTokenOptions{User: "act_1"}); err == nil {
		t.Error("a relative base URL must be refused")
	}
}
