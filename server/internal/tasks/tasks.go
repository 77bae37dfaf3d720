// Package tasks runs background work on asynq queues in Redis: re-encryption jobs, the
// periodic sync of external key sources, and the sweep that hands pending or abandoned
// jobs to a worker again, and the proactive refresh of OAuth2 tokens. Task types are constants beside their payloads and handlers.
//
// The api and admin services enqueue through a [Queue]; the worker service runs a
// [Worker]. Every replica of the worker service runs the scheduler too: periodic tasks are
// enqueued with asynq.Unique, so replicas do not pile them up, and the work itself is
// fenced in the database (a re-encryption job is held by one worker at a time).
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/keys"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/oauthflow"
	"github.com/authproxy/authproxy/server/internal/probe"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// Task types.
const (
	// TypeReencrypt runs one re-encryption job; payload [ReencryptPayload].
	TypeReencrypt = "encryption:reencrypt"
	// TypeKeySync checks external key sources for new versions; no payload.
	TypeKeySync = "encryption:sync"
	// TypeSweep enqueues pending re-encryption jobs and those whose worker died; no payload.
	TypeSweep = "encryption:sweep"
	// TypeArchiveUnused archives active connector versions whose connections are all gone;
	// no payload.
	TypeArchiveUnused = "connectors:archive-unused"
	// TypeTokenRefreshScan enqueues a TypeTokenRefresh for every OAuth2 token that expires
	// within TokenRefreshWindow, and fails the connections whose authorization flow was
	// abandoned; no payload.
	TypeTokenRefreshScan = "connections:refresh-scan"
	// TypeTokenRefresh refreshes one connection's OAuth2 token if it expires within the
	// connector's lead time; payload [TokenRefreshPayload].
	TypeTokenRefresh = "connections:refresh"
)

// Token refresh scan settings.
const (
	// TokenRefreshScanInterval is how often the scan runs.
	TokenRefreshScanInterval = time.Minute
	// TokenRefreshWindow is the longest lead time the scan honours: it picks tokens expiring
	// within it, and each refresh task checks the connector's own lead time.
	TokenRefreshWindow = time.Hour
	// TokenRefreshBatch bounds the refresh tasks one scan enqueues (the soonest expiries
	// first; the next scan picks up the rest).
	TokenRefreshBatch = 1000
)

// TokenRefreshPayload names the connection a TypeTokenRefresh task refreshes.
type TokenRefreshPayload struct {
	ConnectionID string `json:"connectionId"`
}

// ReencryptPayload names the job a TypeReencrypt task runs.
type ReencryptPayload struct {
	JobID string `json:"jobId"`
}

// Queue enqueues tasks.
type Queue struct {
	client *asynq.Client
	name   string
}

// NewQueue returns a Queue on the named asynq queue over rdb (which it does not close).
func NewQueue(rdb redis.UniversalClient, name string) *Queue {
	return &Queue{client: asynq.NewClientFromRedisClient(rdb), name: name}
}

// EnqueueReencrypt hands re-encryption job jobID to a worker. A task for the job that is
// already queued counts as success.
func (q *Queue) EnqueueReencrypt(ctx context.Context, jobID string) error {
	payload, err := json.Marshal(ReencryptPayload{JobID: jobID})
	if err != nil {
		return err
	}
	_, err = q.client.EnqueueContext(ctx, asynq.NewTask(TypeReencrypt, payload),
		asynq.Queue(q.name), asynq.TaskID(TypeReencrypt+":"+jobID), asynq.MaxRetry(10), asynq.Timeout(6*time.Hour))
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tasks: enqueue re-encryption job %s: %w", jobID, err)
	}
	return nil
}

// EnqueueTokenRefresh hands the refresh of a connection's OAuth2 token to a worker. A task
// for the connection that is already queued (or retrying) counts as success.
func (q *Queue) EnqueueTokenRefresh(ctx context.Context, connectionID string) error {
	payload, err := json.Marshal(TokenRefreshPayload{ConnectionID: connectionID})
	if err != nil {
		return err
	}
	_, err = q.client.EnqueueContext(ctx, asynq.NewTask(TypeTokenRefresh, payload),
		asynq.Queue(q.name), asynq.TaskID(TypeTokenRefresh+":"+connectionID), asynq.Unique(TokenRefreshScanInterval),
		asynq.MaxRetry(5), asynq.Timeout(time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tasks: enqueue token refresh of %s: %w", connectionID, err)
	}
	return nil
}

// Notifier adapts the Queue to keys.Service.Notify, logging what it cannot enqueue (the
// sweep finds such jobs again).
func (q *Queue) Notifier(logger *slog.Logger) func(ctx context.Context, jobID string) {
	return func(ctx context.Context, jobID string) {
		if err := q.EnqueueReencrypt(ctx, jobID); err != nil {
			logger.WarnContext(ctx, "re-encryption job not enqueued; the sweep will retry", "job", jobID, "error", err)
		}
	}
}

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// Connectors, when set, gets its unused active versions archived periodically.
	Connectors *connector.Service
	// Connections and Refresher, when both set, get OAuth2 tokens refreshed before they
	// expire and abandoned authorization flows failed.
	Connections *connection.Service
	Refresher   *oauth2.Refresher
	// Probes, with Connections, runs connector probes after connect and on their period.
	Probes *probe.Runner
	// SetupTimeout is how long a connection may stay in setup (oauthflow.DefaultStateTTL:
	// the authorization flow cannot complete after its state expired).
	SetupTimeout    time.Duration
	Queue           string
	Concurrency     int
	KeySyncInterval time.Duration
	SweepInterval   time.Duration
	Logger          *slog.Logger
}

// Worker processes tasks and schedules the periodic ones.
type Worker struct {
	cfg   WorkerConfig
	keys  *keys.Service
	queue *Queue
	srv   *asynq.Server
	sched *asynq.Scheduler
}

// NewWorker builds a worker over rdb for the keys service.
func NewWorker(rdb redis.UniversalClient, ks *keys.Service, cfg WorkerConfig) *Worker {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := asynqLogger{cfg.Logger.With("component", "asynq")}
	w := &Worker{cfg: cfg, keys: ks, queue: NewQueue(rdb, cfg.Queue)}
	w.srv = asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:     cfg.Concurrency,
		Queues:          map[string]int{cfg.Queue: 1},
		Logger:          log,
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 10 * time.Second,
		ErrorHandler:    asynq.ErrorHandlerFunc(w.taskFailed),
		RetryDelayFunc: func(n int, _ error, _ *asynq.Task) time.Duration {
			return min(time.Duration(n+1)*2*time.Second, time.Minute)
		},
	})
	w.sched = asynq.NewSchedulerFromRedisClient(rdb, &asynq.SchedulerOpts{Logger: log, LogLevel: asynq.WarnLevel})
	return w
}

// Handler routes every task type to its handler.
func (w *Worker) Handler() asynq.Handler {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeReencrypt, w.handleReencrypt)
	mux.HandleFunc(TypeKeySync, w.handleKeySync)
	mux.HandleFunc(TypeSweep, w.handleSweep)
	mux.HandleFunc(TypeArchiveUnused, w.handleArchiveUnused)
	mux.HandleFunc(TypeTokenRefreshScan, w.handleTokenRefreshScan)
	mux.HandleFunc(TypeTokenRefresh, w.handleTokenRefresh)
	mux.HandleFunc(TypeProbeScan, w.handleProbeScan)
	mux.HandleFunc(TypeProbe, w.handleProbe)
	return mux
}

// Start starts processing and scheduling; stop with Shutdown.
func (w *Worker) Start() error {
	periodic := []struct {
		typ   string
		every time.Duration
	}{{TypeKeySync, w.cfg.KeySyncInterval}, {TypeSweep, w.cfg.SweepInterval}, {TypeArchiveUnused, w.cfg.SweepInterval}}
	if w.refreshing() {
		periodic = append(periodic, struct {
			typ   string
			every time.Duration
		}{TypeTokenRefreshScan, TokenRefreshScanInterval})
	}
	if w.probing() {
		periodic = append(periodic, struct {
			typ   string
			every time.Duration
		}{TypeProbeScan, ProbeScanInterval})
	}
	for _, p := range periodic {
		spec := fmt.Sprintf("@every %s", p.every)
		if _, err := w.sched.Register(spec, asynq.NewTask(p.typ, nil),
			asynq.Queue(w.cfg.Queue), asynq.Unique(p.every), asynq.MaxRetry(0), asynq.Timeout(p.every)); err != nil {
			return fmt.Errorf("tasks: schedule %s: %w", p.typ, err)
		}
	}
	if err := w.srv.Start(w.Handler()); err != nil {
		return fmt.Errorf("tasks: start worker: %w", err)
	}
	if err := w.sched.Start(); err != nil {
		w.srv.Shutdown()
		return fmt.Errorf("tasks: start scheduler: %w", err)
	}
	// Pick up what is pending now rather than at the first sweep.
	if err := w.Sweep(context.Background()); err != nil {
		w.cfg.Logger.Warn("initial sweep failed", "error", err)
	}
	return nil
}

// Shutdown stops scheduling, waits for running tasks up to the shutdown timeout and stops.
// A re-encryption interrupted here keeps its committed batches and resumes later.
func (w *Worker) Shutdown() {
	w.sched.Shutdown()
	w.srv.Shutdown()
}

func (w *Worker) handleReencrypt(ctx context.Context, t *asynq.Task) error {
	var p ReencryptPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" {
		return fmt.Errorf("tasks: bad %s payload: %w", TypeReencrypt, asynq.SkipRetry)
	}
	err := w.keys.RunReencryption(ctx, p.JobID)
	if errors.Is(err, keys.ErrJobNotClaimed) {
		return nil // finished, or another worker has it
	}
	return err
}

func (w *Worker) handleKeySync(ctx context.Context, _ *asynq.Task) error {
	added, err := w.keys.Sync(ctx)
	for _, v := range added {
		w.cfg.Logger.InfoContext(ctx, "new key version from external source", "key", v.KeyID, "version", v.Number)
	}
	if err != nil {
		w.cfg.Logger.WarnContext(ctx, "key sync", "error", err)
	}
	return nil // the next period tries again
}

func (w *Worker) handleArchiveUnused(ctx context.Context, _ *asynq.Task) error {
	if w.cfg.Connectors == nil {
		return nil
	}
	n, err := w.cfg.Connectors.ArchiveUnused(ctx)
	if n > 0 {
		w.cfg.Logger.InfoContext(ctx, "archived connector versions without connections", "count", n)
	}
	return err
}

func (w *Worker) refreshing() bool {
	return w.cfg.Connections != nil && w.cfg.Refresher != nil
}

func (w *Worker) setupTimeout() time.Duration {
	if w.cfg.SetupTimeout > 0 {
		return w.cfg.SetupTimeout
	}
	return oauthflow.DefaultStateTTL
}

// handleTokenRefreshScan fails abandoned authorization flows and enqueues one refresh per
// OAuth2 token expiring within TokenRefreshWindow.
func (w *Worker) handleTokenRefreshScan(ctx context.Context, _ *asynq.Task) error {
	if !w.refreshing() {
		return nil
	}
	var errs []error
	failed, err := w.cfg.Connections.FailStaleSetup(ctx, w.setupTimeout())
	if len(failed) > 0 {
		w.cfg.Logger.InfoContext(ctx, "connections whose authorization was not completed are failed", "count", len(failed))
	}
	errs = append(errs, err)
	ids, err := w.cfg.Connections.ExpiringTokens(ctx, TokenRefreshWindow, TokenRefreshBatch)
	errs = append(errs, err)
	for _, id := range ids {
		errs = append(errs, w.queue.EnqueueTokenRefresh(ctx, id))
	}
	return errors.Join(errs...)
}

// handleTokenRefresh refreshes one connection's token when it expires within the
// connector's lead time (the refresher coordinates with the proxy and other replicas). A
// refusal for good marks the connection unhealthy and is not retried; other failures are
// returned for asynq to retry with backoff.
func (w *Worker) handleTokenRefresh(ctx context.Context, t *asynq.Task) error {
	var p TokenRefreshPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ConnectionID == "" {
		return fmt.Errorf("tasks: bad %s payload: %w", TypeTokenRefresh, asynq.SkipRetry)
	}
	if !w.refreshing() {
		return nil
	}
	cs := w.cfg.Connections
	c, err := cs.Get(ctx, p.ConnectionID)
	if err != nil {
		if pe, ok := errors.AsType[*problem.Error](err); ok && pe.Status == http.StatusNotFound {
			return nil // deleted since the scan
		}
		return err
	}
	if c.State != connection.Ready {
		return nil // gone, disconnected or not authorized: nothing to refresh
	}
	def, err := cs.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return err
	}
	if def.Auth.Type != definition.AuthOAuth2 || def.Auth.OAuth2 == nil {
		return nil
	}
	cl, err := cs.ClientFor(ctx, c)
	if err != nil {
		return err
	}
	_, err = w.cfg.Refresher.Token(ctx, c.ID, cl, connection.RefreshLeadTime(def))
	switch {
	case err == nil, errors.Is(err, oauth2.ErrNoToken):
		return nil
	}
	refused, merr := cs.RefreshRefused(ctx, c.ID, err)
	if merr != nil {
		return merr
	}
	if refused {
		w.cfg.Logger.WarnContext(ctx, "OAuth2 token refresh refused: the connection is marked unhealthy", "connection", c.ID, "error", err)
		return nil
	}
	return fmt.Errorf("tasks: refresh the OAuth2 token of %s: %w", c.ID, err)
}

func (w *Worker) handleSweep(ctx context.Context, _ *asynq.Task) error {
	return w.Sweep(ctx)
}

// Sweep enqueues every pending re-encryption job and every running one whose lease
// expired.
func (w *Worker) Sweep(ctx context.Context) error {
	ids, err := w.keys.ResumableJobs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, w.queue.EnqueueReencrypt(ctx, id))
	}
	return errors.Join(errs...)
}

// taskFailed logs a failed task; a re-encryption out of retries is marked failed.
func (w *Worker) taskFailed(ctx context.Context, t *asynq.Task, err error) {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	w.cfg.Logger.WarnContext(ctx, "task failed", "type", t.Type(), "retry", retried, "maxRetry", maxRetry, "error", err)
	if t.Type() != TypeReencrypt || retried < maxRetry {
		return
	}
	var p ReencryptPayload
	if json.Unmarshal(t.Payload(), &p) == nil && p.JobID != "" {
		if ferr := w.keys.FailJob(context.WithoutCancel(ctx), p.JobID, err); ferr != nil {
			w.cfg.Logger.WarnContext(ctx, "mark re-encryption job failed", "job", p.JobID, "error", ferr)
		}
	}
}

// asynqLogger sends asynq's logs to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) {
	msg := fmt.Sprint(args...)
	// asynq tries to close the Redis client it was given on shutdown and complains that it
	// cannot: the client is shared on purpose (the App closes it).
	if strings.Contains(msg, "redis connection is shared") {
		a.l.Debug(msg)
		return
	}
	a.l.Error(msg)
}
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
