package connection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/requestlog"
)

// The connection service is the token store of the OAuth2 refresher.
var _ oauth2.Store = (*Service)(nil)

// OAuth2Client builds the OAuth2 client of a connector version for a connection's config
// (it reads and decrypts the version's client secret: not for every request).
func (s *Service) OAuth2Client(ctx context.Context, connectorID string, version int, config map[string]string) (*oauth2.Client, error) {
	return s.oauth2Client(ctx, connectorID, version, config, nil)
}

func (s *Service) oauth2Client(ctx context.Context, connectorID string, version int, config map[string]string, id *requestlog.Identity) (*oauth2.Client, error) {
	def, err := s.Definition(ctx, connectorID, version)
	if err != nil {
		return nil, err
	}
	if def.Auth.Type != definition.AuthOAuth2 || def.Auth.OAuth2 == nil {
		return nil, problem.Conflict("connector %s version %d does not authenticate with OAuth2", connectorID, version)
	}
	var secret string
	if def.Auth.OAuth2.NeedsClientSecret() {
		if secret, err = s.Connectors.ClientSecretOf(ctx, connectorID, version); err != nil {
			return nil, err
		}
	}
	return oauth2.NewClient(def.Auth.OAuth2, secret, config, s.tokenClient(id))
}

// ClientFor is OAuth2Client for a connection; its exchanges are logged as the connection's
// even when the context does not say so.
func (s *Service) ClientFor(ctx context.Context, c *Connection) (*oauth2.Client, error) {
	id := IdentityOf(c)
	return s.oauth2Client(ctx, c.ConnectorID, c.ConnectorVersion, c.Config, &id)
}

// IdentityOf is the request log identity of a connection.
func IdentityOf(c *Connection) requestlog.Identity {
	return requestlog.Identity{Namespace: c.Namespace, ConnectionID: c.ID, ConnectorID: c.ConnectorID,
		ConnectorVersion: c.ConnectorVersion, Labels: c.Labels}
}

// tokenClient is the HTTP client of OAuth2 exchanges: HTTPClient, with every exchange
// logged (kind token) when TokenLog is set, for the connection in the request's context or
// else id.
func (s *Service) tokenClient(id *requestlog.Identity) *http.Client {
	base := s.HTTPClient
	if base == nil {
		base = http.DefaultClient
	}
	if s.TokenLog == nil {
		return base
	}
	c := *base
	c.Transport = &requestlog.TokenTransport{Base: base.Transport, Recorder: s.TokenLog, Identity: id}
	return &c
}

// Load implements oauth2.Store: it always reads the database (never the cache), so the
// refresher sees what other replicas stored.
func (s *Service) Load(ctx context.Context, connectionID string) (*oauth2.Token, int64, error) {
	var r row
	err := s.DB.WithContext(ctx).Where("id = ?", connectionID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, 0, NotFound()
	}
	if err != nil {
		return nil, 0, err
	}
	if r.Credentials == nil {
		return nil, r.TokenGeneration, nil
	}
	b, err := s.Keys.Open(ctx, CredentialsColumn, r.ID, *r.Credentials)
	if err != nil {
		return nil, 0, fmt.Errorf("connection: open credentials of %s: %w", r.ID, err)
	}
	defer clear(b)
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, 0, fmt.Errorf("connection: credentials of %s are not valid JSON", r.ID)
	}
	tok, err := c.OAuth2Token()
	if err != nil {
		return nil, 0, fmt.Errorf("connection %s: %w", r.ID, err)
	}
	return tok, r.TokenGeneration, nil
}

// Save implements oauth2.Store: one fenced UPDATE that stores the token (access and refresh
// together), bumps the generation and makes the connection ready and healthy. It returns
// oauth2.ErrStale when the generation is no longer gen, or the connection is being
// disconnected.
func (s *Service) Save(ctx context.Context, connectionID string, gen int64, tok *oauth2.Token) error {
	c, err := s.Get(ctx, connectionID)
	if err != nil {
		return err
	}
	// Any state but disconnecting/disconnected; a refresh of a ready connection is no news
	// to the watchers of connections becoming ready.
	return s.storeToken(ctx, c, gen, tok, []string{Setup, Ready, Failed}, c.State != Ready)
}

// MarkFailed ends an authorization flow that did not succeed: a connection still in setup
// becomes failed with the reason.
func (s *Service) MarkFailed(ctx context.Context, connectionID, reason string) error {
	res := s.DB.WithContext(ctx).Model(&row{}).Where("id = ? AND state = ?", connectionID, Setup).
		Updates(map[string]any{"state": Failed, "health": HealthUnhealthy, "health_reason": truncate(reason), "updated_at": time.Now().UTC()})
	s.Changed(ctx, connectionID)
	return res.Error
}

// MarkUnhealthy records that the connection's credentials stopped working (a permanent
// refresh failure) with the reason.
func (s *Service) MarkUnhealthy(ctx context.Context, connectionID, reason string) error {
	res := s.DB.WithContext(ctx).Model(&row{}).Where("id = ?", connectionID).
		Updates(map[string]any{"health": HealthUnhealthy, "health_reason": truncate(reason), "updated_at": time.Now().UTC()})
	s.Changed(ctx, connectionID)
	return res.Error
}

func truncate(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

func expiresAt(tok *oauth2.Token) *time.Time {
	if tok == nil || tok.Expiry.IsZero() {
		return nil
	}
	t := tok.Expiry.UTC()
	return &t
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// revoke revokes an OAuth2 connection's tokens at the connector's revocation endpoint
// (RFC 7009) before its credentials are deleted. Failures are logged, never returned.
func (s *Service) revoke(ctx context.Context, connectionID string) {
	c, err := s.Get(ctx, connectionID)
	if err != nil {
		return
	}
	def, err := s.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil || def.Auth.Type != definition.AuthOAuth2 || def.Auth.OAuth2 == nil || def.Auth.OAuth2.RevocationURL == "" {
		return
	}
	tok, _, err := s.Load(ctx, c.ID)
	if err != nil || tok == nil {
		return
	}
	cl, err := s.ClientFor(ctx, c)
	if err != nil {
		s.logger().WarnContext(ctx, "revoking the tokens of a disconnected connection: no OAuth2 client", "connection", c.ID, "error", err)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if tok.RefreshToken != "" {
		if err := cl.Revoke(rctx, tok.RefreshToken, "refresh_token"); err != nil {
			s.logger().WarnContext(ctx, "revoking the refresh token of a disconnected connection failed", "connection", c.ID, "error", err)
		}
	}
	if err := cl.Revoke(rctx, tok.AccessToken, "access_token"); err != nil {
		s.logger().WarnContext(ctx, "revoking the access token of a disconnected connection failed", "connection", c.ID, "error", err)
	}
}
