package httpapi

import (
	"context"
	"net/http"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/probe"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// ProbeConnection implements POST /api/v1/connections/{id}/_probe: connections:proxy on the
// connection.
func (s *Server) ProbeConnection(ctx context.Context, req api.ProbeConnectionRequestObject) (api.ProbeConnectionResponseObject, error) {
	c, err := s.loadConnection(ctx, req.Id, authz.VerbProxy)
	if err != nil {
		return nil, err
	}
	if s.probes == nil {
		return nil, problem.New(http.StatusNotImplemented, "probes are not available on this server")
	}
	rep, err := s.probes.Run(ctx, c)
	if err != nil {
		return nil, err
	}
	return api.ProbeConnection200JSONResponse(toAPIProbeReport(rep, rep.Connection)), nil
}

func toAPIProbeReport(rep *probe.Report, c *connection.Connection) api.ProbeReport {
	out := api.ProbeReport{Healthy: rep.Healthy, Results: make([]api.ProbeResult, 0, len(rep.Results)), Connection: toAPIConnection(c)}
	for _, r := range rep.Results {
		res := api.ProbeResult{Name: r.Name, Method: r.Method, Url: r.URL, Healthy: r.Healthy, Status: r.Status,
			DurationMs: float64(r.Duration.Microseconds()) / 1000}
		if r.Error != "" {
			res.Error = &r.Error
		}
		out.Results = append(out.Results, res)
	}
	return out
}

// verification is the check of a new API key that "verify": true asks for.
func (s *Server) verification() (*probe.Verification, error) {
	if s.probes == nil {
		return nil, problem.New(http.StatusNotImplemented, "probes are not available on this server")
	}
	return s.probes.NewVerification(false), nil
}
