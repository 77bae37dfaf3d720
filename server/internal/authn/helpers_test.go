package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/ssh"

	"github.com/authproxy/authproxy/server/internal/authz"
)

// fixtures are the real keys the tests sign with, generated once per test binary.
type fixtures struct {
	ed, ed2, edStranger ed25519.PrivateKey
	p256, p256Stranger  *ecdsa.PrivateKey
	p384                *ecdsa.PrivateKey
	rsa, rsaStranger    *rsa.PrivateKey
	rsa1024             *rsa.PrivateKey
}

var (
	fixturesOnce sync.Once
	fix          fixtures
)

func keys(t testing.TB) *fixtures {
	t.Helper()
	fixturesOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		var err error
		_, fix.ed, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		_, fix.ed2, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		_, fix.edStranger, err = ed25519.GenerateKey(rand.Reader)
		must(err)
		fix.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		fix.p256Stranger, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
		fix.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(err)
		fix.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		fix.rsaStranger, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		fix.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024)
		must(err)
	})
	return &fix
}

// authorizedLine renders a public key as an authorized_keys line.
func authorizedLine(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	sk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sk)))
}

func pkixPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func pkcs8PEM(t testing.TB, priv any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// registered parses a public key the way the server stores it.
func registered(t testing.TB, pub crypto.PublicKey) PublicKey {
	t.Helper()
	k, err := ParsePublicKey(authorizedLine(t, pub))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// actorMap is the in-test actor data source.
type actorMap map[string]*Principal

func (m actorMap) LookupActor(_ context.Context, subject string) (*Principal, error) {
	if p, ok := m[subject]; ok {
		return p, nil
	}
	return nil, ErrActorNotFound
}

var testPermissions = []authz.Permission{{Namespace: "root.team.**", Resources: []string{"*"}, Verbs: []string{"*"}}}

// testActors: act_1 (root.team/ci) holds an Ed25519, a P-256 and an RSA key; act_2 holds two
// Ed25519 keys; act_3 only an Ed25519 key.
func testActors(t testing.TB) actorMap {
	k := keys(t)
	a1 := &Principal{ID: "act_1", Namespace: "root.team", ExternalID: "ci", Permissions: testPermissions,
		Keys: []PublicKey{registered(t, k.ed.Public()), registered(t, k.p256.Public()), registered(t, k.rsa.Public())}}
	a2 := &Principal{ID: "act_2", Namespace: "root.team", ExternalID: "two",
		Keys: []PublicKey{registered(t, k.ed.Public()), registered(t, k.ed2.Public())}}
	a3 := &Principal{ID: "act_3", Namespace: "root.other", ExternalID: "three",
		Keys: []PublicKey{registered(t, k.edStranger.Public())}}
	return actorMap{
		"act_1": a1, "root.team/ci": a1,
		"act_2": a2, "root.team/two": a2,
		"act_3": a3,
	}
}

// tok describes a token to sign.
type tok struct {
	method jwt.SigningMethod
	key    any            // signing key
	kid    any            // header kid; nil = none
	header map[string]any // extra header fields
	claims jwt.MapClaims
}

func (o tok) sign(t testing.TB) string {
	t.Helper()
	jt := jwt.NewWithClaims(o.method, o.claims)
	if o.kid != nil {
		jt.Header["kid"] = o.kid
	}
	for k, v := range o.header {
		jt.Header[k] = v
	}
	s, err := jt.SignedString(o.key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// rawToken assembles a token from arbitrary JSON header and claims and a signature.
func rawToken(t testing.TB, header, claims any, sig []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func fp(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	sk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.FingerprintSHA256(sk)
}

// claimsAt returns standard claims for subject and audience issued at now, valid for ttl.
func claimsAt(now time.Time, sub, aud string, ttl time.Duration) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "aud": aud, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
}

func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// reasonOf asserts err is a *Error and returns its reason.
func reasonOf(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("expected a verification error, got success")
	}
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v (%T) is not *authn.Error", err, err)
	}
	return e.Reason
}
