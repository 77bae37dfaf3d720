package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxDelegatedLifetime bounds exp − iat of delegated tokens: they are hand-offs, used once
// within moments of being signed.
const MaxDelegatedLifetime = 10 * time.Minute

// Delegation is a verified delegated token (RFC 8693 style): Signer, an actor holding a
// registered key, vouches for Subject, the end user the session is for.
type Delegation struct {
	// Signer is the actor named by the act claim, whose key signed the token.
	Signer *Principal
	// Subject is the sub claim: "<namespace>/<externalId>" or an actor id. The end-user
	// actor need not exist yet (see Create).
	Subject string
	// Create asks for the end-user actor to be created when it does not exist.
	Create    bool
	Audience  string
	TokenID   string
	ExpiresAt time.Time
}

type actClaim struct {
	Subject string `json:"sub"`
}

type delegatedClaims struct {
	jwt.RegisteredClaims
	Act         *actClaim       `json:"act,omitempty"`
	Create      bool            `json:"create,omitempty"`
	Permissions json.RawMessage `json:"permissions,omitempty"`
}

// VerifyDelegated verifies a single-use delegated token for audience: signed with a key
// registered to the actor its act claim names, carrying a sub (the end user), a jti (claimed
// here, so a second use fails) and a lifetime of at most MaxDelegatedLifetime. Whether the
// signer may act for the subject is the caller's decision (actors:impersonate).
func (v *Verifier) VerifyDelegated(ctx context.Context, raw, audience string) (*Delegation, error) {
	now, err := v.precheck(raw, audience)
	if err != nil {
		return nil, err
	}
	leeway := v.leeway()
	var (
		c      delegatedClaims
		signer *Principal
		keyErr error
	)
	keyFunc := func(t *jwt.Token) (any, error) {
		key, err := func() (any, error) {
			if c.Subject == "" {
				return nil, reject("token has no sub claim (the end user)")
			}
			if c.Act == nil || c.Act.Subject == "" {
				return nil, reject("token has no act claim naming the signing actor; it is not a delegated token")
			}
			if c.Permissions != nil {
				return nil, reject("delegated tokens carry no permissions claim")
			}
			// The signer's key verifies the token: choose it as for the signer's own tokens.
			as := tokenClaims{RegisteredClaims: c.RegisteredClaims}
			as.Subject = c.Act.Subject
			system := false
			usedKey := ""
			key, err := v.verificationKey(ctx, t, &as, &signer, &system, &usedKey)
			if err != nil {
				return nil, err
			}
			if system {
				return nil, reject("delegated tokens must be signed with the signing actor's registered key, not as system tokens")
			}
			return key, nil
		}()
		if err != nil {
			keyErr = err
		}
		return key, err
	}
	tok, err := v.parser(audience, now).ParseWithClaims(raw, &c, keyFunc)
	if err != nil {
		if keyErr != nil {
			return nil, keyErr
		}
		tc := tokenClaims{RegisteredClaims: c.RegisteredClaims}
		return nil, parseFailure(err, tok, &tc, audience)
	}
	exp := c.ExpiresAt.Time
	start := now()
	if c.IssuedAt != nil {
		start = c.IssuedAt.Time
	}
	maxLife := min(MaxDelegatedLifetime, v.maxLifetime())
	if lifetime := exp.Sub(start); lifetime > maxLife+leeway {
		return nil, rejectf("delegated token lifetime %s exceeds the maximum of %s", lifetime.Round(time.Second), maxLife)
	}
	if c.ID == "" {
		return nil, reject("delegated tokens must be single use: the jti claim is missing")
	}
	if len(c.ID) > maxTokenIDLen {
		return nil, rejectf("token id (jti) is longer than %d bytes", maxTokenIDLen)
	}
	if v.Nonces == nil {
		return nil, reject("single-use tokens (jti) are not accepted by this service")
	}
	nonce := "delegated:" + strconv.Itoa(len(signer.ID)) + ":" + signer.ID + ":" + c.ID
	fresh, err := v.Nonces.Claim(ctx, nonce, exp.Add(leeway))
	if err != nil {
		return nil, fmt.Errorf("authn: claim token id: %w", err)
	}
	if !fresh {
		return nil, reject("token has already been used")
	}
	return &Delegation{Signer: signer, Subject: c.Subject, Create: c.Create, Audience: audience, TokenID: c.ID, ExpiresAt: exp}, nil
}
