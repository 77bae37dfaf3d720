package integration_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

const probeGoodKey = "probe-good-key-0123456789"

// probeUpstream is a loopback API for probes: /me answers 401 to every key but
// probeGoodKey and otherwise the status set; it records the keys it saw.
type probeUpstream struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	keys   []string
}

func newProbeUpstream(t *testing.T) *probeUpstream {
	u := &probeUpstream{status: http.StatusOK}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key")
		u.mu.Lock()
		u.keys = append(u.keys, key)
		status := u.status
		u.mu.Unlock()
		if key != probeGoodKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *probeUpstream) set(status int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.status = status
}

func (u *probeUpstream) lastKey() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.keys) == 0 {
		return ""
	}
	return u.keys[len(u.keys)-1]
}

func (u *probeUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.keys)
}

// probedDef is an api_key connector (header X-Api-Key) on base with a probe "me" of /me
// (none when probes is false).
func probedDef(base string, probes bool) string {
	def := fmt.Sprintf("display: {name: Probed}\nauth:\n  type: api_key\n  apiKey: {placement: header, headerName: X-Api-Key}\nupstream:\n  allowedUrls: [%q]\n  timeout: 2s\n", base+"/")
	if probes {
		def += fmt.Sprintf("probes:\n  - {name: me, url: %q}\n", base+"/me")
	}
	return def
}

// mkPrimaryConnector creates a connector with def as its primary version.
func (h *harness) mkPrimaryConnector(t *testing.T, name, def string) sdk.Connector {
	t.Helper()
	cx := mkConnector(t, h.admin, "root", name)
	v := mkConnectorVersion(t, h.admin, cx.Id, def, nil)
	call(h.admin.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
	return cx
}

// waitProbed polls the connection until the worker has probed it (lastProbedAt after
// since) and returns it.
func (h *harness) waitProbed(t *testing.T, id string, since time.Time) sdk.Connection {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := *call(h.admin.GetConnectionWithResponse(t.Context(), id)).want(t, http.StatusOK).JSON200
		if c.LastProbedAt != nil && !c.LastProbedAt.Before(since) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %s not probed by the worker since %s: %+v", id, since, c)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProbeEndpoint(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newProbeUpstream(t)
		probed := h.mkPrimaryConnector(t, "probed", probedDef(up.URL, true))
		start := time.Now().Add(-time.Second)
		c := *call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: probed.Id,
			ApiKey: strPtr(probeGoodKey)})).want(t, http.StatusCreated).JSON201
		// The worker probes a connection once it is ready.
		got := h.waitProbed(t, c.Id, start)
		if got.Health != sdk.HealthHealthy || got.ProbeFailures == nil || *got.ProbeFailures != 0 {
			t.Fatalf("after the first probe: %s %v", got.Health, got.ProbeFailures)
		}

		var seen bodies
		r := call(h.admin.ProbeConnectionWithResponse(t.Context(), c.Id)).want(t, http.StatusOK)
		seen.add(r)
		rep := r.JSON200
		if !rep.Healthy || len(rep.Results) != 1 || rep.Connection.Id != c.Id || rep.Connection.Health != sdk.HealthHealthy {
			t.Fatalf("healthy report %+v", rep)
		}
		if res := rep.Results[0]; res.Name != "me" || res.Method != "GET" || res.Url != up.URL+"/me" || res.Status != 200 ||
			!res.Healthy || res.Error != nil || res.DurationMs <= 0 {
			t.Fatalf("result %+v", res)
		}
		// A failing status is reported and counted.
		up.set(http.StatusBadGateway)
		r = call(h.admin.ProbeConnectionWithResponse(t.Context(), c.Id)).want(t, http.StatusOK)
		seen.add(r)
		rep = r.JSON200
		if rep.Healthy || rep.Results[0].Status != 502 || rep.Results[0].Error == nil || *rep.Connection.ProbeFailures != 1 ||
			rep.Connection.Health != sdk.HealthHealthy || !strings.Contains(deref(rep.Connection.HealthReason), `probe "me"`) ||
			rep.Connection.LastProbedAt == nil {
			t.Fatalf("failing report %+v, connection %+v", rep.Results, rep.Connection)
		}
		seen.wantNone(t, probeGoodKey)

		// Probe calls are in the request log with kind probe.
		kind := sdk.KindProbe
		logged := waitRequestLogs(t, h.admin, sdk.ListRequestLogsParams{ConnectionId: &c.Id, Kind: &kind}, 3, &seen)
		for _, e := range logged {
			if e.Kind != sdk.KindProbe || e.Url != up.URL+"/me" {
				t.Errorf("log entry %s %s", e.Kind, e.Url)
			}
		}

		// 409: a connector without probes; a connection that is not ready.
		plain := h.mkPrimaryConnector(t, "plain", probedDef(up.URL, false))
		pc := *call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: plain.Id,
			ApiKey: strPtr(probeGoodKey)})).want(t, http.StatusCreated).JSON201
		call(h.admin.ProbeConnectionWithResponse(t.Context(), pc.Id)).problem(t, http.StatusConflict, "", "has no probes")
		other := *call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: probed.Id,
			ApiKey: strPtr(probeGoodKey)})).want(t, http.StatusCreated).JSON201
		h.waitProbed(t, other.Id, start)
		call(h.admin.DisconnectConnectionWithResponse(t.Context(), other.Id)).want(t, http.StatusOK)
		n := up.count()
		call(h.admin.ProbeConnectionWithResponse(t.Context(), other.Id)).problem(t, http.StatusConflict, "", "not ready")
		if up.count() != n {
			t.Error("a disconnected connection was probed")
		}

		// Authorization: connections:proxy is needed; get alone is 403; invisible is 404.
		h.mkNamespace(t, "root.probes")
		reader := h.mkActor(t, "root", "probe-reader", perm("root", "connections", "get"))
		call(reader.Client.ProbeConnectionWithResponse(t.Context(), c.Id)).problem(t, http.StatusForbidden, "", "not permitted to proxy")
		stranger := h.mkActor(t, "root", "probe-stranger", perm("root.probes", "connections", "get,proxy"))
		call(stranger.Client.ProbeConnectionWithResponse(t.Context(), c.Id)).problem(t, http.StatusNotFound, "", "connection not found")
		call(h.admin.ProbeConnectionWithResponse(t.Context(), "cxn_missing")).problem(t, http.StatusNotFound, "", "connection not found")
		if up.count() != n {
			t.Error("a refused probe request reached the upstream")
		}
		prober := h.mkActor(t, "root", "prober", perm("root", "connections", "proxy", c.Id))
		up.set(http.StatusOK)
		rep = call(prober.Client.ProbeConnectionWithResponse(t.Context(), c.Id)).want(t, http.StatusOK).JSON200
		if !rep.Healthy || *rep.Connection.ProbeFailures != 0 || rep.Connection.HealthReason != nil {
			t.Fatalf("probe with connections:proxy: %+v %+v", rep.Results, rep.Connection)
		}
	})
}

func TestProbeVerify(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newProbeUpstream(t)
		probed := h.mkPrimaryConnector(t, "verified", probedDef(up.URL, true))
		plain := h.mkPrimaryConnector(t, "unverifiable", probedDef(up.URL, false))
		open := h.mkPrimaryConnector(t, "open", fmt.Sprintf("display: {name: Open}\nauth: {type: none}\nupstream:\n  allowedUrls: [%q]\nprobes:\n  - {name: me, url: %q}\n", up.URL+"/", up.URL+"/me"))
		yes := true
		var seen bodies
		connections := func(connectorID string) []sdk.Connection {
			return call(h.admin.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{ConnectorId: &connectorID})).
				want(t, http.StatusOK).JSON200.Items
		}

		// A wrong key fails the probe: 422 naming the probe, nothing created.
		r := call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: probed.Id,
			ApiKey: strPtr("wrong-key-abcdef"), Verify: &yes})).get(t)
		seen.add(r)
		call(r, nil).problem(t, http.StatusUnprocessableEntity, "apiKey", `probe "me"`)
		if up.lastKey() != "wrong-key-abcdef" {
			t.Errorf("the upstream saw %q, not the candidate key", up.lastKey())
		}
		if got := connections(probed.Id); len(got) != 0 {
			t.Fatalf("a failed verification created %+v", got)
		}
		// verify where there is nothing to verify: 422 naming verify, nothing created.
		r = call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: plain.Id,
			ApiKey: strPtr(probeGoodKey), Verify: &yes})).get(t)
		call(r, nil).problem(t, http.StatusUnprocessableEntity, "verify", "the connector has no probes")
		r = call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: open.Id, Verify: &yes})).get(t)
		call(r, nil).problem(t, http.StatusUnprocessableEntity, "verify", "not an API key")
		if got := append(connections(plain.Id), connections(open.Id)...); len(got) != 0 {
			t.Fatalf("refused verifications created %+v", got)
		}

		// The right key: created, and healthy from the verification.
		cr := call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: probed.Id,
			ApiKey: strPtr(probeGoodKey), Verify: &yes})).want(t, http.StatusCreated)
		seen.add(cr)
		c := *cr.JSON201
		if c.Health != sdk.HealthHealthy || c.LastProbedAt == nil || *c.ProbeFailures != 0 {
			t.Fatalf("verified connection %+v", c)
		}

		// PUT apiKey with verify: a wrong key is refused and the old key stays in use.
		kr := call(h.admin.SetConnectionApiKeyWithResponse(t.Context(), c.Id, sdk.ConnectionApiKey{ApiKey: strPtr("rotated-wrong-key"), Verify: &yes})).get(t)
		seen.add(kr)
		call(kr, nil).problem(t, http.StatusUnprocessableEntity, "apiKey", `probe "me"`)
		pr := call(h.admin.ProxyConnectionWithResponse(t.Context(), c.Id, proxyReq(sdk.GET, up.URL+"/me", nil))).want(t, http.StatusOK)
		if pr.JSON200.Status != http.StatusOK || up.lastKey() != probeGoodKey {
			t.Fatalf("after a refused key the proxy sent %q and got %d", up.lastKey(), pr.JSON200.Status)
		}
		if got := *call(h.admin.GetConnectionWithResponse(t.Context(), c.Id)).want(t, http.StatusOK).JSON200; got.Health != sdk.HealthHealthy {
			t.Errorf("a refused key changed the connection: %+v", got)
		}
		// Without verify the key is stored; the worker's probe then finds it refused: unhealthy
		// at once.
		before := time.Now()
		call(h.admin.SetConnectionApiKeyWithResponse(t.Context(), c.Id, sdk.ConnectionApiKey{ApiKey: strPtr("unverified-key")})).want(t, http.StatusOK)
		got := h.waitProbed(t, c.Id, before)
		if got.Health != sdk.HealthUnhealthy || *got.ProbeFailures != 1 || !strings.Contains(deref(got.HealthReason), "401") {
			t.Fatalf("after an unverified bad key: %s %d %q", got.Health, *got.ProbeFailures, deref(got.HealthReason))
		}
		// PUT apiKey with verify where there is nothing to verify: 422 naming verify, the key
		// unchanged.
		pc := *call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: plain.Id,
			ApiKey: strPtr(probeGoodKey)})).want(t, http.StatusCreated).JSON201
		call(h.admin.SetConnectionApiKeyWithResponse(t.Context(), pc.Id, sdk.ConnectionApiKey{ApiKey: strPtr("plain-new-key"), Verify: &yes})).
			problem(t, http.StatusUnprocessableEntity, "verify", "the connector has no probes")
		call(h.admin.ProxyConnectionWithResponse(t.Context(), pc.Id, proxyReq(sdk.GET, up.URL+"/me", nil))).want(t, http.StatusOK)
		if up.lastKey() != probeGoodKey {
			t.Errorf("after a refused verify the proxy sent %q", up.lastKey())
		}
		oc := *call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: open.Id})).
			want(t, http.StatusCreated).JSON201
		call(h.admin.SetConnectionApiKeyWithResponse(t.Context(), oc.Id, sdk.ConnectionApiKey{ApiKey: strPtr("open-key"), Verify: &yes})).
			problem(t, http.StatusUnprocessableEntity, "verify", "not an API key")

		// A good key with verify: stored, healthy again.
		got = *call(h.admin.SetConnectionApiKeyWithResponse(t.Context(), c.Id, sdk.ConnectionApiKey{ApiKey: strPtr(probeGoodKey), Verify: &yes})).
			want(t, http.StatusOK).JSON200
		if got.Health != sdk.HealthHealthy || *got.ProbeFailures != 0 || got.HealthReason != nil {
			t.Fatalf("after a verified key: %s %d %q", got.Health, *got.ProbeFailures, deref(got.HealthReason))
		}
		seen.wantNone(t, probeGoodKey)
		seen.wantNone(t, "wrong-key-abcdef")
		seen.wantNone(t, "rotated-wrong-key")
	})
}
