package httpapi

import (
	"github.com/authproxy/authproxy/server/internal/actor"
	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/keys"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/store"
)

func toAPINamespace(n *namespace.Namespace) api.Namespace {
	return api.Namespace{Path: n.Path, Labels: n.Labels, Annotations: n.Annotations, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
}

func toAPIActor(a *actor.Actor) api.Actor {
	return api.Actor{
		Id: a.ID, Namespace: a.Namespace, ExternalId: a.ExternalID, Name: a.Name,
		Permissions: toAPIPermissions(a.Permissions), PublicKeys: a.PublicKeys,
		Labels: a.Labels, Annotations: a.Annotations, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

func toAPIPermissions(ps []authz.Permission) []api.Permission {
	out := make([]api.Permission, 0, len(ps))
	for _, p := range ps {
		ap := api.Permission{Namespace: p.Namespace}
		for _, r := range p.Resources {
			ap.Resources = append(ap.Resources, api.Resource(r))
		}
		for _, v := range p.Verbs {
			ap.Verbs = append(ap.Verbs, api.Verb(v))
		}
		if len(p.ResourceIDs) > 0 {
			ids := append([]string(nil), p.ResourceIDs...)
			ap.ResourceIds = &ids
		}
		out = append(out, ap)
	}
	return out
}

func fromAPIPermissions(ps []api.Permission) []authz.Permission {
	out := make([]authz.Permission, 0, len(ps))
	for _, ap := range ps {
		p := authz.Permission{Namespace: ap.Namespace}
		for _, r := range ap.Resources {
			p.Resources = append(p.Resources, string(r))
		}
		for _, v := range ap.Verbs {
			p.Verbs = append(p.Verbs, string(v))
		}
		if ap.ResourceIds != nil {
			// Keep an empty list empty (not nil) so validation refuses it instead of it
			// silently meaning "any id".
			p.ResourceIDs = make([]string, len(*ap.ResourceIds))
			copy(p.ResourceIDs, *ap.ResourceIds)
		}
		out = append(out, p)
	}
	return out
}

func mapOrNil[T ~map[string]string](m *T) map[string]string {
	if m == nil {
		return nil
	}
	return map[string]string(*m)
}

func mapPtr[T ~map[string]string](m *T) *map[string]string {
	if m == nil {
		return nil
	}
	mm := map[string]string(*m)
	if mm == nil {
		mm = map[string]string{}
	}
	return &mm
}

func page(limit *int, cursor *string) store.Page {
	var p store.Page
	if limit != nil {
		p.Limit = *limit
	}
	if cursor != nil {
		p.Cursor = *cursor
	}
	return p
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func toAPIKey(k *keys.Key) api.Key {
	params := map[string]string{}
	for n, v := range k.SourceParams {
		params[n] = v
	}
	return api.Key{
		Id: k.ID, Namespace: k.Namespace, Name: k.Name,
		Source:         api.KeySource{Kind: api.KeySourceKind(k.SourceKind), Params: &params},
		CurrentVersion: k.CurrentVersion, State: api.KeyState(k.State), Labels: k.Labels, Annotations: k.Annotations,
		CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt,
	}
}

func toAPIDebt(rows []keys.DebtRow) []api.EncryptionStatusRow {
	out := make([]api.EncryptionStatusRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, api.EncryptionStatusRow{Table: r.Table, Column: r.Column,
			Namespace: r.Namespace, KeyVersionId: r.KeyVersionID, Count: r.Count})
	}
	return out
}

func toAPIJob(j *keys.Job) api.ReencryptionJob {
	out := api.ReencryptionJob{Id: j.ID, State: api.ReencryptionJobState(j.State), Reason: j.Reason,
		Scanned: j.Scanned, Rewritten: j.Rewritten, Unreadable: j.Unreadable, Total: j.Total,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt}
	if j.Table != "" {
		out.Table, out.Column = &j.Table, &j.Column
	}
	if j.Error != "" {
		out.Error = &j.Error
	}
	return out
}

func toAPIKeyVersion(v *keys.Version) api.KeyVersion {
	return api.KeyVersion{Id: v.ID, Number: v.Number, State: api.KeyVersionState(v.State), CreatedAt: v.CreatedAt}
}
