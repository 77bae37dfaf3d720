package authn

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authproxy/authproxy/server/internal/authz"
)

// SystemIssuer is the "iss" of system tokens: HS256 tokens signed with the shared system
// secret by internal hops acting for an actor.
const SystemIssuer = "authproxy-system"

// Defaults of Verifier.
const (
	DefaultMaxLifetime = time.Hour
	DefaultLeeway      = 30 * time.Second
)

const (
	// maxTokenLen bounds the accepted token size (a generous permissions claim fits).
	maxTokenLen = 16 << 10
	// maxTokenIDLen bounds the jti, which becomes a nonce-store key.
	maxTokenIDLen = 128
)

// Signing algorithms.
const (
	algEdDSA = "EdDSA"
	algES256 = "ES256"
	algRS256 = "RS256"
	algPS256 = "PS256"
	algHS256 = "HS256"
)

// validMethods is the allow-list handed to the JWT parser. HS256 is further restricted to
// system tokens; every other algorithm (none, HS384, ES384, …) is refused before any key is
// looked at.
var validMethods = []string{algEdDSA, algES256, algRS256, algPS256, algHS256}

// ErrActorNotFound is returned by ActorLookup when the subject names no actor.
var ErrActorNotFound = errors.New("actor not found")

// Principal is an actor as far as authentication is concerned.
type Principal struct {
	ID          string
	Namespace   string
	ExternalID  string
	Keys        []PublicKey
	Permissions []authz.Permission
}

// ActorLookup resolves a token subject ("act_…" or "<namespace>/<externalId>") to its actor.
// It returns ErrActorNotFound (possibly wrapped) when there is none; any other error is
// treated as an internal failure.
type ActorLookup interface {
	LookupActor(ctx context.Context, subject string) (*Principal, error)
}

// NonceStore records single-use token ids. Claim reports whether id was unused, and
// reserves it until the given time.
type NonceStore interface {
	Claim(ctx context.Context, id string, until time.Time) (fresh bool, err error)
}

// Verifier verifies bearer JWTs. A Verifier is safe for concurrent use once configured.
type Verifier struct {
	// Actors resolves token subjects; required.
	Actors ActorLookup
	// Nonces enforces single use of tokens carrying a jti; tokens with a jti are refused
	// when nil.
	Nonces NonceStore
	// SystemSecret is the HS256 secret of system tokens; system tokens are refused when
	// empty.
	SystemSecret []byte
	// MaxLifetime bounds exp − iat (or exp − now without iat); DefaultMaxLifetime when 0.
	MaxLifetime time.Duration
	// Leeway is the clock skew tolerated on exp, nbf, iat and the lifetime; DefaultLeeway
	// when 0, none when negative.
	Leeway time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Tokens, when set, remembers verified tokens without a jti until they expire, so a
	// token presented again skips parsing and the signature check (the actor is still
	// looked up, and its key must still be registered). Single-use tokens never use it.
	Tokens *TokenCache
}

// Identity is the outcome of a successful verification.
type Identity struct {
	Principal *Principal
	// System is true for system tokens (HS256, iss SystemIssuer).
	System bool
	// Narrowing is the token's "permissions" claim, nil when the token has none. A non-nil
	// empty slice narrows to nothing.
	Narrowing []authz.Permission
	// Audience is the service audience the token was verified for.
	Audience string
	// TokenID is the jti, empty when the token is not single-use.
	TokenID   string
	ExpiresAt time.Time
}

// Error is a rejected token. Reason is short, precise and safe to return to the client: it
// never contains the token or key material.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

func reject(reason string) *Error { return &Error{Reason: reason} }

func rejectf(format string, args ...any) *Error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// tokenClaims are the claims authproxy reads.
type tokenClaims struct {
	jwt.RegisteredClaims
	// Permissions stays raw so that presence (even of a malformed value) is detectable and
	// its decoding error maps to a precise reason.
	Permissions json.RawMessage `json:"permissions,omitempty"`
	// Act marks a delegated token (RFC 8693): only VerifyDelegated accepts one.
	Act json.RawMessage `json:"act,omitempty"`
}

func (v *Verifier) leeway() time.Duration {
	switch {
	case v.Leeway == 0:
		return DefaultLeeway
	case v.Leeway < 0:
		return 0
	}
	return v.Leeway
}

func (v *Verifier) maxLifetime() time.Duration {
	if v.MaxLifetime <= 0 {
		return DefaultMaxLifetime
	}
	return v.MaxLifetime
}

// Verify checks raw (the bearer token, without "Bearer ") for the service audience.
//
// Every rejected token yields an *Error. Any other error is an internal failure (actor or
// nonce store unavailable, Verifier misconfigured) and must not be reported as a bad token.
func (v *Verifier) Verify(ctx context.Context, raw, audience string) (*Identity, error) {
	now, err := v.precheck(raw, audience)
	if err != nil {
		return nil, err
	}
	leeway := v.leeway()

	var cacheKey tokenKey
	if v.Tokens != nil {
		cacheKey = hashToken(audience, raw)
		if id, hit, err := v.cached(ctx, cacheKey, audience, now()); hit {
			return id, err
		}
	}

	var (
		c         tokenClaims
		principal *Principal
		system    bool
		usedKey   string // fingerprint of the one key that can have signed the token
		keyErr    error  // a rejection (or internal error) decided while choosing the key
	)
	keyFunc := func(t *jwt.Token) (any, error) {
		key, err := v.verificationKey(ctx, t, &c, &principal, &system, &usedKey)
		if err != nil {
			keyErr = err
			return nil, err
		}
		return key, nil
	}

	parser := v.parser(audience, now)
	tok, err := parser.ParseWithClaims(raw, &c, keyFunc)
	if err != nil {
		if keyErr != nil {
			return nil, keyErr
		}
		return nil, parseFailure(err, tok, &c, audience)
	}

	exp := c.ExpiresAt.Time
	start := now()
	if c.IssuedAt != nil {
		start = c.IssuedAt.Time
	}
	if lifetime, maxLife := exp.Sub(start), v.maxLifetime(); lifetime > maxLife+leeway {
		return nil, rejectf("token lifetime %s exceeds the maximum of %s", lifetime.Round(time.Second), maxLife)
	}

	if system {
		// The signature is verified: only now resolve the actor the internal hop acts for.
		p, err := v.lookup(ctx, c.Subject)
		if err != nil {
			return nil, err
		}
		principal = p
	}

	id := &Identity{
		Principal: principal,
		System:    system,
		Audience:  audience,
		TokenID:   c.ID,
		ExpiresAt: exp,
	}
	if c.Permissions != nil {
		ps, ok := parsePermissions(c.Permissions)
		if !ok {
			return nil, reject("permissions claim is malformed")
		}
		id.Narrowing = ps
	}

	// Single use is claimed last, so that a token failing any other check does not burn it.
	if c.ID != "" {
		if len(c.ID) > maxTokenIDLen {
			return nil, rejectf("token id (jti) is longer than %d bytes", maxTokenIDLen)
		}
		if v.Nonces == nil {
			return nil, reject("single-use tokens (jti) are not accepted by this service")
		}
		scope := principal.ID
		if scope == "" {
			scope = c.Subject
		}
		// Length-prefixed, so that no (subject, jti) pair can collide with another.
		nonce := strconv.Itoa(len(scope)) + ":" + scope + ":" + c.ID
		fresh, err := v.Nonces.Claim(ctx, nonce, exp.Add(leeway))
		if err != nil {
			return nil, fmt.Errorf("authn: claim token id: %w", err)
		}
		if !fresh {
			return nil, reject("token has already been used")
		}
		return id, nil
	}
	if v.Tokens != nil && (system || usedKey != "") {
		v.Tokens.put(cacheKey, cachedToken{
			subject: c.Subject, actorID: principal.ID, system: system, key: usedKey,
			audience: audience, narrowing: id.Narrowing, expires: exp,
		}, now())
	}
	return id, nil
}

// precheck refuses what needs no parsing (and a misconfigured Verifier) and returns the clock.
func (v *Verifier) precheck(raw, audience string) (func() time.Time, error) {
	if v.Actors == nil {
		return nil, errors.New("authn: Verifier.Actors is not configured")
	}
	if audience == "" {
		return nil, errors.New("authn: verification without a service audience")
	}
	if raw == "" {
		return nil, reject("no token")
	}
	if len(raw) > maxTokenLen {
		return nil, rejectf("token is larger than %d bytes", maxTokenLen)
	}
	if v.Now != nil {
		return v.Now, nil
	}
	return time.Now, nil
}

// parser is the JWT parser of every token: allowed algorithms only, exp required, iat
// checked, the audience, the leeway and strict base64.
func (v *Verifier) parser(audience string, now func() time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods(validMethods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithAudience(audience),
		jwt.WithLeeway(v.leeway()),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
}

// verificationKey chooses the key that must have signed t. It runs after the parser has
// checked the algorithm against the allow-list, and before the signature is verified.
// usedKey is set to the fingerprint of the key when exactly one registered key can verify t.
func (v *Verifier) verificationKey(ctx context.Context, t *jwt.Token, c *tokenClaims, principal **Principal, system *bool, usedKey *string) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, reject("token header has critical extensions (crit), none are supported")
	}
	if c.Subject == "" {
		return nil, reject("token has no sub claim")
	}
	if c.Act != nil {
		return nil, reject("delegated tokens (act claim) are accepted only by the session hand-off")
	}
	alg := t.Method.Alg()

	if alg == algHS256 {
		if c.Issuer != SystemIssuer {
			return nil, reject("signing algorithm HS256 is only accepted for system tokens")
		}
		if len(v.SystemSecret) == 0 {
			return nil, reject("system tokens are not accepted by this service")
		}
		*system = true
		return v.SystemSecret, nil
	}
	if c.Issuer == SystemIssuer {
		return nil, rejectf("system tokens must be signed with HS256, not %s", alg)
	}

	var kid string
	if h, ok := t.Header["kid"]; ok {
		s, isString := h.(string)
		if !isString || s == "" {
			return nil, reject("token header kid is malformed")
		}
		kid = s
	}

	p, err := v.lookup(ctx, c.Subject)
	if err != nil {
		return nil, err
	}
	*principal = p

	if kid != "" {
		for i := range p.Keys {
			k := &p.Keys[i]
			if k.Fingerprint != kid {
				continue
			}
			if !keyFitsAlg(k, alg) {
				return nil, rejectf("signing algorithm %s does not match the type of the registered key", alg)
			}
			*usedKey = k.Fingerprint
			return k.Key, nil
		}
		return nil, reject("signing key is not registered for this actor")
	}

	var (
		first any
		set   *jwt.VerificationKeySet
	)
	for i := range p.Keys {
		k := &p.Keys[i]
		if !keyFitsAlg(k, alg) {
			continue
		}
		switch {
		case first == nil:
			first = k.Key
			*usedKey = k.Fingerprint
		case set == nil:
			set = &jwt.VerificationKeySet{Keys: []jwt.VerificationKey{first, k.Key}}
		default:
			set.Keys = append(set.Keys, k.Key)
		}
	}
	switch {
	case set != nil:
		*usedKey = "" // any of several keys may have signed it: not cached
		return *set, nil
	case first != nil:
		return first, nil
	}
	return nil, rejectf("signing key is not registered for this actor (no registered key fits %s)", alg)
}

func (v *Verifier) lookup(ctx context.Context, subject string) (*Principal, error) {
	p, err := v.Actors.LookupActor(ctx, subject)
	if errors.Is(err, ErrActorNotFound) || (err == nil && p == nil) {
		return nil, reject("unknown actor")
	}
	if err != nil {
		return nil, fmt.Errorf("authn: look up actor: %w", err)
	}
	return p, nil
}

// keyFitsAlg reports whether alg is the algorithm of the key's type. The Go type of the key,
// not its Type label, decides, so a mislabelled key can never be used with the wrong
// algorithm.
func keyFitsAlg(k *PublicKey, alg string) bool {
	switch key := k.Key.(type) {
	case ed25519.PublicKey:
		return alg == algEdDSA && len(key) == ed25519.PublicKeySize
	case *ecdsa.PublicKey:
		return alg == algES256 && key.Curve == elliptic.P256()
	case *rsa.PublicKey:
		bits := key.N.BitLen()
		return (alg == algRS256 || alg == algPS256) && bits >= minRSABits && bits <= maxRSABits
	}
	return false
}

// parseFailure turns a parser error into a precise rejection.
func parseFailure(err error, tok *jwt.Token, c *tokenClaims, audience string) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reject("token is malformed")
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok != nil {
			alg, ok := tok.Header["alg"].(string)
			if !ok {
				return reject("token header has no signing algorithm (alg)")
			}
			if !isValidMethod(alg) {
				if printableAlg(alg) {
					return rejectf("signing algorithm %q is not accepted", alg)
				}
				return reject("signing algorithm is not accepted")
			}
		}
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			return reject("signature is invalid")
		}
		return reject("token is malformed")
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		switch {
		case c.ExpiresAt == nil:
			return reject("token has no exp claim")
		case errors.Is(err, jwt.ErrTokenExpired):
			return reject("token has expired")
		case errors.Is(err, jwt.ErrTokenNotValidYet):
			return reject("token is not valid yet (nbf)")
		case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
			return reject("token is not valid yet (iat is in the future)")
		case len(c.Audience) == 0 || len(c.Audience) == 1 && c.Audience[0] == "":
			return reject("token has no aud claim")
		case errors.Is(err, jwt.ErrTokenInvalidAudience):
			return rejectf("token audience does not include %q", audience)
		}
		return reject("token claims are invalid")
	}
	return reject("token is invalid")
}

func isValidMethod(alg string) bool {
	for _, m := range validMethods {
		if m == alg {
			return true
		}
	}
	return false
}

// printableAlg reports whether an (attacker-chosen) alg is short and plain enough to echo.
func printableAlg(alg string) bool {
	if alg == "" || len(alg) > 16 {
		return false
	}
	for _, r := range alg {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '+' || r == '.') {
			return false
		}
	}
	return true
}

// parsePermissions decodes the "permissions" claim strictly: a JSON array of permissions,
// each with a namespace, resources and verbs, and no unknown fields (a misspelt
// "resourceIds" must not silently widen the narrowing).
func parsePermissions(raw json.RawMessage) ([]authz.Permission, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var ps []authz.Permission
	if err := dec.Decode(&ps); err != nil || ps == nil {
		return nil, false
	}
	for _, p := range ps {
		if p.Namespace == "" || len(p.Resources) == 0 || len(p.Verbs) == 0 {
			return nil, false
		}
		// An empty resourceIds list would read as "any id": refuse it rather than widen.
		if p.ResourceIDs != nil && len(p.ResourceIDs) == 0 {
			return nil, false
		}
		for _, s := range p.Resources {
			if s == "" {
				return nil, false
			}
		}
		for _, s := range p.Verbs {
			if s == "" {
				return nil, false
			}
		}
	}
	return ps, true
}

// SignSystemToken signs a system token (HS256, iss SystemIssuer) for an internal hop acting
// for subject. ttl defaults to one minute.
func SignSystemToken(secret []byte, subject, audience string, ttl time.Duration) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("authn: system secret is empty")
	}
	if subject == "" || audience == "" {
		return "", errors.New("authn: system token needs a subject and an audience")
	}
	if ttl <= 0 {
		ttl = time.Minute
	}
	now := time.Now().Truncate(time.Second)
	claims := jwt.RegisteredClaims{
		Issuer:    SystemIssuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("authn: sign system token: %w", err)
	}
	return s, nil
}
