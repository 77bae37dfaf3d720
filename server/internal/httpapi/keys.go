package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/keys"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// keyFieldNames maps the field names of the keys service to those of the contract.
var keyFieldNames = map[string]string{
	"sourceKind":   "source.kind",
	"sourceParams": "source.params",
}

// keyError renames the fields of a keys-service problem to the contract's names; every
// other error passes through unchanged.
func keyError(err error) error {
	var p *problem.Error
	if !errors.As(err, &p) || len(p.Fields) == 0 {
		return err
	}
	cp := *p
	cp.Fields = make([]problem.FieldError, len(p.Fields))
	for i, f := range p.Fields {
		if n, ok := keyFieldNames[f.Field]; ok {
			f.Field = n
		}
		cp.Fields[i] = f
	}
	return &cp
}

// decodeMaterial decodes base64 key material without ever echoing it.
func decodeMaterial(m *string) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(*m)
	if err != nil {
		return nil, problem.InvalidField("material", "must be base64 (standard encoding) of exactly %d bytes", encrypt.KeySize)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// authorizeServerSource keeps key sources that reach into the server itself (its
// environment, its files, and the network through an AWS endpoint) to operators: a tenant
// with keys:create in its own namespace must not be able to probe the server's environment
// or files, or make it call arbitrary hosts. Operators are callers who may create keys in
// root; generated and inline keys need nothing more than keys:create where they live.
func authorizeServerSource(ctx context.Context, kind string) error {
	switch kind {
	case string(api.KeySourceEnv), string(api.KeySourceFile), string(api.KeySourceAWSSecretsManager):
	default:
		return nil
	}
	refused := problem.Invalid(problem.FieldError{
		Field:   "source.kind",
		Message: fmt.Sprintf("%s keys read the server's own environment, files or network, so only operators (keys:create on %q) may create them; use a generated or inline key", kind, namespace.Root),
	})
	refused.Status, refused.Title = http.StatusForbidden, http.StatusText(http.StatusForbidden)
	if CallerFrom(ctx) == nil || !CallerFrom(ctx).Set.Allows(namespace.Root, authz.ResourceKeys, authz.VerbCreate, "") {
		return refused
	}
	return nil
}

// loadKey fetches a key and checks verb on it; a key the caller may not see is reported
// exactly like a missing one.
func (s *Server) loadKey(ctx context.Context, keyID, verb string) (*keys.Key, error) {
	k, err := s.keys.Get(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if err := authorize(ctx, k.Namespace, authz.ResourceKeys, verb, k.ID, keys.NotFound()); err != nil {
		return nil, err
	}
	return k, nil
}

// ListKeys implements GET /api/v1/keys.
func (s *Server) ListKeys(ctx context.Context, req api.ListKeysRequestObject) (api.ListKeysResponseObject, error) {
	p := req.Params
	sel, err := listFilters(p.LabelSelector, "namespace", p.Namespace)
	if err != nil {
		return nil, err
	}
	items, next, err := s.keys.List(ctx, store.ListOptions{
		Namespace: deref(p.Namespace), Selector: sel, Scope: scope(ctx, authz.ResourceKeys), Page: page(p.Limit, p.Cursor),
	})
	if err != nil {
		return nil, err
	}
	out := api.ListKeys200JSONResponse{Items: make([]api.Key, 0, len(items))}
	for i := range items {
		out.Items = append(out.Items, toAPIKey(&items[i]))
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

// CreateKey implements POST /api/v1/keys.
func (s *Server) CreateKey(ctx context.Context, req api.CreateKeyRequestObject) (api.CreateKeyResponseObject, error) {
	b := req.Body
	if err := validPath("namespace", b.Namespace); err != nil {
		return nil, err
	}
	if err := authorize(ctx, b.Namespace, authz.ResourceKeys, authz.VerbCreate, "",
		problem.Forbidden("not permitted to create keys in namespace %q", b.Namespace)); err != nil {
		return nil, err
	}
	if err := authorizeServerSource(ctx, string(b.Source.Kind)); err != nil {
		return nil, err
	}
	material, err := decodeMaterial(b.Material)
	if err != nil {
		return nil, err
	}
	defer clear(material)
	k := keys.Key{Namespace: b.Namespace, Name: b.Name, SourceKind: string(b.Source.Kind),
		SourceParams: mapOrNil(b.Source.Params), Labels: mapOrNil(b.Labels), Annotations: mapOrNil(b.Annotations)}
	created, err := s.keys.Create(ctx, k, material)
	if err != nil {
		return nil, keyError(err)
	}
	return api.CreateKey201JSONResponse(toAPIKey(created)), nil
}

// GetKey implements GET /api/v1/keys/{id}.
func (s *Server) GetKey(ctx context.Context, req api.GetKeyRequestObject) (api.GetKeyResponseObject, error) {
	k, err := s.loadKey(ctx, req.Id, authz.VerbGet)
	if err != nil {
		return nil, err
	}
	return api.GetKey200JSONResponse(toAPIKey(k)), nil
}

// UpdateKey implements PATCH /api/v1/keys/{id}.
func (s *Server) UpdateKey(ctx context.Context, req api.UpdateKeyRequestObject) (api.UpdateKeyResponseObject, error) {
	k, err := s.loadKey(ctx, req.Id, authz.VerbUpdate)
	if err != nil {
		return nil, err
	}
	k, err = s.keys.Update(ctx, k.ID, mapPtr(req.Body.Labels), mapPtr(req.Body.Annotations))
	if err != nil {
		return nil, keyError(err)
	}
	return api.UpdateKey200JSONResponse(toAPIKey(k)), nil
}

// DeleteKey implements DELETE /api/v1/keys/{id}.
func (s *Server) DeleteKey(ctx context.Context, req api.DeleteKeyRequestObject) (api.DeleteKeyResponseObject, error) {
	k, err := s.loadKey(ctx, req.Id, authz.VerbDelete)
	if err != nil {
		return nil, err
	}
	if err := s.keys.Delete(ctx, k.ID); err != nil {
		return nil, keyError(err)
	}
	return api.DeleteKey204Response{}, nil
}

// ListKeyVersions implements GET /api/v1/keys/{id}/versions.
func (s *Server) ListKeyVersions(ctx context.Context, req api.ListKeyVersionsRequestObject) (api.ListKeyVersionsResponseObject, error) {
	k, err := s.loadKey(ctx, req.Id, authz.VerbGet)
	if err != nil {
		return nil, err
	}
	vs, err := s.keys.Versions(ctx, k.ID)
	if err != nil {
		return nil, keyError(err)
	}
	out := api.ListKeyVersions200JSONResponse{Items: make([]api.KeyVersion, 0, len(vs))}
	for i := range vs {
		out.Items = append(out.Items, toAPIKeyVersion(&vs[i]))
	}
	return out, nil
}

// RotateKey implements POST /api/v1/keys/{id}/_rotate.
func (s *Server) RotateKey(ctx context.Context, req api.RotateKeyRequestObject) (api.RotateKeyResponseObject, error) {
	k, err := s.loadKey(ctx, req.Id, authz.VerbRotate)
	if err != nil {
		return nil, err
	}
	var material []byte
	if req.Body != nil {
		if material, err = decodeMaterial(req.Body.Material); err != nil {
			return nil, err
		}
		defer clear(material)
	}
	v, err := s.keys.Rotate(ctx, k.ID, material)
	if err != nil {
		return nil, keyError(err)
	}
	return api.RotateKey201JSONResponse(toAPIKeyVersion(v)), nil
}

// RetireKeyVersion implements DELETE /api/v1/keys/{id}/versions/{number}.
func (s *Server) RetireKeyVersion(ctx context.Context, req api.RetireKeyVersionRequestObject) (api.RetireKeyVersionResponseObject, error) {
	k, err := s.loadKey(ctx, req.Id, authz.VerbRotate)
	if err != nil {
		return nil, err
	}
	v, err := s.keys.RetireVersion(ctx, k.ID, req.Number, nil)
	if err != nil {
		return nil, keyError(err)
	}
	return api.RetireKeyVersion200JSONResponse(toAPIKeyVersion(v)), nil
}

// keyAssignment reports the key assigned to ns and the key it effectively uses.
func (s *Server) keyAssignment(ctx context.Context, ns string) (api.KeyAssignment, error) {
	out := api.KeyAssignment{Namespace: ns}
	assigned, ok, err := s.keys.Assigned(ctx, ns)
	if err != nil {
		return out, err
	}
	if ok {
		out.KeyId = &assigned
	}
	eff, ok, err := s.keys.EffectiveKey(ctx, ns)
	if err != nil {
		return out, err
	}
	if ok {
		out.EffectiveKeyId = &eff
	}
	return out, nil
}

// GetNamespaceKey implements GET /api/v1/namespaces/{path}/key.
func (s *Server) GetNamespaceKey(ctx context.Context, req api.GetNamespaceKeyRequestObject) (api.GetNamespaceKeyResponseObject, error) {
	if err := authorizeNamespace(ctx, req.Path, authz.VerbGet); err != nil {
		return nil, err
	}
	if _, err := s.namespaces.Get(ctx, req.Path); err != nil {
		return nil, err
	}
	out, err := s.keyAssignment(ctx, req.Path)
	if err != nil {
		return nil, err
	}
	return api.GetNamespaceKey200JSONResponse(out), nil
}

// AssignNamespaceKey implements PUT /api/v1/namespaces/{path}/key: it needs update on the
// namespace and get on the key.
func (s *Server) AssignNamespaceKey(ctx context.Context, req api.AssignNamespaceKeyRequestObject) (api.AssignNamespaceKeyResponseObject, error) {
	if err := authorizeNamespace(ctx, req.Path, authz.VerbUpdate); err != nil {
		return nil, err
	}
	k, err := s.loadKey(ctx, req.Body.KeyId, authz.VerbGet)
	if err != nil {
		return nil, err
	}
	if err := s.keys.Assign(ctx, req.Path, k.ID); err != nil {
		return nil, keyError(err)
	}
	out, err := s.keyAssignment(ctx, req.Path)
	if err != nil {
		return nil, err
	}
	return api.AssignNamespaceKey200JSONResponse(out), nil
}

// UnassignNamespaceKey implements DELETE /api/v1/namespaces/{path}/key.
func (s *Server) UnassignNamespaceKey(ctx context.Context, req api.UnassignNamespaceKeyRequestObject) (api.UnassignNamespaceKeyResponseObject, error) {
	if err := authorizeNamespace(ctx, req.Path, authz.VerbUpdate); err != nil {
		return nil, err
	}
	if err := s.keys.Unassign(ctx, req.Path); err != nil {
		return nil, keyError(err)
	}
	return api.UnassignNamespaceKey204Response{}, nil
}

// GetEncryptionStatus implements GET /api/v1/encryption/status: the stored values per
// column, namespace and key version, in the namespaces whose keys the caller may get.
// Values of columns without a namespace count as root's.
func (s *Server) GetEncryptionStatus(ctx context.Context, req api.GetEncryptionStatusRequestObject) (api.GetEncryptionStatusResponseObject, error) {
	c := CallerFrom(ctx)
	if c == nil {
		return nil, problem.Unauthorized("not authenticated")
	}
	if req.Params.Namespace != nil {
		if err := validPath("namespace", *req.Params.Namespace); err != nil {
			return nil, err
		}
	}
	rows, err := s.keys.Debt(ctx)
	if err != nil {
		return nil, err
	}
	out := api.GetEncryptionStatus200JSONResponse{Items: []api.EncryptionStatusRow{}}
	for _, r := range rows {
		if req.Params.Namespace != nil && r.Namespace != *req.Params.Namespace {
			continue
		}
		ns := r.Namespace
		if ns == "" {
			ns = "root"
		}
		if !c.Set.Allows(ns, authz.ResourceKeys, authz.VerbGet, "") {
			continue
		}
		out.Items = append(out.Items, toAPIDebt([]keys.DebtRow{r})...)
	}
	if c.Set.Allows(namespace.Root, authz.ResourceKeys, authz.VerbGet, "") {
		j, err := s.keys.CurrentJob(ctx)
		if err != nil {
			return nil, err
		}
		if j != nil {
			aj := toAPIJob(j)
			out.Reencryption = &aj
		}
	}
	return out, nil
}

// DestroyKey implements POST /api/v1/keys/{id}/_destroy.
func (s *Server) DestroyKey(ctx context.Context, req api.DestroyKeyRequestObject) (api.DestroyKeyResponseObject, error) {
	k, err := s.loadKey(ctx, req.Id, authz.VerbDelete)
	if err != nil {
		return nil, err
	}
	rep, err := s.keys.Destroy(ctx, k.ID, req.Body.Confirm, req.Body.DryRun != nil && *req.Body.DryRun)
	if err != nil {
		return nil, keyError(err)
	}
	return api.DestroyKey200JSONResponse{Key: toAPIKey(rep.Key), Destroyed: rep.Destroyed,
		Unreadable: toAPIDebt(rep.Unreadable), UnreadableTotal: rep.Total}, nil
}

// StartReencryption implements POST /api/v1/encryption/_reencrypt: operators only, since
// a job spans every namespace.
func (s *Server) StartReencryption(ctx context.Context, _ api.StartReencryptionRequestObject) (api.StartReencryptionResponseObject, error) {
	refused := problem.Forbidden("starting a re-encryption needs %s:%s on %q", authz.ResourceKeys, authz.VerbRotate, namespace.Root)
	if err := authorize(ctx, namespace.Root, authz.ResourceKeys, authz.VerbRotate, "", refused); err != nil {
		return nil, err
	}
	j, err := s.keys.StartReencryption(ctx, "requested through the API")
	if err != nil {
		return nil, err
	}
	return api.StartReencryption202JSONResponse(toAPIJob(j)), nil
}
