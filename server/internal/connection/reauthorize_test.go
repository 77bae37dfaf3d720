package connection_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
	"github.com/authproxy/authproxy/server/testserver"
)

const acDefinition = `display: {name: Browser flow}
auth:
  type: oauth2
  oauth2:
    grant: authorization_code
    clientId: web
    clientSecretRef: version
    authorizeUrl: http://127.0.0.1:1/authorize
    tokenUrl: http://127.0.0.1:1/token
upstream:
  allowedUrls: ["https://api.example.com/"]
`

// TestCompleteAuthorization: which states an authorization may complete, and the fencing of
// a re-authorization against a refresh of the old grant.
func TestCompleteAuthorization(t *testing.T) {
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			cfg := config.Default(t.TempDir())
			cfg.Worker.Queue = "reauthorize-test"
			if b.PostgresDSN != "" {
				cfg.DB = store.Config{Driver: store.Postgres, DSN: testserver.FreshPostgres(t, b.PostgresDSN)}
			}
			a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(a.Close)
			cx, err := a.Connectors.Create(ctx, connector.Connector{Namespace: "root", Name: "flow"})
			if err != nil {
				t.Fatal(err)
			}
			secret := "web-secret"
			v, err := a.Connectors.CreateVersion(ctx, cx.ID, acDefinition, &secret)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.Connectors.Promote(ctx, cx.ID, v.Version); err != nil {
				t.Fatal(err)
			}
			c, err := a.Connections.Create(ctx, connection.New{Namespace: "root", ConnectorID: cx.ID})
			if err != nil || c.State != connection.Setup {
				t.Fatalf("create: %v %+v", err, c)
			}
			s := a.Connections
			tok := func(name string) *oauth2.Token {
				return &oauth2.Token{AccessToken: "access-" + name, RefreshToken: "refresh-" + name, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}
			}
			stored := func() (string, int64) {
				t.Helper()
				got, gen, err := s.Load(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got == nil {
					return "", gen
				}
				return got.AccessToken, gen
			}
			conflict := func(err error, what string) {
				t.Helper()
				if p := problem.As(err); err == nil || p.Status != http.StatusConflict {
					t.Fatalf("%s: %v, want a 409", what, err)
				}
			}

			if err := s.CompleteAuthorization(ctx, c.ID, tok("1"), false); err != nil {
				t.Fatal(err)
			}
			if got, gen := stored(); got != "access-1" || gen != 1 {
				t.Fatalf("first authorization stored %s, generation %d", got, gen)
			}
			// A first-authorization flow finishing late does not replace a ready token.
			conflict(s.CompleteAuthorization(ctx, c.ID, tok("late"), false), "a second first authorization")
			if got, _ := stored(); got != "access-1" {
				t.Fatalf("a refused authorization stored %s", got)
			}

			// A refresh of the old grant loads generation 1; a re-authorization completes
			// first: the refresh is fenced off and the new grant's token stays.
			_, loaded := stored()
			if err := s.MarkUnhealthy(ctx, c.ID, "refresh refused"); err != nil {
				t.Fatal(err)
			}
			if err := s.CompleteAuthorization(ctx, c.ID, tok("2"), true); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, c.ID, loaded, tok("old-grant")); !errors.Is(err, oauth2.ErrStale) {
				t.Fatalf("a refresh of the old grant after the re-authorization: %v, want ErrStale", err)
			}
			if got, gen := stored(); got != "access-2" || gen != 2 {
				t.Fatalf("after the re-authorization: %s, generation %d", got, gen)
			}
			if got, _ := s.Get(ctx, c.ID); got.State != connection.Ready || got.Health != connection.HealthHealthy || got.HealthReason != "" {
				t.Fatalf("after the re-authorization: %s %s %q", got.State, got.Health, got.HealthReason)
			}
			// A refresh that stored meanwhile (generation moved) does not block the
			// re-authorization: it reads the generation again.
			if err := s.Save(ctx, c.ID, 2, tok("refreshed")); err != nil {
				t.Fatal(err)
			}
			if err := s.CompleteAuthorization(ctx, c.ID, tok("3"), true); err != nil {
				t.Fatal(err)
			}
			if got, gen := stored(); got != "access-3" || gen != 4 {
				t.Fatalf("after a re-authorization following a refresh: %s, generation %d", got, gen)
			}

			// Disconnected: nothing completes it, re-authorizing puts it back in setup.
			if _, err := s.Disconnect(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			conflict(s.CompleteAuthorization(ctx, c.ID, tok("4"), true), "completing a disconnected connection")
			if got, _ := stored(); got != "" {
				t.Fatalf("a disconnected connection got token %s", got)
			}
			got, needsFlow, err := s.Reauthorize(ctx, c.ID)
			if err != nil || !needsFlow || got.State != connection.Setup || got.Health != connection.HealthUnknown {
				t.Fatalf("re-authorize a disconnected connection: %v %v %+v", err, needsFlow, got)
			}
			if err := s.CompleteAuthorization(ctx, c.ID, tok("5"), false); err != nil {
				t.Fatal(err)
			}
			if got, _ := stored(); got != "access-5" {
				t.Fatalf("after reconnecting: %s", got)
			}
		})
	}
}
