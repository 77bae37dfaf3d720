package authn

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func BenchmarkVerify(b *testing.B) {
	k := keys(b)
	now := time.Now()
	base := claimsAt(now, "act_1", "api", time.Hour)
	v := &Verifier{Actors: testActors(b), SystemSecret: testSecret}
	ctx := context.Background()

	cases := []struct {
		name string
		tok  tok
	}{
		{"EdDSA", tok{method: jwt.SigningMethodEdDSA, key: k.ed, kid: fp(b, k.ed.Public()), claims: base}},
		{"ES256", tok{method: jwt.SigningMethodES256, key: k.p256, kid: fp(b, k.p256.Public()), claims: base}},
		{"RS256", tok{method: jwt.SigningMethodRS256, key: k.rsa, kid: fp(b, k.rsa.Public()), claims: base}},
		{"PS256", tok{method: jwt.SigningMethodPS256, key: k.rsa, kid: fp(b, k.rsa.Public()), claims: base}},
		{"HS256-system", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer)}},
	}
	for _, bc := range cases {
		raw := bc.tok.sign(b)
		if _, err := v.Verify(ctx, raw, "api"); err != nil {
			b.Fatalf("%s: %v", bc.name, err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, raw, "api"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
