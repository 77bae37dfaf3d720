package authn

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerify measures a full verification (parse, claims, actor lookup from memory, key
// choice, signature) beside a baseline in the same run: the bare signature check of the
// same token with the same key. Report full/signature as the overhead ratio. "cached" is
// the same token verified again through the token and actor caches (hash, two map
// lookups, the key still registered).
func BenchmarkVerify(b *testing.B) {
	k := keys(b)
	now := time.Now()
	base := claimsAt(now, "act_1", "api", time.Hour)
	v := &Verifier{Actors: testActors(b), SystemSecret: testSecret}
	ctx := context.Background()

	cases := []struct {
		name string
		tok  tok
		pub  any
	}{
		{"EdDSA", tok{method: jwt.SigningMethodEdDSA, key: k.ed, kid: fp(b, k.ed.Public()), claims: base}, k.ed.Public()},
		{"ES256", tok{method: jwt.SigningMethodES256, key: k.p256, kid: fp(b, k.p256.Public()), claims: base}, k.p256.Public()},
		{"RS256", tok{method: jwt.SigningMethodRS256, key: k.rsa, kid: fp(b, k.rsa.Public()), claims: base}, k.rsa.Public()},
		{"PS256", tok{method: jwt.SigningMethodPS256, key: k.rsa, kid: fp(b, k.rsa.Public()), claims: base}, k.rsa.Public()},
		{"HS256-system", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer)}, testSecret},
	}
	for _, bc := range cases {
		raw := bc.tok.sign(b)
		if _, err := v.Verify(ctx, raw, "api"); err != nil {
			b.Fatalf("%s: %v", bc.name, err)
		}
		b.Run(bc.name+"/full", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, raw, "api"); err != nil {
					b.Fatal(err)
				}
			}
		})
		dot := strings.LastIndexByte(raw, '.')
		signingString := raw[:dot]
		sig, err := base64.RawURLEncoding.DecodeString(raw[dot+1:])
		if err != nil {
			b.Fatal(err)
		}
		cached := &Verifier{Actors: NewActorCache(testActors(b), time.Minute), SystemSecret: testSecret, Tokens: NewTokenCache(0)}
		if _, err := cached.Verify(ctx, raw, "api"); err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cached.Verify(ctx, raw, "api"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/signature-only", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.tok.method.Verify(signingString, sig, bc.pub); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
