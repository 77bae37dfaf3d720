package probe_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/app/apptest"
	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/probe"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/requestlog"
	"github.com/authproxy/authproxy/server/internal/store"
	"github.com/authproxy/authproxy/server/testserver"
)

const goodKey = "good-key-0123456789"

// upstream is a loopback API: /me answers 401 to any key but goodKey and otherwise the
// status set for it; /slow answers after a second.
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	keys   []string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{status: http.StatusOK}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key") + r.URL.Query().Get("api_key")
		u.mu.Lock()
		u.keys = append(u.keys, key)
		status := u.status
		u.mu.Unlock()
		switch {
		case r.URL.Path == "/slow":
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done():
			}
		case key != goodKey:
			w.WriteHeader(http.StatusUnauthorized)
		default:
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) set(status int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status = status
}

func (u *upstream) seen() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.keys...)
}

func newApp(t *testing.T, o testserver.Options) *app.App {
	a := apptest.New(t, o)
	a.Connections.OnReady = nil // no worker here: enqueue no probe tasks
	return a
}

func definition(base, placement, probes string) string {
	key := "{placement: header, headerName: X-Api-Key}"
	if placement == "query" {
		key = "{placement: query, queryParam: api_key}"
	}
	return fmt.Sprintf("display: {name: Demo}\nauth:\n  type: api_key\n  apiKey: %s\nupstream:\n  allowedUrls: [%q]\n  timeout: 300ms\n%s", key, base, probes)
}

// mkConnection creates a connector named name with the definition and a connection on it
// with the API key ("" for none).
func mkConnection(t *testing.T, a *app.App, name, def, key string) *connection.Connection {
	var k *string
	if key != "" {
		k = &key
	}
	return apptest.Connection(t, a, name, def, nil, k)
}

func wantStatus(t *testing.T, what string, err error, status int, field, contains string) {
	t.Helper()
	p := problem.As(err)
	if err == nil || p.Status != status || !strings.Contains(p.Detail, contains) {
		t.Fatalf("%s: %v (status %d), want %d containing %q", what, err, p.Status, status, contains)
	}
	if field != "" && (len(p.Fields) != 1 || p.Fields[0].Field != field) {
		t.Fatalf("%s: fields %+v, want %s", what, p.Fields, field)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, b)
			ctx := t.Context()
			up := newUpstream(t)
			probes := fmt.Sprintf("probes:\n  - {name: me, url: %q}\n  - {name: head, method: HEAD, url: %q, healthyStatuses: [200, 204], period: 2m}\n",
				up.URL+"/me?q=secretish", up.URL+"/me")
			c := mkConnection(t, a, "demo", definition(up.URL+"/", "query", probes), goodKey)
			r := &probe.Runner{Proxy: a.Proxy, Connections: a.Connections}

			// Healthy: both probes pass; the next run is due after the shortest period.
			before := time.Now()
			rep, err := r.Run(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Connection
			if !rep.Healthy || len(rep.Results) != 2 || got.Health != connection.HealthHealthy || got.ProbeFailures != 0 || got.HealthReason != "" {
				t.Fatalf("healthy run: %+v, connection %s/%d %q", rep, got.Health, got.ProbeFailures, got.HealthReason)
			}
			if res := rep.Results[1]; res.Name != "head" || res.Method != http.MethodHead || res.Status != 200 || !res.Healthy || res.URL != up.URL+"/me" {
				t.Errorf("second result %+v", res)
			}
			if got.LastProbedAt == nil || got.LastProbedAt.Before(before.Add(-time.Second)) || got.NextProbeAt == nil ||
				got.NextProbeAt.Sub(*got.LastProbedAt) != 2*time.Minute {
				t.Errorf("probed at %v, next %v", got.LastProbedAt, got.NextProbeAt)
			}
			for _, k := range up.seen() {
				if k != goodKey {
					t.Fatalf("the upstream saw key %q", k)
				}
			}

			// A failing status counts; the third failure in a row makes it unhealthy.
			up.set(http.StatusInternalServerError)
			for i := 1; i <= connection.UnhealthyAfter; i++ {
				rep, err := r.Run(ctx, got)
				if err != nil {
					t.Fatal(err)
				}
				got = rep.Connection
				wantHealth := connection.HealthHealthy
				if i == connection.UnhealthyAfter {
					wantHealth = connection.HealthUnhealthy
				}
				if rep.Healthy || rep.CredentialsRefused || got.ProbeFailures != i || got.Health != wantHealth {
					t.Fatalf("failing run %d: healthy %v refused %v, connection %s with %d failures", i, rep.Healthy, rep.CredentialsRefused, got.Health, got.ProbeFailures)
				}
				const reason = `probe "me": GET ` // the first failing probe, without its query
				if !strings.HasPrefix(got.HealthReason, reason) || !strings.Contains(got.HealthReason, "answered 500") ||
					strings.Contains(got.HealthReason, "secretish") || strings.Contains(got.HealthReason, goodKey) {
					t.Fatalf("failing run %d: reason %q", i, got.HealthReason)
				}
				if rep.Results[0].URL != up.URL+"/me?q=secretish" || rep.Results[0].Status != 500 {
					t.Fatalf("failing result %+v", rep.Results[0])
				}
			}

			// One healthy run restores health and the count.
			up.set(http.StatusOK)
			rep, err = r.Run(ctx, got)
			if err != nil {
				t.Fatal(err)
			}
			if got = rep.Connection; got.Health != connection.HealthHealthy || got.ProbeFailures != 0 || got.HealthReason != "" {
				t.Fatalf("after recovery: %s %d %q", got.Health, got.ProbeFailures, got.HealthReason)
			}

			// The upstream refusing the credentials makes it unhealthy at once.
			if _, err := a.Connections.SetAPIKey(ctx, c.ID, "revoked-key"); err != nil {
				t.Fatal(err)
			}
			got, _ = a.Connections.Get(ctx, c.ID)
			rep, err = r.Run(ctx, got)
			if err != nil {
				t.Fatal(err)
			}
			if got = rep.Connection; !rep.CredentialsRefused || got.Health != connection.HealthUnhealthy || got.ProbeFailures != 1 ||
				!strings.Contains(got.HealthReason, "answered 401") || strings.Contains(got.HealthReason, "revoked-key") {
				t.Fatalf("refused credentials: %v %s %d %q", rep.CredentialsRefused, got.Health, got.ProbeFailures, got.HealthReason)
			}

			// The probe calls are in the request log as kind probe, the key redacted.
			if err := a.RequestLog.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			logged, _, err := a.RequestLogs.List(ctx, store.ListOptions{Scope: store.Scope{All: true}, Page: store.Page{Limit: 100}},
				requestlog.Filter{ConnectionID: c.ID, Kind: requestlog.KindProbe})
			if err != nil {
				t.Fatal(err)
			}
			if len(logged) != 2*(connection.UnhealthyAfter+3) {
				t.Errorf("%d probe entries in the request log, want %d", len(logged), 2*(connection.UnhealthyAfter+3))
			}
			for _, e := range logged {
				if e.Kind != requestlog.KindProbe || strings.Contains(e.URL, goodKey) || strings.Contains(e.URL, "revoked-key") {
					t.Errorf("log entry %s %s %s", e.Kind, e.Method, e.URL)
				}
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, b)
			ctx := t.Context()
			up := newUpstream(t)
			r := &probe.Runner{Proxy: a.Proxy, Connections: a.Connections}

			// A private address is refused by the dial guard: no packet leaves loopback.
			refused := mkConnection(t, a, "private", definition("http://10.255.255.1/", "header",
				"probes:\n  - {name: health, url: \"http://10.255.255.1/health\"}\n"), goodKey)
			rep, err := r.Run(ctx, refused)
			if err != nil {
				t.Fatal(err)
			}
			if got := rep.Connection; rep.Healthy || got.ProbeFailures != 1 || got.Health != connection.HealthUnknown ||
				!strings.Contains(got.HealthReason, `probe "health": refused to connect to 10.255.255.1`) || rep.Results[0].Status != 0 {
				t.Fatalf("refused host: %+v, connection %s %d %q", rep.Results, got.Health, got.ProbeFailures, got.HealthReason)
			}

			// An upstream slower than the connector's timeout fails the probe.
			slow := mkConnection(t, a, "slow", definition(up.URL+"/", "header",
				fmt.Sprintf("probes:\n  - {name: slow, url: %q}\n", up.URL+"/slow")), goodKey)
			start := time.Now()
			rep, err = r.Run(ctx, slow)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 900*time.Millisecond || rep.Healthy || !strings.Contains(rep.Connection.HealthReason, "did not answer within") {
				t.Fatalf("timeout after %s: %q", time.Since(start), rep.Connection.HealthReason)
			}

			// Not ready, or no probes: 409, nothing recorded.
			if _, err := a.Connections.Disconnect(ctx, slow.ID); err != nil {
				t.Fatal(err)
			}
			gone, _ := a.Connections.Get(ctx, slow.ID)
			_, err = r.Run(ctx, gone)
			wantStatus(t, "disconnected", err, http.StatusConflict, "", "not ready")
			none := mkConnection(t, a, "none", definition(up.URL+"/", "header", ""), goodKey)
			_, err = r.Run(ctx, none)
			wantStatus(t, "no probes", err, http.StatusConflict, "", "has no probes")
			if got, _ := a.Connections.Get(ctx, none.ID); got.LastProbedAt != nil || got.ProbeFailures != 0 {
				t.Errorf("a connector without probes recorded a run: %+v", got)
			}

			// A run that started before the connection changed (a new key) is not recorded.
			c := mkConnection(t, a, "fenced", definition(up.URL+"/", "header",
				fmt.Sprintf("probes:\n  - {name: me, url: %q}\n", up.URL+"/me")), goodKey)
			ok, err := a.Connections.RecordProbe(ctx, c.ID, connection.ProbeOutcome{Healthy: false, Reason: "old",
				Started: c.UpdatedAt.Add(-time.Second), At: time.Now(), Next: time.Now().Add(time.Minute)})
			if err != nil || ok {
				t.Fatalf("stale outcome recorded: %v %v", ok, err)
			}
			if got, _ := a.Connections.Get(ctx, c.ID); got.ProbeFailures != 0 || got.HealthReason != "" {
				t.Errorf("after a stale outcome: %+v", got)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t, b)
			ctx := t.Context()
			up := newUpstream(t)
			r := &probe.Runner{Proxy: a.Proxy, Connections: a.Connections}
			c := mkConnection(t, a, "demo", definition(up.URL+"/", "header",
				fmt.Sprintf("probes:\n  - {name: me, url: %q}\n", up.URL+"/me")), "stored-key")

			// The candidate key is what the upstream sees; nothing is recorded.
			rep, err := r.Verify(ctx, c, goodKey)
			if err != nil || !rep.Healthy {
				t.Fatalf("verify the good key: %+v %v", rep, err)
			}
			if seen := up.seen(); len(seen) != 1 || seen[0] != goodKey {
				t.Fatalf("the upstream saw %q", seen)
			}
			rep, err = r.Verify(ctx, c, "wrong-key")
			wantStatus(t, "wrong key", err, http.StatusUnprocessableEntity, "apiKey", `probe "me"`)
			if strings.Contains(err.Error(), "wrong-key") || rep == nil || rep.Healthy {
				t.Fatalf("wrong key: %v %+v", err, rep)
			}
			if got, _ := a.Connections.Get(ctx, c.ID); got.LastProbedAt != nil || got.Health != connection.HealthUnknown {
				t.Errorf("verification recorded on the connection: %+v", got)
			}
			// The stored key is still the one the proxy uses.
			if _, err := r.Run(ctx, c); err != nil {
				t.Fatal(err)
			}
			if seen := up.seen(); seen[len(seen)-1] != "stored-key" {
				t.Errorf("a run after verification sent %q", seen[len(seen)-1])
			}

			// Nothing to verify: a connector without probes, or one without API keys.
			none := mkConnection(t, a, "none", definition(up.URL+"/", "header", ""), goodKey)
			_, err = r.Verify(ctx, none, goodKey)
			wantStatus(t, "no probes", err, http.StatusUnprocessableEntity, "verify", "the connector has no probes")
			noauth := mkConnection(t, a, "noauth", fmt.Sprintf("display: {name: Open}\nauth: {type: none}\nupstream:\n  allowedUrls: [%q]\nprobes:\n  - {name: me, url: %q}\n",
				up.URL+"/", up.URL+"/me"), "")
			_, err = r.Verify(ctx, noauth, goodKey)
			wantStatus(t, "no auth", err, http.StatusUnprocessableEntity, "verify", "not an API key")
		})
	}
}
