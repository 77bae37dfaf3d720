package sdk

import (
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

type parsedClaims struct {
	jwt.RegisteredClaims
	Permissions *[]Permission `json:"permissions,omitempty"`
}

// parseToken verifies tok with pub and the expected algorithm and returns its claims and header.
func parseToken(t *testing.T, tok string, pub crypto.PublicKey, alg string, now time.Time) (*parsedClaims, map[string]any) {
	t.Helper()
	var c parsedClaims
	parsed, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{alg}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	return &c, parsed.Header
}

func TestSignerTokens(t *testing.T) {
	k := newTestKeys(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	tests := []struct {
		name string
		pem  []byte
		pub  crypto.PublicKey
		alg  string
	}{
		{"ed25519", pkcs8(t, k.ed), k.ed.Public(), "EdDSA"},
		{"p256", pkcs8(t, k.p256), k.p256.Public(), "ES256"},
		{"rsa", pkcs8(t, k.rsa), k.rsa.Public(), "RS256"},
		{"openssh ed25519", openSSH(t, k.ed), k.ed.Public(), "EdDSA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSigner("act_123", tc.pem)
			if err != nil {
				t.Fatal(err)
			}
			wantKid, _ := Fingerprint(tc.pub)
			if s.KeyID() != wantKid {
				t.Fatalf("KeyID = %q, want %q", s.KeyID(), wantKid)
			}
			if s.Algorithm() != tc.alg {
				t.Fatalf("Algorithm = %q, want %q", s.Algorithm(), tc.alg)
			}

			tok, err := s.Token(TokenOptions{Audience: []string{AudienceAdmin}, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			c, h := parseToken(t, tok, tc.pub, tc.alg, now)
			if h["alg"] != tc.alg || h["kid"] != wantKid {
				t.Fatalf("header = %v, want alg %s kid %s", h, tc.alg, wantKid)
			}
			if c.Subject != "act_123" {
				t.Fatalf("sub = %q", c.Subject)
			}
			if len(c.Audience) != 1 || c.Audience[0] != "admin" {
				t.Fatalf("aud = %v", c.Audience)
			}
			if !c.IssuedAt.Time.Equal(now.Truncate(time.Second)) {
				t.Fatalf("iat = %v, want %v", c.IssuedAt.Time, now.Truncate(time.Second))
			}
			if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != DefaultTokenTTL {
				t.Fatalf("exp - iat = %v, want %v", got, DefaultTokenTTL)
			}
			if c.ID != "" || c.Permissions != nil || c.NotBefore != nil {
				t.Fatalf("unexpected optional claims: jti=%q permissions=%v nbf=%v", c.ID, c.Permissions, c.NotBefore)
			}
		})
	}
}

func TestSignerTokenOptions(t *testing.T) {
	priv, _, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner("root.team/ci", priv)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ids := []string{"act_1"}
	perms := []Permission{{Namespace: "root.team.**", Resources: []Resource{ResourceActors}, Verbs: []Verb{VerbGet, VerbList}, ResourceIds: &ids}}
	tok, err := s.Token(TokenOptions{
		Audience:    []string{AudienceAPI, AudiencePublic},
		TTL:         time.Hour,
		Permissions: perms,
		SingleUse:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := parseToken(t, tok, s.PublicKey(), "EdDSA", now)
	if c.Subject != "root.team/ci" || len(c.Audience) != 2 {
		t.Fatalf("claims = %+v", c)
	}
	if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != time.Hour {
		t.Fatalf("lifetime = %v", got)
	}
	if len(c.ID) < 16 {
		t.Fatalf("jti %q too short", c.ID)
	}
	if c.Permissions == nil || len(*c.Permissions) != 1 {
		t.Fatalf("permissions = %+v", c.Permissions)
	}
	if p := (*c.Permissions)[0]; p.Namespace != "root.team.**" || len(p.Verbs) != 2 || p.ResourceIds == nil || (*p.ResourceIds)[0] != "act_1" {
		t.Fatalf("permission = %+v", p)
	}

	// A second single-use token gets a different jti.
	tok2, _ := s.Token(TokenOptions{Audience: []string{AudienceAPI}, SingleUse: true})
	c2, _ := parseToken(t, tok2, s.PublicKey(), "EdDSA", now)
	if c2.ID == c.ID {
		t.Fatal("jti repeated")
	}

	// An empty, non-nil permissions list is sent (it narrows to nothing), not dropped.
	tok3, _ := s.Token(TokenOptions{Audience: []string{AudienceAPI}, Permissions: []Permission{}})
	mc := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok3, mc); err != nil {
		t.Fatal(err)
	}
	if p, ok := mc["permissions"].([]any); !ok || len(p) != 0 {
		t.Fatalf("permissions claim = %#v, want []", mc["permissions"])
	}
}

func TestSignerTokenErrors(t *testing.T) {
	priv, _, _ := GenerateKeyPair()
	s, _ := NewSigner("act_1", priv)
	for name, o := range map[string]TokenOptions{
		"no audience":     {},
		"empty audience":  {Audience: []string{""}},
		"negative ttl":    {Audience: []string{"api"}, TTL: -time.Second},
		"bad permissions": {Audience: []string{"api"}, Permissions: []Permission{{Namespace: "root"}}},
	} {
		if _, err := s.Token(o); err == nil {
			t.Errorf("%s: expected an error", name)
		}
	}
	if _, err := NewSigner("", priv); err == nil {
		t.Error("empty actor accepted")
	}
}

func TestNewSignerFromFile(t *testing.T) {
	dir := t.TempDir()
	priv, _, _ := GenerateKeyPair()
	good := filepath.Join(dir, "good.pem")
	if err := os.WriteFile(good, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewSignerFromFile("act_1", good); err != nil {
		t.Fatal(err)
	}

	missing := filepath.Join(dir, "missing.pem")
	if _, err := NewSignerFromFile("act_1", missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file error %v does not name the path", err)
	}

	content := "-----BEGIN PRIVATE KEY-----\nVEhJUyBJUyBTRUNSRVQgS0VZIE1BVEVSSUFM\n-----END PRIVATE KEY-----\n"
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewSignerFromFile("act_1", bad)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad file error %v does not name the path", err)
	}
	if strings.Contains(err.Error(), "VEhJUyBJUyBTRUNSRVQ") || strings.Contains(err.Error(), "THIS IS SECRET") {
		t.Fatalf("error leaks key content: %v", err)
	}
}

func TestAuthenticatedClient(t *testing.T) {
	dir := t.TempDir()
	priv, _, _ := GenerateKeyPair()
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := NewSigner("act_9", priv)
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu   sync.Mutex
		auth []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(WhoAmI{Actor: Actor{}, Permissions: []Permission{}})
	}))
	defer srv.Close()

	c1, err := NewAuthenticatedClient(srv.URL, signer, AudienceAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := NewClientFromKeyFile(srv.URL, "act_9", keyFile, AudienceAdmin)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*ClientWithResponses{c1, c2, c1} {
		resp, err := c.WhoamiWithResponse(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 200 {
			t.Fatalf("status %d", resp.StatusCode())
		}
	}
	if len(auth) != 3 {
		t.Fatalf("got %d requests", len(auth))
	}
	for _, h := range auth {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			t.Fatalf("Authorization header %q is not a bearer token", h)
		}
		c, hdr := parseToken(t, tok, signer.PublicKey(), "EdDSA", time.Now())
		if c.Subject != "act_9" || len(c.Audience) != 1 || c.Audience[0] != AudienceAdmin || hdr["kid"] != signer.KeyID() {
			t.Fatalf("unexpected token claims %+v header %v", c, hdr)
		}
		if c.ExpiresAt.Sub(c.IssuedAt.Time) != DefaultTokenTTL {
			t.Fatalf("lifetime %v", c.ExpiresAt.Sub(c.IssuedAt.Time))
		}
	}

	if _, err := NewAuthenticatedClient(srv.URL, nil, AudienceAdmin); err == nil {
		t.Fatal("nil signer accepted")
	}
	if _, err := NewAuthenticatedClient(srv.URL, signer, ""); err == nil {
		t.Fatal("empty audience accepted")
	}
	if _, err := NewClientFromKeyFile(srv.URL, "act_9", filepath.Join(dir, "nope"), AudienceAdmin); err == nil {
		t.Fatal("missing key file accepted")
	}
}
