// Package connector manages connectors: a logical connector (namespace, name, labels) and
// its numbered, immutable versions, each holding a definition (package definition) that
// says how to authenticate to one third-party system.
//
// Version lifecycle: a version is created as a draft; promoting it makes it the primary
// (the previous primary becomes active); drafts and active versions can be archived; the
// primary cannot. A version that has ever been primary is published and its definition
// never changes. At most one version of a connector is primary at a time (a partial unique
// index enforces it, and promotions of one connector are serialised by a row lock).
package connector

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/id"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// ID prefixes.
const (
	IDPrefix        = "cxr"
	VersionIDPrefix = "cxv"
)

// Version states.
const (
	Draft    = "draft"
	Primary  = "primary"
	Active   = "active"
	Archived = "archived"
)

// ClientSecret registers the encrypted client secret of connector versions.
var ClientSecret = encrypt.Register(encrypt.Column{
	Table: "connector_versions", Column: "client_secret", IDColumn: "id", NamespaceColumn: "namespace",
})

// MaxClientSecret is the longest client secret accepted, in bytes.
const MaxClientSecret = 4096

// Connector is a logical connector.
type Connector struct {
	ID          string
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string
	// PrimaryVersion is the primary version's number, 0 when none is primary.
	PrimaryVersion int
	// LatestVersion is the highest version number, 0 before the first version.
	LatestVersion int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Version is one version of a connector. Its client secret is never loaded here.
type Version struct {
	ID              string
	ConnectorID     string
	Namespace       string
	Version         int
	State           string
	Definition      []byte // canonical JSON
	DefinitionHash  string
	HasClientSecret bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
	PublishedAt     *time.Time
	ArchivedAt      *time.Time
}

type row struct {
	ID          string `gorm:"primaryKey"`
	Namespace   string
	Name        string
	Annotations string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (row) TableName() string { return "connectors" }

type versionRow struct {
	ID             string `gorm:"primaryKey"`
	ConnectorID    string
	Namespace      string
	Version        int
	State          string
	Definition     string
	DefinitionHash string
	ClientSecret   *string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	PublishedAt    *time.Time
	ArchivedAt     *time.Time
}

func (versionRow) TableName() string { return "connector_versions" }

func (r versionRow) version() Version {
	return Version{ID: r.ID, ConnectorID: r.ConnectorID, Namespace: r.Namespace, Version: r.Version, State: r.State,
		Definition: []byte(r.Definition), DefinitionHash: r.DefinitionHash, HasClientSecret: r.ClientSecret != nil,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, PublishedAt: r.PublishedAt, ArchivedAt: r.ArchivedAt}
}

// Sealer encrypts and decrypts values of registered columns (package keys implements it).
type Sealer interface {
	Seal(ctx context.Context, ns string, col encrypt.Column, rowID string, plaintext []byte) (string, error)
	Open(ctx context.Context, col encrypt.Column, rowID, envelope string) ([]byte, error)
}

// Service stores connectors and their versions.
type Service struct {
	DB   *gorm.DB
	Keys Sealer
	// LiveConnections, when set, counts the connections (not disconnected) on a version,
	// inside tx: a version with live connections is not archived.
	LiveConnections func(tx *gorm.DB, connectorID string, version int) (int64, error)
}

// Dependent tells the namespace service that connectors live in namespaces.
var Dependent = namespace.Dependent{Table: "connectors", Column: "namespace", Noun: "connector(s)"}

// NotFound is the error for a connector that does not exist or that the caller may not see.
func NotFound() error { return problem.NotFound("connector not found") }

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$`)

// Create adds a connector to an existing namespace.
func (s *Service) Create(ctx context.Context, c Connector) (*Connector, error) {
	var fe []problem.FieldError
	if err := namespace.ValidatePath(c.Namespace); err != nil {
		fe = append(fe, problem.FieldError{Field: "namespace", Message: fmt.Sprintf("namespace path %q %v", c.Namespace, err)})
	}
	if !nameRE.MatchString(c.Name) {
		fe = append(fe, problem.FieldError{Field: "name", Message: fmt.Sprintf("name %q must be 1-63 lower-case letters, digits, '-', '_' or '.', starting and ending with a letter or digit", c.Name)})
	}
	fe = append(fe, namespace.ValidateFields(c.Labels, c.Annotations)...)
	if len(fe) > 0 {
		return nil, problem.Invalid(fe...)
	}
	now := time.Now().UTC()
	r := row{ID: id.New(IDPrefix), Namespace: c.Namespace, Name: c.Name, Annotations: store.EncodeMap(c.Annotations), CreatedAt: now, UpdatedAt: now}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Table("namespaces").Where("path = ?", c.Namespace).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return problem.InvalidField("namespace", "namespace %q does not exist", c.Namespace)
		}
		if err := tx.Create(&r).Error; err != nil {
			switch {
			case store.IsUniqueViolation(err):
				return problem.Conflict("a connector named %q already exists in namespace %q", c.Name, c.Namespace)
			case store.IsForeignKeyViolation(err):
				return problem.InvalidField("namespace", "namespace %q does not exist", c.Namespace)
			}
			return err
		}
		return store.SetLabels(tx, store.LabelConnector, r.ID, c.Labels)
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, r.ID)
}

// Get returns a connector.
func (s *Service) Get(ctx context.Context, connectorID string) (*Connector, error) {
	r, err := store.TakeByID[row](s.DB.WithContext(ctx), connectorID, NotFound())
	if err != nil {
		return nil, err
	}
	out, err := s.hydrate(ctx, []row{*r})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// Table describes the connectors table for the shared list and update helpers.
var Table = store.Namespaced{Table: "connectors", LabelKind: store.LabelConnector}

// List returns one page of connectors ordered by id and the cursor of the next page.
func (s *Service) List(ctx context.Context, o store.ListOptions) ([]Connector, string, error) {
	rows, next, err := store.ListNamespaced(s.DB.WithContext(ctx), Table, o, func(r *row) string { return r.ID })
	if err != nil {
		return nil, "", err
	}
	out, err := s.hydrate(ctx, rows)
	return out, next, err
}

// Update replaces the labels and/or annotations given (nil leaves a field alone).
func (s *Service) Update(ctx context.Context, connectorID string, lbls, annotations *map[string]string) (*Connector, error) {
	err := namespace.UpdateMeta(ctx, s.DB, Table, connectorID, lbls, annotations, NotFound())
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, connectorID)
}

// Delete removes a connector whose versions are all archived (or that has none), with its
// versions and their client secrets.
func (s *Service) Delete(ctx context.Context, connectorID string) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockConnector(tx, connectorID); err != nil {
			return err
		}
		var live []int
		if err := tx.Model(&versionRow{}).Where("connector_id = ? AND state <> ?", connectorID, Archived).
			Order("version").Pluck("version", &live).Error; err != nil {
			return err
		}
		if len(live) > 0 {
			return problem.Conflict("connector %s still has %d version(s) that are not archived (%v); archive them first (demote the primary, then archive)", connectorID, len(live), live)
		}
		if err := tx.Where("connector_id = ?", connectorID).Delete(&versionRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", connectorID).Delete(&row{}).Error; err != nil {
			if store.IsForeignKeyViolation(err) {
				return problem.Conflict("connector %s still has connections; delete them first", connectorID)
			}
			return err
		}
		return store.DeleteLabels(tx, store.LabelConnector, connectorID)
	})
}

// lockConnector takes the connector's row lock for the rest of the transaction (SQLite
// serialises writers anyway), so promotions, archivals and version numbering of one
// connector happen one at a time.
func lockConnector(tx *gorm.DB, connectorID string) error {
	res := tx.Model(&row{}).Where("id = ?", connectorID).Update("updated_at", time.Now().UTC())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return NotFound()
	}
	return nil
}

func (s *Service) hydrate(ctx context.Context, rows []row) ([]Connector, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	db := s.DB.WithContext(ctx)
	lbls, err := store.LoadLabels(db, store.LabelConnector, ids)
	if err != nil {
		return nil, err
	}
	type agg struct {
		ConnectorID string
		Latest      int
		Primary     int
	}
	stats := map[string]agg{}
	if len(ids) > 0 {
		var as []agg
		err := db.Model(&versionRow{}).Select("connector_id, MAX(version) AS latest, MAX(CASE WHEN state = ? THEN version ELSE 0 END) AS \"primary\"", Primary).
			Where("connector_id IN ?", ids).Group("connector_id").Scan(&as).Error
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			stats[a.ConnectorID] = a
		}
	}
	out := make([]Connector, len(rows))
	for i, r := range rows {
		l := lbls[r.ID]
		if l == nil {
			l = map[string]string{}
		}
		st := stats[r.ID]
		out[i] = Connector{ID: r.ID, Namespace: r.Namespace, Name: r.Name, Labels: l, Annotations: store.DecodeMap(r.Annotations),
			PrimaryVersion: st.Primary, LatestVersion: st.Latest, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	return out, nil
}
