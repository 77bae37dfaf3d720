package connection

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// Reauthorize authorizes a connection again, keeping its id.
//
//   - OAuth2 authorization code: a connection in setup or ready (healthy or not) is left as it
//     is, with its current token, and needsFlow is true: the caller starts a new
//     authorization flow whose callback replaces the token (CompleteAuthorization). A failed
//     or disconnected connection goes back to setup first (health unknown).
//   - OAuth2 client credentials: a new token is fetched at once and stored (fenced by the
//     token generation); the connection becomes ready and healthy. Nothing changes when the
//     token endpoint fails (502).
//   - API key: 409, the key is replaced with PUT …/apiKey. No auth: 409.
//
// A connection being disconnected cannot be re-authorized (409).
func (s *Service) Reauthorize(ctx context.Context, connectionID string) (c *Connection, needsFlow bool, err error) {
	// Read past the cache: the decision depends on the current state.
	c, err = s.load(ctx, connectionID)
	if err != nil {
		return nil, false, err
	}
	def, err := s.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, false, err
	}
	switch def.Auth.Type {
	case definition.AuthAPIKey:
		return nil, false, problem.Conflict("connection %s authenticates with an API key: re-authorize it by replacing the key with PUT /api/v1/connections/%s/apiKey", c.ID, c.ID)
	case definition.AuthNone:
		return nil, false, problem.Conflict("connection %s is on a connector without authentication: there is nothing to re-authorize", c.ID)
	}
	if def.Auth.OAuth2 == nil {
		return nil, false, problem.Conflict("connection %s: connector %s version %d has no OAuth2 settings", c.ID, c.ConnectorID, c.ConnectorVersion)
	}
	if c.State == Disconnecting {
		return nil, false, problem.Conflict("connection %s is being disconnected: it cannot be re-authorized", c.ID)
	}
	if def.Auth.OAuth2.Grant == definition.GrantClientCredentials {
		c, err = s.reauthorizeClientCredentials(ctx, c)
		return c, false, err
	}
	switch c.State {
	case Setup, Ready:
		return c, true, nil
	case Failed, Disconnected:
		res := s.DB.WithContext(ctx).Model(&row{}).Where("id = ? AND state = ?", c.ID, c.State).
			Updates(map[string]any{"state": Setup, "health": HealthUnknown, "health_reason": "", "updated_at": time.Now().UTC()})
		s.Changed(ctx, c.ID)
		if res.Error != nil {
			return nil, false, res.Error
		}
		if res.RowsAffected == 0 {
			return nil, false, problem.Conflict("connection %s changed while it was being re-authorized; try again", c.ID)
		}
		c, err = s.load(ctx, c.ID)
		return c, true, err
	}
	return nil, false, problem.Conflict("connection %s is %s: it cannot be re-authorized", c.ID, c.State)
}

// reauthorizeClientCredentials fetches a new client credentials token and stores it in
// place of the current one.
func (s *Service) reauthorizeClientCredentials(ctx context.Context, c *Connection) (*Connection, error) {
	gen, _, err := s.generation(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	cl, err := s.ClientFor(ctx, c)
	if err != nil {
		return nil, err
	}
	tok, err := cl.ClientCredentials(ctx)
	if err != nil {
		return nil, problem.New(http.StatusBadGateway, "connection %s: fetching a token with the client credentials grant failed, nothing changed: %v", c.ID, err)
	}
	// A disconnected connection comes back too: re-authorizing is how it is reconnected.
	states := []string{Setup, Ready, Failed, Disconnected}
	if err := s.storeToken(ctx, c, gen, tok, states, true); err != nil {
		if errors.Is(err, oauth2.ErrStale) {
			// A refresh stored a token meanwhile: a fresh one exists either way.
			return s.load(ctx, c.ID)
		}
		return nil, err
	}
	return s.load(ctx, c.ID)
}

// CompleteAuthorization stores the token an authorization code flow obtained. A first
// authorization needs the connection in setup; a re-authorization (reauthorization true)
// also replaces the token of a ready connection, fenced by the token generation so that a
// refresh of the old grant finishing meanwhile cannot overwrite it. The connection becomes
// ready and healthy. A connection in any other state (failed, disconnecting, disconnected) is
// left alone: the answer is a 409 naming its state.
func (s *Service) CompleteAuthorization(ctx context.Context, connectionID string, tok *oauth2.Token, reauthorization bool) error {
	states := []string{Setup}
	if reauthorization {
		states = append(states, Ready)
	}
	c, err := s.load(ctx, connectionID)
	if err != nil {
		return err
	}
	// A concurrent refresh bumps the generation between the read and the write: read again.
	for range 5 {
		gen, state, err := s.generation(ctx, c.ID)
		if err != nil {
			return err
		}
		if !slices.Contains(states, state) {
			return problem.Conflict("The connection is %s, not waiting for an authorization.", state)
		}
		err = s.storeToken(ctx, c, gen, tok, states, true)
		if !errors.Is(err, oauth2.ErrStale) {
			return err
		}
	}
	return problem.Conflict("connection %s kept changing while its authorization was stored; nothing was stored", c.ID)
}

// generation reads the token generation and state of a connection from the database.
func (s *Service) generation(ctx context.Context, connectionID string) (int64, string, error) {
	var r row
	err := s.DB.WithContext(ctx).Select("id", "state", "token_generation").Where("id = ?", connectionID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, "", NotFound()
	}
	return r.TokenGeneration, r.State, err
}

// storeToken is one fenced UPDATE: the token (access and refresh together) replaces the
// stored one only while the generation is still gen and the state one of states; the
// connection becomes ready and healthy, and with announce OnReady is told. It returns
// oauth2.ErrStale when nothing matched.
func (s *Service) storeToken(ctx context.Context, c *Connection, gen int64, tok *oauth2.Token, states []string, announce bool) error {
	b, err := tok.Marshal()
	if err != nil {
		return err
	}
	defer clear(b)
	r := row{ID: c.ID, Namespace: c.Namespace}
	if err := s.seal(ctx, &r, &Credentials{OAuth2: b}); err != nil {
		return err
	}
	res := s.DB.WithContext(ctx).Model(&row{}).
		Where("id = ? AND token_generation = ? AND state IN ?", c.ID, gen, states).
		Updates(map[string]any{"credentials": r.Credentials, "token_generation": gorm.Expr("token_generation + 1"),
			"token_expires_at": expiresAt(tok), "state": Ready, "health": HealthHealthy, "health_reason": "",
			"updated_at": time.Now().UTC()})
	s.Changed(ctx, c.ID)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return oauth2.ErrStale
	}
	if announce {
		// New credentials: whoever watches connections becoming ready (probes) is told.
		_, _ = s.readied(ctx, c.ID)
	}
	return nil
}

// AwaitingAuthorization returns the connection, read past the cache, when an authorization
// flow may complete it: in setup, or ready for a re-authorization. Otherwise it returns a
// 409 naming its state.
func (s *Service) AwaitingAuthorization(ctx context.Context, connectionID string, reauthorization bool) (*Connection, error) {
	c, err := s.load(ctx, connectionID)
	if err != nil {
		return nil, err
	}
	if c.State == Setup || (reauthorization && c.State == Ready) {
		return c, nil
	}
	return nil, problem.Conflict("The connection is %s, not waiting for an authorization.", c.State)
}
