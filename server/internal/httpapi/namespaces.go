package httpapi

import (
	"context"
	"strings"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/labels"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
)

func validPath(field, p string) error {
	if err := namespace.ValidatePath(p); err != nil {
		return problem.InvalidField(field, "namespace path %q %v", p, err)
	}
	return nil
}

func parseSelector(s *string) (labels.Selector, error) {
	sel, err := labels.ParseSelector(deref(s))
	if err != nil {
		return labels.Selector{}, problem.InvalidField("labelSelector", "%s", strings.TrimPrefix(err.Error(), "labelSelector: "))
	}
	return sel, nil
}

// listFilters checks the filters every list endpoint shares: the label selector and an
// optional namespace path (named field in errors).
func listFilters(selector *string, field string, ns *string) (labels.Selector, error) {
	sel, err := parseSelector(selector)
	if err != nil {
		return labels.Selector{}, err
	}
	if ns != nil {
		if err := validPath(field, *ns); err != nil {
			return labels.Selector{}, err
		}
	}
	return sel, nil
}

// ListNamespaces implements GET /api/v1/namespaces.
func (s *Server) ListNamespaces(ctx context.Context, req api.ListNamespacesRequestObject) (api.ListNamespacesResponseObject, error) {
	p := req.Params
	sel, err := listFilters(p.LabelSelector, "childrenOf", p.ChildrenOf)
	if err != nil {
		return nil, err
	}
	items, next, err := s.namespaces.List(ctx, namespace.ListOptions{
		ChildrenOf: deref(p.ChildrenOf), Selector: sel, Scope: scope(ctx, authz.ResourceNamespaces), Page: page(p.Limit, p.Cursor),
	})
	if err != nil {
		return nil, err
	}
	out := api.ListNamespaces200JSONResponse{Items: make([]api.Namespace, 0, len(items))}
	for i := range items {
		out.Items = append(out.Items, toAPINamespace(&items[i]))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

// CreateNamespace implements POST /api/v1/namespaces.
func (s *Server) CreateNamespace(ctx context.Context, req api.CreateNamespaceRequestObject) (api.CreateNamespaceResponseObject, error) {
	b := req.Body
	if err := validPath("path", b.Path); err != nil {
		return nil, err
	}
	if err := authorize(ctx, b.Path, authz.ResourceNamespaces, authz.VerbCreate, b.Path,
		problem.Forbidden("not permitted to create namespace %q", b.Path)); err != nil {
		return nil, err
	}
	n, err := s.namespaces.Create(ctx, namespace.Namespace{Path: b.Path, Labels: mapOrNil(b.Labels), Annotations: mapOrNil(b.Annotations)})
	if err != nil {
		return nil, err
	}
	return api.CreateNamespace201JSONResponse(toAPINamespace(n)), nil
}

// authorizeNamespace checks verb on an existing namespace path.
func authorizeNamespace(ctx context.Context, path, verb string) error {
	if err := validPath("path", path); err != nil {
		return err
	}
	return authorize(ctx, path, authz.ResourceNamespaces, verb, path, namespace.NotFound(path))
}

// GetNamespace implements GET /api/v1/namespaces/{path}.
func (s *Server) GetNamespace(ctx context.Context, req api.GetNamespaceRequestObject) (api.GetNamespaceResponseObject, error) {
	if err := authorizeNamespace(ctx, req.Path, authz.VerbGet); err != nil {
		return nil, err
	}
	n, err := s.namespaces.Get(ctx, req.Path)
	if err != nil {
		return nil, err
	}
	return api.GetNamespace200JSONResponse(toAPINamespace(n)), nil
}

// UpdateNamespace implements PATCH /api/v1/namespaces/{path}.
func (s *Server) UpdateNamespace(ctx context.Context, req api.UpdateNamespaceRequestObject) (api.UpdateNamespaceResponseObject, error) {
	if err := authorizeNamespace(ctx, req.Path, authz.VerbUpdate); err != nil {
		return nil, err
	}
	n, err := s.namespaces.Update(ctx, req.Path, mapPtr(req.Body.Labels), mapPtr(req.Body.Annotations))
	if err != nil {
		return nil, err
	}
	return api.UpdateNamespace200JSONResponse(toAPINamespace(n)), nil
}

// DeleteNamespace implements DELETE /api/v1/namespaces/{path}.
func (s *Server) DeleteNamespace(ctx context.Context, req api.DeleteNamespaceRequestObject) (api.DeleteNamespaceResponseObject, error) {
	if err := authorizeNamespace(ctx, req.Path, authz.VerbDelete); err != nil {
		return nil, err
	}
	if err := s.namespaces.Delete(ctx, req.Path); err != nil {
		return nil, err
	}
	return api.DeleteNamespace204Response{}, nil
}
