package integration_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authproxy/authproxy/sdk"
)

// signJWT signs claims with method and key; header entries are added (a nil value removes
// one, e.g. "kid").
func signJWT(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s token: %v", method.Alg(), err)
	}
	return s
}

// claimsFor returns valid claims for sub on the admin service, living five minutes from now;
// overrides replace (or, when nil, remove) claims.
func claimsFor(sub string, overrides jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"sub": sub, "aud": sdk.AudienceAdmin, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func fingerprint(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	fp, err := sdk.Fingerprint(pub)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return fp
}

// createNamespaceAs POSTs /api/v1/namespaces {"path": path} to the admin service with the
// given Authorization header value (none when empty).
func (h *harness) createNamespaceAs(t testing.TB, auth, path string) (*http.Response, []byte) {
	t.Helper()
	return rawDo(t, http.MethodPost, h.s.AdminURL+"/api/v1/namespaces", auth, "application/json", []byte(`{"path":"`+path+`"}`))
}

// want401 checks a refused token: a 401 problem whose detail contains reason, with a Bearer
// challenge, and that the namespace the request tried to create does not exist.
func (h *harness) want401(t testing.TB, resp *http.Response, body []byte, reason, path string) {
	t.Helper()
	wantProblem(t, resp, body, http.StatusUnauthorized, "", reason)
	if ch := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
		t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", ch)
	}
	if path != "" {
		h.wantNoNamespace(t, path)
	}
}

func TestJWTRejected(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		j := h.mkActor(t, "root", "jwt", perm("root.**", "namespaces", "*"))
		jKey, err := sdk.ParsePrivateKey(j.PrivatePEM)
		if err != nil {
			t.Fatal(err)
		}
		edKey := jKey.(ed25519.PrivateKey)
		edPub := edKey.Public().(ed25519.PublicKey)
		jKid := fingerprint(t, edPub)
		pkixDER, err := x509.MarshalPKIXPublicKey(edPub)
		if err != nil {
			t.Fatal(err)
		}
		pkixPEMBytes := []byte(pkixPEM(t, edPub))

		_, otherEd, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		otherEC := newECDSAKey(t)
		otherRSA := newRSAKey(t, 2048)
		sub := "root/jwt"
		ed := func(claims jwt.MapClaims, header map[string]any) string {
			return signJWT(t, jwt.SigningMethodEdDSA, edKey, header, claims)
		}
		valid := ed(claimsFor(sub, nil), map[string]any{"kid": jKid})
		flipped := func() string {
			parts := strings.Split(valid, ".")
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)/2] ^= 0x01
			parts[2] = base64.RawURLEncoding.EncodeToString(sig)
			return strings.Join(parts, ".")
		}()
		now := time.Now()

		cases := []struct {
			name   string
			auth   string // the whole Authorization header; "" sends none
			reason string
		}{
			{"no Authorization header", "", "missing Authorization header"},
			{"Basic scheme", "Basic cm9vdDpyb290", `must be "Bearer <JWT>"`},
			{"Bearer without a token", "Bearer ", `must be "Bearer <JWT>"`},
			{"token without a scheme", valid, `must be "Bearer <JWT>"`},
			{"garbage token", "Bearer garbage", "token is malformed"},
			{"three garbage segments", "Bearer aaa.bbb.ccc", "token is malformed"},
			{"alg none", "Bearer " + signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, claimsFor(sub, nil)),
				`signing algorithm "none" is not accepted`},
			{"alg none with kid", "Bearer " + signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": jKid}, claimsFor(sub, nil)),
				`signing algorithm "none" is not accepted`},
			{"HS256 keyed with the authorized_keys line", "Bearer " + signJWT(t, jwt.SigningMethodHS256, []byte(j.AuthorizedKey), map[string]any{"kid": jKid}, claimsFor(sub, nil)),
				"HS256 is only accepted for system tokens"},
			{"HS256 keyed with the authorized_keys line and newline", "Bearer " + signJWT(t, jwt.SigningMethodHS256, []byte(j.AuthorizedKey+"\n"), nil, claimsFor(sub, nil)),
				"HS256 is only accepted for system tokens"},
			{"HS256 keyed with the PKIX DER", "Bearer " + signJWT(t, jwt.SigningMethodHS256, pkixDER, map[string]any{"kid": jKid}, claimsFor(sub, nil)),
				"HS256 is only accepted for system tokens"},
			{"HS256 keyed with the PKIX PEM", "Bearer " + signJWT(t, jwt.SigningMethodHS256, pkixPEMBytes, nil, claimsFor(sub, nil)),
				"HS256 is only accepted for system tokens"},
			{"HS256 keyed with the raw public key", "Bearer " + signJWT(t, jwt.SigningMethodHS256, []byte(edPub), nil, claimsFor(sub, nil)),
				"HS256 is only accepted for system tokens"},
			{"HS256 posing as a system token, keyed with the public key", "Bearer " + signJWT(t, jwt.SigningMethodHS256, []byte(j.AuthorizedKey), nil,
				claimsFor(sub, jwt.MapClaims{"iss": "authproxy-system"})), "signature is invalid"},
			{"HS512", "Bearer " + signJWT(t, jwt.SigningMethodHS512, pkixDER, nil, claimsFor(sub, nil)), `signing algorithm "HS512" is not accepted`},
			{"system issuer with EdDSA", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"iss": "authproxy-system"}), map[string]any{"kid": jKid}),
				"system tokens must be signed with HS256"},
			{"expired", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"iat": now.Add(-10 * time.Minute).Unix(), "exp": now.Add(-5 * time.Minute).Unix()}), nil),
				"token has expired"},
			{"nbf in the future", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"nbf": now.Add(10 * time.Minute).Unix(), "exp": now.Add(15 * time.Minute).Unix()}), nil),
				"not valid yet (nbf)"},
			{"iat in the future", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"iat": now.Add(10 * time.Minute).Unix(), "exp": now.Add(15 * time.Minute).Unix()}), nil),
				"iat is in the future"},
			{"wrong aud", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"aud": sdk.AudienceAPI}), nil), `token audience does not include "admin"`},
			{"wrong aud list", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"aud": []string{"api", "public"}}), nil), `token audience does not include "admin"`},
			{"no aud", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"aud": nil}), nil), "token has no aud claim"},
			{"no exp", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"exp": nil}), nil), "token has no exp claim"},
			{"no exp and no iat", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"exp": nil, "iat": nil}), nil), "token has no exp claim"},
			{"lifetime over the maximum", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"exp": now.Add(2 * time.Hour).Unix()}), nil),
				"exceeds the maximum of 1h0m0s"},
			{"lifetime over the maximum without iat", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"iat": nil, "exp": now.Add(2 * time.Hour).Unix()}), nil),
				"exceeds the maximum"},
			{"lifetime over the maximum from an old iat", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"iat": now.Add(-2 * time.Hour).Unix()}), nil),
				"exceeds the maximum"},
			{"unknown actor by path", "Bearer " + ed(claimsFor("root/nobody", nil), nil), "unknown actor"},
			{"unknown actor by id", "Bearer " + ed(claimsFor("act_doesnotexist", nil), nil), "unknown actor"},
			{"unknown actor in a missing namespace", "Bearer " + ed(claimsFor("root.nope/jwt", nil), nil), "unknown actor"},
			{"subject of neither form", "Bearer " + ed(claimsFor("jwt", nil), nil), "unknown actor"},
			{"no sub", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"sub": nil}), nil), "token has no sub claim"},
			{"unregistered key with its kid", "Bearer " + signJWT(t, jwt.SigningMethodEdDSA, otherEd, map[string]any{"kid": fingerprint(t, otherEd.Public())}, claimsFor(sub, nil)),
				"signing key is not registered for this actor"},
			{"unregistered key without kid", "Bearer " + signJWT(t, jwt.SigningMethodEdDSA, otherEd, nil, claimsFor(sub, nil)), "signature is invalid"},
			{"unregistered key with the registered kid", "Bearer " + signJWT(t, jwt.SigningMethodEdDSA, otherEd, map[string]any{"kid": jKid}, claimsFor(sub, nil)),
				"signature is invalid"},
			{"unregistered ECDSA key without kid", "Bearer " + signJWT(t, jwt.SigningMethodES256, otherEC, nil, claimsFor(sub, nil)),
				"no registered key fits ES256"},
			{"RS256 under the kid of an Ed25519 key", "Bearer " + signJWT(t, jwt.SigningMethodRS256, otherRSA, map[string]any{"kid": jKid}, claimsFor(sub, nil)),
				"does not match the type of the registered key"},
			{"kid not a string", "Bearer " + ed(claimsFor(sub, nil), map[string]any{"kid": 5}), "kid is malformed"},
			{"crit header", "Bearer " + ed(claimsFor(sub, nil), map[string]any{"crit": []string{"exp"}}), "critical extensions"},
			{"bad signature", "Bearer " + flipped, "signature is invalid"},
			{"truncated signature", "Bearer " + valid[:len(valid)-10], "signature is invalid"},
			{"malformed permissions claim", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"permissions": "all"}), nil), "permissions claim is malformed"},
			{"permissions claim with an unknown field", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"permissions": []map[string]any{
				{"namespace": "root.**", "resources": []string{"*"}, "verbs": []string{"*"}, "resource_ids": []string{"x"}},
			}}), nil), "permissions claim is malformed"},
			{"jti too long", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"jti": strings.Repeat("j", 129)}), nil), "longer than 128"},
			{"oversized token", "Bearer " + ed(claimsFor(sub, jwt.MapClaims{"pad": strings.Repeat("x", 17<<10)}), nil), "larger than"},
		}
		for i, c := range cases {
			path := fmt.Sprintf("root.jwt%d", i)
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				resp, body := h.createNamespaceAs(t, c.auth, path)
				h.want401(t, resp, body, c.reason, path)
			})
		}

		t.Run("a differently cased resourceIds key still narrows", func(t *testing.T) {
			t.Parallel()
			// encoding/json matches keys case-insensitively, so "resourceIDs" is not an unknown
			// field; what matters is that it never widens the narrowing.
			tok := ed(claimsFor(sub, jwt.MapClaims{"permissions": []map[string]any{
				{"namespace": "root.**", "resources": []string{"*"}, "verbs": []string{"*"}, "resourceIDs": []string{"root.jwtcase1"}},
			}}), nil)
			resp, body := h.createNamespaceAs(t, "Bearer "+tok, "root.jwtcase2")
			wantProblem(t, resp, body, http.StatusForbidden, "", "not permitted")
			h.wantNoNamespace(t, "root.jwtcase2")
			if resp, body := h.createNamespaceAs(t, "Bearer "+tok, "root.jwtcase1"); resp.StatusCode != http.StatusCreated {
				t.Errorf("status %d: %s", resp.StatusCode, body)
			}
		})

		t.Run("the valid token itself is accepted", func(t *testing.T) {
			t.Parallel()
			resp, body := h.createNamespaceAs(t, "Bearer "+valid, "root.jwtvalid")
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		})

		t.Run("admin token on the api service", func(t *testing.T) {
			t.Parallel()
			resp, body := rawDo(t, http.MethodPost, h.s.APIURL+"/api/v1/namespaces", "Bearer "+h.adminToken(t), "application/json", []byte(`{"path":"root.jwtapi"}`))
			h.want401(t, resp, body, `token audience does not include "api"`, "root.jwtapi")
		})

		t.Run("other endpoints refuse the same way", func(t *testing.T) {
			t.Parallel()
			for _, target := range []struct{ method, path string }{
				{http.MethodGet, "/api/v1/whoami"},
				{http.MethodGet, "/api/v1/namespaces"},
				{http.MethodGet, "/api/v1/namespaces/root"},
				{http.MethodDelete, "/api/v1/actors/" + j.Id},
				{http.MethodGet, "/api/v1/actors"},
			} {
				resp, body := rawDo(t, target.method, h.s.AdminURL+target.path, "Bearer "+flipped, "", nil)
				wantProblem(t, resp, body, http.StatusUnauthorized, "", "signature is invalid")
			}
			if h.actor(t, j.Id) == nil {
				t.Errorf("the actor was deleted by a request with a bad signature")
			}
		})
	})
}

func TestJWTReplay(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		j := h.mkActor(t, "root", "once", perm("root.**", "namespaces", "*"))
		tok, err := j.Signer.Token(sdk.TokenOptions{Audience: []string{sdk.AudienceAdmin}, SingleUse: true})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := h.createNamespaceAs(t, "Bearer "+tok, "root.replay1")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("first use: status %d: %s", resp.StatusCode, body)
		}
		resp, body = h.createNamespaceAs(t, "Bearer "+tok, "root.replay2")
		h.want401(t, resp, body, "already been used", "root.replay2")
		// Also on another endpoint.
		resp, body = rawDo(t, http.MethodGet, h.s.AdminURL+"/api/v1/whoami", "Bearer "+tok, "", nil)
		wantProblem(t, resp, body, http.StatusUnauthorized, "", "already been used")

		// A fresh single-use token works once too; a hand-made jti is single-use as well.
		tok2, err := j.Signer.Token(sdk.TokenOptions{Audience: []string{sdk.AudienceAdmin}, SingleUse: true})
		if err != nil {
			t.Fatal(err)
		}
		if resp, body := h.createNamespaceAs(t, "Bearer "+tok2, "root.replay3"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("second token: status %d: %s", resp.StatusCode, body)
		}
		key, err := sdk.ParsePrivateKey(j.PrivatePEM)
		if err != nil {
			t.Fatal(err)
		}
		manual := signJWT(t, jwt.SigningMethodEdDSA, key, nil, claimsFor("root/once", jwt.MapClaims{"jti": "fixed-id"}))
		if resp, body := h.createNamespaceAs(t, "Bearer "+manual, "root.replay4"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("hand-made jti: status %d: %s", resp.StatusCode, body)
		}
		resp, body = h.createNamespaceAs(t, "Bearer "+manual, "root.replay5")
		h.want401(t, resp, body, "already been used", "root.replay5")
		// The same jti of another actor is a different nonce.
		other := h.mkActor(t, "root", "other", perm("root.**", "namespaces", "*"))
		okey, err := sdk.ParsePrivateKey(other.PrivatePEM)
		if err != nil {
			t.Fatal(err)
		}
		manual2 := signJWT(t, jwt.SigningMethodEdDSA, okey, nil, claimsFor("root/other", jwt.MapClaims{"jti": "fixed-id"}))
		if resp, body := h.createNamespaceAs(t, "Bearer "+manual2, "root.replay6"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("same jti, other actor: status %d: %s", resp.StatusCode, body)
		}
		// A reusable token (no jti) may be sent many times.
		reusable, err := j.Signer.Token(sdk.TokenOptions{Audience: []string{sdk.AudienceAdmin}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if resp, body := h.createNamespaceAs(t, "Bearer "+reusable, fmt.Sprintf("root.reuse%d", i)); resp.StatusCode != http.StatusCreated {
				t.Fatalf("reusable token, use %d: status %d: %s", i+1, resp.StatusCode, body)
			}
		}
	})
}

func TestJWTAccepted(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ecKey := newECDSAKey(t)
		rsaKey := newRSAKey(t, 2048)
		edPriv, edPub, err := sdk.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		edKey, err := sdk.ParsePrivateKey(edPriv)
		if err != nil {
			t.Fatal(err)
		}
		all := perms(perm("root.**", "namespaces", "*"))
		mk := func(ext, pub string) sdk.Actor {
			return *call(h.admin.CreateActorWithResponse(t.Context(), sdk.CreateActorJSONRequestBody{
				Namespace: "root", ExternalId: ext, Permissions: all, PublicKeys: &[]string{pub},
			})).want(t, http.StatusCreated).JSON201
		}
		edActor := mk("ed", edPub)
		ecActor := mk("ec", pkixPEM(t, &ecKey.PublicKey))
		rsaActor := mk("rsa", pkixPEM(t, &rsaKey.PublicKey))

		cases := []struct {
			name  string
			actor sdk.Actor
			token func(t *testing.T) string
		}{
			{"EdDSA via the SDK", edActor, func(t *testing.T) string { return sdkToken(t, "root/ed", edPriv) }},
			{"ES256 via the SDK", ecActor, func(t *testing.T) string { return sdkToken(t, "root/ec", pkcs8PEM(t, ecKey)) }},
			{"RS256 via the SDK", rsaActor, func(t *testing.T) string { return sdkToken(t, "root/rsa", pkcs8PEM(t, rsaKey)) }},
			{"EdDSA without kid", edActor, func(t *testing.T) string {
				return signJWT(t, jwt.SigningMethodEdDSA, edKey, nil, claimsFor("root/ed", nil))
			}},
			{"ES256 without kid, subject by id", ecActor, func(t *testing.T) string {
				return signJWT(t, jwt.SigningMethodES256, ecKey, nil, claimsFor(ecActor.Id, nil))
			}},
			{"RS256 without kid", rsaActor, func(t *testing.T) string {
				return signJWT(t, jwt.SigningMethodRS256, rsaKey, nil, claimsFor("root/rsa", nil))
			}},
			{"PS256 with kid", rsaActor, func(t *testing.T) string {
				return signJWT(t, jwt.SigningMethodPS256, rsaKey, map[string]any{"kid": fingerprint(t, &rsaKey.PublicKey)}, claimsFor("root/rsa", nil))
			}},
			{"aud list including admin", edActor, func(t *testing.T) string {
				return signJWT(t, jwt.SigningMethodEdDSA, edKey, nil, claimsFor("root/ed", jwt.MapClaims{"aud": []string{"api", "admin"}}))
			}},
			{"lifetime exactly the maximum", edActor, func(t *testing.T) string {
				now := time.Now()
				return signJWT(t, jwt.SigningMethodEdDSA, edKey, nil, claimsFor("root/ed", jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}))
			}},
			{"nbf in the past", edActor, func(t *testing.T) string {
				return signJWT(t, jwt.SigningMethodEdDSA, edKey, nil, claimsFor("root/ed", jwt.MapClaims{"nbf": time.Now().Add(-time.Minute).Unix()}))
			}},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				tok := c.token(t)
				resp, body := h.createNamespaceAs(t, "Bearer "+tok, fmt.Sprintf("root.ok%d", i))
				if resp.StatusCode != http.StatusCreated {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				h.wantNamespace(t, fmt.Sprintf("root.ok%d", i))
				resp, body = rawDo(t, http.MethodGet, h.s.AdminURL+"/api/v1/whoami", "bearer "+tok, "", nil) // the scheme is case-insensitive
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"id":"`+c.actor.Id+`"`) {
					t.Errorf("whoami: status %d: %s; want actor %s", resp.StatusCode, body, c.actor.Id)
				}
			})
		}
	})
}

func sdkToken(t *testing.T, subject string, priv []byte) string {
	t.Helper()
	tok, err := newSigner(t, subject, priv).Token(sdk.TokenOptions{Audience: []string{sdk.AudienceAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
