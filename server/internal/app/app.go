// Package app assembles the server from its parts: database, Redis, domain services, the
// HTTP API, and the four services (public, api, admin, worker) the binary runs.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/actor"
	"github.com/authproxy/authproxy/server/internal/authn"
	"github.com/authproxy/authproxy/server/internal/blob"
	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/httpapi"
	"github.com/authproxy/authproxy/server/internal/invalidation"
	"github.com/authproxy/authproxy/server/internal/keys"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/oauthflow"
	"github.com/authproxy/authproxy/server/internal/probe"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/proxy"
	"github.com/authproxy/authproxy/server/internal/proxy/guard"
	"github.com/authproxy/authproxy/server/internal/requestlog"
	"github.com/authproxy/authproxy/server/internal/session"
	"github.com/authproxy/authproxy/server/internal/store"
	"github.com/authproxy/authproxy/server/internal/tasks"
	"github.com/authproxy/authproxy/server/internal/web"
)

// Services the binary can run.
const (
	Public = "public"
	API    = "api"
	Admin  = "admin"
	Worker = "worker"
)

// AllServices lists every service in port order.
var AllServices = []string{Public, API, Admin, Worker}

// App is a running server's shared state.
type App struct {
	Config      config.Config
	Logger      *slog.Logger
	DB          *gorm.DB
	Redis       redis.UniversalClient
	Namespaces  *namespace.Service
	Actors      *actor.Service
	Keys        *keys.Service
	Connectors  *connector.Service
	Connections *connection.Service
	Proxy       *proxy.Proxy
	Probes      *probe.Runner
	Queue       *tasks.Queue
	Verifier    *authn.Verifier
	Registry    *prometheus.Registry
	// RequestLog writes the request log in batches; RequestLogs reads it.
	RequestLog  *requestlog.Writer
	RequestLogs *requestlog.Service

	// Invalidation announces changes to the in-memory caches of every replica.
	Invalidation *invalidation.Bus
	// Blobs holds recorded request and response bodies (config blob).
	Blobs blob.Store

	// Refresher refreshes OAuth2 tokens, once per connection across replicas.
	Refresher *oauth2.Refresher
	// OAuth2Flow runs the authorization code flow through the public service.
	OAuth2Flow *oauthflow.Flow
	// Sessions are the browser sessions of the marketplace and admin pages (Site).
	Sessions *session.Store
	Site     *web.Site

	metrics     *httpapi.Metrics
	mini        *miniredis.Miniredis
	miniStop    chan struct{}
	boundPublic atomic.Pointer[string]
}

// PublicURL is the base URL of the public service: the configured publicUrl, or in dev mode
// "http://" + the address the public service is bound to.
func (a *App) PublicURL() string {
	if a.Config.PublicURL == "" && a.Config.Dev {
		if p := a.boundPublic.Load(); p != nil {
			return *p
		}
	}
	return a.Config.PublicBaseURL()
}

// New opens the database and Redis and builds the services. In dev mode (or with
// AutoMigrate) it applies pending migrations first.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (*App, error) {
	if logger == nil {
		logger = slog.Default()
	}
	a := &App{Config: cfg, Logger: logger}
	if cfg.Dev && cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	rootSrc, err := keys.RootKeySource(cfg)
	if err != nil {
		return nil, err
	}
	root, err := keys.LoadRootKey(ctx, rootSrc)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	a.DB = db
	if cfg.Dev || cfg.AutoMigrate {
		applied, err := store.Migrate(ctx, db)
		if err != nil {
			a.Close()
			return nil, err
		}
		if len(applied) > 0 {
			logger.Info("applied migrations", "versions", applied)
		}
	}
	if err := a.openRedis(ctx); err != nil {
		a.Close()
		return nil, err
	}
	secret, err := loadSystemSecret(cfg)
	if err != nil {
		a.Close()
		return nil, err
	}
	a.Actors = &actor.Service{DB: db, Owned: []actor.Owned{connection.Owned}}
	a.Keys = keys.New(db, root)
	a.Queue = tasks.NewQueue(a.Redis, cfg.Worker.Queue)
	a.Keys.Notify = a.Queue.Notifier(logger)
	a.Keys.OnError = func(err error) { logger.Warn("background step failed", "error", err) }
	a.Connectors = &connector.Service{DB: db, Keys: a.Keys}
	a.Connections = &connection.Service{DB: db, Keys: a.Keys, Connectors: a.Connectors}
	a.Connectors.LiveConnections = connection.LiveOn
	policy := guard.Policy{AllowLoopback: cfg.Proxy.AllowLoopback, AllowPrivate: cfg.Proxy.AllowPrivate}
	for _, p := range cfg.Proxy.AllowedCIDRs {
		policy.AllowedCIDRs = append(policy.AllowedCIDRs, netip.MustParsePrefix(p)) // checked by config.Validate
	}
	a.Proxy = &proxy.Proxy{Connections: a.Connections, Client: proxy.NewClient(&guard.Dialer{Policy: policy})}
	// Token, refresh and revocation requests go through the same guarded client.
	a.Connections.HTTPClient = a.Proxy.Client
	a.Connections.Logger = logger
	a.Refresher = &oauth2.Refresher{Store: a.Connections, Redis: a.Redis}
	a.Proxy.Refresher = a.Refresher
	a.Probes = &probe.Runner{Proxy: a.Proxy, Connections: a.Connections}
	a.Connections.OnReady = a.Queue.ProbeOnReady(a.Connections, logger)
	a.OAuth2Flow = &oauthflow.Flow{Connections: a.Connections, Redis: a.Redis, PublicURL: a.PublicURL, Logger: logger}
	a.Namespaces = &namespace.Service{DB: db, Dependents: []namespace.Dependent{actor.Dependent, keys.Dependent, keys.AssignmentDependent, connector.Dependent, connection.Dependent}}
	a.Verifier = &authn.Verifier{
		Actors:       a.Actors,
		Nonces:       authn.NewRedisNonces(a.Redis, "authproxy:nonce:"),
		SystemSecret: secret,
		MaxLifetime:  cfg.Auth.MaxTokenLifetime.Duration,
		Leeway:       cfg.Auth.ClockSkew.Duration,
	}
	a.startInvalidation()
	if err := a.startSite(cfg, logger); err != nil {
		a.Close()
		return nil, err
	}
	if err := a.Namespaces.EnsureRoot(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("create root namespace (is the schema migrated? run `authproxy migrate`): %w", err)
	}
	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = httpapi.NewMetrics(a.Registry)
	if a.Blobs, err = blob.Open(cfg.BlobConfig()); err != nil {
		a.Close()
		return nil, fmt.Errorf("blob store: %w", err)
	}
	a.startRequestLog()
	return a, nil
}

// startSite prepares the marketplace and admin pages and their sessions.
func (a *App) startSite(cfg config.Config, logger *slog.Logger) error {
	a.Sessions = &session.Store{Redis: a.Redis, TTL: cfg.Marketplace.SessionTTL.Duration}
	secure := !cfg.Dev || strings.HasPrefix(cfg.PublicBaseURL(), "https://")
	a.Site = &web.Site{
		Broker:         &session.Broker{Verifier: a.Verifier, Actors: a.Actors, Store: a.Sessions},
		Sessions:       a.Sessions,
		Connectors:     a.Connectors,
		Connections:    a.Connections,
		Connecting:     web.Connecting{Flow: a.OAuth2Flow, Probes: a.Probes},
		Logger:         logger,
		Secure:         secure,
		LoginURL:       cfg.Marketplace.LoginURL,
		FrameAncestors: cfg.Marketplace.FrameAncestors,
		Theme:          cfg.Marketplace.Theme,
	}
	a.OAuth2Flow.SessionActor = a.Site.MarketplaceActor
	return a.Site.Init()
}

// startRequestLog starts the request log writer, has the proxy record into it and exports
// its counters.
func (a *App) startRequestLog() {
	a.RequestLogs = &requestlog.Service{DB: a.DB, Blobs: a.Blobs, Keys: a.Keys}
	a.RequestLog = requestlog.NewWriter(a.DB, requestlog.Options{Logger: a.Logger, Blobs: a.Blobs, Keys: a.Keys})
	a.RequestLog.Start()
	a.Proxy.Recorder = a.RequestLog
	a.Proxy.BodyLimit = a.Config.RequestLog.BodyLimit
	a.Connections.TokenLog = a.RequestLog
	counter := func(name, help string, v func(requestlog.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(a.RequestLog.Stats())) })
	}
	a.Registry.MustRegister(
		counter("authproxy_request_log_flushed_total", "Request log entries written to the database.",
			func(s requestlog.Stats) uint64 { return s.Flushed }),
		counter("authproxy_request_log_dropped_total", "Request log entries dropped because the buffer was full.",
			func(s requestlog.Stats) uint64 { return s.Dropped }),
		counter("authproxy_request_log_failed_batches_total", "Request log batches the database refused.",
			func(s requestlog.Stats) uint64 { return s.FailedBatches }),
		counter("authproxy_request_log_lost_total", "Request log entries lost in failed batches.",
			func(s requestlog.Stats) uint64 { return s.Lost }),
		counter("authproxy_request_log_bodies_failed_total", "Request log entries written without their recorded bodies (sealing or the blob store failed, or too many were waiting).",
			func(s requestlog.Stats) uint64 { return s.BodiesFailed }),
	)
}

func (a *App) openRedis(ctx context.Context) error {
	addr := a.Config.Redis.Addr
	if addr == "" {
		if !a.Config.Dev {
			return errors.New("redis: no address configured")
		}
		m := miniredis.NewMiniRedis()
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return fmt.Errorf("in-process redis: %w", err)
		}
		a.mini = m
		addr = m.Addr()
		// The in-process Redis keeps time only when told: let key TTLs (single-use token
		// ids, sessions, flow states, locks) run out as they would on a real Redis.
		a.miniStop = make(chan struct{})
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-a.miniStop:
					return
				case <-t.C:
					m.FastForward(time.Second)
				}
			}
		}()
	}
	a.Redis = redis.NewClient(&redis.Options{Addr: addr, Password: a.Config.Redis.Password, DB: a.Config.Redis.DB})
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Redis.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", addr, err)
	}
	return nil
}

// RedisAddr is the address of the Redis in use (the in-process one in dev mode).
func (a *App) RedisAddr() string {
	if a.mini != nil {
		return a.mini.Addr()
	}
	return a.Config.Redis.Addr
}

func loadSystemSecret(cfg config.Config) ([]byte, error) {
	if v := os.Getenv("AUTHPROXY_SYSTEM_SECRET"); v != "" {
		return []byte(v), nil
	}
	path := cfg.Auth.SystemSecretFile
	if path == "" {
		return nil, nil // system tokens disabled
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && cfg.Dev {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		return secret, os.WriteFile(path, secret, 0o600)
	}
	if err != nil {
		return nil, fmt.Errorf("system secret: %w", err)
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("system secret %s: needs at least 32 bytes", path)
	}
	return b, nil
}

// Ready checks the database and Redis are reachable.
func (a *App) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := store.Ping(ctx, a.DB); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if err := a.Redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Handler returns the complete HTTP handler of one service.
func (a *App) Handler(service string) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, "{\"status\":\"ok\",\"service\":%q}\n", service)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Ready(r.Context()); err != nil {
			a.Logger.WarnContext(r.Context(), "not ready", "error", err)
			problem.Write(w, problem.New(http.StatusServiceUnavailable, "not ready: %v", err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, "{\"status\":\"ready\",\"service\":%q}\n", service)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Registry, promhttp.HandlerOpts{}))
	switch service {
	case API, Admin:
		h, err := httpapi.New(httpapi.Config{OAuth2Flow: a.OAuth2Flow, Namespaces: a.Namespaces, Actors: a.Actors, Keys: a.Keys, Connectors: a.Connectors, Connections: a.Connections, Proxy: a.Proxy, Probes: a.Probes, RequestLogs: a.RequestLogs, Verifier: a.Verifier, Audience: service, Logger: a.Logger})
		if err != nil {
			return nil, err
		}
		if service == Admin {
			a.Site.RegisterAdmin(mux, &web.Admin{Namespaces: a.Namespaces, Keys: a.Keys,
				RequestLogs: a.RequestLogs, Queues: asynq.NewInspectorFromRedisClient(a.Redis)})
		}
		mux.Handle("/", h)
	case Public, Worker:
		if service == Public {
			a.OAuth2Flow.Register(mux)
			a.Site.RegisterMarketplace(mux)
		}
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			problem.Write(w, problem.NotFound("no route for %s %s on the %s service", r.Method, r.URL.Path, service))
		})
	default:
		return nil, fmt.Errorf("unknown service %q (use %s)", service, strings.Join(AllServices, ", "))
	}
	return httpapi.Instrument(service, a.Logger, a.metrics)(mux), nil
}

// Listener is a bound service.
type Listener struct {
	Service string
	net.Listener
}

// Listen binds the listed services to their configured addresses.
func (a *App) Listen(services []string) ([]Listener, error) {
	var out []Listener
	for _, s := range services {
		addr := a.address(s)
		if addr == "" {
			return nil, fmt.Errorf("unknown service %q (use %s)", s, strings.Join(AllServices, ", "))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			for _, o := range out {
				_ = o.Close()
			}
			return nil, fmt.Errorf("%s service: %w", s, err)
		}
		out = append(out, Listener{Service: s, Listener: l})
		if s == Public {
			u := "http://" + l.Addr().String()
			a.boundPublic.Store(&u)
		}
	}
	return out, nil
}

func (a *App) address(service string) string {
	switch service {
	case Public:
		return a.Config.Listen.Public
	case API:
		return a.Config.Listen.API
	case Admin:
		return a.Config.Listen.Admin
	case Worker:
		return a.Config.Listen.Worker
	}
	return ""
}

// Serve serves every listener until ctx is cancelled, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish within the shutdown timeout, and returns.
func (a *App) Serve(ctx context.Context, ls []Listener) error {
	var servers []*http.Server
	errs := make(chan error, len(ls))
	for _, l := range ls {
		if l.Service != Worker {
			continue
		}
		w, err := a.StartWorker(ctx)
		if err != nil {
			return err
		}
		defer w.Shutdown()
	}
	for _, l := range ls {
		h, err := a.Handler(l.Service)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn)}
		servers = append(servers, srv)
		go func(l Listener) {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("%s service: %w", l.Service, err)
			}
		}(l)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	timeout := a.Config.ShutdownTimeout.Duration
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func(s *http.Server) {
			defer wg.Done()
			if err := s.Shutdown(sctx); err != nil {
				a.Logger.Warn("shutdown did not finish in time", "error", err)
			}
		}(s)
	}
	wg.Wait()
	if a.RequestLog != nil {
		// In-flight calls are done: write what they logged before the process goes.
		_ = a.RequestLog.Flush(sctx)
	}
	return serveErr
}

// StartWorker starts processing background tasks (the worker service does this when it
// serves); stop it with Shutdown. A root key that changed since values were sealed (the
// source holds a previous version) starts a re-encryption onto the new one.
func (a *App) StartWorker(ctx context.Context) (*tasks.Worker, error) {
	w := tasks.NewWorker(a.Redis, a.Keys, tasks.WorkerConfig{
		Connectors: a.Connectors, Connections: a.Connections, Refresher: a.Refresher, Probes: a.Probes,
		Queue: a.Config.Worker.Queue, Concurrency: a.Config.Worker.Concurrency,
		KeySyncInterval: a.Config.Worker.KeySyncInterval.Duration, SweepInterval: a.Config.Worker.SweepInterval.Duration,
		Logger: a.Logger,
	})
	if p := a.Keys.Root.Previous; p != nil {
		if _, err := a.Keys.StartReencryption(ctx, fmt.Sprintf("root key rotated from %s to %s", p.ID, a.Keys.Root.Version.ID)); err != nil {
			return nil, err
		}
	}
	if err := w.Start(); err != nil {
		return nil, err
	}
	return w, nil
}

// Close flushes the request log and releases the database and Redis.
func (a *App) Close() {
	if a.RequestLog != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = a.RequestLog.Close(ctx)
		cancel()
	}
	a.Invalidation.Close()
	if a.Redis != nil {
		_ = a.Redis.Close()
	}
	if a.mini != nil {
		close(a.miniStop)
		a.mini.Close()
	}
	if a.DB != nil {
		if sqlDB, err := a.DB.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}
}
