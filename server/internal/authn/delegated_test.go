package authn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func delegatedVerifier(t testing.TB) *Verifier {
	v := testVerifier(t)
	v.Nonces = memNonces{}
	return v
}

func delegatedClaimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"sub": "root.team.users/alice", "act": map[string]any{"sub": "act_1"}, "aud": "public",
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": "hand-off-1"}
}

func TestVerifyDelegatedAccepts(t *testing.T) {
	k := keys(t)
	v := delegatedVerifier(t)
	raw := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(delegatedClaimsAt(testNow), "create", true)}.sign(t)
	d, err := v.VerifyDelegated(context.Background(), raw, "public")
	if err != nil {
		t.Fatalf("VerifyDelegated: %v", err)
	}
	if d.Signer.ID != "act_1" || d.Subject != "root.team.users/alice" || !d.Create || d.TokenID != "hand-off-1" || d.Audience != "public" {
		t.Fatalf("delegation = %+v", d)
	}
	// Single use: the same token a second time is refused.
	if _, err := v.VerifyDelegated(context.Background(), raw, "public"); reasonOf(t, err) != "token has already been used" {
		t.Fatalf("replay: %v", err)
	}
	// The signer named by external id works too, with a kid.
	raw = tok{method: jwt.SigningMethodES256, key: k.p256, kid: fp(t, k.p256.Public()),
		claims: with(delegatedClaimsAt(testNow), "act", map[string]any{"sub": "root.team/ci"}, "jti", "hand-off-2")}.sign(t)
	if d, err := v.VerifyDelegated(context.Background(), raw, "public"); err != nil || d.Signer.ID != "act_1" || d.Create {
		t.Fatalf("external id signer: %+v, %v", d, err)
	}
}

func TestVerifyDelegatedRejects(t *testing.T) {
	k := keys(t)
	base := delegatedClaimsAt(testNow)
	tests := []struct {
		name   string
		tok    tok
		reason string
	}{
		{"no act", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "act", nil)}, "no act claim"},
		{"act without sub", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "act", map[string]any{"iss": "x"})}, "no act claim"},
		{"no sub", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "sub", nil)}, "no sub claim"},
		{"no jti", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "jti", nil)}, "single use"},
		{"permissions claim", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "permissions", []any{})}, "no permissions claim"},
		{"signed by another key", tok{method: jwt.SigningMethodEdDSA, key: k.edStranger, claims: base}, "signature"},
		{"signed by the subject's would-be key", tok{method: jwt.SigningMethodEdDSA, key: k.edStranger, claims: with(base, "act", map[string]any{"sub": "act_2"})}, "signature"},
		{"unknown signer", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "act", map[string]any{"sub": "act_404"})}, "unknown actor"},
		{"wrong audience", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "aud", "api")}, "audience"},
		{"expired", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "iat", testNow.Add(-10*time.Minute).Unix(), "exp", testNow.Add(-time.Minute).Unix())}, "expired"},
		{"lifetime too long", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "exp", testNow.Add(30*time.Minute).Unix())}, "exceeds the maximum of 10m0s"},
		{"system token", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer)}, "not as system tokens"},
		{"HS256 not system", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: base}, "HS256 is only accepted for system tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := delegatedVerifier(t).VerifyDelegated(context.Background(), tc.tok.sign(t), "public")
			if r := reasonOf(t, err); !strings.Contains(r, tc.reason) {
				t.Fatalf("reason %q, want it to contain %q", r, tc.reason)
			}
		})
	}
}

// A delegated token is never an API token: Verify refuses it, even correctly signed by the
// actor it names as sub — otherwise a signer could present itself as the end user.
func TestVerifyRefusesDelegatedTokens(t *testing.T) {
	k := keys(t)
	c := claimsAt(testNow, "act_1", "api", 5*time.Minute)
	raw := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(c, "act", map[string]any{"sub": "act_1"})}.sign(t)
	if r := reasonOf(t, func() error { _, err := testVerifier(t).Verify(context.Background(), raw, "api"); return err }()); !strings.Contains(r, "only by the session hand-off") {
		t.Fatalf("reason %q", r)
	}
	// And the hand-off does not take a plain token.
	plain := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(claimsAt(testNow, "act_1", "public", time.Minute), "jti", "x")}.sign(t)
	if r := reasonOf(t, func() error {
		_, err := delegatedVerifier(t).VerifyDelegated(context.Background(), plain, "public")
		return err
	}()); !strings.Contains(r, "no act claim") {
		t.Fatalf("reason %q", r)
	}
}
