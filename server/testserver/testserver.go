// Package testserver starts a complete in-process AuthProxy for tests, in the spirit of
// net/http/httptest: every service listens on a loopback port, on SQLite (or a fresh
// PostgreSQL schema) and an in-process Redis (or a real one), with a bootstrap admin actor.
package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/blob"
	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/store"
)

// Environment variables that point tests at real services.
const (
	EnvPostgresDSN = "AUTHPROXY_TEST_POSTGRES_DSN"
	EnvRedisAddr   = "AUTHPROXY_TEST_REDIS_ADDR"
)

// Options choose the backends.
type Options struct {
	// Name labels the backend in subtest names.
	Name string
	// PostgresDSN, when set, runs on a fresh schema of that database instead of SQLite.
	PostgresDSN string
	// RedisAddr, when set, uses that Redis instead of an in-process one.
	RedisAddr string
	// MaxTokenLifetime overrides the 1h default.
	MaxTokenLifetime time.Duration
	// Logger receives the server's logs (discarded by default).
	Logger *slog.Logger
	// Blob, when set, replaces the blob store of recorded bodies (a local directory under
	// DataDir by default), for example with an S3 bucket.
	Blob *blob.Config

	// OAuth2StateTTL, when set, bounds how long an OAuth2 authorization flow may take
	// (oauthflow.Flow.StateTTL).
	OAuth2StateTTL time.Duration
	// OAuth2SessionActor, when set, is oauthflow.Flow.SessionActor: the actor of the
	// browser's session on the public service.
	OAuth2SessionActor func(*http.Request) (actorID string, ok bool)

	// Instrument, when set, is called with the app after it is built and before it
	// serves, to attach counters (database callbacks, wrapped services) race-free.
	Instrument func(*app.App)
	// Configure, when set, adjusts the configuration last, before the app is built (for
	// settings no other option covers, such as marketplace.loginUrl).
	Configure func(*config.Config)
}

// Backends returns SQLite always, and PostgreSQL when AUTHPROXY_TEST_POSTGRES_DSN is set;
// each uses a real Redis when AUTHPROXY_TEST_REDIS_ADDR is set.
func Backends() []Options {
	redisAddr := os.Getenv(EnvRedisAddr)
	out := []Options{{Name: "sqlite", RedisAddr: redisAddr}}
	if dsn := os.Getenv(EnvPostgresDSN); dsn != "" {
		out = append(out, Options{Name: "postgres", PostgresDSN: dsn, RedisAddr: redisAddr})
	}
	return out
}

// Server is a running in-process AuthProxy.
type Server struct {
	PublicURL, APIURL, AdminURL, WorkerURL string
	// AdminActor is the bootstrap admin's subject ("root/admin"); AdminKeyFile holds its
	// private key (PEM) and AdminKey the same bytes.
	AdminActor   string
	AdminKeyFile string
	AdminKey     []byte
	AdminID      string
	DataDir      string

	app      *app.App
	cfg      config.Config
	opts     Options
	cancel   context.CancelFunc
	done     chan error
	cleanups []func()
}

// Start runs a server for the duration of t.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := start(t.TempDir(), o, t.Cleanup)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a server whose files live in dir, for callers without a testing.TB (such as
// TestMain). Close it when done.
func New(dir string, o Options) (*Server, error) {
	var cleanups []func()
	s, err := start(dir, o, func(f func()) { cleanups = append(cleanups, f) })
	if err != nil {
		for _, f := range cleanups {
			f()
		}
		return nil, err
	}
	s.cleanups = cleanups
	return s, nil
}

func start(dir string, o Options, cleanup func(func())) (*Server, error) {
	ctx := context.Background()
	cfg := config.Default(dir)
	cfg.Listen = config.Listen{Public: "127.0.0.1:0", API: "127.0.0.1:0", Admin: "127.0.0.1:0", Worker: "127.0.0.1:0"}
	cfg.Redis.Addr = o.RedisAddr
	// Servers sharing a real Redis must not take each other's tasks.
	var q [6]byte
	_, _ = rand.Read(q[:])
	cfg.Worker.Queue = "authproxy-test-" + hex.EncodeToString(q[:])
	cfg.Worker.SweepInterval = config.Duration{Duration: 2 * time.Second}
	// Tests call upstreams on loopback; private, link-local and metadata stay refused.
	cfg.Proxy.AllowLoopback = true
	cfg.Worker.KeySyncInterval = config.Duration{Duration: 2 * time.Second}
	cfg.ShutdownTimeout = config.Duration{Duration: 5 * time.Second}
	if o.Blob != nil {
		cfg.Blob = *o.Blob
	}
	if o.MaxTokenLifetime > 0 {
		cfg.Auth.MaxTokenLifetime = config.Duration{Duration: o.MaxTokenLifetime}
	}
	if o.PostgresDSN != "" {
		dsn, drop, err := freshSchema(ctx, o.PostgresDSN)
		if err != nil {
			return nil, err
		}
		cleanup(drop)
		cfg.DB = store.Config{Driver: store.Postgres, DSN: dsn}
	}
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	return launch(cfg, o, true)
}

// StartReplica starts a second complete server for the duration of t on the same database,
// Redis (the primary's in-process one included), task queue, data directory (dev root key
// and system secret) and bootstrap admin as primary, as another replica of a scaled-out
// deployment would. It shuts down before primary. On SQLite both open the same database
// file (WAL, with a busy timeout).
func StartReplica(t testing.TB, primary *Server) *Server {
	t.Helper()
	cfg := primary.cfg
	cfg.Listen = config.Listen{Public: "127.0.0.1:0", API: "127.0.0.1:0", Admin: "127.0.0.1:0", Worker: "127.0.0.1:0"}
	cfg.Redis.Addr = primary.app.RedisAddr()
	s, err := launch(cfg, primary.opts, false)
	if err != nil {
		t.Fatalf("testserver: replica: %v", err)
	}
	s.AdminActor, s.AdminKeyFile, s.AdminKey, s.AdminID = primary.AdminActor, primary.AdminKeyFile, primary.AdminKey, primary.AdminID
	t.Cleanup(s.Close)
	return s
}

// launch builds the app for cfg and serves it; bootstrap creates the admin actor and the
// test secret table (a replica finds them made).
func launch(cfg config.Config, o Options, bootstrap bool) (*Server, error) {
	ctx := context.Background()
	dir := cfg.DataDir
	l := o.Logger
	if l == nil {
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a, err := app.New(ctx, cfg, l)
	if err != nil {
		return nil, err
	}
	confine(a, cfg)
	if o.OAuth2StateTTL > 0 {
		a.OAuth2Flow.StateTTL = o.OAuth2StateTTL
	}
	if o.OAuth2SessionActor != nil {
		a.OAuth2Flow.SessionActor = o.OAuth2SessionActor
	}
	if o.Instrument != nil {
		o.Instrument(a)
	}
	s := &Server{AdminActor: app.AdminSubject, DataDir: dir, app: a, cfg: cfg, opts: o, done: make(chan error, 1)}
	if bootstrap {
		if err := createSecretTable(ctx, a); err != nil {
			a.Close()
			return nil, err
		}
		keyFile := filepath.Join(dir, "admin_key")
		admin, err := a.Bootstrap(ctx, keyFile)
		if err != nil {
			a.Close()
			return nil, err
		}
		key, err := os.ReadFile(keyFile)
		if err != nil {
			a.Close()
			return nil, err
		}
		s.AdminKeyFile, s.AdminKey, s.AdminID = keyFile, key, admin.ID
	}
	ls, err := a.Listen(app.AllServices)
	if err != nil {
		a.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	for _, l := range ls {
		u := "http://" + l.Addr().String()
		switch l.Service {
		case app.Public:
			s.PublicURL = u
		case app.API:
			s.APIURL = u
		case app.Admin:
			s.AdminURL = u
		case app.Worker:
			s.WorkerURL = u
		}
	}
	go func() { s.done <- a.Serve(sctx, ls) }()
	return s, nil
}

// Close shuts the server down gracefully and releases its resources.
func (s *Server) Close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.app.Close()
	s.cancel = nil
	for _, f := range s.cleanups {
		f()
	}
}

// AdminClient returns an SDK client for the admin service signed by the bootstrap admin.
func (s *Server) AdminClient(t testing.TB) *sdk.ClientWithResponses {
	t.Helper()
	c, err := sdk.NewClientFromKeyFile(s.AdminURL, s.AdminActor, s.AdminKeyFile, sdk.AudienceAdmin)
	if err != nil {
		t.Fatalf("testserver: admin client: %v", err)
	}
	return c
}

// FreshPostgres creates a uniquely named schema in the database at dsn, drops it when t
// ends, and returns a DSN whose search_path is that schema.
func FreshPostgres(t testing.TB, dsn string) string {
	t.Helper()
	out, drop, err := freshSchema(context.Background(), dsn)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(drop)
	return out
}

// freshSchema creates a uniquely named schema and returns a DSN whose search_path is it.
func freshSchema(ctx context.Context, dsn string) (string, func(), error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "authproxy_test_" + hex.EncodeToString(b[:])
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return "", nil, fmt.Errorf("postgres %s: %w", EnvPostgresDSN, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return "", nil, err
	}
	if err := db.WithContext(ctx).Exec("CREATE SCHEMA " + schema).Error; err != nil {
		_ = sqlDB.Close()
		return "", nil, fmt.Errorf("postgres: create schema: %w", err)
	}
	drop := func() {
		_ = db.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE").Error
		_ = sqlDB.Close()
	}
	return withSearchPath(dsn, schema), drop, nil
}

func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}
