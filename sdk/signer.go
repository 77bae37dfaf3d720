package sdk

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTokenTTL is the lifetime of tokens when TokenOptions.TTL is zero. The server
// refuses tokens living longer than its maximum (1 hour by default).
const DefaultTokenTTL = 5 * time.Minute

// Signer mints the bearer JWTs an actor presents to authproxy. It is safe for concurrent use.
type Signer struct {
	actor  string
	key    crypto.Signer
	kid    string
	method jwt.SigningMethod
}

// TokenOptions configures one token.
type TokenOptions struct {
	// Audience names the services the token is for ("admin", "api", "public"); required.
	Audience []string
	// TTL is the token lifetime; DefaultTokenTTL (5 minutes) when zero.
	TTL time.Duration
	// Permissions, when non-nil, is sent as the "permissions" claim and narrows the actor's
	// stored permissions to their intersection. A non-nil empty slice narrows to nothing.
	Permissions []Permission
	// SingleUse adds a random "jti" claim; the server then refuses any replay of the token.
	SingleUse bool
	// Now overrides the clock (tests); time.Now when nil.
	Now func() time.Time
}

// NewSigner returns a Signer for actor ("act_…" or "<namespace>/<externalId>") using a PEM
// private key in any format ParsePrivateKey accepts.
func NewSigner(actor string, privateKey []byte) (*Signer, error) {
	if actor == "" {
		return nil, errors.New("actor is required")
	}
	key, err := ParsePrivateKey(privateKey)
	if err != nil {
		return nil, err
	}
	return newSigner(actor, key)
}

// NewSignerFromFile is NewSigner with the private key read from path. Errors name the path
// but never include the file's content.
func NewSignerFromFile(actor, path string) (*Signer, error) {
	if actor == "" {
		return nil, errors.New("actor is required")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("read private key file %q: %w", path, pe.Err)
		}
		return nil, fmt.Errorf("read private key file %q: %w", path, err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("private key file %q: %w", path, err)
	}
	return newSigner(actor, key)
}

func newSigner(actor string, key crypto.Signer) (*Signer, error) {
	var method jwt.SigningMethod
	switch key.(type) {
	case ed25519.PrivateKey:
		method = jwt.SigningMethodEdDSA
	case *ecdsa.PrivateKey:
		method = jwt.SigningMethodES256
	case *rsa.PrivateKey:
		method = jwt.SigningMethodRS256
	default:
		return nil, fmt.Errorf("private key type %T is not supported", key)
	}
	kid, err := Fingerprint(key.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{actor: actor, key: key, kid: kid, method: method}, nil
}

// Actor returns the subject the signer's tokens carry.
func (s *Signer) Actor() string { return s.actor }

// KeyID returns the OpenSSH SHA256 fingerprint of the signing key, sent as the "kid" header.
func (s *Signer) KeyID() string { return s.kid }

// Algorithm returns the JWS algorithm of the signer's tokens (EdDSA, ES256 or RS256).
func (s *Signer) Algorithm() string { return s.method.Alg() }

// PublicKey returns the public half of the signing key.
func (s *Signer) PublicKey() crypto.PublicKey { return s.key.Public() }

type tokenClaims struct {
	jwt.RegisteredClaims
	Permissions *[]Permission `json:"permissions,omitempty"`
}

// Token signs a new token: sub = actor, aud, iat = now, exp = iat + TTL, header kid = KeyID,
// plus the optional "permissions" and "jti" claims.
func (s *Signer) Token(o TokenOptions) (string, error) {
	if s == nil || s.key == nil {
		return "", errors.New("signer is not initialised; use NewSigner")
	}
	if len(o.Audience) == 0 {
		return "", errors.New("token audience is required")
	}
	for _, a := range o.Audience {
		if a == "" {
			return "", errors.New("token audience must not be empty")
		}
	}
	ttl := o.TTL
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < 0 {
		return "", fmt.Errorf("token TTL %s is negative", ttl)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	iat := now().Truncate(time.Second)

	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   s.actor,
			Audience:  jwt.ClaimStrings(append([]string(nil), o.Audience...)),
			IssuedAt:  jwt.NewNumericDate(iat),
			ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
		},
	}
	if o.Permissions != nil {
		for i, p := range o.Permissions {
			if p.Namespace == "" || len(p.Resources) == 0 || len(p.Verbs) == 0 {
				return "", fmt.Errorf("permissions[%d]: namespace, resources and verbs are required", i)
			}
		}
		ps := append([]Permission{}, o.Permissions...)
		claims.Permissions = &ps
	}
	if o.SingleUse {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("generate token id: %w", err)
		}
		claims.ID = base64.RawURLEncoding.EncodeToString(b[:])
	}

	t := jwt.NewWithClaims(s.method, claims)
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// RequestEditor returns a RequestEditorFn that sets "Authorization: Bearer <token>" with a
// token (lifetime DefaultTokenTTL) for audience on every request. The token is reused until
// half of its lifetime has passed (see TokenSource): signing, and on the server verifying,
// happen about once every DefaultTokenTTL/2, not on every request.
func (s *Signer) RequestEditor(audience string) RequestEditorFn {
	ts := s.TokenSource(TokenOptions{Audience: []string{audience}})
	return func(_ context.Context, req *http.Request) error {
		tok, err := ts.Token()
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
}
