package sdk

import (
	"sync"
	"time"
)

// TokenSource hands out tokens of one kind (audience, lifetime, permissions) for repeated
// requests. It signs a token, then hands the same one out until half of its lifetime has
// passed, so a client sending many requests signs once every TTL/2 instead of once per
// request, and every token it sends still has at least half its lifetime left. Tokens with
// SingleUse are signed anew every time. A TokenSource is safe for concurrent use.
type TokenSource struct {
	signer *Signer
	opts   TokenOptions

	mu      sync.Mutex
	token   string
	renewAt time.Time
}

// TokenSource returns a TokenSource for tokens made with o.
func (s *Signer) TokenSource(o TokenOptions) *TokenSource {
	o.Audience = append([]string(nil), o.Audience...)
	if o.Permissions != nil {
		o.Permissions = append([]Permission{}, o.Permissions...)
	}
	return &TokenSource{signer: s, opts: o}
}

// Token returns the current token, signing a new one when the current one has used half of
// its lifetime (or when o.SingleUse is set).
func (ts *TokenSource) Token() (string, error) {
	if ts.opts.SingleUse {
		return ts.signer.Token(ts.opts)
	}
	now := time.Now
	if ts.opts.Now != nil {
		now = ts.opts.Now
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t := now()
	if ts.token != "" && t.Before(ts.renewAt) {
		return ts.token, nil
	}
	tok, err := ts.signer.Token(ts.opts)
	if err != nil {
		return "", err
	}
	ttl := ts.opts.TTL
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	// Token truncates iat to the second; renew relative to that iat so the token handed
	// out never has less than half of its lifetime left.
	ts.token, ts.renewAt = tok, t.Truncate(time.Second).Add(ttl/2)
	return tok, nil
}
