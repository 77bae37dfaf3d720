package httpapi

import (
	"context"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// Whoami implements GET /api/v1/whoami: the caller and its effective permissions. It needs
// no permission: every authenticated actor may see itself.
func (s *Server) Whoami(ctx context.Context, _ api.WhoamiRequestObject) (api.WhoamiResponseObject, error) {
	c := CallerFrom(ctx)
	if c == nil {
		return nil, problem.Unauthorized("not authenticated")
	}
	a, err := s.actors.Get(ctx, c.Principal.ID)
	if err != nil {
		return nil, err
	}
	return api.Whoami200JSONResponse{Actor: toAPIActor(a), Permissions: toAPIPermissions(c.Effective)}, nil
}
