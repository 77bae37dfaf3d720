package httpapi

import (
	"context"
	"encoding/json"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// loadConnector fetches a connector and checks verb on it; a connector the caller may not
// see is reported exactly like a missing one.
func (s *Server) loadConnector(ctx context.Context, connectorID, verb string) (*connector.Connector, error) {
	c, err := s.connectors.Get(ctx, connectorID)
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, c.Namespace, authz.ResourceConnectors, verb, c.ID, connector.NotFound()); err != nil {
		return nil, err
	}
	return c, nil
}

func toAPIConnector(c *connector.Connector) api.Connector {
	out := api.Connector{Id: c.ID, Namespace: c.Namespace, Name: c.Name, Labels: c.Labels, Annotations: c.Annotations,
		LatestVersion: c.LatestVersion, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if c.PrimaryVersion > 0 {
		n := c.PrimaryVersion
		out.PrimaryVersion = &n
	}
	return out
}

func toAPIConnectorVersion(v *connector.Version) (api.ConnectorVersion, error) {
	var def map[string]any
	if err := json.Unmarshal(v.Definition, &def); err != nil {
		return api.ConnectorVersion{}, err
	}
	return api.ConnectorVersion{ConnectorId: v.ConnectorID, Namespace: v.Namespace, Version: v.Version,
		State: api.ConnectorVersionState(v.State), Definition: def, DefinitionHash: v.DefinitionHash,
		HasClientSecret: v.HasClientSecret, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
		PublishedAt: v.PublishedAt, ArchivedAt: v.ArchivedAt}, nil
}

// ListConnectors implements GET /api/v1/connectors.
func (s *Server) ListConnectors(ctx context.Context, req api.ListConnectorsRequestObject) (api.ListConnectorsResponseObject, error) {
	p := req.Params
	sel, err := listFilters(p.LabelSelector, "namespace", p.Namespace)
	if err != nil {
		return nil, err
	}
	items, next, err := s.connectors.List(ctx, store.ListOptions{
		Namespace: deref(p.Namespace), Selector: sel, Scope: scope(ctx, authz.ResourceConnectors), Page: page(p.Limit, p.Cursor),
	})
	if err != nil {
		return nil, err
	}
	out := api.ListConnectors200JSONResponse{Items: make([]api.Connector, 0, len(items))}
	for i := range items {
		out.Items = append(out.Items, toAPIConnector(&items[i]))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

// CreateConnector implements POST /api/v1/connectors.
func (s *Server) CreateConnector(ctx context.Context, req api.CreateConnectorRequestObject) (api.CreateConnectorResponseObject, error) {
	b := req.Body
	if err := validPath("namespace", b.Namespace); err != nil {
		return nil, err
	}
	if err := authorize(ctx, b.Namespace, authz.ResourceConnectors, authz.VerbCreate, "",
		problem.Forbidden("not permitted to create connectors in namespace %q", b.Namespace)); err != nil {
		return nil, err
	}
	c, err := s.connectors.Create(ctx, connector.Connector{Namespace: b.Namespace, Name: b.Name,
		Labels: mapOrNil(b.Labels), Annotations: mapOrNil(b.Annotations)})
	if err != nil {
		return nil, err
	}
	return api.CreateConnector201JSONResponse(toAPIConnector(c)), nil
}

// ValidateConnectorDefinition implements POST /api/v1/connectors/_validate.
func (s *Server) ValidateConnectorDefinition(ctx context.Context, req api.ValidateConnectorDefinitionRequestObject) (api.ValidateConnectorDefinitionResponseObject, error) {
	if CallerFrom(ctx) == nil {
		return nil, problem.Unauthorized("not authenticated")
	}
	_, errs := definition.Parse([]byte(req.Body.Definition))
	out := api.ValidateConnectorDefinition200JSONResponse{Valid: len(errs) == 0, Errors: make([]api.DefinitionError, 0, len(errs))}
	for _, e := range errs {
		de := api.DefinitionError{Field: e.Field, Message: e.Message}
		if e.Line > 0 {
			line := e.Line
			de.Line = &line
		}
		out.Errors = append(out.Errors, de)
	}
	return out, nil
}

// GetConnector implements GET /api/v1/connectors/{id}.
func (s *Server) GetConnector(ctx context.Context, req api.GetConnectorRequestObject) (api.GetConnectorResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbGet)
	if err != nil {
		return nil, err
	}
	return api.GetConnector200JSONResponse(toAPIConnector(c)), nil
}

// UpdateConnector implements PATCH /api/v1/connectors/{id}.
func (s *Server) UpdateConnector(ctx context.Context, req api.UpdateConnectorRequestObject) (api.UpdateConnectorResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	c, err = s.connectors.Update(ctx, c.ID, mapPtr(req.Body.Labels), mapPtr(req.Body.Annotations))
	if err != nil {
		return nil, err
	}
	return api.UpdateConnector200JSONResponse(toAPIConnector(c)), nil
}

// DeleteConnector implements DELETE /api/v1/connectors/{id}.
func (s *Server) DeleteConnector(ctx context.Context, req api.DeleteConnectorRequestObject) (api.DeleteConnectorResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbDelete)
	if err != nil {
		return nil, err
	}
	if err := s.connectors.Delete(ctx, c.ID); err != nil {
		return nil, err
	}
	return api.DeleteConnector204Response{}, nil
}

// DemoteConnector implements POST /api/v1/connectors/{id}/_demote.
func (s *Server) DemoteConnector(ctx context.Context, req api.DemoteConnectorRequestObject) (api.DemoteConnectorResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbPromote)
	if err != nil {
		return nil, err
	}
	c, err = s.connectors.Demote(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return api.DemoteConnector200JSONResponse(toAPIConnector(c)), nil
}

// ListConnectorVersions implements GET /api/v1/connectors/{id}/versions.
func (s *Server) ListConnectorVersions(ctx context.Context, req api.ListConnectorVersionsRequestObject) (api.ListConnectorVersionsResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbGet)
	if err != nil {
		return nil, err
	}
	state := ""
	if req.Params.State != nil {
		state = string(*req.Params.State)
	}
	vs, err := s.connectors.ListVersions(ctx, c.ID, state)
	if err != nil {
		return nil, err
	}
	out := api.ListConnectorVersions200JSONResponse{Items: make([]api.ConnectorVersion, 0, len(vs))}
	for i := range vs {
		v, err := toAPIConnectorVersion(&vs[i])
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, v)
	}
	return out, nil
}

// CreateConnectorVersion implements POST /api/v1/connectors/{id}/versions.
func (s *Server) CreateConnectorVersion(ctx context.Context, req api.CreateConnectorVersionRequestObject) (api.CreateConnectorVersionResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	v, err := s.connectors.CreateVersion(ctx, c.ID, req.Body.Definition, req.Body.ClientSecret)
	if err != nil {
		return nil, err
	}
	out, err := toAPIConnectorVersion(v)
	if err != nil {
		return nil, err
	}
	return api.CreateConnectorVersion201JSONResponse(out), nil
}

// GetConnectorVersion implements GET /api/v1/connectors/{id}/versions/{version}.
func (s *Server) GetConnectorVersion(ctx context.Context, req api.GetConnectorVersionRequestObject) (api.GetConnectorVersionResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbGet)
	if err != nil {
		return nil, err
	}
	v, err := s.connectors.GetVersion(ctx, c.ID, req.Version)
	if err != nil {
		return nil, err
	}
	out, err := toAPIConnectorVersion(v)
	if err != nil {
		return nil, err
	}
	return api.GetConnectorVersion200JSONResponse(out), nil
}

// UpdateConnectorVersion implements PUT /api/v1/connectors/{id}/versions/{version}.
func (s *Server) UpdateConnectorVersion(ctx context.Context, req api.UpdateConnectorVersionRequestObject) (api.UpdateConnectorVersionResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	v, err := s.connectors.UpdateVersion(ctx, c.ID, req.Version, req.Body.Definition, req.Body.ClientSecret)
	if err != nil {
		return nil, err
	}
	out, err := toAPIConnectorVersion(v)
	if err != nil {
		return nil, err
	}
	return api.UpdateConnectorVersion200JSONResponse(out), nil
}

// PromoteConnectorVersion implements POST /api/v1/connectors/{id}/versions/{version}/_promote.
func (s *Server) PromoteConnectorVersion(ctx context.Context, req api.PromoteConnectorVersionRequestObject) (api.PromoteConnectorVersionResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbPromote)
	if err != nil {
		return nil, err
	}
	v, err := s.connectors.Promote(ctx, c.ID, req.Version)
	if err != nil {
		return nil, err
	}
	out, err := toAPIConnectorVersion(v)
	if err != nil {
		return nil, err
	}
	return api.PromoteConnectorVersion200JSONResponse(out), nil
}

// ArchiveConnectorVersion implements POST /api/v1/connectors/{id}/versions/{version}/_archive.
func (s *Server) ArchiveConnectorVersion(ctx context.Context, req api.ArchiveConnectorVersionRequestObject) (api.ArchiveConnectorVersionResponseObject, error) {
	c, err := s.loadConnector(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	v, err := s.connectors.Archive(ctx, c.ID, req.Version)
	if err != nil {
		return nil, err
	}
	out, err := toAPIConnectorVersion(v)
	if err != nil {
		return nil, err
	}
	return api.ArchiveConnectorVersion200JSONResponse(out), nil
}
