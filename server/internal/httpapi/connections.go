package httpapi

import (
	"context"
	"net/http"
	"unicode/utf8"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/oauthflow"
	"github.com/authproxy/authproxy/server/internal/probe"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/proxy"
	"github.com/authproxy/authproxy/server/internal/store"
)

// loadConnection fetches a connection and checks verb on it; a connection the caller may
// not see is reported exactly like a missing one.
func (s *Server) loadConnection(ctx context.Context, connectionID, verb string) (*connection.Connection, error) {
	c, err := s.connections.Get(ctx, connectionID)
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, c.Namespace, authz.ResourceConnections, verb, c.ID, connection.NotFound()); err != nil {
		return nil, err
	}
	return c, nil
}

func toAPIConnection(c *connection.Connection) api.Connection {
	out := api.Connection{Id: c.ID, Namespace: c.Namespace, ConnectorId: c.ConnectorID, ConnectorVersion: c.ConnectorVersion,
		State: api.ConnectionState(c.State), Health: api.ConnectionHealth(c.Health), Labels: c.Labels,
		Annotations: c.Annotations, Config: c.Config, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		ProbeFailures: &c.ProbeFailures, LastProbedAt: c.LastProbedAt}
	if c.HealthReason != "" {
		out.HealthReason = &c.HealthReason
	}
	if c.OwnerActorID != "" {
		out.OwnerActorId = &c.OwnerActorID
	}
	return out
}

// ListConnections implements GET /api/v1/connections.
func (s *Server) ListConnections(ctx context.Context, req api.ListConnectionsRequestObject) (api.ListConnectionsResponseObject, error) {
	p := req.Params
	sel, err := listFilters(p.LabelSelector, "namespace", p.Namespace)
	if err != nil {
		return nil, err
	}
	var f connection.Filter
	if p.ConnectorId != nil {
		f.ConnectorID = *p.ConnectorId
	}
	if p.State != nil {
		f.State = string(*p.State)
	}
	if p.OwnerActorId != nil {
		f.OwnerActorID = *p.OwnerActorId
	}
	if p.Health != nil {
		f.Health = string(*p.Health)
	}
	items, next, err := s.connections.List(ctx, store.ListOptions{
		Namespace: deref(p.Namespace), Selector: sel, Scope: scope(ctx, authz.ResourceConnections), Page: page(p.Limit, p.Cursor),
	}, f)
	if err != nil {
		return nil, err
	}
	out := api.ListConnections200JSONResponse{Items: make([]api.Connection, 0, len(items))}
	for i := range items {
		out.Items = append(out.Items, toAPIConnection(&items[i]))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

// CreateConnection implements POST /api/v1/connections: connections:create in the
// namespace and connectors:get on the connector.
func (s *Server) CreateConnection(ctx context.Context, req api.CreateConnectionRequestObject) (api.CreateConnectionResponseObject, error) {
	b := req.Body
	if err := validPath("namespace", b.Namespace); err != nil {
		return nil, err
	}
	if err := authorize(ctx, b.Namespace, authz.ResourceConnections, authz.VerbCreate, "",
		problem.Forbidden("not permitted to create connections in namespace %q", b.Namespace)); err != nil {
		return nil, err
	}
	if _, err := s.loadConnector(ctx, b.ConnectorId, authz.VerbGet); err != nil {
		return nil, problem.InvalidField("connectorId", "connector %s not found", b.ConnectorId)
	}
	n := connection.New{Namespace: b.Namespace, ConnectorID: b.ConnectorId,
		Labels: mapOrNil(b.Labels), Annotations: mapOrNil(b.Annotations), Config: mapOrNil(b.Config), APIKey: b.ApiKey}
	if b.OwnerActorId != nil {
		owner, err := s.owner(ctx, b.Namespace, *b.OwnerActorId)
		if err != nil {
			return nil, err
		}
		n.OwnerActorID = owner
	}
	var verified *probe.Verification
	if b.Verify != nil && *b.Verify {
		// The connector's probes run with the key before anything is written.
		v, err := s.verification()
		if err != nil {
			return nil, err
		}
		verified, n.Verify = v, v.Verify
	}
	c, err := s.connections.Create(ctx, n)
	if err != nil {
		return nil, err
	}
	c = verified.Record(ctx, c)
	out := toAPIConnection(c)
	if c.State == connection.Setup {
		// An OAuth2 authorization code connection: the user authorizes it through the
		// public service.
		if s.oauth2Flow == nil {
			return nil, problem.Conflict("OAuth2 authorization is not available on this server")
		}
		var actorID string
		if caller := CallerFrom(ctx); caller != nil && caller.Principal != nil {
			actorID = caller.Principal.ID
		}
		u, err := s.oauth2Flow.Authorize(ctx, c, actorID, oauthflow.Options{})
		if err != nil {
			return nil, err
		}
		setAuthorizeURL(&out, u)
	}
	return api.CreateConnection201JSONResponse(out), nil
}

// GetConnection implements GET /api/v1/connections/{id}.
func (s *Server) GetConnection(ctx context.Context, req api.GetConnectionRequestObject) (api.GetConnectionResponseObject, error) {
	c, err := s.loadConnection(ctx, req.Id, authz.VerbGet)
	if err != nil {
		return nil, err
	}
	return api.GetConnection200JSONResponse(toAPIConnection(c)), nil
}

// UpdateConnection implements PATCH /api/v1/connections/{id}.
func (s *Server) UpdateConnection(ctx context.Context, req api.UpdateConnectionRequestObject) (api.UpdateConnectionResponseObject, error) {
	c, err := s.loadConnection(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	c, err = s.connections.Update(ctx, c.ID, mapPtr(req.Body.Labels), mapPtr(req.Body.Annotations))
	if err != nil {
		return nil, err
	}
	return api.UpdateConnection200JSONResponse(toAPIConnection(c)), nil
}

// DeleteConnection implements DELETE /api/v1/connections/{id}.
func (s *Server) DeleteConnection(ctx context.Context, req api.DeleteConnectionRequestObject) (api.DeleteConnectionResponseObject, error) {
	c, err := s.loadConnection(ctx, req.Id, authz.VerbDelete)
	if err != nil {
		return nil, err
	}
	if err := s.connections.Delete(ctx, c.ID); err != nil {
		return nil, err
	}
	return api.DeleteConnection204Response{}, nil
}

// SetConnectionApiKey implements PUT /api/v1/connections/{id}/apiKey.
func (s *Server) SetConnectionApiKey(ctx context.Context, req api.SetConnectionApiKeyRequestObject) (api.SetConnectionApiKeyResponseObject, error) {
	c, err := s.loadConnection(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	var verified *probe.Verification
	if req.Body.Verify != nil && *req.Body.Verify {
		// The old key stays when the new one fails the connector's probes.
		if verified, err = s.verification(); err != nil {
			return nil, err
		}
		if err := verified.Verify(ctx, c, deref(req.Body.ApiKey)); err != nil {
			return nil, err
		}
	}
	c, err = s.connections.SetAPIKey(ctx, c.ID, deref(req.Body.ApiKey))
	if err != nil {
		return nil, err
	}
	c = verified.Record(ctx, c)
	return api.SetConnectionApiKey200JSONResponse(toAPIConnection(c)), nil
}

// DisconnectConnection implements POST /api/v1/connections/{id}/_disconnect.
func (s *Server) DisconnectConnection(ctx context.Context, req api.DisconnectConnectionRequestObject) (api.DisconnectConnectionResponseObject, error) {
	c, err := s.loadConnection(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	c, err = s.connections.Disconnect(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	return api.DisconnectConnection200JSONResponse(toAPIConnection(c)), nil
}

// ProxyConnection implements POST /api/v1/connections/{id}/_proxy.
func (s *Server) ProxyConnection(ctx context.Context, req api.ProxyConnectionRequestObject) (api.ProxyConnectionResponseObject, error) {
	c, err := s.loadConnection(ctx, req.Id, authz.VerbProxy)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var body []byte
	switch {
	case b.Body != nil && b.BodyBase64 != nil:
		return nil, problem.InvalidField("bodyBase64", "give body or bodyBase64, not both")
	case b.Body != nil:
		body = []byte(*b.Body)
	case b.BodyBase64 != nil:
		body = *b.BodyBase64
	}
	if len(body) > proxy.MaxBody {
		return nil, problem.InvalidField("body", "is %d bytes, more than %d", len(body), proxy.MaxBody)
	}
	h := http.Header{}
	if b.Headers != nil {
		for k, vs := range *b.Headers {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
	}
	resp, err := s.proxy.Do(ctx, c, proxy.Request{Method: string(b.Method), URL: b.Url, Header: h, Body: body})
	if err != nil {
		return nil, err
	}
	out := api.ProxyConnection200JSONResponse{Status: resp.Status, Headers: map[string][]string(resp.Header)}
	if utf8.Valid(resp.Body) {
		s := string(resp.Body)
		out.Body = &s
	} else {
		out.BodyBase64 = &resp.Body
	}
	return out, nil
}

func setAuthorizeURL(c *api.Connection, u string) { c.AuthorizeUrl = &u }

// owner checks the end user a new connection in ns is to belong to: an actor in ns whom
// the caller may impersonate. An actor the caller may not see is reported as missing.
func (s *Server) owner(ctx context.Context, ns, actorID string) (string, error) {
	missing := problem.InvalidField("ownerActorId", "actor %s not found", actorID)
	a, err := s.actors.Get(ctx, actorID)
	if p := problem.As(err); err != nil && p.Status == http.StatusNotFound {
		return "", missing
	}
	if err != nil {
		return "", err
	}
	if err := authorize(ctx, a.Namespace, authz.ResourceActors, authz.VerbImpersonate, a.ID, missing); err != nil {
		return "", err
	}
	if a.Namespace != ns {
		return "", problem.InvalidField("ownerActorId", "actor %s is in namespace %q; a connection's owner must be in the connection's namespace %q", a.ID, a.Namespace, ns)
	}
	return a.ID, nil
}
