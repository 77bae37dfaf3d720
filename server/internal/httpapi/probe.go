package httpapi

import (
	"context"
	"net/http"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// ProbeConnection implements POST /api/v1/connections/{id}/_probe.
func (s *Server) ProbeConnection(ctx context.Context, req api.ProbeConnectionRequestObject) (api.ProbeConnectionResponseObject, error) {
	return nil, problem.New(http.StatusNotImplemented, "not implemented yet")
}
