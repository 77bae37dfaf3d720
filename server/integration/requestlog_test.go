package integration_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
)

// correlation is a request editor sending an X-Correlation-Id.
func correlation(id string) sdk.RequestEditorFn {
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("X-Correlation-Id", id)
		return nil
	}
}

// requestLogs lists every page of entries matching p, with the client c; seen collects the
// response bodies.
func requestLogs(t *testing.T, c *sdk.ClientWithResponses, p sdk.ListRequestLogsParams, seen *bodies) []sdk.RequestLog {
	t.Helper()
	var out []sdk.RequestLog
	for {
		r := call(c.ListRequestLogsWithResponse(t.Context(), &p)).want(t, http.StatusOK)
		seen.add(r)
		out = append(out, r.JSON200.Items...)
		if r.JSON200.NextCursor == nil {
			return out
		}
		p.Cursor = r.JSON200.NextCursor
	}
}

// waitRequestLogs polls until n entries match p: the log is written in batches off the hot
// path, about once a second.
func waitRequestLogs(t *testing.T, c *sdk.ClientWithResponses, p sdk.ListRequestLogsParams, n int, seen *bodies) []sdk.RequestLog {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := requestLogs(t, c, p, seen)
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("%d request log entries for %+v, want %d: %+v", len(got), p, n, got)
			}
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func logIDs(es []sdk.RequestLog) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Id
	}
	return out
}

func TestRequestLog(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		up := newUpstream(t)
		const key = "rl-live-key-0123456789abcdef"
		var seen bodies
		start := time.Now().Add(-time.Second)
		cn := h.apiKeyConnection(t, "rl-demo", apiKeyDefinition(up.URL+"/api/", "query"), key)
		proxy := func(cnID string, r sdk.ProxyRequest, eds ...sdk.RequestEditorFn) *sdk.ProxyConnectionResponse {
			t.Helper()
			resp, err := h.admin.ProxyConnectionWithResponse(t.Context(), cnID, r, eds...)
			if err != nil {
				t.Fatal(err)
			}
			seen.add(resp)
			return resp
		}
		// Oldest first: a success with a correlation id and a query secret of the caller's, a
		// POST with a body, a 429, a refusal outside the allowed URLs, a timeout.
		ok := proxy(cn.Id, proxyReq(sdk.GET, up.URL+"/api/items?page=2&token=caller-secret-token", nil), correlation("corr-rl-1"))
		if ok.StatusCode() != http.StatusOK {
			t.Fatalf("proxy: %d %s", ok.StatusCode(), ok.Body)
		}
		post := proxyReq(sdk.POST, up.URL+"/api/items", map[string][]string{"Content-Type": {"application/json"}})
		body := `{"name":"x"}`
		post.Body = &body
		posted := proxy(cn.Id, post)
		proxy(cn.Id, proxyReq(sdk.GET, up.URL+"/api/limited", nil))
		refused := proxy(cn.Id, proxyReq(sdk.GET, up.URL+"/private/x?api_key=leak-value", nil))
		if refused.StatusCode() != http.StatusForbidden {
			t.Fatalf("outside the allowed URLs: %d", refused.StatusCode())
		}
		slow := proxy(cn.Id, proxyReq(sdk.GET, up.URL+"/api/slow", nil))
		if slow.StatusCode() != http.StatusGatewayTimeout {
			t.Fatalf("slow: %d", slow.StatusCode())
		}

		byConn := sdk.ListRequestLogsParams{ConnectionId: &cn.Id}
		es := waitRequestLogs(t, h.admin, byConn, 5, &seen)
		// Newest first.
		wantURLs := []string{up.URL + "/api/slow", up.URL + "/private/x?api_key=REDACTED", up.URL + "/api/limited",
			up.URL + "/api/items", up.URL + "/api/items?page=2&token=REDACTED"}
		for i, e := range es {
			if e.Url != wantURLs[i] {
				t.Errorf("entry %d url %q, want %q", i, e.Url, wantURLs[i])
			}
			if e.Namespace != "root" || e.ConnectorId != cn.ConnectorId || e.ConnectorVersion != cn.ConnectorVersion ||
				e.ActorId != h.s.AdminID || e.CorrelationId == "" || e.Time.Before(start) || e.Time.After(time.Now()) || e.DurationMs < 0 {
				t.Errorf("entry %d: %+v", i, e)
			}
			if i > 0 && es[i-1].Id <= e.Id {
				t.Errorf("entries not newest first: %s before %s", es[i-1].Id, e.Id)
			}
		}
		success, postE, limited, notAllowed, timeout := es[4], es[3], es[2], es[1], es[0]
		if success.Status != 200 || success.ErrorClass != nil || success.CorrelationId != "corr-rl-1" || success.Method != "GET" ||
			success.ResponseSize == 0 || deref(success.ResponseContentType) == "" {
			t.Errorf("success entry %+v", success)
		}
		if postE.Method != "POST" || postE.RequestSize != int64(len(body)) || deref(postE.RequestContentType) != "application/json" ||
			postE.CorrelationId != posted.HTTPResponse.Header.Get("X-Request-Id") {
			t.Errorf("POST entry %+v (request id %s)", postE, posted.HTTPResponse.Header.Get("X-Request-Id"))
		}
		if limited.Status != http.StatusTooManyRequests || limited.ErrorClass != nil {
			t.Errorf("429 entry %+v", limited)
		}
		if notAllowed.Status != 0 || notAllowed.ErrorClass == nil || *notAllowed.ErrorClass != sdk.ErrorNotAllowed {
			t.Errorf("not-allowed entry %+v", notAllowed)
		}
		if timeout.Status != 0 || timeout.ErrorClass == nil || *timeout.ErrorClass != sdk.ErrorTimeout || timeout.DurationMs < 250 {
			t.Errorf("timeout entry %+v", timeout)
		}
		one := call(h.admin.GetRequestLogWithResponse(t.Context(), success.Id)).want(t, http.StatusOK)
		seen.add(one)
		if one.JSON200.Id != success.Id || one.JSON200.Url != success.Url || one.JSON200.Status != 200 {
			t.Errorf("get: %+v", one.JSON200)
		}
		call(h.admin.GetRequestLogWithResponse(t.Context(), "rlg_0000000000000000000missing")).problem(t, http.StatusNotFound, "", "not found")

		// A labelled connection in a tenant namespace.
		h.mkNamespace(t, "root.rlt")
		tcn := *call(h.admin.CreateConnectionWithResponse(t.Context(), sdk.ConnectionCreate{Namespace: "root.rlt", ConnectorId: cn.ConnectorId,
			ApiKey: strPtr(key), Labels: labelsPtr("team", "blue")})).want(t, http.StatusCreated).JSON201
		proxy(tcn.Id, proxyReq(sdk.GET, up.URL+"/api/tenant?api_key=caller-dup&x=1", nil))
		proxy(tcn.Id, proxyReq(sdk.GET, up.URL+"/api/tenant2", nil))
		tenantES := waitRequestLogs(t, h.admin, sdk.ListRequestLogsParams{ConnectionId: &tcn.Id}, 2, &seen)
		if tenantES[1].Url != up.URL+"/api/tenant?api_key=REDACTED&x=1" || tenantES[1].Labels["team"] != "blue" || tenantES[0].Namespace != "root.rlt" {
			t.Errorf("tenant entries %+v", tenantES)
		}

		// Filters.
		all := requestLogs(t, h.admin, sdk.ListRequestLogsParams{}, &seen)
		if len(all) != 7 {
			t.Fatalf("%d entries in all, want 7", len(all))
		}
		for _, tc := range []struct {
			name string
			p    sdk.ListRequestLogsParams
			want []sdk.RequestLog
		}{
			{"labelSelector", sdk.ListRequestLogsParams{LabelSelector: strPtr("team=blue")}, tenantES},
			{"labelSelector absent", sdk.ListRequestLogsParams{LabelSelector: strPtr("!team")}, es},
			{"namespace", sdk.ListRequestLogsParams{Namespace: strPtr("root")}, es},
			{"connectorId", sdk.ListRequestLogsParams{ConnectorId: &cn.ConnectorId}, all},
			{"statusMin", sdk.ListRequestLogsParams{StatusMin: intPtr(400)}, []sdk.RequestLog{limited}},
			{"status range", sdk.ListRequestLogsParams{StatusMin: intPtr(200), StatusMax: intPtr(299), ConnectionId: &cn.Id}, []sdk.RequestLog{postE, success}},
			{"no response", sdk.ListRequestLogsParams{StatusMax: intPtr(0)}, []sdk.RequestLog{timeout, notAllowed}},
			{"since", sdk.ListRequestLogsParams{Since: &tenantES[1].Time}, tenantES},
			{"until", sdk.ListRequestLogsParams{Until: &postE.Time}, []sdk.RequestLog{success}},
			{"since and until", sdk.ListRequestLogsParams{Since: &postE.Time, Until: &notAllowed.Time}, []sdk.RequestLog{limited, postE}},
			{"future", sdk.ListRequestLogsParams{Since: ptr(time.Now().Add(time.Hour))}, nil},
			{"paged", sdk.ListRequestLogsParams{Limit: intPtr(2)}, all},
		} {
			got := logIDs(requestLogs(t, h.admin, tc.p, &seen))
			if !slices.Equal(got, logIDs(tc.want)) {
				t.Errorf("%s: %v, want %v", tc.name, got, logIDs(tc.want))
			}
		}
		first := call(h.admin.ListRequestLogsWithResponse(t.Context(), &sdk.ListRequestLogsParams{Limit: intPtr(3)})).want(t, http.StatusOK).JSON200
		if len(first.Items) != 3 || first.NextCursor == nil || !slices.Equal(logIDs(first.Items), logIDs(all[:3])) {
			t.Fatalf("first page %+v", first)
		}

		// Bad input.
		call(h.admin.ListRequestLogsWithResponse(t.Context(), &sdk.ListRequestLogsParams{StatusMin: intPtr(500), StatusMax: intPtr(200)})).
			problem(t, http.StatusBadRequest, "statusMax", "less than statusMin")
		call(h.admin.ListRequestLogsWithResponse(t.Context(), &sdk.ListRequestLogsParams{Cursor: strPtr("!!")})).
			problem(t, http.StatusBadRequest, "cursor", "not valid")
		call(h.admin.ListRequestLogsWithResponse(t.Context(), &sdk.ListRequestLogsParams{LabelSelector: strPtr("a in (")})).
			problem(t, http.StatusBadRequest, "labelSelector", "")
		resp, raw := h.adminDo(t, http.MethodGet, "/api/v1/request-logs?since=yesterday", "", nil)
		wantProblem(t, resp, raw, http.StatusBadRequest, "", "since")

		// A tenant actor sees its namespace's entries only; another namespace's entry is a 404.
		tenant := h.mkActor(t, "root.rlt", "rl-reader", perm("root.rlt.**", "request_logs", "list,get"))
		if got := logIDs(requestLogs(t, tenant.Client, sdk.ListRequestLogsParams{}, &seen)); !slices.Equal(got, logIDs(tenantES)) {
			t.Errorf("tenant lists %v, want %v", got, logIDs(tenantES))
		}
		if got := requestLogs(t, tenant.Client, sdk.ListRequestLogsParams{ConnectionId: &cn.Id}, &seen); len(got) != 0 {
			t.Errorf("tenant lists root entries %v", logIDs(got))
		}
		call(tenant.Client.GetRequestLogWithResponse(t.Context(), success.Id)).problem(t, http.StatusNotFound, "", "not found")
		call(tenant.Client.GetRequestLogWithResponse(t.Context(), tenantES[0].Id)).want(t, http.StatusOK)
		noLogs := h.mkActor(t, "root.rlt", "rl-none", perm("root.rlt.**", "connections", "*"))
		if got := requestLogs(t, noLogs.Client, sdk.ListRequestLogsParams{}, &seen); len(got) != 0 {
			t.Errorf("an actor without request_logs permissions lists %v", logIDs(got))
		}
		call(noLogs.Client.GetRequestLogWithResponse(t.Context(), tenantES[0].Id)).problem(t, http.StatusNotFound, "", "not found")

		// No credential and no secret of the caller's query ever reaches an entry.
		for _, s := range []string{key, "caller-secret-token", "leak-value", "caller-dup"} {
			seen.wantNone(t, s)
		}
	})
}

func ptr[T any](v T) *T { return &v }
