package httpapi

import (
	"context"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// ReauthorizeConnection implements POST /api/v1/connections/{id}/_reauthorize
// (connections:update): see connection.Service.Reauthorize. An authorization code
// connection gets a new flow whose authorizeUrl is in the answer.
func (s *Server) ReauthorizeConnection(ctx context.Context, req api.ReauthorizeConnectionRequestObject) (api.ReauthorizeConnectionResponseObject, error) {
	c, err := s.loadConnection(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	wasState := c.State
	c, needsFlow, err := s.connections.Reauthorize(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	out := toAPIConnection(c)
	if needsFlow {
		var actorID string
		if caller := CallerFrom(ctx); caller != nil && caller.Principal != nil {
			actorID = caller.Principal.ID
		}
		var u string
		var err error = problem.Conflict("OAuth2 authorization is not available on this server")
		if s.oauth2Flow != nil {
			u, err = s.oauth2Flow.Begin(ctx, c, actorID)
		}
		if err != nil {
			if wasState != connection.Ready && wasState != connection.Setup {
				// It was moved to setup for this flow: it fails again, with the reason.
				_ = s.connections.MarkFailed(context.WithoutCancel(ctx), c.ID, "starting the OAuth2 authorization failed")
			}
			return nil, err
		}
		setAuthorizeURL(&out, u)
	}
	return api.ReauthorizeConnection200JSONResponse(out), nil
}
