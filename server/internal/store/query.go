package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/labels"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// Label rows are keyed by resource type; these are the types.
const (
	LabelNamespace  = "namespace"
	LabelActor      = "actor"
	LabelKey        = "key"
	LabelConnector  = "connector"
	LabelConnection = "connection"
)

type labelRow struct {
	ResourceType string `gorm:"column:resource_type"`
	ResourceID   string `gorm:"column:resource_id"`
	LabelKey     string `gorm:"column:label_key"`
	LabelValue   string `gorm:"column:label_value"`
}

func (labelRow) TableName() string { return "labels" }

// SetLabels replaces the labels of one resource.
func SetLabels(tx *gorm.DB, resourceType, resourceID string, m map[string]string) error {
	if err := DeleteLabels(tx, resourceType, resourceID); err != nil {
		return err
	}
	if len(m) == 0 {
		return nil
	}
	rows := make([]labelRow, 0, len(m))
	for k, v := range m {
		rows = append(rows, labelRow{resourceType, resourceID, k, v})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].LabelKey < rows[j].LabelKey })
	return tx.Create(&rows).Error
}

// DeleteLabels removes every label of one resource.
func DeleteLabels(tx *gorm.DB, resourceType, resourceID string) error {
	return tx.Where("resource_type = ? AND resource_id = ?", resourceType, resourceID).Delete(&labelRow{}).Error
}

// LoadLabels returns the labels of the given resources, by resource id.
func LoadLabels(tx *gorm.DB, resourceType string, ids []string) (map[string]map[string]string, error) {
	out := make(map[string]map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []labelRow
	if err := tx.Where("resource_type = ? AND resource_id IN ?", resourceType, ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		if out[r.ResourceID] == nil {
			out[r.ResourceID] = map[string]string{}
		}
		out[r.ResourceID][r.LabelKey] = r.LabelValue
	}
	return out, nil
}

// WhereSelector narrows q to rows whose labels satisfy sel; idColumn is the column holding
// the resource id that label rows refer to.
func WhereSelector(q *gorm.DB, resourceType, idColumn string, sel labels.Selector) *gorm.DB {
	const sub = "SELECT 1 FROM labels l WHERE l.resource_type = ? AND l.resource_id = %s AND l.label_key = ?"
	exists := fmt.Sprintf("EXISTS ("+sub, idColumn)
	notExists := fmt.Sprintf("NOT EXISTS ("+sub, idColumn)
	for _, r := range sel.Requirements {
		switch r.Op {
		case labels.Equals:
			q = q.Where(exists+" AND l.label_value = ?)", resourceType, r.Key, r.Values[0])
		case labels.NotEquals:
			q = q.Where(notExists+" AND l.label_value = ?)", resourceType, r.Key, r.Values[0])
		case labels.In:
			q = q.Where(exists+" AND l.label_value IN ?)", resourceType, r.Key, r.Values)
		case labels.NotIn:
			q = q.Where(notExists+" AND l.label_value IN ?)", resourceType, r.Key, r.Values)
		case labels.Exists:
			q = q.Where(exists+")", resourceType, r.Key)
		case labels.DoesNotExist:
			q = q.Where(notExists+")", resourceType, r.Key)
		}
	}
	return q
}

// Scope is the set of rows a caller may list: everything, or the union of rules. It mirrors
// authz.Scope so that the store does not depend on authorization.
type Scope struct {
	All   bool
	Rules []ScopeRule
}

// ScopeRule allows a namespace (or, with Subtree, it and its descendants), optionally only
// the listed resource ids.
type ScopeRule struct {
	Namespace string
	Subtree   bool
	IDs       []string
}

// WhereScope narrows q to the rows an authorization scope allows: nsColumn holds the
// namespace path of a row and idColumn its resource id. An empty scope matches nothing.
func WhereScope(q *gorm.DB, s Scope, nsColumn, idColumn string) *gorm.DB {
	if s.All {
		return q
	}
	if len(s.Rules) == 0 {
		return q.Where("1 = 0")
	}
	var cond *gorm.DB
	for _, r := range s.Rules {
		var c *gorm.DB
		if r.Subtree {
			prefix := r.Namespace + "."
			c = q.Session(&gorm.Session{NewDB: true}).Where(
				fmt.Sprintf("(%s = ? OR substr(%s, 1, ?) = ?)", nsColumn, nsColumn), r.Namespace, len(prefix), prefix)
		} else {
			c = q.Session(&gorm.Session{NewDB: true}).Where(nsColumn+" = ?", r.Namespace)
		}
		if len(r.IDs) > 0 {
			c = c.Where(idColumn+" IN ?", r.IDs)
		}
		if cond == nil {
			cond = c
		} else {
			cond = cond.Or(c)
		}
	}
	return q.Where(cond)
}

// Page is a cursor page request.
type Page struct {
	Limit  int
	Cursor string
}

// DefaultLimit is the page size when none is asked for.
const DefaultLimit = 50

// ErrBadCursor is returned for a cursor this server did not issue.
var ErrBadCursor = errors.New("cursor is not valid")

// WherePage orders q by keyColumn and starts after the cursor; it fetches one row more than
// the limit so the caller knows whether another page follows.
func WherePage(q *gorm.DB, keyColumn string, p Page) (*gorm.DB, int, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if p.Cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(p.Cursor)
		if err != nil || len(after) == 0 {
			return nil, 0, ErrBadCursor
		}
		q = q.Where(keyColumn+" > ?", string(after))
	}
	return q.Order(keyColumn).Limit(limit + 1), limit, nil
}

// NextCursor returns the cursor for the page after the one ending at lastKey, or "" when
// the page was the last (fetched ≤ limit rows).
func NextCursor(fetched, limit int, lastKey string) string {
	if fetched <= limit {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(lastKey))
}

// FindPage runs q for one page ordered by keyColumn, starting after p.Cursor, and returns
// the rows with the cursor of the next page ("" on the last page). key reads a row's key.
func FindPage[T any](q *gorm.DB, keyColumn string, p Page, key func(*T) string) ([]T, string, error) {
	q, limit, err := WherePage(q, keyColumn, p)
	if err != nil {
		return nil, "", err
	}
	var rows []T
	if err := q.Find(&rows).Error; err != nil {
		return nil, "", err
	}
	if len(rows) <= limit {
		return rows, "", nil
	}
	rows = rows[:limit]
	return rows, NextCursor(limit+1, limit, key(&rows[limit-1])), nil
}

// Namespaced names a table of resources that live in namespaces: primary key column "id",
// namespace path column "namespace", labels under LabelKind, and annotations and
// updated_at columns.
type Namespaced struct {
	Table     string
	LabelKind string
}

// ListOptions filter a listing of namespaced resources.
type ListOptions struct {
	Namespace string // only resources directly in this namespace, when set
	Selector  labels.Selector
	Scope     Scope
	Page      Page
}

// ListNamespaced returns one page of rows of t (as T) ordered by id: in o.Namespace when set,
// within o.Scope, matching o.Selector; and the cursor of the next page.
func ListNamespaced[T any](q *gorm.DB, t Namespaced, o ListOptions, id func(*T) string) ([]T, string, error) {
	q = q.Table(t.Table)
	if o.Namespace != "" {
		q = q.Where("namespace = ?", o.Namespace)
	}
	q = WhereScope(q, o.Scope, "namespace", "id")
	q = WhereSelector(q, t.LabelKind, t.Table+".id", o.Selector)
	rows, next, err := FindPage(q, "id", o.Page, id)
	switch {
	case errors.Is(err, ErrBadCursor):
		return nil, "", problem.InvalidField("cursor", "%v", err)
	case err != nil:
		return nil, "", fmt.Errorf("list %s: %w", t.Table, err)
	}
	return rows, next, nil
}

// UpdateMeta replaces the annotations (when annotations is not nil) and the labels (when
// lbls is not nil) of row id of t and touches its updated_at, in tx. It reports false when
// no row has that id.
func UpdateMeta(tx *gorm.DB, t Namespaced, id string, lbls, annotations *map[string]string) (bool, error) {
	updates := map[string]any{"updated_at": time.Now().UTC()}
	if annotations != nil {
		updates["annotations"] = EncodeMap(*annotations)
	}
	res := tx.Table(t.Table).Where("id = ?", id).Updates(updates)
	if res.Error != nil || res.RowsAffected == 0 {
		return false, res.Error
	}
	if lbls != nil {
		return true, SetLabels(tx, t.LabelKind, id, *lbls)
	}
	return true, nil
}

// TakeByID reads the row of T (its TableName) whose primary key column "id" is id; a
// missing row is notFound, any other failure is returned as it is.
func TakeByID[T any](db *gorm.DB, id string, notFound error) (*T, error) {
	var r T
	err := db.Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}
