// Package namespace manages the namespace tree every resource lives in: dot paths from root.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/invalidation"
	"github.com/authproxy/authproxy/server/internal/labels"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// Namespace is one node of the tree.
type Namespace struct {
	Path        string
	Labels      map[string]string
	Annotations map[string]string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type row struct {
	Path        string `gorm:"primaryKey"`
	Parent      *string
	Annotations string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (row) TableName() string { return "namespaces" }

// Dependent is a table whose rows live in a namespace; a namespace holding any is not deleted.
type Dependent struct {
	Table  string // for example "actors"
	Column string // the column holding the namespace path
	Noun   string // plural, for messages
}

// Service stores namespaces.
type Service struct {
	DB         *gorm.DB
	Dependents []Dependent
	// Bus announces every change of a namespace to the caches of every replica; nil
	// announces nothing.
	Bus *invalidation.Bus
}

// EnsureRoot creates the root namespace if it does not exist.
func (s *Service) EnsureRoot(ctx context.Context) error {
	now := time.Now().UTC()
	r := row{Path: Root, Annotations: "{}", CreatedAt: now, UpdatedAt: now}
	var n int64
	if err := s.DB.WithContext(ctx).Model(&row{}).Where("path = ?", Root).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	return s.DB.WithContext(ctx).Create(&r).Error
}

// ValidateFields checks labels and annotations, naming offending fields.
func ValidateFields(lbls, annotations map[string]string) []problem.FieldError {
	var out []problem.FieldError
	for _, v := range labels.ValidateLabels(lbls) {
		out = append(out, problem.FieldError{Field: fieldFor("labels", v.Key), Message: v.Message})
	}
	for _, v := range labels.ValidateAnnotations(annotations) {
		out = append(out, problem.FieldError{Field: fieldFor("annotations", v.Key), Message: v.Message})
	}
	return out
}

// UpdateMeta validates and applies an update of the labels and/or annotations (nil leaves a
// field alone) of row id of a namespaced resource table; notFound is returned when no row
// has that id.
func UpdateMeta(ctx context.Context, db *gorm.DB, t store.Namespaced, id string, lbls, annotations *map[string]string, notFound error) error {
	if fe := ValidateMeta(lbls, annotations); len(fe) > 0 {
		return problem.Invalid(fe...)
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		found, err := store.UpdateMeta(tx, t, id, lbls, annotations)
		if err == nil && !found {
			return notFound
		}
		return err
	})
}

// ValidateMeta is ValidateFields for an update, where nil leaves a field alone.
func ValidateMeta(lbls, annotations *map[string]string) []problem.FieldError {
	var l, a map[string]string
	if lbls != nil {
		l = *lbls
	}
	if annotations != nil {
		a = *annotations
	}
	return ValidateFields(l, a)
}

func fieldFor(prefix, key string) string {
	if key == "" {
		return prefix
	}
	return prefix + "." + key
}

// Create adds a namespace under its existing parent.
func (s *Service) Create(ctx context.Context, n Namespace) (*Namespace, error) {
	if err := ValidatePath(n.Path); err != nil {
		return nil, problem.InvalidField("path", "namespace path %q %v", n.Path, err)
	}
	if fe := ValidateFields(n.Labels, n.Annotations); len(fe) > 0 {
		return nil, problem.Invalid(fe...)
	}
	parent, ok := Parent(n.Path)
	if !ok {
		return nil, problem.Conflict("namespace %q already exists", n.Path)
	}
	now := time.Now().UTC()
	r := row{Path: n.Path, Parent: &parent, Annotations: store.EncodeMap(n.Annotations), CreatedAt: now, UpdatedAt: now}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var count int64
		if err := tx.Model(&row{}).Where("path = ?", parent).Count(&count).Error; err != nil {
			return err
		}
		if count == 0 {
			return problem.InvalidField("path", "parent namespace %q does not exist", parent)
		}
		if err := tx.Create(&r).Error; err != nil {
			switch {
			case store.IsUniqueViolation(err):
				return problem.Conflict("namespace %q already exists", n.Path)
			case store.IsForeignKeyViolation(err): // the parent was deleted meanwhile
				return problem.InvalidField("path", "parent namespace %q does not exist", parent)
			}
			return err
		}
		return store.SetLabels(tx, store.LabelNamespace, n.Path, n.Labels)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, n.Path)
}

// Get returns one namespace.
func (s *Service) Get(ctx context.Context, path string) (*Namespace, error) {
	var r row
	err := s.DB.WithContext(ctx).Where("path = ?", path).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, NotFound(path)
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

// NotFound is the error for a namespace that does not exist (or that the caller may not see).
func NotFound(path string) error { return problem.NotFound("namespace %q not found", path) }

// Exists reports whether path names a namespace.
func (s *Service) Exists(ctx context.Context, path string) (bool, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&row{}).Where("path = ?", path).Count(&n).Error
	return n > 0, err
}

// Update replaces the labels and/or annotations given (nil leaves a field alone).
func (s *Service) Update(ctx context.Context, path string, lbls, annotations *map[string]string) (*Namespace, error) {
	var l, a map[string]string
	if lbls != nil {
		l = *lbls
	}
	if annotations != nil {
		a = *annotations
	}
	if fe := ValidateFields(l, a); len(fe) > 0 {
		return nil, problem.Invalid(fe...)
	}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		updates := map[string]any{"updated_at": time.Now().UTC()}
		if annotations != nil {
			updates["annotations"] = store.EncodeMap(a)
		}
		res := tx.Model(&row{}).Where("path = ?", path).Updates(updates)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return NotFound(path)
		}
		if lbls != nil {
			return store.SetLabels(tx, store.LabelNamespace, path, l)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	_ = s.Bus.Publish(ctx, invalidation.Namespaces, path) // logged by the bus; caches expire
	return s.Get(ctx, path)
}

// Delete removes a namespace that has no children and holds no resources.
func (s *Service) Delete(ctx context.Context, path string) error {
	if path == Root {
		return problem.Conflict("the root namespace cannot be deleted")
	}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var children int64
		if err := tx.Model(&row{}).Where("parent = ?", path).Count(&children).Error; err != nil {
			return err
		}
		if children > 0 {
			return problem.Conflict("namespace %q has %d child namespace(s); delete them first", path, children)
		}
		for _, d := range s.Dependents {
			var n int64
			if err := tx.Table(d.Table).Where(d.Column+" = ?", path).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return problem.Conflict("namespace %q still holds %d %s; delete them first", path, n, d.Noun)
			}
		}
		res := tx.Where("path = ?", path).Delete(&row{})
		if res.Error != nil {
			if store.IsForeignKeyViolation(res.Error) {
				return problem.Conflict("namespace %q is not empty", path)
			}
			return res.Error
		}
		if res.RowsAffected == 0 {
			return NotFound(path)
		}
		return store.DeleteLabels(tx, store.LabelNamespace, path)
	})
	if err != nil {
		return err
	}
	_ = s.Bus.Publish(ctx, invalidation.Namespaces, path) // logged by the bus; caches expire
	return nil
}

// ListOptions filter a listing.
type ListOptions struct {
	ChildrenOf string
	Selector   labels.Selector
	Scope      store.Scope
	Page       store.Page
}

// List returns one page of namespaces ordered by path and the cursor of the next page.
func (s *Service) List(ctx context.Context, o ListOptions) ([]Namespace, string, error) {
	q := s.DB.WithContext(ctx).Model(&row{})
	if o.ChildrenOf != "" {
		q = q.Where("parent = ?", o.ChildrenOf)
	}
	q = store.WhereScope(q, o.Scope, "path", "path")
	q = store.WhereSelector(q, store.LabelNamespace, "namespaces.path", o.Selector)
	rows, next, err := store.FindPage(q, "path", o.Page, func(r *row) string { return r.Path })
	if errors.Is(err, store.ErrBadCursor) {
		return nil, "", problem.InvalidField("cursor", "%v", err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("list namespaces: %w", err)
	}
	out, err := s.hydrate(ctx, rows)
	return out, next, err
}

func (s *Service) hydrate(ctx context.Context, rows []row) ([]Namespace, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.Path
	}
	lbls, err := store.LoadLabels(s.DB.WithContext(ctx), store.LabelNamespace, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Namespace, len(rows))
	for i, r := range rows {
		l := lbls[r.Path]
		if l == nil {
			l = map[string]string{}
		}
		out[i] = Namespace{Path: r.Path, Labels: l, Annotations: store.DecodeMap(r.Annotations), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}
