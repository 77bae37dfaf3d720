package integration_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// crossReplicaBound is how soon a change made on one replica must reach the others' caches
// (their TTL, 5 s, is the bound only when Redis is unavailable).
const crossReplicaBound = time.Second

// TestCachedStateFollowsChangesAcrossReplicas: two replicas serve the same actor and
// connection from warm caches; every change made through one takes effect at once there and
// within crossReplicaBound on the other. The actor's client reuses its token throughout, so
// the token caches are exercised too.
func TestCachedStateFollowsChangesAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, b := range testserver.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := testserver.Start(t, b)
			r := testserver.StartReplica(t, s)
			t.Cleanup(closeIdleConnections)
			signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
			if err != nil {
				t.Fatal(err)
			}
			h := &harness{s: s, admin: s.AdminClient(t), adminSigner: signer}

			var (
				mu   sync.Mutex
				seen string // the last API key the upstream received
			)
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = r.Header.Get("X-Api-Key")
				mu.Unlock()
				_, _ = io.WriteString(w, "ok")
			}))
			t.Cleanup(up.Close)
			cn := h.apiKeyConnection(t, "replicas", apiKeyDefinition(up.URL+"/", "header"), "key-one")
			actor := h.mkActor(t, "root", "replica-app", perm("root", "connections", "proxy"))

			through := func(apiURL string) *http.Client {
				api, err := sdk.NewAuthenticatedClient(apiURL, actor.Signer, sdk.AudienceAPI)
				if err != nil {
					t.Fatal(err)
				}
				return sdk.NewConnectionClient(api, cn.Id)
			}
			onPrimary, onReplica := through(s.APIURL), through(r.APIURL)
			// outcome is what a proxied GET gives: "Key …" (the key the upstream got) or
			// the status of AuthProxy's refusal.
			outcome := func(c *http.Client) string {
				t.Helper()
				resp, err := c.Get(up.URL + "/x")
				if err != nil {
					var pe *sdk.ProxyError
					if errors.As(err, &pe) {
						return http.StatusText(pe.Status)
					}
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				return seen
			}
			// Warm both replicas.
			for _, c := range []*http.Client{onPrimary, onReplica, onPrimary, onReplica} {
				if got := outcome(c); got != "Key key-one" {
					t.Fatalf("warm-up: %q", got)
				}
			}
			atOnce := func(what, want string) {
				t.Helper()
				if got := outcome(onPrimary); got != want {
					t.Fatalf("%s: the changing replica gives %q, want %q at once", what, got, want)
				}
			}
			soon := func(what, want string) {
				t.Helper()
				start := time.Now()
				for {
					got := outcome(onReplica)
					if got == want {
						return
					}
					if time.Since(start) > crossReplicaBound {
						t.Fatalf("%s: the other replica still gives %q after %s, want %q", what, got, crossReplicaBound, want)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}

			// A new API key.
			call(h.admin.SetConnectionApiKeyWithResponse(t.Context(), cn.Id, sdk.ConnectionApiKey{ApiKey: strPtr("key-two")})).want(t, http.StatusOK)
			atOnce("new API key", "Key key-two")
			soon("new API key", "Key key-two")

			// The proxy permission taken away.
			noPerms := []sdk.Permission{perm("root", "connections", "get")}
			call(h.admin.UpdateActorWithResponse(t.Context(), actor.Id, sdk.ActorUpdate{Permissions: &noPerms})).want(t, http.StatusOK)
			atOnce("permission removed", "Forbidden")
			soon("permission removed", "Forbidden")

			// Given back, then the key the token is signed with replaced by another.
			proxyPerms := []sdk.Permission{perm("root", "connections", "proxy")}
			call(h.admin.UpdateActorWithResponse(t.Context(), actor.Id, sdk.ActorUpdate{Permissions: &proxyPerms})).want(t, http.StatusOK)
			atOnce("permission restored", "Key key-two")
			soon("permission restored", "Key key-two")
			_, otherKey, err := sdk.GenerateKeyPair()
			if err != nil {
				t.Fatal(err)
			}
			call(h.admin.UpdateActorWithResponse(t.Context(), actor.Id, sdk.ActorUpdate{PublicKeys: &[]string{otherKey}})).want(t, http.StatusOK)
			atOnce("signing key removed", "Unauthorized")
			soon("signing key removed", "Unauthorized")

			// The key back, then the connection disconnected.
			call(h.admin.UpdateActorWithResponse(t.Context(), actor.Id, sdk.ActorUpdate{PublicKeys: &[]string{actor.AuthorizedKey}})).want(t, http.StatusOK)
			atOnce("signing key restored", "Key key-two")
			soon("signing key restored", "Key key-two")
			call(h.admin.DisconnectConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK)
			disconnected := outcome(onPrimary)
			if disconnected == "Key key-two" {
				t.Fatal("disconnected connection still proxies on the changing replica")
			}
			soon("disconnected", disconnected)

			// The actor deleted.
			call(h.admin.DeleteActorWithResponse(t.Context(), actor.Id)).want(t, http.StatusNoContent)
			atOnce("actor deleted", "Unauthorized")
			soon("actor deleted", "Unauthorized")
		})
	}
}
