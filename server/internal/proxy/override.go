package proxy

import (
	"context"

	"github.com/authproxy/authproxy/server/internal/connection"
)

// overrideKey carries candidate credentials in a context; the type is unexported, so only
// WithCandidateCredentials sets it, and nothing an API caller sends can.
type overrideKey struct{}

// WithCandidateCredentials returns a context whose calls through the proxy inject creds
// instead of the connection's stored credentials (API-key connectors; OAuth2 tokens always
// come from the store). Package probe uses it to try an API key before it is stored.
func WithCandidateCredentials(ctx context.Context, creds *connection.Credentials) context.Context {
	return context.WithValue(ctx, overrideKey{}, creds)
}

// credentials are the candidate credentials of ctx, or else the connection's stored ones.
func (p *Proxy) credentials(ctx context.Context, c *connection.Connection) (*connection.Credentials, error) {
	if creds, ok := ctx.Value(overrideKey{}).(*connection.Credentials); ok {
		return creds, nil
	}
	return p.Connections.Credentials(ctx, c.ID)
}
