package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The fuzz verifier uses deterministic keys and a fixed clock, so the checked-in corpus
// (testdata/fuzz) keeps holding validly signed, unexpired tokens.
var fuzzNow = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type fuzzKeys struct {
	ed     ed25519.PrivateKey
	p256   *ecdsa.PrivateKey
	rsa    *rsa.PrivateKey // random per run: RS256/PS256 seeds are only added at run time
	secret []byte
}

func newFuzzKeys(t testing.TB) fuzzKeys {
	t.Helper()
	seed := sha256.Sum256([]byte("authproxy fuzz ed25519"))
	scalar := sha256.Sum256([]byte("authproxy fuzz p256"))
	p256, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), scalar[:])
	if err != nil {
		t.Fatal(err)
	}
	return fuzzKeys{
		ed:     ed25519.NewKeyFromSeed(seed[:]),
		p256:   p256,
		rsa:    keys(t).rsa,
		secret: []byte("authproxy fuzz system secret 0123456789"),
	}
}

func (fk fuzzKeys) verifier(t testing.TB) *Verifier {
	p := &Principal{ID: "act_f", Namespace: "root.fuzz", ExternalID: "ext",
		Keys: []PublicKey{registered(t, fk.ed.Public()), registered(t, fk.p256.Public()), registered(t, fk.rsa.Public())}}
	return &Verifier{
		Actors:       actorMap{"act_f": p, "root.fuzz/ext": p},
		SystemSecret: fk.secret,
		Now:          func() time.Time { return fuzzNow },
	}
}

// fuzzVerifySeeds returns valid tokens and malformed variants; deterministic ones first.
func fuzzVerifySeeds(t testing.TB, fk fuzzKeys, withRandomKeys bool) []string {
	base := jwt.MapClaims{"sub": "act_f", "aud": "api", "iat": fuzzNow.Add(-time.Minute).Unix(), "exp": fuzzNow.Add(4 * time.Minute).Unix()}
	perms := []map[string]any{{"namespace": "root.fuzz", "resources": []string{"actors"}, "verbs": []string{"get"}}}
	edKid := fp(t, fk.ed.Public())

	valid := []string{
		tok{method: jwt.SigningMethodEdDSA, key: fk.ed, kid: edKid, claims: base}.sign(t),
		tok{method: jwt.SigningMethodEdDSA, key: fk.ed, claims: with(base, "sub", "root.fuzz/ext", "permissions", perms)}.sign(t),
		tok{method: jwt.SigningMethodES256, key: fk.p256, kid: fp(t, fk.p256.Public()), claims: base}.sign(t),
		tok{method: jwt.SigningMethodHS256, key: fk.secret, claims: with(base, "iss", SystemIssuer)}.sign(t),
	}
	if withRandomKeys {
		valid = append(valid,
			tok{method: jwt.SigningMethodRS256, key: fk.rsa, claims: base}.sign(t),
			tok{method: jwt.SigningMethodPS256, key: fk.rsa, claims: base}.sign(t),
		)
	}
	first := valid[0]
	parts := strings.Split(first, ".")
	seeds := append([]string{}, valid...)
	seeds = append(seeds,
		"",
		"a.b.c",
		"..",
		first[:len(first)/2],                // truncated
		first[:len(first)-2],                // truncated signature
		parts[0]+"."+parts[1]+".",           // signature stripped
		parts[0]+"."+parts[1],               // two segments
		strings.Replace(first, "e", "f", 1), // mutated header
		parts[0]+"."+parts[1]+"x."+parts[2],     // mutated payload
		parts[0]+"."+parts[1]+"."+parts[2]+"AA", // mutated signature
		rawToken(t, map[string]any{"alg": "none"}, base, nil),
		rawToken(t, map[string]any{"alg": "none", "kid": edKid}, base, []byte{0}),
		tok{method: jwt.SigningMethodHS256, key: []byte(fk.ed.Public().(ed25519.PublicKey)), kid: edKid, claims: base}.sign(t),
		tok{method: jwt.SigningMethodHS256, key: []byte(fk.ed.Public().(ed25519.PublicKey)), claims: with(base, "iss", SystemIssuer)}.sign(t),
		tok{method: jwt.SigningMethodEdDSA, key: fk.ed, claims: with(base, "exp", nil)}.sign(t),
		tok{method: jwt.SigningMethodEdDSA, key: fk.ed, claims: with(base, "permissions", "x", "jti", "j")}.sign(t),
	)
	return seeds
}

func FuzzVerify(f *testing.F) {
	fk := newFuzzKeys(f)
	for _, s := range fuzzVerifySeeds(f, fk, true) {
		f.Add(s)
	}
	v := fk.verifier(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := v.Verify(ctx, raw, "api")
		if err != nil {
			if id != nil {
				t.Fatal("identity returned with an error")
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %v (%T) is not a rejection", err, err)
			}
			if e.Reason == "" || len(e.Reason) > 200 {
				t.Fatalf("bad reason %q", e.Reason)
			}
			return
		}
		if id == nil || id.Principal == nil || id.Principal.ID != "act_f" || id.Audience != "api" {
			t.Fatalf("bad identity %+v", id)
		}
		if !validlySigned(fk, raw) {
			t.Fatalf("accepted a token that is not validly signed: %q", raw)
		}
	})
}

// validlySigned is an independent oracle: the token's signature verifies with one of the
// fuzz keys under the algorithm its header names.
func validlySigned(fk fuzzKeys, raw string) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	hb, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &h) != nil {
		return false
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return false
	}
	msg := []byte(parts[0] + "." + parts[1])
	digest := sha256.Sum256(msg)
	switch h.Alg {
	case "EdDSA":
		return ed25519.Verify(fk.ed.Public().(ed25519.PublicKey), msg, sig)
	case "ES256":
		if len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(&fk.p256.PublicKey, digest[:], r, s)
	case "RS256":
		return rsa.VerifyPKCS1v15(&fk.rsa.PublicKey, crypto.SHA256, digest[:], sig) == nil
	case "PS256":
		return rsa.VerifyPSS(&fk.rsa.PublicKey, crypto.SHA256, digest[:], sig, nil) == nil
	case "HS256":
		m := hmac.New(sha256.New, fk.secret)
		m.Write(msg)
		return hmac.Equal(m.Sum(nil), sig)
	}
	return false
}

func fuzzPublicKeySeeds(t testing.TB) []string {
	k := keys(t)
	fk := newFuzzKeys(t)
	edLine := authorizedLine(t, fk.ed.Public())
	return []string{
		edLine,
		edLine + " comment",
		`restrict,command="x y" ` + edLine + " c",
		authorizedLine(t, fk.p256.Public()),
		pkixPEM(t, fk.ed.Public()),
		pkixPEM(t, fk.p256.Public()),
		authorizedLine(t, k.rsa.Public()),
		authorizedLine(t, k.p384.Public()),
		authorizedLine(t, k.rsa1024.Public()),
		"ssh-ed25519 AAAA",
		"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
		"-----BEGIN RSA PUBLIC KEY-----\n\n-----END RSA PUBLIC KEY-----\n",
		"",
		"# comment",
	}
}

func FuzzParsePublicKey(f *testing.F) {
	for _, s := range fuzzPublicKeySeeds(f) {
		f.Add(s)
	}
	algOf := map[string]string{KeyTypeEd25519: "EdDSA", KeyTypeECDSAP256: "ES256", KeyTypeRSA: "RS256"}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePublicKey(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		alg, ok := algOf[k.Type]
		if !ok || !strings.HasPrefix(k.Fingerprint, "SHA256:") || !keyFitsAlg(&k, alg) {
			t.Fatalf("inconsistent key %+v", k)
		}
		line, err := k.AuthorizedKey()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParsePublicKey(line)
		if err != nil || again.Fingerprint != k.Fingerprint || again.Type != k.Type {
			t.Fatalf("canonical form does not round-trip: %v", err)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when AUTHPROXY_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("AUTHPROXY_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set AUTHPROXY_WRITE_FUZZ_CORPUS=1 to regenerate testdata/fuzz")
	}
	write := func(name string, seeds []string) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			data := fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("FuzzVerify", fuzzVerifySeeds(t, newFuzzKeys(t), false))
	write("FuzzParsePublicKey", fuzzPublicKeySeeds(t))
}

// TestFuzzCorpusValidTokens guards the checked-in corpus: its deterministic valid tokens
// still verify, so the fuzzer starts from accepted inputs.
func TestFuzzCorpusValidTokens(t *testing.T) {
	fk := newFuzzKeys(t)
	v := fk.verifier(t)
	for i := 0; i < 4; i++ {
		path := filepath.Join("testdata", "fuzz", "FuzzVerify", fmt.Sprintf("seed-%02d", i))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a corpus file", path)
		}
		var raw string
		if _, err := fmt.Sscanf(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"), "%q", &raw); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, err := v.Verify(context.Background(), raw, "api"); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !validlySigned(fk, raw) {
			t.Fatalf("%s: oracle disagrees", path)
		}
	}
}
