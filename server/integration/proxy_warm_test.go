package integration_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/connector"
	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/invalidation"
	"github.com/authproxy/authproxy/server/testserver"
)

// requestCounters count, among everything the server does, what runs on behalf of an HTTP
// request it serves (the context carries the *http.Server): database statements and
// decryptions. Background work (worker sweeps, request-log batches) does not count.
type requestCounters struct {
	statements atomic.Int64 // database statements of any kind, from request contexts
	opens      atomic.Int64 // Sealer.Open, from request contexts
	allOpens   atomic.Int64 // Sealer.Open, from anywhere (shows the counter is wired)
}

func fromRequest(ctx context.Context) bool {
	return ctx != nil && ctx.Value(http.ServerContextKey) != nil
}

func (c *requestCounters) reset() {
	c.statements.Store(0)
	c.opens.Store(0)
}

// countingSealer is the real sealer, counting the values it opens.
type countingSealer struct {
	connector.Sealer
	c *requestCounters
}

func (s countingSealer) Open(ctx context.Context, col encrypt.Column, rowID, envelope string) ([]byte, error) {
	s.c.allOpens.Add(1)
	if fromRequest(ctx) {
		s.c.opens.Add(1)
	}
	return s.Sealer.Open(ctx, col, rowID, envelope)
}

// instrument attaches the counters to an app before it serves.
func (c *requestCounters) instrument(t testing.TB, captured **app.App) func(*app.App) {
	return func(a *app.App) {
		*captured = a
		count := func(db *gorm.DB) {
			if fromRequest(db.Statement.Context) {
				c.statements.Add(1)
			}
		}
		cb := a.DB.Callback()
		for name, err := range map[string]error{
			"query":  cb.Query().Before("gorm:query").Register("test:count", count),
			"row":    cb.Row().Before("gorm:row").Register("test:count", count),
			"raw":    cb.Raw().Before("gorm:raw").Register("test:count", count),
			"create": cb.Create().Before("gorm:create").Register("test:count", count),
			"update": cb.Update().Before("gorm:update").Register("test:count", count),
			"delete": cb.Delete().Before("gorm:delete").Register("test:count", count),
		} {
			if err != nil {
				t.Fatalf("register %s callback: %v", name, err)
			}
		}
		a.Connections.Keys = countingSealer{Sealer: a.Connections.Keys, c: c}
	}
}

// TestProxyWarmPathReadsNothing: once the caches are warm, proxied requests (API-key
// injection, request log on) make no database statement and decrypt nothing.
func TestProxyWarmPathReadsNothing(t *testing.T) {
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			var (
				counters requestCounters
				a        *app.App
			)
			b.Instrument = counters.instrument(t, &a)
			s := testserver.Start(t, b)
			t.Cleanup(closeIdleConnections)
			signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{s: s, admin: s.AdminClient(t), adminSigner: signer}

			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Api-Key") != "Key warm-key-0123" {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				_, _ = io.WriteString(w, "ok")
			}))
			t.Cleanup(up.Close)
			cn := h.apiKeyConnection(t, "warm", apiKeyDefinition(up.URL+"/", "header"), "warm-key-0123")
			app := h.mkActor(t, "root", "warm-app", perm("root", "connections", "proxy"))
			api, err := sdk.NewAuthenticatedClient(s.APIURL, app.Signer, sdk.AudienceAPI)
			if err != nil {
				t.Fatal(err)
			}
			client := sdk.NewConnectionClient(api, cn.Id)
			get := func() {
				t.Helper()
				resp, err := client.Get(up.URL + "/item")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(body) != "ok" {
					t.Fatalf("proxied GET: %d %q", resp.StatusCode, body)
				}
			}

			const n = 100
			// The caches hold entries for at most their TTL (5 s): the cold request, the
			// warm-up and the n requests must fit in it, or a reload is expected. On a
			// machine too slow for that, the attempt is repeated.
			for attempt := 1; ; attempt++ {
				// Cold: drop everything, so the first request must read and decrypt.
				_ = a.Invalidation.Publish(t.Context(), invalidation.Actors, invalidation.All)
				a.Connections.Changed(t.Context(), cn.Id)
				counters.reset()
				start := time.Now()
				get()
				if counters.statements.Load() == 0 {
					t.Fatal("the cold request made no database statement: the counter is not wired")
				}
				if counters.allOpens.Load() == 0 {
					t.Fatal("no credentials were ever opened: the sealer counter is not wired")
				}
				get()
				counters.reset()
				for range n {
					get()
				}
				if time.Since(start) >= 4*time.Second {
					if attempt == 3 {
						t.Fatalf("%d requests took %s, too long to stay within the caches' TTL", n, time.Since(start))
					}
					continue
				}
				if got := counters.statements.Load(); got != 0 {
					t.Errorf("%d warm proxied requests made %d database statements, want 0", n, got)
				}
				if got := counters.opens.Load(); got != 0 {
					t.Errorf("%d warm proxied requests decrypted %d values, want 0", n, got)
				}
				return
			}
		})
	}
}
