package authn

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/internal/authz"
)

var (
	testNow    = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	testSecret = []byte("0123456789abcdef0123456789abcdef-system")
)

func testVerifier(t testing.TB) *Verifier {
	return &Verifier{
		Actors:       testActors(t),
		SystemSecret: testSecret,
		Now:          func() time.Time { return testNow },
	}
}

func TestVerifyAccepts(t *testing.T) {
	k := keys(t)
	base := claimsAt(testNow, "act_1", "admin", 5*time.Minute)
	tests := []struct {
		name      string
		tok       tok
		principal string
		narrowing []authz.Permission
		system    bool
	}{
		{"EdDSA kid", tok{method: jwt.SigningMethodEdDSA, key: k.ed, kid: fp(t, k.ed.Public()), claims: base}, "act_1", nil, false},
		{"EdDSA no kid", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: base}, "act_1", nil, false},
		{"ES256 kid", tok{method: jwt.SigningMethodES256, key: k.p256, kid: fp(t, k.p256.Public()), claims: base}, "act_1", nil, false},
		{"ES256 no kid", tok{method: jwt.SigningMethodES256, key: k.p256, claims: base}, "act_1", nil, false},
		{"RS256 kid", tok{method: jwt.SigningMethodRS256, key: k.rsa, kid: fp(t, k.rsa.Public()), claims: base}, "act_1", nil, false},
		{"RS256 no kid", tok{method: jwt.SigningMethodRS256, key: k.rsa, claims: base}, "act_1", nil, false},
		{"PS256 kid", tok{method: jwt.SigningMethodPS256, key: k.rsa, kid: fp(t, k.rsa.Public()), claims: base}, "act_1", nil, false},
		{"PS256 no kid", tok{method: jwt.SigningMethodPS256, key: k.rsa, claims: base}, "act_1", nil, false},
		{"external id subject", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "sub", "root.team/ci")}, "act_1", nil, false},
		{"no kid, second of two keys", tok{method: jwt.SigningMethodEdDSA, key: k.ed2, claims: with(base, "sub", "act_2")}, "act_2", nil, false},
		{"kid, second of two keys", tok{method: jwt.SigningMethodEdDSA, key: k.ed2, kid: fp(t, k.ed2.Public()), claims: with(base, "sub", "act_2")}, "act_2", nil, false},
		{"aud list", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "aud", []string{"api", "admin"})}, "act_1", nil, false},
		{"no iat", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "iat", nil)}, "act_1", nil, false},
		{"expired within leeway", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "iat", testNow.Add(-5*time.Minute).Unix(), "exp", testNow.Add(-20*time.Second).Unix())}, "act_1", nil, false},
		{"lifetime exactly max", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "exp", testNow.Add(time.Hour).Unix())}, "act_1", nil, false},
		{"lifetime max plus leeway", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "exp", testNow.Add(time.Hour+30*time.Second).Unix())}, "act_1", nil, false},
		{"nbf past", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "nbf", testNow.Add(-time.Second).Unix())}, "act_1", nil, false},
		{"narrowing", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "permissions", []map[string]any{
			{"namespace": "root.team", "resources": []string{"actors"}, "verbs": []string{"get", "list"}, "resourceIds": []string{"act_9"}},
			{"namespace": "root.team.**", "resources": []string{"namespaces"}, "verbs": []string{"get"}},
		})}, "act_1", []authz.Permission{
			{Namespace: "root.team", Resources: []string{"actors"}, Verbs: []string{"get", "list"}, ResourceIDs: []string{"act_9"}},
			{Namespace: "root.team.**", Resources: []string{"namespaces"}, Verbs: []string{"get"}},
		}, false},
		{"narrowing to nothing", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "permissions", []any{})}, "act_1", []authz.Permission{}, false},
		{"system token", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer)}, "act_1", nil, true},
		{"system token external id", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer, "sub", "root.team/two")}, "act_2", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.tok.sign(t)
			id, err := testVerifier(t).Verify(context.Background(), raw, "admin")
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if id.Principal == nil || id.Principal.ID != tc.principal {
				t.Fatalf("principal = %+v, want %s", id.Principal, tc.principal)
			}
			if id.System != tc.system || id.Audience != "admin" || id.TokenID != "" {
				t.Fatalf("identity = %+v", id)
			}
			if !reflect.DeepEqual(id.Narrowing, tc.narrowing) {
				t.Fatalf("narrowing = %#v, want %#v", id.Narrowing, tc.narrowing)
			}
			wantExp := time.Unix(tc.tok.claims["exp"].(int64), 0)
			if !id.ExpiresAt.Equal(wantExp) {
				t.Fatalf("ExpiresAt = %v, want %v", id.ExpiresAt, wantExp)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	k := keys(t)
	base := claimsAt(testNow, "act_1", "admin", 5*time.Minute)
	edPubBytes := []byte(k.ed.Public().(ed25519.PublicKey))
	edLine := []byte(authorizedLine(t, k.ed.Public()))
	rsaPEM := []byte(pkixPEM(t, k.rsa.Public()))
	edKid := fp(t, k.ed.Public())

	noneToken := rawToken(t, map[string]any{"alg": "none", "typ": "JWT"}, base, nil)
	valid := tok{method: jwt.SigningMethodEdDSA, key: k.ed, kid: edKid, claims: base}.sign(t)
	parts := strings.Split(valid, ".")
	otherPayload := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "sub", "act_2")}.sign(t)
	spliced := parts[0] + "." + strings.Split(otherPayload, ".")[1] + "." + parts[2]
	edSig := ed25519.Sign(k.ed, []byte("x"))

	tests := []struct {
		name   string
		raw    string
		v      func(*Verifier)
		reason string
	}{
		{"empty", "", nil, "no token"},
		{"garbage", "not a token", nil, "token is malformed"},
		{"two segments", parts[0] + "." + parts[1], nil, "token is malformed"},
		{"bad base64 header", "%%%." + parts[1] + "." + parts[2], nil, "token is malformed"},
		{"header not json", "bm90IGpzb24." + parts[1] + "." + parts[2], nil, "token is malformed"},
		{"truncated signature", valid[:len(valid)-2], nil, "signature is invalid"},
		{"truncated mid-character", valid[:len(valid)-5], nil, "token is malformed"},
		{"non-canonical base64 signature", valid[:len(valid)-1] + nonCanonical(valid[len(valid)-1]), nil, "token is malformed"},
		{"signature removed", parts[0] + "." + parts[1] + ".", nil, "signature is invalid"},
		{"payload swapped", spliced, nil, "signature is invalid"},
		{"signed by unregistered key, registered kid", tok{method: jwt.SigningMethodEdDSA, key: k.edStranger, kid: edKid, claims: base}.sign(t), nil, "signature is invalid"},
		{"signed by unregistered key, no kid", tok{method: jwt.SigningMethodEdDSA, key: k.edStranger, claims: base}.sign(t), nil, "signature is invalid"},
		{"ES256 by unregistered key", tok{method: jwt.SigningMethodES256, key: k.p256Stranger, claims: base}.sign(t), nil, "signature is invalid"},
		{"RS256 by unregistered key", tok{method: jwt.SigningMethodRS256, key: k.rsaStranger, claims: base}.sign(t), nil, "signature is invalid"},
		{"alg none", noneToken, nil, `signing algorithm "none" is not accepted`},
		{"alg none with signature", rawToken(t, map[string]any{"alg": "none"}, base, edSig), nil, `signing algorithm "none" is not accepted`},
		{"alg HS384", tok{method: jwt.SigningMethodHS384, key: edPubBytes, claims: base}.sign(t), nil, `signing algorithm "HS384" is not accepted`},
		{"alg ES384", tok{method: jwt.SigningMethodES384, key: k.p384, claims: base}.sign(t), nil, `signing algorithm "ES384" is not accepted`},
		{"alg unknown", rawToken(t, map[string]any{"alg": "XYZ1"}, base, edSig), nil, `signing algorithm "XYZ1" is not accepted`},
		{"alg unprintable", rawToken(t, map[string]any{"alg": "a\nb"}, base, edSig), nil, "signing algorithm is not accepted"},
		{"alg missing", rawToken(t, map[string]any{"typ": "JWT"}, base, edSig), nil, "token header has no signing algorithm (alg)"},
		{"alg not a string", rawToken(t, map[string]any{"alg": 7}, base, edSig), nil, "token header has no signing algorithm (alg)"},
		// Algorithm confusion: HMAC keyed with the actor's public key in every common form.
		{"HS256 keyed with raw Ed25519 public key", tok{method: jwt.SigningMethodHS256, key: edPubBytes, kid: edKid, claims: base}.sign(t), nil, "signing algorithm HS256 is only accepted for system tokens"},
		{"HS256 keyed with authorized_keys line", tok{method: jwt.SigningMethodHS256, key: edLine, claims: base}.sign(t), nil, "signing algorithm HS256 is only accepted for system tokens"},
		{"HS256 keyed with RSA PEM", tok{method: jwt.SigningMethodHS256, key: rsaPEM, claims: base}.sign(t), nil, "signing algorithm HS256 is only accepted for system tokens"},
		{"HS256 system iss keyed with public key", tok{method: jwt.SigningMethodHS256, key: edPubBytes, claims: with(base, "iss", SystemIssuer)}.sign(t), nil, "signature is invalid"},
		{"HS256 system iss keyed with RSA PEM", tok{method: jwt.SigningMethodHS256, key: rsaPEM, claims: with(base, "iss", SystemIssuer)}.sign(t), nil, "signature is invalid"},
		{"system token wrong secret", tok{method: jwt.SigningMethodHS256, key: []byte("wrong secret"), claims: with(base, "iss", SystemIssuer)}.sign(t), nil, "signature is invalid"},
		{"system token wrong iss", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", "authproxy")}.sign(t), nil, "signing algorithm HS256 is only accepted for system tokens"},
		{"system token no iss", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: base}.sign(t), nil, "signing algorithm HS256 is only accepted for system tokens"},
		{"system token, no secret configured", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer)}.sign(t), func(v *Verifier) { v.SystemSecret = nil }, "system tokens are not accepted by this service"},
		{"system token unknown actor", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer, "sub", "act_nobody")}.sign(t), nil, "unknown actor"},
		{"system token expired", tok{method: jwt.SigningMethodHS256, key: testSecret, claims: with(base, "iss", SystemIssuer, "exp", testNow.Add(-time.Hour).Unix(), "iat", testNow.Add(-2*time.Hour).Unix())}.sign(t), nil, "token has expired"},
		{"system iss with actor algorithm", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "iss", SystemIssuer)}.sign(t), nil, "system tokens must be signed with HS256, not EdDSA"},
		{"expired", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "iat", testNow.Add(-10*time.Minute).Unix(), "exp", testNow.Add(-time.Minute).Unix())}.sign(t), nil, "token has expired"},
		{"not valid yet", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "nbf", testNow.Add(2*time.Minute).Unix())}.sign(t), nil, "token is not valid yet (nbf)"},
		{"issued in the future", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "iat", testNow.Add(2*time.Minute).Unix(), "exp", testNow.Add(5*time.Minute).Unix())}.sign(t), nil, "token is not valid yet (iat is in the future)"},
		{"wrong audience", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "aud", "api")}.sign(t), nil, `token audience does not include "admin"`},
		{"wrong audience list", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "aud", []string{"api", "public"})}.sign(t), nil, `token audience does not include "admin"`},
		{"no audience", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "aud", nil)}.sign(t), nil, "token has no aud claim"},
		{"no exp", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "exp", nil)}.sign(t), nil, "token has no exp claim"},
		{"exp wrong type", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "exp", "tomorrow")}.sign(t), nil, "token is malformed"},
		{"lifetime too long", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "exp", testNow.Add(2*time.Hour).Unix())}.sign(t), nil, "token lifetime 2h0m0s exceeds the maximum of 1h0m0s"},
		{"lifetime too long without iat", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "iat", nil, "exp", testNow.Add(2*time.Hour).Unix())}.sign(t), nil, "token lifetime 2h0m0s exceeds the maximum of 1h0m0s"},
		{"lifetime just over max plus leeway", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "exp", testNow.Add(time.Hour+31*time.Second).Unix())}.sign(t), nil, "token lifetime 1h0m31s exceeds the maximum of 1h0m0s"},
		{"lifetime with custom maximum", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "exp", testNow.Add(10*time.Minute).Unix())}.sign(t), func(v *Verifier) { v.MaxLifetime = 5 * time.Minute; v.Leeway = -1 }, "token lifetime 10m0s exceeds the maximum of 5m0s"},
		{"unknown actor", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "sub", "act_nobody")}.sign(t), nil, "unknown actor"},
		{"unknown external id", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "sub", "root.team/nobody")}.sign(t), nil, "unknown actor"},
		{"no subject", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "sub", nil)}.sign(t), nil, "token has no sub claim"},
		{"unknown kid", tok{method: jwt.SigningMethodEdDSA, key: k.edStranger, kid: fp(t, k.edStranger.Public()), claims: base}.sign(t), nil, "signing key is not registered for this actor"},
		{"kid of another actor's key", tok{method: jwt.SigningMethodEdDSA, key: k.edStranger, kid: fp(t, k.edStranger.Public()), claims: with(base, "sub", "act_2")}.sign(t), nil, "signing key is not registered for this actor"},
		{"kid not a string", tok{method: jwt.SigningMethodEdDSA, key: k.ed, kid: 42, claims: base}.sign(t), nil, "token header kid is malformed"},
		{"kid names a key of another type", tok{method: jwt.SigningMethodES256, key: k.p256, kid: edKid, claims: base}.sign(t), nil, "signing algorithm ES256 does not match the type of the registered key"},
		{"RSA kid with EdDSA", tok{method: jwt.SigningMethodEdDSA, key: k.ed, kid: fp(t, k.rsa.Public()), claims: base}.sign(t), nil, "signing algorithm EdDSA does not match the type of the registered key"},
		{"no registered key fits the algorithm", tok{method: jwt.SigningMethodES256, key: k.p256, claims: with(base, "sub", "act_2")}.sign(t), nil, "signing key is not registered for this actor (no registered key fits ES256)"},
		{"PS256 without RSA key", tok{method: jwt.SigningMethodPS256, key: k.rsa, claims: with(base, "sub", "act_3")}.sign(t), nil, "signing key is not registered for this actor (no registered key fits PS256)"},
		{"crit header", tok{method: jwt.SigningMethodEdDSA, key: k.ed, header: map[string]any{"crit": []string{"exp"}}, claims: base}.sign(t), nil, "token header has critical extensions (crit), none are supported"},
		{"permissions not a list", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "permissions", "all")}.sign(t), nil, "permissions claim is malformed"},
		{"permissions null", rawTokenSigned(t, k.ed, `{"sub":"act_1","aud":"admin","iat":%d,"exp":%d,"permissions":null}`), nil, "permissions claim is malformed"},
		{"permission without verbs", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "permissions", []map[string]any{{"namespace": "root", "resources": []string{"actors"}}})}.sign(t), nil, "permissions claim is malformed"},
		{"permission unknown field", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "permissions", []map[string]any{{"namespace": "root", "resources": []string{"actors"}, "verbs": []string{"get"}, "resourceId": []string{"x"}}})}.sign(t), nil, "permissions claim is malformed"},
		{"permission wrong types", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "permissions", []map[string]any{{"namespace": 1, "resources": "actors", "verbs": []string{"get"}}})}.sign(t), nil, "permissions claim is malformed"},
		{"jti without nonce store", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "jti", "abc")}.sign(t), nil, "single-use tokens (jti) are not accepted by this service"},
		{"jti too long", tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "jti", strings.Repeat("a", 129))}.sign(t), func(v *Verifier) { v.Nonces = memNonces{} }, "token id (jti) is longer than 128 bytes"},
		{"token too large", strings.Repeat("a", 17<<10), nil, "token is larger than 16384 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := testVerifier(t)
			if tc.v != nil {
				tc.v(v)
			}
			id, err := v.Verify(context.Background(), tc.raw, "admin")
			if id != nil {
				t.Fatalf("identity returned with error: %+v", id)
			}
			reason := reasonOf(t, err)
			if reason != tc.reason {
				t.Fatalf("reason = %q, want %q", reason, tc.reason)
			}
			if err.Error() != reason {
				t.Fatalf("Error() = %q, want the reason", err.Error())
			}
			// Never echo the token.
			for _, p := range strings.Split(tc.raw, ".") {
				if len(p) > 8 && strings.Contains(reason, p) {
					t.Fatalf("reason %q echoes part of the token", reason)
				}
			}
		})
	}
}

// rawTokenSigned signs a hand-written claims JSON (format with iat, exp) with EdDSA.
func rawTokenSigned(t testing.TB, key ed25519.PrivateKey, claimsFmt string) string {
	t.Helper()
	claims := fmt.Sprintf(claimsFmt, testNow.Unix(), testNow.Add(5*time.Minute).Unix())
	enc := base64.RawURLEncoding.EncodeToString
	signing := enc([]byte(`{"alg":"EdDSA","typ":"JWT"}`)) + "." + enc([]byte(claims))
	return signing + "." + enc(ed25519.Sign(key, []byte(signing)))
}

// nonCanonical returns a base64url character that differs from c only in bits a strict
// decoder must reject (c ends a segment whose last character carries 4 unused bits).
func nonCanonical(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

// memNonces is an in-memory NonceStore for tests that do not exercise Redis.
type memNonces map[string]time.Time

func (m memNonces) Claim(_ context.Context, id string, until time.Time) (bool, error) {
	if _, used := m[id]; used {
		return false, nil
	}
	m[id] = until
	return true, nil
}

type failingActors struct{}

func (failingActors) LookupActor(context.Context, string) (*Principal, error) {
	return nil, errors.New("database is down")
}

type failingNonces struct{}

func (failingNonces) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("redis is down")
}

func TestVerifyInternalErrorsAreNotRejections(t *testing.T) {
	k := keys(t)
	base := claimsAt(testNow, "act_1", "admin", 5*time.Minute)

	v := testVerifier(t)
	v.Actors = failingActors{}
	_, err := v.Verify(context.Background(), tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: base}.sign(t), "admin")
	var e *Error
	if err == nil || errors.As(err, &e) || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("lookup failure: got %v, want an internal (non-*Error) error", err)
	}

	v = testVerifier(t)
	v.Nonces = failingNonces{}
	_, err = v.Verify(context.Background(), tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: with(base, "jti", "x")}.sign(t), "admin")
	if err == nil || errors.As(err, &e) {
		t.Fatalf("nonce store failure: got %v, want an internal (non-*Error) error", err)
	}

	if _, err := (&Verifier{}).Verify(context.Background(), "x", "admin"); err == nil || errors.As(err, &e) {
		t.Fatalf("unconfigured verifier: got %v", err)
	}
	if _, err := testVerifier(t).Verify(context.Background(), "x", ""); err == nil || errors.As(err, &e) {
		t.Fatalf("empty audience: got %v", err)
	}
}

func TestVerifyMislabelledKeyType(t *testing.T) {
	// The Go type of a registered key decides which algorithm may use it, not its label.
	k := keys(t)
	pk := registered(t, k.ed.Public())
	pk.Type = KeyTypeRSA
	v := testVerifier(t)
	v.Actors = actorMap{"act_x": {ID: "act_x", Keys: []PublicKey{pk}}}
	raw := tok{method: jwt.SigningMethodEdDSA, key: k.ed, claims: claimsAt(testNow, "act_x", "admin", time.Minute)}.sign(t)
	if _, err := v.Verify(context.Background(), raw, "admin"); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	raw = tok{method: jwt.SigningMethodRS256, key: k.rsa, claims: claimsAt(testNow, "act_x", "admin", time.Minute)}.sign(t)
	if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), raw, "admin"); return err }()); !strings.HasPrefix(r, "signing key is not registered") {
		t.Fatalf("reason = %q", r)
	}
}

func TestVerifySDKTokens(t *testing.T) {
	// Tokens minted by the SDK signer verify, for every key type it supports.
	k := keys(t)
	for name, priv := range map[string]any{"ed25519": k.ed, "p256": k.p256, "rsa": k.rsa} {
		t.Run(name, func(t *testing.T) {
			pemKey := pkcs8PEM(t, priv)
			s, err := sdk.NewSigner("root.team/ci", pemKey)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{"act_1"}
			raw, err := s.Token(sdk.TokenOptions{
				Audience:    []string{sdk.AudienceAPI},
				Permissions: []sdk.Permission{{Namespace: "root.team", Resources: []sdk.Resource{sdk.ResourceActors}, Verbs: []sdk.Verb{sdk.VerbGet}, ResourceIds: &ids}},
				SingleUse:   true,
				Now:         func() time.Time { return testNow },
			})
			if err != nil {
				t.Fatal(err)
			}
			v := testVerifier(t)
			v.Nonces = memNonces{}
			id, err := v.Verify(context.Background(), raw, sdk.AudienceAPI)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := []authz.Permission{{Namespace: "root.team", Resources: []string{"actors"}, Verbs: []string{"get"}, ResourceIDs: []string{"act_1"}}}
			if id.Principal.ID != "act_1" || !reflect.DeepEqual(id.Narrowing, want) || id.TokenID == "" || id.Audience != "api" {
				t.Fatalf("identity = %+v", id)
			}
			if !id.ExpiresAt.Equal(testNow.Add(sdk.DefaultTokenTTL)) {
				t.Fatalf("ExpiresAt = %v", id.ExpiresAt)
			}
			if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), raw, sdk.AudienceAPI); return err }()); r != "token has already been used" {
				t.Fatalf("replay reason = %q", r)
			}
			if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), raw, sdk.AudienceAdmin); return err }()); r != `token audience does not include "admin"` {
				t.Fatalf("audience reason = %q", r)
			}
		})
	}
}

func TestSignSystemToken(t *testing.T) {
	raw, err := SignSystemToken(testSecret, "root.team/ci", "api", 0)
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Actors: testActors(t), SystemSecret: testSecret}
	id, err := v.Verify(context.Background(), raw, "api")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !id.System || id.Principal.ID != "act_1" || id.Narrowing != nil {
		t.Fatalf("identity = %+v", id)
	}
	if d := time.Until(id.ExpiresAt); d <= 0 || d > time.Minute {
		t.Fatalf("default ttl gives expiry in %v", d)
	}

	if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), raw, "admin"); return err }()); r != `token audience does not include "admin"` {
		t.Fatalf("reason = %q", r)
	}
	other := &Verifier{Actors: testActors(t), SystemSecret: []byte("another secret")}
	if r := reasonOf(t, func() error { _, err := other.Verify(context.Background(), raw, "api"); return err }()); r != "signature is invalid" {
		t.Fatalf("reason = %q", r)
	}
	long, _ := SignSystemToken(testSecret, "act_1", "api", 3*time.Hour)
	if r := reasonOf(t, func() error { _, err := v.Verify(context.Background(), long, "api"); return err }()); r != "token lifetime 3h0m0s exceeds the maximum of 1h0m0s" {
		t.Fatalf("reason = %q", r)
	}

	for _, args := range []struct {
		secret   []byte
		sub, aud string
	}{{nil, "act_1", "api"}, {testSecret, "", "api"}, {testSecret, "act_1", ""}} {
		if _, err := SignSystemToken(args.secret, args.sub, args.aud, time.Minute); err == nil {
			t.Errorf("SignSystemToken(%q, %q, %q) succeeded", args.secret, args.sub, args.aud)
		}
	}
}
