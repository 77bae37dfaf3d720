package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/id"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// States lists the version states.
var States = []string{Draft, Primary, Active, Archived}

// DefinitionProblem turns definition errors into a 400 problem whose fields are
// "definition.<path>" and whose messages start with the line.
func DefinitionProblem(errs definition.Errors) error {
	fe := make([]problem.FieldError, len(errs))
	for i, e := range errs {
		f := "definition"
		if e.Field != "" {
			f += "." + e.Field
		}
		msg := e.Message
		if e.Line > 0 {
			msg = fmt.Sprintf("line %d: %s", e.Line, e.Message)
		}
		fe[i] = problem.FieldError{Field: f, Message: msg}
	}
	return problem.Invalid(fe...)
}

// parseVersion validates a definition and the client secret that goes with it.
func parseVersion(src string, clientSecret *string) (*definition.Parsed, error) {
	p, errs := definition.Parse([]byte(src))
	if len(errs) > 0 {
		return nil, DefinitionProblem(errs)
	}
	needs := p.Definition.Auth.OAuth2 != nil && p.Definition.Auth.OAuth2.ClientSecretRef == definition.ClientSecretFromVersion
	switch {
	case needs && (clientSecret == nil || *clientSecret == ""):
		return nil, problem.InvalidField("clientSecret", "is required: the definition's auth.oauth2.clientSecretRef is %q (Terraform: client_secret_wo)", definition.ClientSecretFromVersion)
	case !needs && clientSecret != nil:
		return nil, problem.InvalidField("clientSecret", "the definition takes no client secret (auth.oauth2.clientSecretRef is not %q)", definition.ClientSecretFromVersion)
	case clientSecret != nil && len(*clientSecret) > MaxClientSecret:
		return nil, problem.InvalidField("clientSecret", "is %d bytes, more than %d", len(*clientSecret), MaxClientSecret)
	}
	return p, nil
}

// CreateVersion adds a draft version with the next number. clientSecret is required when
// the definition's clientSecretRef is "version" and refused otherwise; it is stored
// encrypted with the namespace's key.
func (s *Service) CreateVersion(ctx context.Context, connectorID, src string, clientSecret *string) (*Version, error) {
	c, err := s.Get(ctx, connectorID)
	if err != nil {
		return nil, err
	}
	p, err := parseVersion(src, clientSecret)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	r := versionRow{ID: id.New(VersionIDPrefix), ConnectorID: c.ID, Namespace: c.Namespace, State: Draft,
		Definition: string(p.Normalized), DefinitionHash: p.Hash, CreatedAt: now, UpdatedAt: now}
	if err := s.sealSecret(ctx, &r, clientSecret); err != nil {
		return nil, err
	}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockConnector(tx, c.ID); err != nil {
			return err
		}
		var maxN int
		if err := tx.Model(&versionRow{}).Where("connector_id = ?", c.ID).Select("COALESCE(MAX(version), 0)").Scan(&maxN).Error; err != nil {
			return err
		}
		r.Version = maxN + 1
		if err := tx.Create(&r).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return problem.Conflict("connector %s got a new version concurrently; try again", c.ID)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Read back: the database's timestamps (PostgreSQL keeps microseconds) are the truth.
	return s.GetVersion(ctx, c.ID, r.Version)
}

func (s *Service) sealSecret(ctx context.Context, r *versionRow, clientSecret *string) error {
	if clientSecret == nil {
		r.ClientSecret = nil
		return nil
	}
	if s.Keys == nil {
		return errors.New("connector: no key service to seal the client secret")
	}
	sealed, err := s.Keys.Seal(ctx, r.Namespace, ClientSecret, r.ID, []byte(*clientSecret))
	if err != nil {
		return fmt.Errorf("connector: seal client secret: %w", err)
	}
	r.ClientSecret = &sealed
	return nil
}

// UpdateVersion replaces the definition and client secret of a draft that was never
// published.
func (s *Service) UpdateVersion(ctx context.Context, connectorID string, number int, src string, clientSecret *string) (*Version, error) {
	r, err := s.versionRow(ctx, s.DB, connectorID, number)
	if err != nil {
		return nil, err
	}
	if err := editable(r); err != nil {
		return nil, err
	}
	p, err := parseVersion(src, clientSecret)
	if err != nil {
		return nil, err
	}
	if err := s.sealSecret(ctx, r, clientSecret); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockConnector(tx, connectorID); err != nil {
			return err
		}
		res := tx.Model(&versionRow{}).Where("id = ? AND state = ? AND published_at IS NULL", r.ID, Draft).
			Updates(map[string]any{"definition": string(p.Normalized), "definition_hash": p.Hash, "client_secret": r.ClientSecret, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			cur, err := s.versionRow(ctx, tx, connectorID, number)
			if err != nil {
				return err
			}
			return editable(cur)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.GetVersion(ctx, connectorID, number)
}

func editable(r *versionRow) error {
	if r.PublishedAt != nil {
		return problem.Conflict("version %d was published (it has been primary): its definition never changes; create a new version", r.Version)
	}
	if r.State != Draft {
		return problem.Conflict("version %d is %s: only drafts can be edited; create a new version", r.Version, r.State)
	}
	return nil
}

func (s *Service) versionRow(ctx context.Context, db *gorm.DB, connectorID string, number int) (*versionRow, error) {
	var r versionRow
	err := db.WithContext(ctx).Where("connector_id = ? AND version = ?", connectorID, number).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, problem.NotFound("connector %s has no version %d", connectorID, number)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// GetVersion returns one version.
func (s *Service) GetVersion(ctx context.Context, connectorID string, number int) (*Version, error) {
	r, err := s.versionRow(ctx, s.DB, connectorID, number)
	if err != nil {
		return nil, err
	}
	v := r.version()
	return &v, nil
}

// ListVersions returns the versions of a connector, newest first, optionally only those
// in one state.
func (s *Service) ListVersions(ctx context.Context, connectorID, state string) ([]Version, error) {
	q := s.DB.WithContext(ctx).Where("connector_id = ?", connectorID)
	if state != "" {
		q = q.Where("state = ?", state)
	}
	var rows []versionRow
	if err := q.Order("version DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Version, len(rows))
	for i, r := range rows {
		out[i] = r.version()
	}
	return out, nil
}

// Promote makes a draft or active version the primary; the previous primary becomes
// active. Promoting the primary again changes nothing. The version returned is read in the
// same transaction, so it is the state this call produced.
func (s *Service) Promote(ctx context.Context, connectorID string, number int) (*Version, error) {
	return s.changeVersion(ctx, connectorID, number, func(tx *gorm.DB, r *versionRow) error {
		switch r.State {
		case Primary:
			return nil
		case Archived:
			return problem.Conflict("version %d is archived and cannot be promoted; create a new version with its definition", number)
		}
		now := time.Now().UTC()
		if err := tx.Model(&versionRow{}).Where("connector_id = ? AND state = ?", connectorID, Primary).
			Updates(map[string]any{"state": Active, "updated_at": now}).Error; err != nil {
			return err
		}
		res := tx.Model(&versionRow{}).Where("id = ? AND state = ?", r.ID, r.State).
			Updates(map[string]any{"state": Primary, "updated_at": now, "published_at": gorm.Expr("COALESCE(published_at, ?)", now)})
		if res.Error != nil {
			if store.IsUniqueViolation(res.Error) {
				return problem.Conflict("connector %s was promoted concurrently; try again", connectorID)
			}
			return res.Error
		}
		if res.RowsAffected == 0 {
			return problem.Conflict("version %d changed meanwhile; try again", number)
		}
		return nil
	})
}

// changeVersion runs change on version number of a connector under the connector's lock
// and returns the version as change left it, read in the same transaction.
func (s *Service) changeVersion(ctx context.Context, connectorID string, number int, change func(tx *gorm.DB, r *versionRow) error) (*Version, error) {
	var out Version
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockConnector(tx, connectorID); err != nil {
			return err
		}
		r, err := s.versionRow(ctx, tx, connectorID, number)
		if err != nil {
			return err
		}
		if err := change(tx, r); err != nil {
			return err
		}
		if r, err = s.versionRow(ctx, tx, connectorID, number); err != nil {
			return err
		}
		out = r.version()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Demote clears the primary version (it becomes active). A connector without a primary
// offers no new connections. It is not an error when there is no primary.
func (s *Service) Demote(ctx context.Context, connectorID string) (*Connector, error) {
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockConnector(tx, connectorID); err != nil {
			return err
		}
		return tx.Model(&versionRow{}).Where("connector_id = ? AND state = ?", connectorID, Primary).
			Updates(map[string]any{"state": Active, "updated_at": time.Now().UTC()}).Error
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, connectorID)
}

// Archive archives a draft or active version. The primary is refused; archiving an
// archived version changes nothing.
func (s *Service) Archive(ctx context.Context, connectorID string, number int) (*Version, error) {
	return s.changeVersion(ctx, connectorID, number, func(tx *gorm.DB, r *versionRow) error {
		switch r.State {
		case Archived:
			return nil
		case Primary:
			return problem.Conflict("version %d is primary; point authproxy_connector_primary at another version first", number)
		}
		if n, err := s.live(tx, connectorID, number); err != nil {
			return err
		} else if n > 0 {
			return problem.Conflict("version %d still has %d connection(s); they keep their version until disconnected", number, n)
		}
		now := time.Now().UTC()
		return tx.Model(&versionRow{}).Where("id = ? AND state = ?", r.ID, r.State).
			Updates(map[string]any{"state": Archived, "updated_at": now, "archived_at": now}).Error
	})
}

func (s *Service) live(tx *gorm.DB, connectorID string, number int) (int64, error) {
	if s.LiveConnections == nil {
		return 0, nil
	}
	return s.LiveConnections(tx, connectorID, number)
}

// ArchiveUnused archives every active version that had connections and has none left:
// the worker runs it periodically. Versions that never had a connection stay active until
// archived by hand (or by Terraform), so a rollback target does not vanish. It returns how
// many versions it archived.
func (s *Service) ArchiveUnused(ctx context.Context) (int, error) {
	var candidates []versionRow
	if err := s.DB.WithContext(ctx).Where("state = ? AND had_connections = ?", Active, true).Find(&candidates).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, c := range candidates {
		err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := lockConnector(tx, c.ConnectorID); err != nil {
				return err
			}
			live, err := s.live(tx, c.ConnectorID, c.Version)
			if err != nil || live > 0 {
				return err
			}
			now := time.Now().UTC()
			res := tx.Model(&versionRow{}).Where("id = ? AND state = ?", c.ID, Active).
				Updates(map[string]any{"state": Archived, "updated_at": now, "archived_at": now})
			n += int(res.RowsAffected)
			return res.Error
		})
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && problem.As(err) == nil {
			return n, err
		}
	}
	return n, nil
}

// MarkUsed records that a connection was made on a version, in the connection's
// transaction.
func MarkUsed(tx *gorm.DB, connectorID string, version int) error {
	return tx.Model(&versionRow{}).Where("connector_id = ? AND version = ?", connectorID, version).
		Update("had_connections", true).Error
}

// ClientSecretOf decrypts the client secret of a version ("" when it has none).
func (s *Service) ClientSecretOf(ctx context.Context, connectorID string, number int) (string, error) {
	r, err := s.versionRow(ctx, s.DB, connectorID, number)
	if err != nil {
		return "", err
	}
	if r.ClientSecret == nil {
		return "", nil
	}
	b, err := s.Keys.Open(ctx, ClientSecret, r.ID, *r.ClientSecret)
	if err != nil {
		return "", fmt.Errorf("connector: open client secret of %s version %d: %w", connectorID, number, err)
	}
	return string(b), nil
}
