package tasks_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/app/apptest"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/tasks"
	"github.com/authproxy/authproxy/server/testserver"
)

// healthServer answers /health with the status set, counting the calls.
type healthServer struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	calls  int
}

func newHealthServer(t *testing.T) *healthServer {
	hs := &healthServer{status: http.StatusOK}
	hs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		hs.calls++
		w.WriteHeader(hs.status)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func (hs *healthServer) set(status int) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.status = status
}

func (hs *healthServer) count() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.calls
}

func probedDefinition(base string, probes bool) string {
	def := fmt.Sprintf("display: {name: Open}\nauth: {type: none}\nupstream:\n  allowedUrls: [%q]\n", base+"/")
	if probes {
		def += fmt.Sprintf("probes:\n  - {name: health, url: %q, period: 1m}\n", base+"/health")
	}
	return def
}

// mkOpenConnection creates a no-auth connector named name with the definition and a
// connection on it.
func mkOpenConnection(t *testing.T, a *app.App, name, def string) *connection.Connection {
	return apptest.Connection(t, a, name, def, nil, nil)
}

// takeProbeTasks returns the connection ids of the queued probe tasks and removes them from
// the queue (the test runs them itself).
func takeProbeTasks(t *testing.T, a *app.App, queue string) []string {
	t.Helper()
	in := asynq.NewInspectorFromRedisClient(a.Redis)
	infos, err := in.ListPendingTasks(queue, asynq.PageSize(100))
	if err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	var ids []string
	for _, ti := range infos {
		if ti.Type != tasks.TypeProbe {
			continue
		}
		var p tasks.ProbePayload
		if err := json.Unmarshal(ti.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if ti.ID != tasks.TypeProbe+":"+p.ConnectionID {
			t.Errorf("task id %q for connection %s", ti.ID, p.ConnectionID)
		}
		ids = append(ids, p.ConnectionID)
		if err := in.DeleteTask(queue, ti.ID); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func TestProbeScan(t *testing.T) {
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, b)
			ctx := t.Context()
			hs := newHealthServer(t)
			queue := a.Config.Worker.Queue
			w := tasks.NewWorker(a.Redis, a.Keys, tasks.WorkerConfig{Connections: a.Connections, Probes: a.Probes,
				Queue: queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			h := w.Handler()
			run := func(what string, typ string, payload any) {
				t.Helper()
				var b []byte
				if payload != nil {
					b, _ = json.Marshal(payload)
				}
				if err := h.ProcessTask(ctx, asynq.NewTask(typ, b)); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}

			probed := mkOpenConnection(t, a, "probed", probedDefinition(hs.URL, true))
			unprobed := mkOpenConnection(t, a, "unprobed", probedDefinition(hs.URL, false))
			// Becoming ready enqueued one probe, only for the connector with probes.
			if ids := takeProbeTasks(t, a, queue); len(ids) != 1 || ids[0] != probed.ID {
				t.Fatalf("probe tasks after connect: %v, want [%s] (unprobed %s)", ids, probed.ID, unprobed.ID)
			}
			// The scan finds the never-probed connection; a second scan enqueues no duplicate.
			run("scan", tasks.TypeProbeScan, nil)
			run("scan again", tasks.TypeProbeScan, nil)
			if ids := takeProbeTasks(t, a, queue); len(ids) != 1 || ids[0] != probed.ID {
				t.Fatalf("probe tasks after two scans: %v, want [%s]", ids, probed.ID)
			}
			task := tasks.ProbePayload{ConnectionID: probed.ID}
			run("probe", tasks.TypeProbe, task)
			c := get(t, a, probed.ID)
			if c.Health != connection.HealthHealthy || c.LastProbedAt == nil || c.NextProbeAt == nil || c.NextProbeAt.Sub(*c.LastProbedAt) != time.Minute {
				t.Fatalf("after the first probe: %s, probed %v, next %v", c.Health, c.LastProbedAt, c.NextProbeAt)
			}
			// Not due any more: the scan skips it and a duplicate task does not call out.
			run("scan when nothing is due", tasks.TypeProbeScan, nil)
			if ids := takeProbeTasks(t, a, queue); len(ids) != 0 {
				t.Fatalf("probe tasks when nothing is due: %v", ids)
			}
			calls := hs.count()
			run("duplicate probe", tasks.TypeProbe, task)
			if hs.count() != calls {
				t.Fatalf("a probe that is not due called the upstream")
			}

			// Each period the scan runs it again: three failing runs make it unhealthy, one
			// healthy run restores it.
			period := func(status int) *connection.Connection {
				t.Helper()
				hs.set(status)
				past := time.Now().UTC().Add(-time.Second)
				if err := a.DB.Exec("UPDATE connections SET next_probe_at = ? WHERE id = ?", past, probed.ID).Error; err != nil {
					t.Fatal(err)
				}
				run("periodic scan", tasks.TypeProbeScan, nil)
				ids := takeProbeTasks(t, a, queue)
				if len(ids) != 1 || ids[0] != probed.ID {
					t.Fatalf("probe tasks of the period: %v", ids)
				}
				run("periodic probe", tasks.TypeProbe, tasks.ProbePayload{ConnectionID: ids[0]})
				return get(t, a, probed.ID)
			}
			for i := 1; i <= connection.UnhealthyAfter; i++ {
				c := period(http.StatusServiceUnavailable)
				want := connection.HealthHealthy
				if i == connection.UnhealthyAfter {
					want = connection.HealthUnhealthy
				}
				if c.ProbeFailures != i || c.Health != want || !strings.Contains(c.HealthReason, `probe "health"`) || !strings.Contains(c.HealthReason, "503") {
					t.Fatalf("failing period %d: %s, %d failures, %q", i, c.Health, c.ProbeFailures, c.HealthReason)
				}
			}
			if c := period(http.StatusOK); c.Health != connection.HealthHealthy || c.ProbeFailures != 0 || c.HealthReason != "" {
				t.Fatalf("after a healthy period: %s, %d failures, %q", c.Health, c.ProbeFailures, c.HealthReason)
			}

			// A disconnected or vanished connection is nothing to probe.
			if _, err := a.Connections.Disconnect(ctx, probed.ID); err != nil {
				t.Fatal(err)
			}
			if err := a.DB.Exec("UPDATE connections SET next_probe_at = NULL").Error; err != nil {
				t.Fatal(err)
			}
			run("scan after disconnect", tasks.TypeProbeScan, nil)
			if ids := takeProbeTasks(t, a, queue); len(ids) != 0 {
				t.Fatalf("probe tasks after disconnect: %v", ids)
			}
			calls = hs.count()
			run("probe of a disconnected connection", tasks.TypeProbe, task)
			run("probe of a missing connection", tasks.TypeProbe, tasks.ProbePayload{ConnectionID: "cxn_missing"})
			if hs.count() != calls {
				t.Fatal("a disconnected connection was probed")
			}
			if err := h.ProcessTask(ctx, asynq.NewTask(tasks.TypeProbe, []byte("{"))); err == nil {
				t.Error("a bad payload was accepted")
			}
		})
	}
}
