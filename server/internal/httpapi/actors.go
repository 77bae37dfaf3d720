package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/authproxy/authproxy/server/internal/actor"
	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// checkGrant refuses permissions the caller does not hold itself: nobody can hand out more
// than it has. Malformed permissions are left to validation, which answers 400 naming them.
func checkGrant(ctx context.Context, actorNamespace string, ps []authz.Permission) error {
	c := CallerFrom(ctx)
	var fields []problem.FieldError
	for i, p := range ps {
		if len(authz.Validate(p, actorNamespace)) > 0 {
			continue
		}
		if !authz.Covers(c.Effective, p) {
			fields = append(fields, problem.FieldError{Field: fmt.Sprintf("permissions[%d]", i),
				Message: "grants more than the calling actor holds; an actor can only grant permissions it has"})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	e := problem.Invalid(fields...)
	e.Status, e.Title = http.StatusForbidden, http.StatusText(http.StatusForbidden)
	return e
}

// ListActors implements GET /api/v1/actors.
func (s *Server) ListActors(ctx context.Context, req api.ListActorsRequestObject) (api.ListActorsResponseObject, error) {
	p := req.Params
	sel, err := listFilters(p.LabelSelector, "namespace", p.Namespace)
	if err != nil {
		return nil, err
	}
	items, next, err := s.actors.List(ctx, store.ListOptions{
		Namespace: deref(p.Namespace), Selector: sel, Scope: scope(ctx, authz.ResourceActors), Page: page(p.Limit, p.Cursor),
	})
	if err != nil {
		return nil, err
	}
	out := api.ListActors200JSONResponse{Items: make([]api.Actor, 0, len(items))}
	for i := range items {
		out.Items = append(out.Items, toAPIActor(&items[i]))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

// CreateActor implements POST /api/v1/actors.
func (s *Server) CreateActor(ctx context.Context, req api.CreateActorRequestObject) (api.CreateActorResponseObject, error) {
	b := req.Body
	if err := validPath("namespace", b.Namespace); err != nil {
		return nil, err
	}
	if err := authorize(ctx, b.Namespace, authz.ResourceActors, authz.VerbCreate, "",
		problem.Forbidden("not permitted to create actors in namespace %q", b.Namespace)); err != nil {
		return nil, err
	}
	a := actor.Actor{Namespace: b.Namespace, ExternalID: b.ExternalId, Name: deref(b.Name),
		Labels: mapOrNil(b.Labels), Annotations: mapOrNil(b.Annotations)}
	if b.Permissions != nil {
		a.Permissions = fromAPIPermissions(*b.Permissions)
		if err := checkGrant(ctx, a.Namespace, a.Permissions); err != nil {
			return nil, err
		}
	}
	if b.PublicKeys != nil {
		a.PublicKeys = *b.PublicKeys
	}
	created, err := s.actors.Create(ctx, a)
	if err != nil {
		return nil, err
	}
	return api.CreateActor201JSONResponse(toAPIActor(created)), nil
}

// loadActor fetches an actor and checks verb on it; an actor the caller may not see is
// reported exactly like a missing one.
func (s *Server) loadActor(ctx context.Context, get func() (*actor.Actor, error), verb string) (*actor.Actor, error) {
	a, err := get()
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, a.Namespace, authz.ResourceActors, verb, a.ID, actor.NotFound()); err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Server) byID(ctx context.Context, id string) func() (*actor.Actor, error) {
	return func() (*actor.Actor, error) { return s.actors.Get(ctx, id) }
}

func (s *Server) byExternalID(ctx context.Context, ns, ext string) func() (*actor.Actor, error) {
	return func() (*actor.Actor, error) {
		if err := validPath("path", ns); err != nil {
			return nil, err
		}
		return s.actors.GetByExternalID(ctx, ns, ext)
	}
}

func (s *Server) update(ctx context.Context, get func() (*actor.Actor, error), b *api.ActorUpdate) (*actor.Actor, error) {
	a, err := s.loadActor(ctx, get, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	p := actor.Patch{Name: b.Name, PublicKeys: b.PublicKeys, Labels: mapPtr(b.Labels), Annotations: mapPtr(b.Annotations)}
	if b.Permissions != nil {
		ps := fromAPIPermissions(*b.Permissions)
		if err := checkGrant(ctx, a.Namespace, ps); err != nil {
			return nil, err
		}
		p.Permissions = &ps
	}
	return s.actors.Update(ctx, a.ID, p)
}

func (s *Server) remove(ctx context.Context, get func() (*actor.Actor, error)) error {
	a, err := s.loadActor(ctx, get, authz.VerbDelete)
	if err != nil {
		return err
	}
	return s.actors.Delete(ctx, a.ID)
}

// GetActor implements GET /api/v1/actors/{id}.
func (s *Server) GetActor(ctx context.Context, req api.GetActorRequestObject) (api.GetActorResponseObject, error) {
	a, err := s.loadActor(ctx, s.byID(ctx, req.Id), authz.VerbGet)
	if err != nil {
		return nil, err
	}
	return api.GetActor200JSONResponse(toAPIActor(a)), nil
}

// UpdateActor implements PATCH /api/v1/actors/{id}.
func (s *Server) UpdateActor(ctx context.Context, req api.UpdateActorRequestObject) (api.UpdateActorResponseObject, error) {
	a, err := s.update(ctx, s.byID(ctx, req.Id), req.Body)
	if err != nil {
		return nil, err
	}
	return api.UpdateActor200JSONResponse(toAPIActor(a)), nil
}

// DeleteActor implements DELETE /api/v1/actors/{id}.
func (s *Server) DeleteActor(ctx context.Context, req api.DeleteActorRequestObject) (api.DeleteActorResponseObject, error) {
	if err := s.remove(ctx, s.byID(ctx, req.Id)); err != nil {
		return nil, err
	}
	return api.DeleteActor204Response{}, nil
}

// GetActorByExternalId implements GET /api/v1/namespaces/{path}/actors/{externalId}.
func (s *Server) GetActorByExternalId(ctx context.Context, req api.GetActorByExternalIdRequestObject) (api.GetActorByExternalIdResponseObject, error) {
	a, err := s.loadActor(ctx, s.byExternalID(ctx, req.Path, req.ExternalId), authz.VerbGet)
	if err != nil {
		return nil, err
	}
	return api.GetActorByExternalId200JSONResponse(toAPIActor(a)), nil
}

// UpdateActorByExternalId implements PATCH /api/v1/namespaces/{path}/actors/{externalId}.
func (s *Server) UpdateActorByExternalId(ctx context.Context, req api.UpdateActorByExternalIdRequestObject) (api.UpdateActorByExternalIdResponseObject, error) {
	a, err := s.update(ctx, s.byExternalID(ctx, req.Path, req.ExternalId), req.Body)
	if err != nil {
		return nil, err
	}
	return api.UpdateActorByExternalId200JSONResponse(toAPIActor(a)), nil
}

// DeleteActorByExternalId implements DELETE /api/v1/namespaces/{path}/actors/{externalId}.
func (s *Server) DeleteActorByExternalId(ctx context.Context, req api.DeleteActorByExternalIdRequestObject) (api.DeleteActorByExternalIdResponseObject, error) {
	if err := s.remove(ctx, s.byExternalID(ctx, req.Path, req.ExternalId)); err != nil {
		return nil, err
	}
	return api.DeleteActorByExternalId204Response{}, nil
}
