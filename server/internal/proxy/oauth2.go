package proxy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/requestlog"
)

// oauthCall gets the OAuth2 token of one proxied call.
type oauthCall struct {
	p      *Proxy
	c      *connection.Connection
	def    *definition.Definition
	info   *call
	client *oauth2.Client
	used   *oauth2.Token
}

func (o *oauthCall) lead() time.Duration {
	return connection.RefreshLeadTime(o.def)
}

// token returns a token valid for the connector's lead time: from the credentials cache when
// it is (no database read, no Redis), through the refresher otherwise.
func (o *oauthCall) token(ctx context.Context) (*oauth2.Token, error) {
	creds, err := o.p.Connections.Credentials(ctx, o.c.ID)
	if err != nil {
		return nil, err
	}
	tok, err := creds.OAuth2Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		o.info.class = requestlog.ClassNotReady
		return nil, problem.Conflict("connection %s has no OAuth2 token: authorize it first", o.c.ID)
	}
	if tok.ValidFor(o.lead()) {
		o.used = tok
		return tok, nil
	}
	if o.p.Refresher == nil {
		if tok.ValidFor(0) {
			o.used = tok
			return tok, nil
		}
		o.info.class = requestlog.ClassNotReady
		return nil, problem.New(http.StatusServiceUnavailable, "connection %s: the OAuth2 token expired and token refresh is not available", o.c.ID)
	}
	cl, err := o.oauthClient(ctx)
	if err != nil {
		return nil, err
	}
	tok, err = o.p.Refresher.Token(ctx, o.c.ID, cl, o.lead())
	if err != nil {
		return nil, o.refreshError(ctx, err)
	}
	o.used = tok
	return tok, nil
}

// forceRefresh is for an upstream 401 on the token used.
func (o *oauthCall) forceRefresh(ctx context.Context) (*oauth2.Token, error) {
	if o.p.Refresher == nil {
		o.info.class = requestlog.ClassNotReady
		return nil, problem.New(http.StatusServiceUnavailable, "connection %s: the upstream refused the OAuth2 token and token refresh is not available", o.c.ID)
	}
	cl, err := o.oauthClient(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := o.p.Refresher.ForceRefresh(ctx, o.c.ID, cl, o.used)
	if err != nil {
		return nil, o.refreshError(ctx, err)
	}
	o.used = tok
	return tok, nil
}

func (o *oauthCall) oauthClient(ctx context.Context) (*oauth2.Client, error) {
	if o.client == nil {
		cl, err := o.p.Connections.ClientFor(ctx, o.c)
		if err != nil {
			return nil, err
		}
		o.client = cl
	}
	return o.client, nil
}

// refreshError maps a failed refresh: no lock service → 503; the provider refused for good
// (invalid_grant, invalid_client, no refresh token) → the connection is marked unhealthy
// and the call gets 409; anything else (network, 5xx) → 502.
func (o *oauthCall) refreshError(ctx context.Context, err error) error {
	o.info.class = requestlog.ClassNotReady
	switch {
	case errors.Is(err, oauth2.ErrRefreshUnavailable):
		return problem.New(http.StatusServiceUnavailable, "connection %s: the OAuth2 token needs a refresh, which is unavailable right now (the lock service cannot be reached); retry later", o.c.ID)
	case errors.Is(err, oauth2.ErrNoToken):
		return problem.Conflict("connection %s has no OAuth2 token: authorize it again", o.c.ID)
	case oauth2.IsPermanent(err):
		if _, merr := o.p.Connections.RefreshRefused(ctx, o.c.ID, err); merr != nil {
			return merr
		}
		return problem.Conflict("connection %s can no longer get an OAuth2 token (%v): it is marked unhealthy; authorize it again", o.c.ID, err)
	case ctx.Err() != nil:
		o.info.class = requestlog.ClassTimeout
		return problem.New(http.StatusGatewayTimeout, "connection %s: refreshing the OAuth2 token did not finish in time", o.c.ID)
	}
	return problem.New(http.StatusBadGateway, "connection %s: refreshing the OAuth2 token failed: %v", o.c.ID, err)
}
