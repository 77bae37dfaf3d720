package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// Probe task types.
const (
	// TypeProbeScan enqueues a TypeProbe for every ready connection whose probes are due (on
	// a connector version with probes); no payload.
	TypeProbeScan = "connections:probe-scan"
	// TypeProbe runs one connection's probes if they are due and records the outcome;
	// payload [ProbePayload].
	TypeProbe = "connections:probe"
)

// Probe scan settings.
const (
	// ProbeScanInterval is how often the scan runs (the shortest probe period is 1m).
	ProbeScanInterval = time.Minute
	// ProbeBatch bounds the probe tasks one scan enqueues; the next scan picks up the rest.
	ProbeBatch = 1000
	// probeTimeout bounds one connection's probe run (at most 10 probes, each bounded by
	// the connector's upstream timeout).
	probeTimeout = 10 * time.Minute
)

// ProbePayload names the connection a TypeProbe task probes.
type ProbePayload struct {
	ConnectionID string `json:"connectionId"`
}

// EnqueueProbe hands a probe run of the connection to a worker. A task for the connection
// that is already queued counts as success: duplicates collapse.
func (q *Queue) EnqueueProbe(ctx context.Context, connectionID string) error {
	payload, err := json.Marshal(ProbePayload{ConnectionID: connectionID})
	if err != nil {
		return err
	}
	_, err = q.client.EnqueueContext(ctx, asynq.NewTask(TypeProbe, payload),
		asynq.Queue(q.name), asynq.TaskID(TypeProbe+":"+connectionID), asynq.MaxRetry(3), asynq.Timeout(probeTimeout))
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tasks: enqueue probe of %s: %w", connectionID, err)
	}
	return nil
}

// ProbeOnReady is the connection.Service OnReady hook: a connection that just became ready
// on a connector with probes gets one probe run at once. What cannot be enqueued is logged;
// the periodic scan finds the connection anyway.
func (q *Queue) ProbeOnReady(cs *connection.Service, logger *slog.Logger) func(ctx context.Context, c *connection.Connection) {
	return func(ctx context.Context, c *connection.Connection) {
		def, err := cs.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
		if err != nil || len(def.Probes) == 0 {
			return
		}
		if err := q.EnqueueProbe(ctx, c.ID); err != nil {
			logger.WarnContext(ctx, "probe of a connection that became ready not enqueued; the periodic scan will run it", "connection", c.ID, "error", err)
		}
	}
}

func (w *Worker) probing() bool {
	return w.cfg.Connections != nil && w.cfg.Probes != nil
}

// handleProbeScan enqueues one probe task per connection whose probes are due.
func (w *Worker) handleProbeScan(ctx context.Context, _ *asynq.Task) error {
	if !w.probing() {
		return nil
	}
	ids, err := w.cfg.Connections.DueForProbe(ctx, time.Now(), ProbeBatch)
	errs := []error{err}
	for _, id := range ids {
		errs = append(errs, w.queue.EnqueueProbe(ctx, id))
	}
	return errors.Join(errs...)
}

// handleProbe runs one connection's probes when they are still due (a duplicate task, or
// one for a connection disconnected or probed meanwhile, does nothing). A failing probe is
// an outcome, recorded on the connection, not a task failure; only errors of the run itself
// (database) are returned for asynq to retry.
func (w *Worker) handleProbe(ctx context.Context, t *asynq.Task) error {
	var p ProbePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ConnectionID == "" {
		return fmt.Errorf("tasks: bad %s payload: %w", TypeProbe, asynq.SkipRetry)
	}
	if !w.probing() {
		return nil
	}
	cs := w.cfg.Connections
	due, err := cs.ProbeDue(ctx, p.ConnectionID, time.Now())
	if err != nil || !due {
		return err
	}
	c, err := cs.Get(ctx, p.ConnectionID)
	if err != nil {
		if pe, ok := errors.AsType[*problem.Error](err); ok && pe.Status == http.StatusNotFound {
			return nil // deleted since
		}
		return err
	}
	rep, err := w.cfg.Probes.Run(ctx, c)
	if err != nil {
		if pe, ok := errors.AsType[*problem.Error](err); ok && pe.Status == http.StatusConflict {
			return nil // not ready (any more), or no probes
		}
		return err
	}
	if !rep.Healthy {
		w.cfg.Logger.InfoContext(ctx, "connection probe failed", "connection", c.ID, "reason", rep.Reason(),
			"failures", rep.Connection.ProbeFailures, "health", rep.Connection.Health)
	}
	return nil
}
