// Package connection manages connections: a user's authorized account on one connector
// version, with its state (setup → ready; failed; disconnecting → disconnected), health and
// encrypted credentials.
//
// API-key and no-auth connectors connect through the API; OAuth2 client credentials
// connections get their token at creation; OAuth2 authorization code connections start in
// setup and get their token from the authorization flow of the public service (package
// oauthflow), stored through Save, which with Load makes the service the oauth2.Store of
// the token refresher.
package connection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/actor"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/id"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/requestlog"
	"github.com/authproxy/authproxy/server/internal/store"
)

// IDPrefix starts every connection id.
const IDPrefix = "cxn"

// States.
const (
	Setup         = "setup"
	Ready         = "ready"
	Failed        = "failed"
	Disconnecting = "disconnecting"
	Disconnected  = "disconnected"
)

// Health values.
const (
	HealthUnknown   = "unknown"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// MaxAPIKey is the longest API key accepted, in bytes.
const MaxAPIKey = 8192

// CredentialsColumn registers the encrypted credentials of connections.
var CredentialsColumn = encrypt.Register(encrypt.Column{
	Table: "connections", Column: "credentials", IDColumn: "id", NamespaceColumn: "namespace",
})

// Table describes the connections table for the shared list and update helpers.
var Table = store.Namespaced{Table: "connections", LabelKind: store.LabelConnection}

// Owned tells the actor service that connections belong to end users until disconnected.
var Owned = actor.Owned{Table: "connections", Column: "owner_actor_id", Live: "state <> 'disconnected'", Noun: "connection(s) not disconnected"}

// Dependent tells the namespace service that connections live in namespaces.
var Dependent = namespace.Dependent{Table: "connections", Column: "namespace", Noun: "connection(s)"}

// Connection is an account connected on a connector version. Its credentials are never
// loaded here.
type Connection struct {
	ID               string
	Namespace        string
	ConnectorID      string
	ConnectorVersion int
	State            string
	Health           string
	HealthReason     string
	Labels           map[string]string
	Annotations      map[string]string
	Config           map[string]string
	CreatedAt        time.Time
	UpdatedAt        time.Time

	// ProbeFailures counts consecutive failed probe runs; LastProbedAt is when the
	// connector's probes last ran, NextProbeAt when they are due again (nil: at once).
	ProbeFailures int
	LastProbedAt  *time.Time
	NextProbeAt   *time.Time

	// OwnerActorID is the end user the connection belongs to ("" when an application made
	// it for itself): that user's marketplace shows it.
	OwnerActorID string
}

// Credentials are the secrets of a connection, stored as one encrypted JSON document.
type Credentials struct {
	APIKey string `json:"apiKey,omitempty"`
	// OAuth2 is the OAuth2 token in the storage form of oauth2.Token.Marshal.
	OAuth2 json.RawMessage `json:"oauth2,omitempty"`
}

// OAuth2Token decodes the OAuth2 token (nil when the credentials hold none).
func (c *Credentials) OAuth2Token() (*oauth2.Token, error) {
	if c == nil || len(c.OAuth2) == 0 {
		return nil, nil
	}
	return oauth2.UnmarshalToken(c.OAuth2)
}

type row struct {
	ID               string `gorm:"primaryKey"`
	Namespace        string
	ConnectorID      string
	ConnectorVersion int
	State            string
	Health           string
	HealthReason     string
	Config           string
	Annotations      string
	Credentials      *string
	TokenGeneration  int64
	TokenExpiresAt   *time.Time
	ProbeFailures    int
	LastProbedAt     *time.Time
	NextProbeAt      *time.Time
	OwnerActorID     *string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func (row) TableName() string { return "connections" }

// Sealer encrypts and decrypts values of registered columns (package keys implements it).
type Sealer = connector.Sealer

// Service stores connections.
type Service struct {
	DB         *gorm.DB
	Keys       Sealer
	Connectors *connector.Service
	// HTTPClient carries the OAuth2 exchanges (token, revocation); nil means
	// http.DefaultClient. The app passes the proxy's guarded client.
	HTTPClient *http.Client
	// TokenLog, when set, gets a request log entry (kind token) for every exchange with a
	// provider's token or revocation endpoint.
	TokenLog requestlog.Recorder
	// Logger receives what fails without failing the call (revocation); nil means
	// slog.Default().
	Logger *slog.Logger
	// CacheTTL bounds how long another replica's change takes to reach this one
	// (default DefaultCacheTTL); set it before the first call.
	CacheTTL time.Duration
	// OnReady, when set, is told of every connection that has just become ready (created
	// ready, new API key, OAuth2 token after setup); the app enqueues its first probe.
	OnReady func(ctx context.Context, c *Connection)

	cacheOnce sync.Once
	mem       *cache
}

func (s *Service) cache() *cache {
	s.cacheOnce.Do(func() { s.mem = newCache(s.CacheTTL) })
	return s.mem
}

// NotFound is the error for a connection that does not exist or the caller may not see.
func NotFound() error { return problem.NotFound("connection not found") }

// New describes a connection to create.
type New struct {
	Namespace   string
	ConnectorID string
	Labels      map[string]string
	Annotations map[string]string
	Config      map[string]string
	APIKey      *string
	// OwnerActorID is the end user the connection belongs to (an actor in Namespace), or "".
	OwnerActorID string
	// Verify, when set, is called after validation and before anything is fetched or
	// written, with the connection as it will be stored (ready) and the API key (""
	// without one); its error is Create's.
	Verify func(ctx context.Context, c *Connection, apiKey string) error
}

// configValueRE limits config values, which end up in URLs (host names, paths).
var configValueRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)

// checkConfig validates config values against the definition's config fields.
func checkConfig(def *definition.Definition, cfg map[string]string) []problem.FieldError {
	var fe []problem.FieldError
	declared := map[string]definition.ConfigField{}
	for _, f := range def.Config.Fields {
		declared[f.Name] = f
	}
	for k, v := range cfg {
		f, ok := declared[k]
		if !ok {
			fe = append(fe, problem.FieldError{Field: "config." + k, Message: "the connector declares no such config field"})
			continue
		}
		if !configValueRE.MatchString(v) {
			fe = append(fe, problem.FieldError{Field: "config." + k, Message: "must be 1-255 letters, digits, '.', '_' or '-'"})
			continue
		}
		if f.Pattern != "" {
			if re, err := regexp.Compile("^(?:" + f.Pattern + ")$"); err == nil && !re.MatchString(v) {
				fe = append(fe, problem.FieldError{Field: "config." + k, Message: fmt.Sprintf("does not match the pattern %s", f.Pattern)})
			}
		}
	}
	for _, f := range def.Config.Fields {
		if _, ok := cfg[f.Name]; f.Required && !ok {
			fe = append(fe, problem.FieldError{Field: "config." + f.Name, Message: fmt.Sprintf("is required (%s)", f.Label)})
		}
	}
	return fe
}

// Definition returns the parsed definition of a connector version.
func (s *Service) Definition(ctx context.Context, connectorID string, version int) (*definition.Definition, error) {
	if d, ok := s.cache().definition(connectorID, version); ok {
		return d, nil
	}
	v, err := s.Connectors.GetVersion(ctx, connectorID, version)
	if err != nil {
		return nil, err
	}
	p, errs := definition.Parse(v.Definition)
	if len(errs) > 0 {
		return nil, fmt.Errorf("connection: stored definition of %s version %d no longer parses: %v", connectorID, version, errs)
	}
	if v.PublishedAt != nil { // a published definition never changes
		s.cache().putDefinition(connectorID, version, p.Definition)
	}
	return p.Definition, nil
}

// Create connects an account on the connector's primary version.
func (s *Service) Create(ctx context.Context, n New) (*Connection, error) {
	var fe []problem.FieldError
	if err := namespace.ValidatePath(n.Namespace); err != nil {
		fe = append(fe, problem.FieldError{Field: "namespace", Message: fmt.Sprintf("namespace path %q %v", n.Namespace, err)})
	}
	fe = append(fe, namespace.ValidateFields(n.Labels, n.Annotations)...)
	if len(fe) > 0 {
		return nil, problem.Invalid(fe...)
	}
	c, err := s.Connectors.Get(ctx, n.ConnectorID)
	if p := problem.As(err); err != nil && p.Status == http.StatusNotFound {
		return nil, problem.InvalidField("connectorId", "connector %s not found", n.ConnectorID)
	}
	if err != nil {
		return nil, err // a database failure is the server's, not a bad request
	}
	if !namespace.IsWithin(n.Namespace, c.Namespace) {
		return nil, problem.InvalidField("connectorId", "connector %s belongs to namespace %q, which is neither %q nor one of its ancestors", c.ID, c.Namespace, n.Namespace)
	}
	if c.PrimaryVersion == 0 {
		return nil, problem.Conflict("connector %s has no primary version: it is offered for no new connections", c.ID)
	}
	def, err := s.Definition(ctx, c.ID, c.PrimaryVersion)
	if err != nil {
		return nil, err
	}
	if fe := checkConfig(def, n.Config); len(fe) > 0 {
		return nil, problem.Invalid(fe...)
	}
	var creds *Credentials
	switch def.Auth.Type {
	case definition.AuthAPIKey:
		if n.APIKey == nil || *n.APIKey == "" {
			return nil, problem.InvalidField("apiKey", "is required: connector %s authenticates with an API key", c.ID)
		}
		if len(*n.APIKey) > MaxAPIKey {
			return nil, problem.InvalidField("apiKey", "is %d bytes, more than %d", len(*n.APIKey), MaxAPIKey)
		}
		creds = &Credentials{APIKey: *n.APIKey}
	case definition.AuthNone:
		if n.APIKey != nil {
			return nil, problem.InvalidField("apiKey", "connector %s takes no credentials", c.ID)
		}
	}
	connID := id.New(IDPrefix)
	if n.Verify != nil {
		cand := &Connection{ID: connID, Namespace: n.Namespace, ConnectorID: c.ID, ConnectorVersion: c.PrimaryVersion,
			State: Ready, Health: HealthUnknown, Labels: n.Labels, Annotations: n.Annotations, Config: n.Config}
		if err := n.Verify(ctx, cand, creds.apiKey()); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	r := row{ID: connID, Namespace: n.Namespace, ConnectorID: c.ID, ConnectorVersion: c.PrimaryVersion,
		State: Ready, Health: HealthUnknown, Config: store.EncodeMap(n.Config), Annotations: store.EncodeMap(n.Annotations),
		CreatedAt: now, UpdatedAt: now}
	if n.OwnerActorID != "" {
		owner := n.OwnerActorID
		r.OwnerActorID = &owner
	}
	if def.Auth.Type == definition.AuthOAuth2 {
		if n.APIKey != nil {
			return nil, problem.InvalidField("apiKey", "connector %s authenticates with OAuth2, not an API key", c.ID)
		}
		if def.Auth.OAuth2.Grant == definition.GrantClientCredentials {
			// The token is fetched at once; nothing is written when that fails.
			ctx := requestlog.WithIdentity(ctx, requestlog.Identity{Namespace: r.Namespace, ConnectionID: r.ID,
				ConnectorID: c.ID, ConnectorVersion: c.PrimaryVersion, Labels: n.Labels})
			cl, err := s.OAuth2Client(ctx, c.ID, c.PrimaryVersion, n.Config)
			if err != nil {
				return nil, err
			}
			tok, err := cl.ClientCredentials(ctx)
			if err != nil {
				return nil, problem.New(http.StatusBadGateway, "connector %s: fetching a token with the client credentials grant failed: %v", c.ID, err)
			}
			b, err := tok.Marshal()
			if err != nil {
				return nil, err
			}
			creds = &Credentials{OAuth2: b}
			r.TokenGeneration = 1
			r.TokenExpiresAt = expiresAt(tok)
			r.Health = HealthHealthy
		} else {
			// The authorization flow of the public service stores the token (see Save).
			r.State = Setup
		}
	}
	if err := s.seal(ctx, &r, creds); err != nil {
		return nil, err
	}
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			if store.IsForeignKeyViolation(err) {
				return problem.InvalidField("namespace", "namespace %q or connector %s does not exist", n.Namespace, c.ID)
			}
			return err
		}
		if err := connector.MarkUsed(tx, c.ID, c.PrimaryVersion); err != nil {
			return err
		}
		return store.SetLabels(tx, store.LabelConnection, r.ID, n.Labels)
	})
	if err != nil {
		return nil, err
	}
	return s.readied(ctx, r.ID)
}

func (s *Service) seal(ctx context.Context, r *row, creds *Credentials) error {
	if creds == nil {
		r.Credentials = nil
		return nil
	}
	b, err := json.Marshal(creds)
	if err != nil {
		return err
	}
	defer clear(b)
	sealed, err := s.Keys.Seal(ctx, r.Namespace, CredentialsColumn, r.ID, b)
	if err != nil {
		return fmt.Errorf("connection: seal credentials: %w", err)
	}
	r.Credentials = &sealed
	return nil
}

// LiveOn counts the connections on a connector version that are not disconnected; it is
// connector.Service.LiveConnections.
func LiveOn(tx *gorm.DB, connectorID string, version int) (int64, error) {
	var n int64
	err := tx.Model(&row{}).Where("connector_id = ? AND connector_version = ? AND state <> ?", connectorID, version, Disconnected).Count(&n).Error
	return n, err
}

// Credentials decrypts the credentials of a connection (nil when it has none).
func (s *Service) Credentials(ctx context.Context, connectionID string) (*Credentials, error) {
	if c, ok := s.cache().credentials(connectionID); ok {
		return c, nil
	}
	gen := s.cache().generation()
	c, err := s.loadCredentials(ctx, connectionID)
	if err == nil {
		s.cache().putCredentials(connectionID, c, gen)
	}
	return c, err
}

func (s *Service) loadCredentials(ctx context.Context, connectionID string) (*Credentials, error) {
	r, err := store.TakeByID[row](s.DB.WithContext(ctx), connectionID, NotFound())
	if err != nil {
		return nil, err
	}
	if r.Credentials == nil {
		return nil, nil
	}
	b, err := s.Keys.Open(ctx, CredentialsColumn, r.ID, *r.Credentials)
	if err != nil {
		return nil, fmt.Errorf("connection: open credentials of %s: %w", r.ID, err)
	}
	defer clear(b)
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("connection: credentials of %s are not valid JSON", r.ID)
	}
	return &c, nil
}

// Get returns a connection.
func (s *Service) Get(ctx context.Context, connectionID string) (*Connection, error) {
	if c, ok := s.cache().conn(connectionID); ok {
		return &c, nil
	}
	gen := s.cache().generation()
	c, err := s.load(ctx, connectionID)
	if err == nil {
		s.cache().putConn(*c, gen)
	}
	return c, err
}

func (s *Service) load(ctx context.Context, connectionID string) (*Connection, error) {
	r, err := store.TakeByID[row](s.DB.WithContext(ctx), connectionID, NotFound())
	if err != nil {
		return nil, err
	}
	out, err := s.hydrate(ctx, []row{*r})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// Filter narrows a listing beyond namespace, scope and labels.
type Filter struct {
	ConnectorID, State, Health string
	OwnerActorID               string
}

// List returns one page of connections ordered by id and the cursor of the next page.
func (s *Service) List(ctx context.Context, o store.ListOptions, f Filter) ([]Connection, string, error) {
	q := s.DB.WithContext(ctx)
	if f.ConnectorID != "" {
		q = q.Where("connector_id = ?", f.ConnectorID)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.Health != "" {
		q = q.Where("health = ?", f.Health)
	}
	if f.OwnerActorID != "" {
		q = q.Where("owner_actor_id = ?", f.OwnerActorID)
	}
	rows, next, err := store.ListNamespaced(q, Table, o, func(r *row) string { return r.ID })
	if err != nil {
		return nil, "", err
	}
	out, err := s.hydrate(ctx, rows)
	return out, next, err
}

// Update replaces the labels and/or annotations given (nil leaves a field alone).
func (s *Service) Update(ctx context.Context, connectionID string, lbls, annotations *map[string]string) (*Connection, error) {
	err := namespace.UpdateMeta(ctx, s.DB, Table, connectionID, lbls, annotations, NotFound())
	s.Changed(ctx, connectionID)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, connectionID)
}

// SetAPIKey replaces the API key of an api_key connection (re-authorization keeps the id);
// the connection becomes ready.
func (s *Service) SetAPIKey(ctx context.Context, connectionID, apiKey string) (*Connection, error) {
	c, err := s.Get(ctx, connectionID)
	if err != nil {
		return nil, err
	}
	def, err := s.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, err
	}
	if def.Auth.Type != definition.AuthAPIKey {
		return nil, problem.Conflict("connection %s is on a connector that authenticates with %s, not an API key", c.ID, def.Auth.Type)
	}
	if apiKey == "" || len(apiKey) > MaxAPIKey {
		return nil, problem.InvalidField("apiKey", "must be 1 to %d bytes", MaxAPIKey)
	}
	r := row{ID: c.ID, Namespace: c.Namespace}
	if err := s.seal(ctx, &r, &Credentials{APIKey: apiKey}); err != nil {
		return nil, err
	}
	res := s.DB.WithContext(ctx).Model(&row{}).Where("id = ?", c.ID).
		Updates(map[string]any{"credentials": r.Credentials, "state": Ready, "health": HealthUnknown, "health_reason": "", "probe_failures": 0, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return nil, res.Error
	}
	s.Changed(ctx, c.ID)
	if res.RowsAffected == 0 {
		return nil, NotFound()
	}
	return s.readied(ctx, c.ID)
}

// Disconnect deletes the connection's credentials; it becomes disconnected. Disconnecting
// a disconnected connection changes nothing.
func (s *Service) Disconnect(ctx context.Context, connectionID string) (*Connection, error) {
	s.revoke(ctx, connectionID)
	res := s.DB.WithContext(ctx).Model(&row{}).Where("id = ?", connectionID).
		Updates(map[string]any{"credentials": nil, "state": Disconnected, "token_expires_at": nil, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return nil, res.Error
	}
	s.Changed(ctx, connectionID)
	if res.RowsAffected == 0 {
		return nil, NotFound()
	}
	return s.Get(ctx, connectionID)
}

// Delete removes a disconnected connection.
func (s *Service) Delete(ctx context.Context, connectionID string) error {
	defer s.Changed(ctx, connectionID)
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r row
		err := tx.Where("id = ?", connectionID).Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return NotFound()
		}
		if err != nil {
			return err
		}
		if r.State != Disconnected {
			return problem.Conflict("connection %s is %s: disconnect it first", r.ID, r.State)
		}
		if err := tx.Where("id = ?", r.ID).Delete(&row{}).Error; err != nil {
			return err
		}
		return store.DeleteLabels(tx, store.LabelConnection, r.ID)
	})
}

func (s *Service) hydrate(ctx context.Context, rows []row) ([]Connection, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	lbls, err := store.LoadLabels(s.DB.WithContext(ctx), store.LabelConnection, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Connection, len(rows))
	for i, r := range rows {
		l := lbls[r.ID]
		if l == nil {
			l = map[string]string{}
		}
		out[i] = Connection{ID: r.ID, Namespace: r.Namespace, ConnectorID: r.ConnectorID, ConnectorVersion: r.ConnectorVersion,
			State: r.State, Health: r.Health, HealthReason: r.HealthReason, Labels: l, Annotations: store.DecodeMap(r.Annotations),
			Config: store.DecodeMap(r.Config), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
			ProbeFailures: r.ProbeFailures, LastProbedAt: r.LastProbedAt, NextProbeAt: r.NextProbeAt}
		if r.OwnerActorID != nil {
			out[i].OwnerActorID = *r.OwnerActorID
		}
	}
	return out, nil
}
