package integration_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// shortFirstToken is the example provider's storage whose first access token of a grant
// (the authorization code exchange) is announced with a short lifetime; refreshed tokens
// keep the provider's 5 minutes. It records the refresh tokens presented, in order.
type shortFirstToken struct {
	*storage.Storage
	lifetime time.Duration
	mu       sync.Mutex
	issued   []string // refresh tokens handed out
	used     []string // refresh tokens presented in refresh requests
}

func (s *shortFirstToken) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	access, refresh, exp, err := s.Storage.CreateAccessAndRefreshTokens(ctx, req, current)
	s.mu.Lock()
	defer s.mu.Unlock()
	if current != "" {
		s.used = append(s.used, current)
	}
	if err != nil {
		return access, refresh, exp, err
	}
	s.issued = append(s.issued, refresh)
	if current == "" {
		exp = time.Now().Add(s.lifetime)
	}
	return access, refresh, exp, nil
}

func (s *shortFirstToken) tokens() (issued, used []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...), append([]string(nil), s.used...)
}

// TestOAuth2RefreshAcrossReplicas: 500 concurrent proxied calls on an expired token, spread
// over two complete servers sharing one database and one Redis, make exactly one refresh at
// the provider, and every call reaches the upstream with the new token. Then the rotated
// refresh token is the one the next refresh presents.
func TestOAuth2RefreshAcrossReplicas(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		replica := testserver.StartReplica(t, h.s)
		c1, c2 := h.admin, replica.AdminClient(t)
		// The announced lifetime must be at least a second for expires_in not to round to 0.
		st := &shortFirstToken{lifetime: 2 * time.Second}
		as := newAuthServerWith(t, h.s.PublicURL+"/oauth2/callback", func(s *storage.Storage) op.Storage {
			st.Storage = s
			return st
		})
		up := newBearerUpstream(t, as) // accepts only tokens the provider says are active
		cx := mkConnector(t, c1, "root", "replicated")
		v := mkConnectorVersion(t, c1, cx.Id, as.definition(up.URL), strPtr(opClientSecret))
		call(c1.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
		cn := *call(c1.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id})).
			want(t, http.StatusCreated).JSON201
		if resp, body := browse(t, as.approve(t, *cn.AuthorizeUrl)); resp.StatusCode != http.StatusOK {
			t.Fatalf("callback: %d %s", resp.StatusCode, body)
		}
		// Both replicas see the connection.
		if got := connState(t, c2, cn.Id); got.State != sdk.ConnectionReady {
			t.Fatalf("replica sees %s", got.State)
		}
		// expires_in was 1: after this the stored token is expired.
		time.Sleep(1200 * time.Millisecond)
		before := as.grantCalls("refresh_token")

		const n = 500
		start := make(chan struct{})
		errs := make(chan string, n)
		var wg sync.WaitGroup
		for i := range n {
			c := c1
			if i%2 == 1 {
				c = c2
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, err := c.ProxyConnectionWithResponse(context.Background(), cn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: up.URL + "/v1/me"})
				switch {
				case err != nil:
					errs <- err.Error()
				case r.StatusCode() != http.StatusOK:
					errs <- string(r.Body)
				case r.JSON200.Status != http.StatusOK:
					errs <- "upstream refused the token"
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		failed := 0
		for e := range errs {
			if failed < 3 {
				t.Errorf("proxied call failed: %s", e)
			}
			failed++
		}
		if failed > 0 {
			t.Fatalf("%d of %d proxied calls failed", failed, n)
		}
		if got := as.grantCalls("refresh_token") - before; got != 1 {
			t.Fatalf("%d refresh calls at the token endpoint for %d concurrent calls on two replicas, want 1", got, n)
		}
		seen := up.seen()
		if len(seen) != n {
			t.Fatalf("the upstream saw %d calls, want %d", len(seen), n)
		}
		for _, tok := range seen {
			if tok != seen[0] {
				t.Fatal("the upstream saw more than one token")
			}
		}
		if !as.introspect(seen[0]) {
			t.Fatal("the token used is not active")
		}

		// Rotation: a forced refresh (upstream 401) on the replica presents the refresh token
		// the first refresh rotated to, and the provider, which forgot the old one, accepts it.
		up.rejectNext.Store(1)
		r := call(c2.ProxyConnectionWithResponse(t.Context(), cn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: up.URL + "/v1/me"})).want(t, http.StatusOK)
		if r.JSON200.Status != http.StatusOK {
			t.Fatalf("proxy after a forced refresh: upstream %d", r.JSON200.Status)
		}
		issued, used := st.tokens()
		if len(issued) != 3 || len(used) != 2 || used[0] != issued[0] || used[1] != issued[1] || used[1] == used[0] {
			t.Fatalf("refresh tokens: %d issued, %d presented; the second refresh did not present the rotated token", len(issued), len(used))
		}
		latest := up.seen()[len(up.seen())-1]
		if latest == seen[0] || !as.introspect(latest) {
			t.Fatal("the replay did not carry the newest token")
		}
		if got := connState(t, c1, cn.Id); got.State != sdk.ConnectionReady || got.Health != sdk.HealthHealthy {
			t.Fatalf("after the refreshes: %s %s", got.State, got.Health)
		}
	})
}
