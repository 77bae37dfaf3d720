package tasks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
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

// tokenServer is a client credentials token endpoint per connector name (/<name>/token):
// tokens live expires[name] seconds; fail[name] is returned as an error instead.
type tokenServer struct {
	*httptest.Server
	mu      sync.Mutex
	expires map[string]int
	fail    map[string]string
	calls   map[string]int
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{expires: map[string]int{}, fail: map[string]string{}, calls: map[string]int{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/token")
		ts.mu.Lock()
		ts.calls[name]++
		n, exp, fail := ts.calls[name], ts.expires[name], ts.fail[name]
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch fail {
		case "5xx":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"temporarily_unavailable"}`)
		case "invalid_client":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"client secret expired"}`)
		default:
			_, _ = fmt.Fprintf(w, `{"access_token":"%s-%d","token_type":"Bearer","expires_in":%d}`, name, n, exp)
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) set(name string, expires int, fail string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.expires[name], ts.fail[name] = expires, fail
}

func (ts *tokenServer) count(name string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.calls[name]
}

func newApp(t *testing.T, o testserver.Options) *app.App { return apptest.New(t, o) }

// mkConnection creates a connector named name with the definition (client secret
// "secret-<name>") and a connection on it.
func mkConnection(t *testing.T, a *app.App, name, def string) *connection.Connection {
	secret := "secret-" + name
	return apptest.Connection(t, a, name, def, &secret, nil)
}

func ccDefinition(tokens, name string) string {
	return fmt.Sprintf(`display: {name: %s}
auth:
  type: oauth2
  oauth2:
    grant: client_credentials
    clientId: svc
    clientSecretRef: version
    tokenUrl: %s/%s/token
    refreshLeadTime: 5m
upstream:
  allowedUrls: ["https://api.example.com/"]
`, name, tokens, name)
}

func acDefinition(tokens string) string {
	return fmt.Sprintf(`display: {name: Browser flow}
auth:
  type: oauth2
  oauth2:
    grant: authorization_code
    clientId: web
    clientSecretRef: version
    authorizeUrl: %s/authorize
    tokenUrl: %s/code/token
upstream:
  allowedUrls: ["https://api.example.com/"]
`, tokens, tokens)
}

func accessToken(t *testing.T, a *app.App, id string) string {
	t.Helper()
	tok, _, err := a.Connections.Load(context.Background(), id)
	if err != nil || tok == nil {
		t.Fatalf("token of %s: %v %v", id, tok, err)
	}
	return tok.AccessToken
}

func get(t *testing.T, a *app.App, id string) *connection.Connection {
	t.Helper()
	c, err := a.Connections.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pendingRefreshes returns the connection ids of the queued refresh tasks, and the tasks.
func pendingRefreshes(t *testing.T, a *app.App, queue string) ([]string, []*asynq.Task) {
	t.Helper()
	infos, err := asynq.NewInspectorFromRedisClient(a.Redis).ListPendingTasks(queue, asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var ts []*asynq.Task
	for _, ti := range infos {
		if ti.Type != tasks.TypeTokenRefresh {
			continue
		}
		var p tasks.TokenRefreshPayload
		if err := json.Unmarshal(ti.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if ti.ID != tasks.TypeTokenRefresh+":"+p.ConnectionID {
			t.Errorf("task id %q for connection %s", ti.ID, p.ConnectionID)
		}
		ids = append(ids, p.ConnectionID)
		ts = append(ts, asynq.NewTask(ti.Type, ti.Payload))
	}
	return ids, ts
}

func TestTokenRefreshScan(t *testing.T) {
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, b)
			ctx := t.Context()
			ts := newTokenServer(t)
			// due: expires within the 5m lead; later: within the scan window, not the lead;
			// far: beyond the scan window; bad: due, and the provider then refuses for good.
			ts.set("due", 60, "")
			ts.set("later", 1800, "")
			ts.set("far", 7200, "")
			ts.set("bad", 60, "")
			due := mkConnection(t, a, "due", ccDefinition(ts.URL, "due"))
			later := mkConnection(t, a, "later", ccDefinition(ts.URL, "later"))
			far := mkConnection(t, a, "far", ccDefinition(ts.URL, "far"))
			bad := mkConnection(t, a, "bad", ccDefinition(ts.URL, "bad"))
			ts.set("bad", 60, "invalid_client")
			// Two authorization flows: one abandoned long ago, one just started.
			stale := mkConnection(t, a, "stale", acDefinition(ts.URL))
			fresh, err := a.Connections.Create(ctx, connection.New{Namespace: "root", ConnectorID: stale.ConnectorID})
			if err != nil {
				t.Fatal(err)
			}
			if stale.State != connection.Setup || fresh.State != connection.Setup {
				t.Fatalf("authorization code connections start in %s and %s", stale.State, fresh.State)
			}
			old := time.Now().UTC().Add(-11 * time.Minute)
			if err := a.DB.Exec("UPDATE connections SET created_at = ?, updated_at = ? WHERE id = ?", old, old, stale.ID).Error; err != nil {
				t.Fatal(err)
			}

			w := tasks.NewWorker(a.Redis, a.Keys, tasks.WorkerConfig{Connections: a.Connections, Refresher: a.Refresher,
				Connectors: a.Connectors, Queue: a.Config.Worker.Queue, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			h := w.Handler()
			if err := h.ProcessTask(ctx, asynq.NewTask(tasks.TypeTokenRefreshScan, nil)); err != nil {
				t.Fatalf("scan: %v", err)
			}

			// Abandoned flows fail; a recent one is left alone.
			if c := get(t, a, stale.ID); c.State != connection.Failed || c.Health != connection.HealthUnhealthy || c.HealthReason != connection.ReasonAuthorizationNotCompleted {
				t.Errorf("stale setup connection: %s %s %q", c.State, c.Health, c.HealthReason)
			}
			if c := get(t, a, fresh.ID); c.State != connection.Setup {
				t.Errorf("recent setup connection: %s", c.State)
			}

			// One refresh task per token expiring within the scan window, soonest first.
			ids, queued := pendingRefreshes(t, a, a.Config.Worker.Queue)
			slices.Sort(ids)
			want := []string{due.ID, later.ID, bad.ID}
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Fatalf("refresh tasks for %v, want %v (far is %s)", ids, want, far.ID)
			}
			// A second scan enqueues no duplicates.
			if err := h.ProcessTask(ctx, asynq.NewTask(tasks.TypeTokenRefreshScan, nil)); err != nil {
				t.Fatalf("second scan: %v", err)
			}
			if again, _ := pendingRefreshes(t, a, a.Config.Worker.Queue); len(again) != len(ids) {
				t.Fatalf("after a second scan: %d tasks, want %d", len(again), len(ids))
			}

			for _, task := range queued {
				if err := h.ProcessTask(ctx, task); err != nil {
					t.Errorf("refresh %s: %v", task.Payload(), err)
				}
			}
			// due was refreshed (one creation, one refresh); later is not due yet.
			if n, tok := ts.count("due"), accessToken(t, a, due.ID); n != 2 || tok != "due-2" {
				t.Errorf("due: %d token calls, token %s", n, tok)
			}
			if c := get(t, a, due.ID); c.Health != connection.HealthHealthy {
				t.Errorf("due health %s", c.Health)
			}
			if n, tok := ts.count("later"), accessToken(t, a, later.ID); n != 1 || tok != "later-1" {
				t.Errorf("later: %d token calls, token %s", n, tok)
			}
			if n := ts.count("far"); n != 1 {
				t.Errorf("far: %d token calls", n)
			}
			// A permanent refusal marks the connection unhealthy and is not retried.
			if c := get(t, a, bad.ID); c.Health != connection.HealthUnhealthy || !strings.Contains(c.HealthReason, "invalid_client") {
				t.Errorf("bad: %s %q", c.Health, c.HealthReason)
			}
			if tok := accessToken(t, a, bad.ID); tok != "bad-1" {
				t.Errorf("bad token %s", tok)
			}

			// A transient failure is returned for asynq to retry; the connection stays healthy.
			ts.set("due", 60, "5xx")
			payload, _ := json.Marshal(tasks.TokenRefreshPayload{ConnectionID: due.ID})
			if err := h.ProcessTask(ctx, asynq.NewTask(tasks.TypeTokenRefresh, payload)); err == nil {
				t.Error("a 5xx at the token endpoint: no error to retry")
			}
			if c := get(t, a, due.ID); c.Health != connection.HealthHealthy {
				t.Errorf("due health after a transient failure: %s", c.Health)
			}
			// The next scan leaves the unhealthy connection out.
			if ids, err := a.Connections.ExpiringTokens(ctx, tasks.TokenRefreshWindow, 100); err != nil || slices.Contains(ids, bad.ID) || len(ids) != 2 || ids[0] != due.ID {
				t.Errorf("expiring tokens after the refreshes: %v %v (due %s, later %s)", ids, err, due.ID, later.ID)
			}
			// A vanished or disconnected connection is nothing to refresh.
			if _, err := a.Connections.Disconnect(ctx, later.ID); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{later.ID, "cxn_missing"} {
				payload, _ := json.Marshal(tasks.TokenRefreshPayload{ConnectionID: id})
				if err := h.ProcessTask(ctx, asynq.NewTask(tasks.TypeTokenRefresh, payload)); err != nil {
					t.Errorf("refresh of %s: %v", id, err)
				}
			}
		})
	}
}
