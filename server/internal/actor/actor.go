// Package actor manages actors: the users, services and agents that call AuthProxy, with
// their registered public keys and permissions.
package actor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/authn"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/id"
	"github.com/authproxy/authproxy/server/internal/invalidation"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// IDPrefix starts every actor id.
const IDPrefix = "act"

// Actor is a caller of AuthProxy.
type Actor struct {
	ID          string
	Namespace   string
	ExternalID  string
	Name        string
	Permissions []authz.Permission
	PublicKeys  []string
	Labels      map[string]string
	Annotations map[string]string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type row struct {
	ID          string `gorm:"primaryKey"`
	Namespace   string
	ExternalID  string
	Name        string
	Permissions string
	Annotations string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (row) TableName() string { return "actors" }

type keyRow struct {
	ActorID     string `gorm:"primaryKey"`
	Fingerprint string `gorm:"primaryKey"`
	Position    int
	PublicKey   string
}

func (keyRow) TableName() string { return "actor_keys" }

// Service stores actors.
type Service struct {
	DB *gorm.DB
	// Bus announces every change of an actor (keys, permissions, deletion) to the caches
	// of this replica at once and of the others promptly; nil announces nothing.
	Bus *invalidation.Bus
	// Owned are the resources that belong to actors (connections made for an end user); an
	// actor that still owns a live one is not deleted.
	Owned []Owned
}

// Owned describes rows that belong to an actor: the column holding the actor id, and the
// SQL condition of the rows that still count (a disconnected connection does not).
type Owned struct {
	Table, Column, Live, Noun string
}

// Dependent tells the namespace service that actors live in namespaces.
var Dependent = namespace.Dependent{Table: "actors", Column: "namespace", Noun: "actor(s)"}

// NotFound is the error for an actor that does not exist or that the caller may not see.
func NotFound() error { return problem.NotFound("actor not found") }

type parsedKeys struct {
	rows []keyRow
}

// validate checks everything about a (possibly partial) actor that needs no database.
func validate(a *Actor, checkPerms, checkKeys bool) (parsedKeys, []problem.FieldError) {
	var fe []problem.FieldError
	var pk parsedKeys
	if checkPerms {
		for i, p := range a.Permissions {
			for _, v := range authz.Validate(p, a.Namespace) {
				fe = append(fe, problem.FieldError{Field: fmt.Sprintf("permissions[%d].%s", i, v.Field), Message: v.Message})
			}
		}
	}
	if checkKeys {
		seen := map[string]int{}
		for i, s := range a.PublicKeys {
			k, err := authn.ParsePublicKey(s)
			if err != nil {
				fe = append(fe, problem.FieldError{Field: fmt.Sprintf("publicKeys[%d]", i), Message: err.Error()})
				continue
			}
			if j, dup := seen[k.Fingerprint]; dup {
				fe = append(fe, problem.FieldError{Field: fmt.Sprintf("publicKeys[%d]", i), Message: fmt.Sprintf("the same key as publicKeys[%d] (%s)", j, k.Fingerprint)})
				continue
			}
			seen[k.Fingerprint] = i
			pk.rows = append(pk.rows, keyRow{Fingerprint: k.Fingerprint, Position: i, PublicKey: strings.TrimSpace(s)})
		}
	}
	fe = append(fe, namespace.ValidateFields(a.Labels, a.Annotations)...)
	return pk, fe
}

// Create adds an actor to an existing namespace.
func (s *Service) Create(ctx context.Context, a Actor) (*Actor, error) {
	if err := namespace.ValidatePath(a.Namespace); err != nil {
		return nil, problem.InvalidField("namespace", "namespace path %q %v", a.Namespace, err)
	}
	keys, fe := validate(&a, true, true)
	if len(fe) > 0 {
		return nil, problem.Invalid(fe...)
	}
	now := time.Now().UTC()
	r := row{ID: id.New(IDPrefix), Namespace: a.Namespace, ExternalID: a.ExternalID, Name: a.Name,
		Permissions: encodePermissions(a.Permissions), Annotations: store.EncodeMap(a.Annotations), CreatedAt: now, UpdatedAt: now}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Table("namespaces").Where("path = ?", a.Namespace).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return problem.InvalidField("namespace", "namespace %q does not exist", a.Namespace)
		}
		if err := tx.Create(&r).Error; err != nil {
			switch {
			case store.IsUniqueViolation(err):
				return problem.Conflict("an actor with externalId %q already exists in namespace %q", a.ExternalID, a.Namespace)
			case store.IsForeignKeyViolation(err): // the namespace was deleted meanwhile
				return problem.InvalidField("namespace", "namespace %q does not exist", a.Namespace)
			}
			return err
		}
		if err := replaceKeys(tx, r.ID, keys); err != nil {
			return err
		}
		return store.SetLabels(tx, store.LabelActor, r.ID, a.Labels)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, r.ID)
}

func replaceKeys(tx *gorm.DB, actorID string, keys parsedKeys) error {
	if err := tx.Where("actor_id = ?", actorID).Delete(&keyRow{}).Error; err != nil {
		return err
	}
	if len(keys.rows) == 0 {
		return nil
	}
	for i := range keys.rows {
		keys.rows[i].ActorID = actorID
	}
	return tx.Create(&keys.rows).Error
}

// Get returns the actor with this id.
func (s *Service) Get(ctx context.Context, actorID string) (*Actor, error) {
	return s.take(ctx, s.DB.WithContext(ctx).Where("id = ?", actorID))
}

// GetByExternalID returns the actor with this external id in this namespace.
func (s *Service) GetByExternalID(ctx context.Context, ns, externalID string) (*Actor, error) {
	return s.take(ctx, s.DB.WithContext(ctx).Where("namespace = ? AND external_id = ?", ns, externalID))
}

func (s *Service) take(ctx context.Context, q *gorm.DB) (*Actor, error) {
	var r row
	err := q.Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, NotFound()
	}
	if err != nil {
		return nil, err
	}
	out, err := s.hydrate(ctx, []row{r})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// Patch lists the fields an update replaces; nil leaves a field alone.
type Patch struct {
	Name        *string
	Permissions *[]authz.Permission
	PublicKeys  *[]string
	Labels      *map[string]string
	Annotations *map[string]string
}

// Update replaces the fields given in p.
func (s *Service) Update(ctx context.Context, actorID string, p Patch) (*Actor, error) {
	cur, err := s.Get(ctx, actorID)
	if err != nil {
		return nil, err
	}
	probe := Actor{Namespace: cur.Namespace}
	if p.Permissions != nil {
		probe.Permissions = *p.Permissions
	}
	if p.PublicKeys != nil {
		probe.PublicKeys = *p.PublicKeys
	}
	if p.Labels != nil {
		probe.Labels = *p.Labels
	}
	if p.Annotations != nil {
		probe.Annotations = *p.Annotations
	}
	keys, fe := validate(&probe, p.Permissions != nil, p.PublicKeys != nil)
	if len(fe) > 0 {
		return nil, problem.Invalid(fe...)
	}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		updates := map[string]any{"updated_at": time.Now().UTC()}
		if p.Name != nil {
			updates["name"] = *p.Name
		}
		if p.Permissions != nil {
			updates["permissions"] = encodePermissions(*p.Permissions)
		}
		if p.Annotations != nil {
			updates["annotations"] = store.EncodeMap(*p.Annotations)
		}
		res := tx.Model(&row{}).Where("id = ?", actorID).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return NotFound()
		}
		if p.PublicKeys != nil {
			if err := replaceKeys(tx, actorID, keys); err != nil {
				return err
			}
		}
		if p.Labels != nil {
			return store.SetLabels(tx, store.LabelActor, actorID, *p.Labels)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	_ = s.Bus.Publish(ctx, invalidation.Actors, actorID) // logged by the bus; caches expire
	return s.Get(ctx, actorID)
}

// Delete removes an actor with its keys and labels.
func (s *Service) Delete(ctx context.Context, actorID string) error {
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, o := range s.Owned {
			var n int64
			if err := tx.Table(o.Table).Where(o.Column+" = ?", actorID).Where(o.Live).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return problem.Conflict("actor %s still owns %d %s: disconnect them first", actorID, n, o.Noun)
			}
		}
		if err := tx.Where("actor_id = ?", actorID).Delete(&keyRow{}).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", actorID).Delete(&row{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return NotFound()
		}
		return store.DeleteLabels(tx, store.LabelActor, actorID)
	})
	if err != nil {
		return err
	}
	_ = s.Bus.Publish(ctx, invalidation.Actors, actorID) // logged by the bus; caches expire
	return nil
}

// Table describes the actors table for the shared list helper.
var Table = store.Namespaced{Table: "actors", LabelKind: store.LabelActor}

// List returns one page of actors ordered by id and the cursor of the next page.
func (s *Service) List(ctx context.Context, o store.ListOptions) ([]Actor, string, error) {
	rows, next, err := store.ListNamespaced(s.DB.WithContext(ctx), Table, o, func(r *row) string { return r.ID })
	if err != nil {
		return nil, "", err
	}
	out, err := s.hydrate(ctx, rows)
	return out, next, err
}

func (s *Service) hydrate(ctx context.Context, rows []row) ([]Actor, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	db := s.DB.WithContext(ctx)
	lbls, err := store.LoadLabels(db, store.LabelActor, ids)
	if err != nil {
		return nil, err
	}
	keys := map[string][]string{}
	if len(ids) > 0 {
		var krs []keyRow
		if err := db.Where("actor_id IN ?", ids).Order("actor_id, position").Find(&krs).Error; err != nil {
			return nil, err
		}
		for _, k := range krs {
			keys[k.ActorID] = append(keys[k.ActorID], k.PublicKey)
		}
	}
	out := make([]Actor, len(rows))
	for i, r := range rows {
		l := lbls[r.ID]
		if l == nil {
			l = map[string]string{}
		}
		ks := keys[r.ID]
		if ks == nil {
			ks = []string{}
		}
		out[i] = Actor{ID: r.ID, Namespace: r.Namespace, ExternalID: r.ExternalID, Name: r.Name,
			Permissions: decodePermissions(r.Permissions), PublicKeys: ks, Labels: l,
			Annotations: store.DecodeMap(r.Annotations), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}

// LookupActor resolves a token subject ("act_…" or "<namespace>/<externalId>") to the
// principal the verifier checks signatures against.
func (s *Service) LookupActor(ctx context.Context, subject string) (*authn.Principal, error) {
	var a *Actor
	var err error
	if strings.HasPrefix(subject, IDPrefix+"_") {
		a, err = s.Get(ctx, subject)
	} else if ns, ext, ok := strings.Cut(subject, "/"); ok && ns != "" && ext != "" {
		a, err = s.GetByExternalID(ctx, ns, ext)
	} else {
		return nil, authn.ErrActorNotFound
	}
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) && pe.Status == 404 {
			return nil, authn.ErrActorNotFound
		}
		return nil, err
	}
	p := &authn.Principal{ID: a.ID, Namespace: a.Namespace, ExternalID: a.ExternalID, Permissions: a.Permissions}
	for _, k := range a.PublicKeys {
		pk, err := authn.ParsePublicKey(k)
		if err != nil {
			continue // validated on write; a key no longer accepted simply cannot sign
		}
		p.Keys = append(p.Keys, pk)
	}
	return p, nil
}

func encodePermissions(ps []authz.Permission) string {
	if len(ps) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ps)
	return string(b)
}

func decodePermissions(s string) []authz.Permission {
	var ps []authz.Permission
	_ = json.Unmarshal([]byte(s), &ps)
	if ps == nil {
		ps = []authz.Permission{}
	}
	return ps
}
