package integration_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

// publishedConnector creates a connector in ns whose primary version has the definition in
// the example file.
func publishedConnector(t testing.TB, c *sdk.ClientWithResponses, ns, name, example string) sdk.Connector {
	t.Helper()
	src, err := os.ReadFile("../../examples/connectors/" + example)
	if err != nil {
		t.Fatal(err)
	}
	cx := mkConnector(t, c, ns, name)
	v := mkConnectorVersion(t, c, cx.Id, string(src), nil)
	call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v.Version)).want(t, http.StatusOK)
	return cx
}

func TestConnectionsAPIKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		h.mkNamespace(t, "root.apps")
		stripe := publishedConnector(t, c, "root", "stripe", "stripe.yaml")
		open := publishedConnector(t, c, "root", "weather", "open-meteo.json")
		const key = "sk_test_connection-secret-0123456789"
		var seen bodies

		// Bad input: no key for an api_key connector, a key for a no-auth one, unknown
		// connector, unknown config field; nothing is written.
		call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.apps", ConnectorId: stripe.Id})).
			problem(t, http.StatusBadRequest, "apiKey", "is required")
		call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.apps", ConnectorId: open.Id, ApiKey: strPtr(key)})).
			problem(t, http.StatusBadRequest, "apiKey", "takes no credentials")
		call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.apps", ConnectorId: "cxr_missing0000000000"})).
			problem(t, http.StatusBadRequest, "connectorId", "not found")
		call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.apps", ConnectorId: open.Id,
			Config: &map[string]string{"tenant": "x"}})).problem(t, http.StatusBadRequest, "config.tenant", "declares no such config field")
		list := call(c.ListConnectionsWithResponse(t.Context(), nil)).want(t, http.StatusOK).JSON200
		if len(list.Items) != 0 {
			t.Fatalf("refused creations wrote %d connection(s)", len(list.Items))
		}

		r := call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.apps", ConnectorId: stripe.Id,
			ApiKey: strPtr(key), Labels: labelsPtr("team", "billing")})).want(t, http.StatusCreated)
		seen.add(r)
		cn := *r.JSON201
		if cn.State != sdk.ConnectionReady || cn.ConnectorVersion != 1 || cn.Health != sdk.HealthUnknown || cn.Namespace != "root.apps" {
			t.Fatalf("connection %+v", cn)
		}
		// The key is stored encrypted: a connections.credentials row in the status.
		st := *call(c.GetEncryptionStatusWithResponse(t.Context(), nil)).want(t, http.StatusOK).JSON200
		if n := sumCounts(statusCounts(st, "connections", "root.apps")); n != 1 {
			t.Fatalf("%d encrypted credentials in root.apps", n)
		}
		seen.add(call(c.GetConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK))
		seen.add(call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{ConnectorId: &stripe.Id})).want(t, http.StatusOK))
		sel := "team=billing"
		got := call(c.ListConnectionsWithResponse(t.Context(), &sdk.ListConnectionsParams{LabelSelector: &sel})).want(t, http.StatusOK).JSON200
		if len(got.Items) != 1 || got.Items[0].Id != cn.Id {
			t.Fatalf("label selector listed %+v", got.Items)
		}

		// Re-authorize keeps the id.
		seen.add(call(c.SetConnectionApiKeyWithResponse(t.Context(), cn.Id, sdk.ConnectionApiKey{ApiKey: strPtr(key + "-2")})).want(t, http.StatusOK))
		call(c.SetConnectionApiKeyWithResponse(t.Context(), cn.Id, sdk.ConnectionApiKey{ApiKey: strPtr("")})).
			problem(t, http.StatusBadRequest, "apiKey", "")
		// Promoting another version does not move it: it keeps version 1.
		src, _ := os.ReadFile("../../examples/connectors/stripe.yaml")
		v2 := mkConnectorVersion(t, c, stripe.Id, string(src)+"\n# v2\n", nil)
		call(c.PromoteConnectorVersionWithResponse(t.Context(), stripe.Id, v2.Version)).want(t, http.StatusOK)
		if g := call(c.GetConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK).JSON200; g.ConnectorVersion != 1 {
			t.Fatalf("a promotion moved the connection to version %d", g.ConnectorVersion)
		}
		call(c.DeleteConnectionWithResponse(t.Context(), cn.Id)).problem(t, http.StatusConflict, "", "disconnect it first")
		d := call(c.DisconnectConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK).JSON200
		if d.State != sdk.ConnectionDisconnected || d.ConnectorVersion != 1 {
			t.Fatalf("disconnected %+v", d)
		}
		st = *call(c.GetEncryptionStatusWithResponse(t.Context(), nil)).want(t, http.StatusOK).JSON200
		if n := sumCounts(statusCounts(st, "connections", "root.apps")); n != 0 {
			t.Fatalf("credentials kept after disconnect: %d", n)
		}
		call(c.DeleteConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusNoContent)
		call(c.GetConnectionWithResponse(t.Context(), cn.Id)).problem(t, http.StatusNotFound, "", "connection not found")
		seen.wantNone(t, key)

		// No-auth connections are ready at once; a connector without a primary takes none.
		call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.apps", ConnectorId: open.Id})).want(t, http.StatusCreated)
		call(c.DemoteConnectorWithResponse(t.Context(), open.Id)).want(t, http.StatusOK)
		call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.apps", ConnectorId: open.Id})).
			problem(t, http.StatusConflict, "", "no primary version")
		// OAuth2 authorization code connections start in setup, with the URL to authorize them
		// through the public service (the whole flow is in oauth2_test.go).
		gh := mkConnector(t, c, "root", "github")
		ghSrc, _ := os.ReadFile("../../examples/connectors/github.yaml")
		gv := mkConnectorVersion(t, c, gh.Id, string(ghSrc), strPtr("client-secret"))
		call(c.PromoteConnectorVersionWithResponse(t.Context(), gh.Id, gv.Version)).want(t, http.StatusOK)
		oc := call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.apps", ConnectorId: gh.Id})).
			want(t, http.StatusCreated).JSON201
		if oc.State != sdk.ConnectionSetup || oc.AuthorizeUrl == nil || !strings.HasPrefix(*oc.AuthorizeUrl, h.s.PublicURL+"/oauth2/redirect?state=") {
			t.Fatalf("oauth2 connection: state %s, authorizeUrl %v", oc.State, oc.AuthorizeUrl)
		}
	})
}

func TestConnectionsAuthorization(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		h.mkNamespace(t, "root.t")
		h.mkNamespace(t, "root.t.a")
		h.mkNamespace(t, "root.t.b")
		stripe := publishedConnector(t, c, "root", "stripe", "stripe.yaml")
		mk := func(ns string) sdk.Connection {
			return *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: ns, ConnectorId: stripe.Id,
				ApiKey: strPtr("k")})).want(t, http.StatusCreated).JSON201
		}
		a, b := mk("root.t.a"), mk("root.t.b")
		// A tenant app of root.t.a: may create and manage connections there and read the
		// connector, nothing in root.t.b.
		app := h.mkActor(t, "root.t.a", "app", perm("root.t.a.**", "connections", "*"))
		ac := app.Client
		call(ac.GetConnectionWithResponse(t.Context(), b.Id)).problem(t, http.StatusNotFound, "", "connection not found")
		call(ac.DisconnectConnectionWithResponse(t.Context(), b.Id)).problem(t, http.StatusNotFound, "", "connection not found")
		call(ac.GetConnectionWithResponse(t.Context(), a.Id)).want(t, http.StatusOK)
		got := call(ac.ListConnectionsWithResponse(t.Context(), nil)).want(t, http.StatusOK).JSON200
		if len(got.Items) != 1 || got.Items[0].Id != a.Id {
			t.Fatalf("tenant listed %+v", got.Items)
		}
		// Without connectors:get on the connector, it cannot connect to it.
		call(ac.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.t.a", ConnectorId: stripe.Id, ApiKey: strPtr("k")})).
			problem(t, http.StatusBadRequest, "connectorId", "not found")
		call(ac.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.t.b", ConnectorId: stripe.Id, ApiKey: strPtr("k")})).
			problem(t, http.StatusForbidden, "", "not permitted to create connections")
		// A reader sees but may not change.
		reader := h.mkActor(t, "root.t", "reader", perm("root.t.**", "connections", "get,list"))
		rc := reader.Client
		call(rc.DisconnectConnectionWithResponse(t.Context(), a.Id)).problem(t, http.StatusForbidden, "", "not permitted")
		call(rc.SetConnectionApiKeyWithResponse(t.Context(), a.Id, sdk.ConnectionApiKey{ApiKey: strPtr("x")})).problem(t, http.StatusForbidden, "", "not permitted")
		call(rc.DeleteConnectionWithResponse(t.Context(), a.Id)).problem(t, http.StatusForbidden, "", "not permitted")
		if g := call(c.GetConnectionWithResponse(t.Context(), a.Id)).want(t, http.StatusOK).JSON200; g.State != sdk.ConnectionReady {
			t.Fatalf("refused calls changed the connection: %+v", g)
		}
	})
}

func TestConnectorVersionsFollowTheirConnections(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		c := h.admin
		src, err := os.ReadFile("../../examples/connectors/stripe.yaml")
		if err != nil {
			t.Fatal(err)
		}
		cx := publishedConnector(t, c, "root", "stripe", "stripe.yaml") // v1 primary
		cn := *call(c.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id, ApiKey: strPtr("k")})).
			want(t, http.StatusCreated).JSON201
		v2 := mkConnectorVersion(t, c, cx.Id, string(src)+"\n# v2\n", nil)
		v3 := mkConnectorVersion(t, c, cx.Id, string(src)+"\n# v3\n", nil)
		call(c.PromoteConnectorVersionWithResponse(t.Context(), cx.Id, v2.Version)).want(t, http.StatusOK)
		// v1 is active with a live connection: it cannot be archived, and the worker leaves it.
		call(c.ArchiveConnectorVersionWithResponse(t.Context(), cx.Id, 1)).
			problem(t, http.StatusConflict, "", "version 1 still has 1 connection(s)")
		// The connection keeps its version.
		if g := call(c.GetConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK).JSON200; g.ConnectorVersion != 1 {
			t.Fatalf("connection moved to version %d", g.ConnectorVersion)
		}
		// Once its last connection is gone, the worker archives v1 (it had connections);
		// v3, a draft that never had any, and v2, the primary, stay.
		call(c.DisconnectConnectionWithResponse(t.Context(), cn.Id)).want(t, http.StatusOK)
		deadline := time.Now().Add(30 * time.Second)
		for {
			v1 := call(c.GetConnectorVersionWithResponse(t.Context(), cx.Id, 1)).want(t, http.StatusOK).JSON200
			if v1.State == sdk.ConnectorVersionArchived {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("v1 still %s 30 s after its last connection was disconnected", v1.State)
			}
			time.Sleep(200 * time.Millisecond)
		}
		wantStates(t, c, cx.Id, fmt.Sprintf("1:archived %d:primary %d:draft", v2.Version, v3.Version))
	})
}
