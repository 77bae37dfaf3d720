// Package apptest builds a complete app (not serving) for the tests of packages that work
// on it directly, such as the worker's task handlers and the probe runner, and publishes
// connectors and connections on it.
package apptest

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"

	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/store"
	"github.com/authproxy/authproxy/server/testserver"
)

// New returns an app on SQLite in a temporary directory (or a fresh schema of
// o.PostgresDSN), on o.RedisAddr (or an in-process Redis), that may call upstreams on
// loopback and has a task queue of its own (a.Config.Worker.Queue). It is closed with t.
func New(t testing.TB, o testserver.Options) *app.App {
	t.Helper()
	cfg := config.Default(t.TempDir())
	cfg.Proxy.AllowLoopback = true
	cfg.Redis.Addr = o.RedisAddr
	var q [6]byte
	_, _ = rand.Read(q[:])
	cfg.Worker.Queue = "apptest-" + hex.EncodeToString(q[:])
	if o.PostgresDSN != "" {
		cfg.DB = store.Config{Driver: store.Postgres, DSN: testserver.FreshPostgres(t, o.PostgresDSN)}
	}
	a, err := app.New(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// Connection publishes connector name in root with def as its primary version (with the
// client secret, if any) and connects on it (with the API key, if any).
func Connection(t testing.TB, a *app.App, name, def string, clientSecret, apiKey *string) *connection.Connection {
	t.Helper()
	ctx := t.Context()
	cx, err := a.Connectors.Create(ctx, connector.Connector{Namespace: "root", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Connectors.CreateVersion(ctx, cx.ID, def, clientSecret)
	if err != nil {
		t.Fatalf("version of %s: %v", name, err)
	}
	if _, err := a.Connectors.Promote(ctx, cx.ID, v.Version); err != nil {
		t.Fatal(err)
	}
	c, err := a.Connections.Create(ctx, connection.New{Namespace: "root", ConnectorID: cx.ID, APIKey: apiKey})
	if err != nil {
		t.Fatalf("connection on %s: %v", name, err)
	}
	return c
}
