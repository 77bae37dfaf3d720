package integration_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authproxy/authproxy/sdk"
)

// acSetup is an authorization code connector on the independent provider, with an upstream
// that accepts only tokens the provider says are active.
type acSetup struct {
	h  *harness
	as *authServer
	up *bearerUpstream
	cx sdk.Connector
}

func newACSetup(t *testing.T, h *harness, name string) *acSetup {
	t.Helper()
	s := &acSetup{h: h, as: newAuthServer(t, h.s.PublicURL+"/oauth2/callback")}
	s.up = newBearerUpstream(t, s.as)
	s.cx = mkConnector(t, h.admin, "root", name)
	v := mkConnectorVersion(t, h.admin, s.cx.Id, s.as.definition(s.up.URL), strPtr(opClientSecret))
	call(h.admin.PromoteConnectorVersionWithResponse(t.Context(), s.cx.Id, v.Version)).want(t, http.StatusOK)
	return s
}

func (s *acSetup) create(t *testing.T) sdk.Connection {
	t.Helper()
	return *call(s.h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: s.cx.Id})).
		want(t, http.StatusCreated).JSON201
}

// authorize runs the flow of authorizeURL in the user's browser up to the provider's
// approval and delivers the callback; it returns the callback page.
func (s *acSetup) authorize(t *testing.T, authorizeURL string) (int, string) {
	t.Helper()
	resp, body := browse(t, s.as.approve(t, authorizeURL))
	return resp.StatusCode, body
}

func (s *acSetup) connect(t *testing.T) sdk.Connection {
	t.Helper()
	cn := s.create(t)
	if code, body := s.authorize(t, *cn.AuthorizeUrl); code != http.StatusOK {
		t.Fatalf("callback: %d %s", code, body)
	}
	return connState(t, s.h.admin, cn.Id)
}

// proxy calls the upstream through the connection and returns the status of the proxy call
// and the token the upstream saw.
func (s *acSetup) proxy(t *testing.T, id string) (int, string) {
	t.Helper()
	r, err := s.h.admin.ProxyConnectionWithResponse(t.Context(), id, sdk.ProxyRequest{Method: sdk.GET, Url: s.up.URL + "/v1/me"})
	if err != nil {
		t.Fatal(err)
	}
	status := r.StatusCode()
	if r.JSON200 != nil {
		status = r.JSON200.Status
	}
	seen := s.up.seen()
	if len(seen) == 0 {
		return status, ""
	}
	return status, seen[len(seen)-1]
}

func reauthorize(t *testing.T, c *sdk.ClientWithResponses, id string) result[*sdk.ReauthorizeConnectionResponse] {
	t.Helper()
	return call(c.ReauthorizeConnectionWithResponse(t.Context(), id))
}

func TestOAuth2Reauthorize(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		s := newACSetup(t, h, "reauth")
		cn := s.connect(t)
		status, first := s.proxy(t, cn.Id)
		if status != http.StatusOK || first == "" {
			t.Fatalf("proxy: %d %q", status, first)
		}

		// Re-authorizing a ready connection: a new flow, the old token in use until it completes.
		re := reauthorize(t, c, cn.Id).want(t, http.StatusOK).JSON200
		if re.State != sdk.ConnectionReady || re.AuthorizeUrl == nil || !strings.HasPrefix(*re.AuthorizeUrl, h.s.PublicURL+"/oauth2/redirect?state=") {
			t.Fatalf("re-authorize: %s %v", re.State, re.AuthorizeUrl)
		}
		if status, tok := s.proxy(t, cn.Id); status != http.StatusOK || tok != first {
			t.Fatalf("proxy during re-authorization: %d, token changed %v", status, tok != first)
		}
		// The user refuses this time: the ready connection keeps its token and its health.
		resp, body := browse(t, s.as.deny(t, *re.AuthorizeUrl))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "denied") || !strings.Contains(body, "keeps its current authorization") {
			t.Fatalf("denied re-authorization: %d %s", resp.StatusCode, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionReady || got.Health != sdk.HealthHealthy || got.HealthReason != nil {
			t.Fatalf("after a denied re-authorization: %s %s %v", got.State, got.Health, got.HealthReason)
		}
		if status, tok := s.proxy(t, cn.Id); status != http.StatusOK || tok != first {
			t.Fatalf("proxy after a denied re-authorization: %d", status)
		}

		// Approved: the callback replaces the token.
		re = reauthorize(t, c, cn.Id).want(t, http.StatusOK).JSON200
		if code, body := s.authorize(t, *re.AuthorizeUrl); code != http.StatusOK || !strings.Contains(body, "connected again") {
			t.Fatalf("re-authorization callback: %d %s", code, body)
		}
		got := connState(t, c, cn.Id)
		if got.State != sdk.ConnectionReady || got.Health != sdk.HealthHealthy || got.Id != cn.Id {
			t.Fatalf("after re-authorization: %s %s", got.State, got.Health)
		}
		status, second := s.proxy(t, cn.Id)
		if status != http.StatusOK || second == first || second == "" {
			t.Fatalf("proxy after re-authorization: %d, new token %v", status, second != first)
		}

		// A flow whose connection is disconnected meanwhile stores nothing.
		re = reauthorize(t, c, cn.Id).want(t, http.StatusOK).JSON200
		call(c.DisconnectConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK)
		if code, body := s.authorize(t, *re.AuthorizeUrl); code != http.StatusConflict || !strings.Contains(body, "disconnected") {
			t.Fatalf("callback of a disconnected connection: %d %s", code, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionDisconnected {
			t.Fatalf("a late callback revived the connection: %s", got.State)
		}

		// A disconnected connection goes back to setup with a new flow, and connects again.
		re = reauthorize(t, c, cn.Id).want(t, http.StatusOK).JSON200
		if re.State != sdk.ConnectionSetup || re.AuthorizeUrl == nil {
			t.Fatalf("re-authorize a disconnected connection: %s %v", re.State, re.AuthorizeUrl)
		}
		if code, body := s.authorize(t, *re.AuthorizeUrl); code != http.StatusOK {
			t.Fatalf("callback: %d %s", code, body)
		}
		if got := connState(t, c, cn.Id); got.State != sdk.ConnectionReady || got.Health != sdk.HealthHealthy {
			t.Fatalf("after reconnecting: %s %s", got.State, got.Health)
		}
		if status, _ := s.proxy(t, cn.Id); status != http.StatusOK {
			t.Fatalf("proxy after reconnecting: %d", status)
		}

		// A failed connection (the user refused the first time) gets another chance; refused
		// again it fails again.
		failed := s.create(t)
		browse(t, s.as.deny(t, *failed.AuthorizeUrl))
		if got := connState(t, c, failed.Id); got.State != sdk.ConnectionFailed {
			t.Fatalf("after denial: %s", got.State)
		}
		re = reauthorize(t, c, failed.Id).want(t, http.StatusOK).JSON200
		if re.State != sdk.ConnectionSetup || re.AuthorizeUrl == nil || re.HealthReason != nil {
			t.Fatalf("re-authorize a failed connection: %s %v %v", re.State, re.AuthorizeUrl, re.HealthReason)
		}
		browse(t, s.as.deny(t, *re.AuthorizeUrl))
		if got := connState(t, c, failed.Id); got.State != sdk.ConnectionFailed {
			t.Fatalf("after a second denial: %s", got.State)
		}
		re = reauthorize(t, c, failed.Id).want(t, http.StatusOK).JSON200
		if code, body := s.authorize(t, *re.AuthorizeUrl); code != http.StatusOK {
			t.Fatalf("callback: %d %s", code, body)
		}
		if got := connState(t, c, failed.Id); got.State != sdk.ConnectionReady {
			t.Fatalf("after re-authorizing a failed connection: %s", got.State)
		}
	})
}

func TestOAuth2ReauthorizeRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		s := newACSetup(t, h, "reauth-refused")
		h.mkNamespace(t, "root.t")
		failed := *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.t", ConnectorId: s.cx.Id})).
			want(t, http.StatusCreated).JSON201
		browse(t, s.as.deny(t, *failed.AuthorizeUrl))
		before := connState(t, c, failed.Id)
		if before.State != sdk.ConnectionFailed {
			t.Fatalf("setup: %s", before.State)
		}
		unchanged := func(what string) {
			t.Helper()
			if got := connState(t, c, failed.Id); got.State != before.State || !got.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("%s changed the connection: %s", what, got.State)
			}
		}
		// Visible without connections:update → 403; invisible → 404; nothing changes.
		reader := h.mkActor(t, "root.t", "reader", perm("root.t.**", "connections", "get,list"))
		reauthorize(t, reader.Client, failed.Id).problem(t, http.StatusForbidden, "", "not permitted to update connections")
		unchanged("a reader's re-authorize")
		h.mkNamespace(t, "root.o")
		other := h.mkActor(t, "root.o", "other", perm("root.o.**", "connections", "*"))
		reauthorize(t, other.Client, failed.Id).problem(t, http.StatusNotFound, "", "connection not found")
		unchanged("an outsider's re-authorize")
		reauthorize(t, c, "cxn_doesnotexist").problem(t, http.StatusNotFound, "", "connection not found")
		// A narrowed token without update is refused too.
		narrowed := h.narrowedClient(t, h.adminSigner, []sdk.Permission{perm("root.**", "connections", "get")})
		reauthorize(t, narrowed, failed.Id).problem(t, http.StatusForbidden, "", "not permitted")
		unchanged("a narrowed token's re-authorize")

		// API-key connections are re-authorized with PUT …/apiKey, no-auth ones have nothing.
		up := newUpstream(t)
		key := h.apiKeyConnection(t, "reauth-key", apiKeyDefinition(up.URL+"/", "bearer"), "the-api-key-value")
		p := reauthorize(t, c, key.Id).problem(t, http.StatusConflict, "", "PUT /api/v1/connections/"+key.Id+"/apiKey")
		if strings.Contains(fmt.Sprint(p), "the-api-key-value") {
			t.Fatal("the API key is in the problem")
		}
		if got := connState(t, c, key.Id); got.State != key.State || !got.UpdatedAt.Equal(key.UpdatedAt) {
			t.Fatal("a refused re-authorize changed the API-key connection")
		}
		nx := mkConnector(t, c, "root", "reauth-none")
		nv := mkConnectorVersion(t, c, nx.Id, fmt.Sprintf("display: {name: Open}\nauth: {type: none}\nupstream:\n  allowedUrls: [%q]\n", up.URL+"/"), nil)
		call(c.PromoteConnectorVersionWithResponse(t.Context(), nx.Id, nv.Version)).want(t, http.StatusOK)
		none := *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: nx.Id})).
			want(t, http.StatusCreated).JSON201
		reauthorize(t, c, none.Id).problem(t, http.StatusConflict, "", "nothing to re-authorize")
		if got := connState(t, c, none.Id); got.State != none.State || !got.UpdatedAt.Equal(none.UpdatedAt) {
			t.Fatal("a refused re-authorize changed the no-auth connection")
		}
	})
}

// TestOAuth2ReauthorizeClientCredentials uses a hand-written token endpoint (faults only).
func TestOAuth2ReauthorizeClientCredentials(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		var refuse atomic.Bool
		var n atomic.Int64
		tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if refuse.Load() {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"client secret expired"}`)
				return
			}
			_, _ = fmt.Fprintf(w, `{"access_token":"cc-token-%d","token_type":"Bearer","expires_in":3600}`, n.Add(1))
		}))
		t.Cleanup(tokens.Close)
		up := newBearerUpstream(t, nil)
		def := fmt.Sprintf("display: {name: Service}\nauth:\n  type: oauth2\n  oauth2:\n    grant: client_credentials\n    clientId: svc\n    clientSecretRef: version\n    tokenUrl: %s/token\nupstream:\n  allowedUrls: [%q]\n", tokens.URL, up.URL+"/")
		cx := mkConnector(t, c, "root", "reauth-cc")
		v := mkConnectorVersion(t, c, cx.Id, def, strPtr("cc-client-secret"))
		call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
		cn := *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id})).
			want(t, http.StatusCreated).JSON201
		proxy := func() string {
			t.Helper()
			r := call(c.ProxyConnectionWithResponse(t.Context(), cn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: up.URL + "/x"})).get(t)
			if r.StatusCode() != http.StatusOK || r.JSON200.Status != http.StatusOK {
				return fmt.Sprintf("status %d", r.StatusCode())
			}
			seen := up.seen()
			return seen[len(seen)-1]
		}
		if got := proxy(); got != "cc-token-1" {
			t.Fatalf("proxy: %s", got)
		}
		// The provider refuses: an upstream 401 forces a refresh, which marks it unhealthy.
		refuse.Store(true)
		up.rejectNext.Store(1)
		call(c.ProxyConnectionWithResponse(t.Context(), cn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: up.URL + "/x"})).
			problem(t, http.StatusConflict, "", "unhealthy")
		before := connState(t, c, cn.Id)
		if before.Health != sdk.HealthUnhealthy {
			t.Fatalf("setup: %s", before.Health)
		}
		// Re-authorizing while the provider still refuses: 502, nothing changed.
		p := reauthorize(t, c, cn.Id).problem(t, http.StatusBadGateway, "", "nothing changed")
		if strings.Contains(fmt.Sprint(p), "cc-client-secret") {
			t.Fatal("the client secret is in the problem")
		}
		if got := connState(t, c, cn.Id); got.Health != before.Health || !got.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("a failed re-authorize changed the connection: %s", got.Health)
		}
		// The provider accepts again: a new token at once, healthy, no flow.
		refuse.Store(false)
		re := reauthorize(t, c, cn.Id).want(t, http.StatusOK).JSON200
		if re.State != sdk.ConnectionReady || re.Health != sdk.HealthHealthy || re.AuthorizeUrl != nil || re.HealthReason != nil {
			t.Fatalf("re-authorized: %s %s %v", re.State, re.Health, re.AuthorizeUrl)
		}
		if got, want := proxy(), fmt.Sprintf("cc-token-%d", n.Load()); got != want {
			t.Fatalf("proxy after re-authorization used %s, want %s", got, want)
		}
		// A disconnected client credentials connection is reconnected by re-authorizing.
		call(c.DisconnectConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK)
		if re := reauthorize(t, c, cn.Id).want(t, http.StatusOK).JSON200; re.State != sdk.ConnectionReady {
			t.Fatalf("re-authorized a disconnected connection: %s", re.State)
		}
		if got, want := proxy(), fmt.Sprintf("cc-token-%d", n.Load()); got != want {
			t.Fatalf("proxy after reconnecting used %s, want %s", got, want)
		}
	})
}
