package httpapi

import (
	"context"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/oauthflow"
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
	if s.oauth2Flow == nil {
		return nil, problem.Conflict("OAuth2 authorization is not available on this server")
	}
	var actorID string
	if caller := CallerFrom(ctx); caller != nil && caller.Principal != nil {
		actorID = caller.Principal.ID
	}
	c, u, err := s.oauth2Flow.Reauthorize(ctx, c.ID, actorID, oauthflow.Options{})
	if err != nil {
		return nil, err
	}
	out := toAPIConnection(c)
	if u != "" {
		setAuthorizeURL(&out, u)
	}
	return api.ReauthorizeConnection200JSONResponse(out), nil
}
