package integration_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

// tokenEntries waits until at least n kind=token entries of connection id (or, with id "",
// of connector cx) are logged, and returns them newest first.
func tokenEntries(t *testing.T, c *sdk.ClientWithResponses, id, cx string, n int) []sdk.RequestLog {
	t.Helper()
	kind := sdk.KindToken
	p := sdk.ListRequestLogsParams{Kind: &kind}
	if id != "" {
		p.ConnectionId = &id
	} else {
		p.ConnectorId = &cx
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := requestLogs(t, c, p, &bodies{})
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) < n {
				t.Fatalf("%d token entries of %s%s, want %d: %s", len(got), id, cx, n, jsonOf(t, got))
			}
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantTokenEntry checks a kind=token entry: a POST to endpoint (no query: nothing secret in
// the URL), with the status and error class given, on connection cn.
func wantTokenEntry(t *testing.T, e sdk.RequestLog, cn sdk.Connection, endpoint string, status int, class *sdk.RequestLogErrorClass) {
	t.Helper()
	u, err := url.Parse(e.Url)
	if err != nil || e.Url != endpoint || u.RawQuery != "" {
		t.Errorf("token entry url %q, want %q", e.Url, endpoint)
	}
	if e.Kind != sdk.KindToken || e.Method != http.MethodPost || e.Status != status || e.BodiesRecorded ||
		e.Namespace != cn.Namespace || e.ConnectorId != cn.ConnectorId || e.ConnectorVersion != cn.ConnectorVersion ||
		e.ConnectionId != cn.Id || e.DurationMs < 0 {
		t.Errorf("token entry = %s, want kind token, POST, status %d, on %s", jsonOf(t, e), status, cn.Id)
	}
	if (class == nil) != (e.ErrorClass == nil) || (class != nil && *class != *e.ErrorClass) {
		t.Errorf("token entry error class = %v, want %v", e.ErrorClass, class)
	}
	// Token answers have a body; a revocation's 200 may be empty.
	if status == http.StatusOK && ((endpoint != revokeEndpoint(endpoint) && e.ResponseSize == 0) || e.RequestSize == 0 ||
		!strings.HasPrefix(deref(e.RequestContentType), "application/x-www-form-urlencoded")) {
		t.Errorf("token entry sizes and types = %s", jsonOf(t, e))
	}
}

// revokeEndpoint is endpoint when it is a revocation endpoint, "" otherwise.
func revokeEndpoint(endpoint string) string {
	if strings.HasSuffix(endpoint, "/revoke") {
		return endpoint
	}
	return ""
}

// TestRequestLogTokenExchanges: code exchange, refresh (after an upstream 401), client
// credentials at create and revocation on disconnect each log a kind=token entry carrying
// the connection and the endpoint, never a code or a token; a refused grant is `rejected`.
func TestRequestLogTokenExchanges(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		ctx := t.Context()
		c := h.admin
		as := newAuthServer(t, h.s.PublicURL+"/oauth2/callback")
		tokenURL, revokeURL := as.issuer+"/oauth/token", as.issuer+"/revoke"

		// Authorization code: exchange, refresh, revocation.
		up := newBearerUpstream(t, as)
		cx := mkConnector(t, c, "root", "tok-provider")
		v := mkConnectorVersion(t, c, cx.Id, as.definition(up.URL), strPtr(opClientSecret))
		call(c.PromoteConnectorVersionWithResponse(ctx, cx.Id, v.Version)).want(t, http.StatusOK)
		cn := *call(c.CreateConnectionWithResponse(ctx, sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id})).want(t, http.StatusCreated).JSON201
		callback := as.approve(t, *cn.AuthorizeUrl)
		code, _ := url.Parse(callback)
		if resp, page := browse(t, callback); resp.StatusCode != http.StatusOK {
			t.Fatalf("callback: %d %s", resp.StatusCode, page)
		}
		cn = connState(t, c, cn.Id)
		es := tokenEntries(t, c, cn.Id, "", 1)
		wantTokenEntry(t, es[0], cn, tokenURL, http.StatusOK, nil)

		up.rejectNext.Store(1) // a 401: one forced refresh, one replay
		r, err := c.ProxyConnectionWithResponse(ctx, cn.Id, sdk.ProxyRequest{Method: sdk.GET, Url: up.URL + "/v1/thing"})
		if err != nil || r.JSON200 == nil || r.JSON200.Status != http.StatusOK {
			t.Fatalf("proxy with a refresh: %v %s", err, r.Body)
		}
		es = tokenEntries(t, c, cn.Id, "", 2)
		wantTokenEntry(t, es[0], cn, tokenURL, http.StatusOK, nil)
		if as.grantCalls("refresh_token") != 1 {
			t.Errorf("%d refresh grants, want 1", as.grantCalls("refresh_token"))
		}

		call(c.DisconnectConnectionWithResponse(ctx, cn.Id)).want(t, http.StatusOK)
		es = tokenEntries(t, c, cn.Id, "", 4) // a refresh token and an access token revoked
		wantTokenEntry(t, es[0], cn, revokeURL, http.StatusOK, nil)
		wantTokenEntry(t, es[1], cn, revokeURL, http.StatusOK, nil)
		// The proxy call is one proxy entry (the 401 and its replay are one call).
		kind := sdk.KindProxy
		if got := requestLogs(t, c, sdk.ListRequestLogsParams{ConnectionId: &cn.Id, Kind: &kind}, &bodies{}); len(got) != 1 {
			t.Errorf("%d proxy entries, want 1: %s", len(got), jsonOf(t, got))
		}
		// Nothing secret in what the API shows of them.
		var seen bodies
		all := requestLogs(t, c, sdk.ListRequestLogsParams{ConnectionId: &cn.Id}, &seen)
		for _, e := range all {
			seen.add(call(c.GetRequestLogWithResponse(ctx, e.Id)).want(t, http.StatusOK))
		}
		seen.wantNone(t, code.Query().Get("code"))
		seen.wantNone(t, opClientSecret)

		// Client credentials at create, and a refused one.
		ccUp := newBearerUpstream(t, nil)
		ccx := mkConnector(t, c, "root", "tok-service")
		ccv := mkConnectorVersion(t, c, ccx.Id, as.ccDefinition(ccUp.URL), strPtr(opServiceKey))
		call(c.PromoteConnectorVersionWithResponse(ctx, ccx.Id, ccv.Version)).want(t, http.StatusOK)
		cc := *call(c.CreateConnectionWithResponse(ctx, sdk.ConnectionCreate{Namespace: "root", ConnectorId: ccx.Id,
			Labels: labelsPtr("team", "payments")})).want(t, http.StatusCreated).JSON201
		es = tokenEntries(t, c, cc.Id, "", 1)
		wantTokenEntry(t, es[0], cc, tokenURL, http.StatusOK, nil)
		if es[0].Labels["team"] != "payments" {
			t.Errorf("token entry labels = %v", es[0].Labels)
		}

		bad := mkConnector(t, c, "root", "tok-refused")
		bv := mkConnectorVersion(t, c, bad.Id, as.ccDefinition(ccUp.URL), strPtr("not-the-secret"))
		call(c.PromoteConnectorVersionWithResponse(ctx, bad.Id, bv.Version)).want(t, http.StatusOK)
		call(c.CreateConnectionWithResponse(ctx, sdk.ConnectionCreate{Namespace: "root", ConnectorId: bad.Id})).problem(t, http.StatusBadGateway, "", "client credentials")
		es = tokenEntries(t, c, "", bad.Id, 1)
		rejected := sdk.ErrorRejected
		if e := es[0]; e.Kind != sdk.KindToken || e.Url != tokenURL || e.ErrorClass == nil || *e.ErrorClass != rejected ||
			(e.Status != http.StatusUnauthorized && e.Status != http.StatusBadRequest) {
			t.Errorf("refused client credentials entry = %s, want kind token, rejected, 400 or 401", jsonOf(t, e))
		}
		// The connection was never created: its entry names an id that does not exist.
		call(c.GetConnectionWithResponse(ctx, es[0].ConnectionId)).problem(t, http.StatusNotFound, "", "")
	})
}
