package httpapi

import (
	"context"
	"net/http"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// ReauthorizeConnection implements POST /api/v1/connections/{id}/_reauthorize.
func (s *Server) ReauthorizeConnection(ctx context.Context, req api.ReauthorizeConnectionRequestObject) (api.ReauthorizeConnectionResponseObject, error) {
	return nil, problem.New(http.StatusNotImplemented, "not implemented yet")
}
