package integration_test

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// operations returns "METHOD path operationId" for every operation of an OpenAPI document.
func operations(t testing.TB, doc map[string]any) []string {
	t.Helper()
	ps, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatalf("document has no paths")
	}
	var out []string
	for p, item := range ps {
		for method, op := range item.(map[string]any) {
			o, ok := op.(map[string]any)
			if !ok || o["operationId"] == nil {
				continue
			}
			out = append(out, strings.ToUpper(method)+" "+p+" "+o["operationId"].(string))
		}
	}
	slices.Sort(out)
	return out
}

// jsonDiff lists the JSON paths where two decoded documents differ, with both values.
func jsonDiff(at string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		var out []string
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, dup := w[k]; !dup {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			out = append(out, jsonDiff(at+"/"+k, w[k], g[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		var out []string
		for i := range w {
			out = append(out, jsonDiff(fmt.Sprintf("%s/%d", at, i), w[i], g[i])...)
		}
		return out
	default:
		if reflect.DeepEqual(want, got) {
			return nil
		}
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(got)
	return []string{fmt.Sprintf("  %s: contract %.80s, served %.80s", at, wb, gb)}
}

func mediaType(t testing.TB, resp *http.Response) string {
	t.Helper()
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		t.Errorf("Content-Type %q: %v", resp.Header.Get("Content-Type"), err)
	}
	return mt
}

func TestSpecServed(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		// The contract in the repository, to compare the served document with.
		repoYAML, err := os.ReadFile(filepath.Join("..", "..", "openapi", "authproxy.yaml"))
		if err != nil {
			t.Fatalf("read the contract: %v", err)
		}
		var repo map[string]any
		if err := yaml.Unmarshal(repoYAML, &repo); err != nil {
			t.Fatalf("parse the contract: %v", err)
		}
		wantTitle := repo["info"].(map[string]any)["title"].(string)
		if wantTitle != "AuthProxy API" {
			t.Errorf("contract title = %q", wantTitle)
		}
		wantOps := operations(t, repo)

		for _, svc := range []struct{ name, url string }{{"admin", h.s.AdminURL}, {"api", h.s.APIURL}} {
			t.Run(svc.name, func(t *testing.T) {
				// No authentication needed.
				resp, body := rawDo(t, http.MethodGet, svc.url+"/openapi.json", "", "", nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("openapi.json: status %d: %s", resp.StatusCode, body)
				}
				if mt := mediaType(t, resp); mt != "application/json" {
					t.Errorf("openapi.json Content-Type %q, want application/json", mt)
				}
				var fromJSON map[string]any
				if err := json.Unmarshal(body, &fromJSON); err != nil {
					t.Fatalf("openapi.json is not JSON: %v", err)
				}
				if title := fromJSON["info"].(map[string]any)["title"]; title != wantTitle {
					t.Errorf("openapi.json title %v, want %q", title, wantTitle)
				}
				if v, _ := fromJSON["openapi"].(string); !strings.HasPrefix(v, "3.") {
					t.Errorf("openapi.json openapi = %q, want 3.x", v)
				}
				// Every operation of the contract is served, at the same method and path.
				if got, want := operations(t, fromJSON), wantOps; !slices.EqualFunc(got, want, strings.EqualFold) {
					t.Errorf("served operations differ from openapi/authproxy.yaml:\nserved %q\n  repo %q", got, want)
				}

				resp, ybody := rawDo(t, http.MethodGet, svc.url+"/openapi.yaml", "", "", nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("openapi.yaml: status %d: %s", resp.StatusCode, ybody)
				}
				if mt := mediaType(t, resp); mt != "application/yaml" {
					t.Errorf("openapi.yaml Content-Type %q, want application/yaml", mt)
				}
				if !strings.Contains(string(ybody), "title: "+wantTitle) {
					t.Errorf("openapi.yaml does not contain the title line")
				}
				var fromYAML map[string]any
				if err := yaml.Unmarshal(ybody, &fromYAML); err != nil {
					t.Fatalf("openapi.yaml is not YAML: %v", err)
				}
				if jsonOf(t, fromYAML) != jsonOf(t, fromJSON) {
					t.Errorf("openapi.yaml and openapi.json are not the same document")
				}

				// Only GET is served.
				resp, body = rawDo(t, http.MethodPost, svc.url+"/openapi.json", "", "application/json", []byte(`{}`))
				if resp.StatusCode == http.StatusOK {
					t.Errorf("POST /openapi.json answered 200")
				}
				wantProblem(t, resp, body, resp.StatusCode, "", "")
			})
		}
	})
}

// TestServedSpecIsTheContract: the document served at /openapi.json is
// openapi/authproxy.yaml itself ("the source of truth"), not an altered copy.
func TestServedSpecIsTheContract(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		repoYAML, err := os.ReadFile(filepath.Join("..", "..", "openapi", "authproxy.yaml"))
		if err != nil {
			t.Fatalf("read the contract: %v", err)
		}
		var repo map[string]any
		if err := yaml.Unmarshal(repoYAML, &repo); err != nil {
			t.Fatalf("parse the contract: %v", err)
		}
		for _, url := range []string{h.s.AdminURL, h.s.APIURL} {
			resp, body := rawDo(t, http.MethodGet, url+"/openapi.json", "", "", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("openapi.json: status %d", resp.StatusCode)
			}
			var served map[string]any
			if err := json.Unmarshal(body, &served); err != nil {
				t.Fatal(err)
			}
			if d := jsonDiff("", repo, served); len(d) > 0 {
				t.Errorf("%s/openapi.json differs from openapi/authproxy.yaml in %d places, e.g.:\n%s",
					url, len(d), strings.Join(d[:min(len(d), 5)], "\n"))
			}
		}
	})
}

func TestHealthAndMetrics(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		services := []struct{ name, url string }{
			{"admin", h.s.AdminURL}, {"api", h.s.APIURL}, {"public", h.s.PublicURL}, {"worker", h.s.WorkerURL},
		}
		for _, svc := range services {
			t.Run(svc.name, func(t *testing.T) {
				for _, probe := range []struct{ path, status string }{{"/healthz", "ok"}, {"/readyz", "ready"}} {
					resp, body := rawDo(t, http.MethodGet, svc.url+probe.path, "", "", nil)
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s: status %d: %s", probe.path, resp.StatusCode, body)
					}
					if mt := mediaType(t, resp); mt != "application/json" {
						t.Errorf("%s Content-Type %q", probe.path, mt)
					}
					var got struct{ Status, Service string }
					if err := json.Unmarshal(body, &got); err != nil {
						t.Fatalf("%s: %v: %s", probe.path, err, body)
					}
					if got.Status != probe.status || got.Service != svc.name {
						t.Errorf("%s = %+v, want status %q service %q", probe.path, got, probe.status, svc.name)
					}
					if resp.Header.Get("X-Request-Id") == "" {
						t.Errorf("%s has no X-Request-Id", probe.path)
					}
				}
				// An unknown route outside /api is a problem too.
				resp, body := rawDo(t, http.MethodGet, svc.url+"/no/such/route", "", "", nil)
				wantProblem(t, resp, body, http.StatusNotFound, "", "")
			})
		}

		// A caller's sane request id is echoed, an unsafe one replaced.
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.s.AdminURL+"/healthz", nil)
		req.Header.Set("X-Request-Id", "trace-123.abc")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-Id"); got != "trace-123.abc" {
			t.Errorf("X-Request-Id = %q, want the caller's trace-123.abc", got)
		}
		req.Header.Set("X-Request-Id", "bad id\twith spaces")
		resp, err = httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \t") {
			t.Errorf("X-Request-Id = %q, want a generated id", got)
		}

		// Metrics, after an API request on the admin service.
		call(h.admin.WhoamiWithResponse(t.Context())).want(t, http.StatusOK)
		for _, svc := range services {
			resp, body := rawDo(t, http.MethodGet, svc.url+"/metrics", "", "", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s /metrics: status %d", svc.name, resp.StatusCode)
			}
			if mt := mediaType(t, resp); mt != "text/plain" && mt != "application/openmetrics-text" {
				t.Errorf("%s /metrics Content-Type %q", svc.name, mt)
			}
			text := string(body)
			if !strings.Contains(text, "authproxy_http_requests_total") {
				t.Errorf("%s /metrics lacks authproxy_http_requests_total", svc.name)
			}
			if !strings.Contains(text, `authproxy_http_requests_total{method="GET",service="admin",status="200"}`) {
				t.Errorf("%s /metrics lacks the admin GET 200 counter", svc.name)
			}
			if !strings.Contains(text, "authproxy_http_request_duration_seconds") {
				t.Errorf("%s /metrics lacks authproxy_http_request_duration_seconds", svc.name)
			}
		}
	})
}

func TestUnknownRoutes(t *testing.T) {
	eachBackend(t, func(t *testing.T, h *harness) {
		tok := "Bearer " + h.adminToken(t)
		for _, c := range []struct {
			method, path string
			status       int
			substr       string
		}{
			{http.MethodGet, "/api/v1/nope", http.StatusNotFound, "no route for GET /api/v1/nope"},
			{http.MethodGet, "/api/v2/namespaces", http.StatusNotFound, "no route"},
			{http.MethodPost, "/api/v1/whoami", http.StatusMethodNotAllowed, "not allowed"},
			{http.MethodPut, "/api/v1/namespaces", http.StatusMethodNotAllowed, "method PUT is not allowed on /api/v1/namespaces"},
			{http.MethodGet, "/api/v1/namespaces/root/actors", http.StatusNotFound, ""},
		} {
			resp, body := rawDo(t, c.method, h.s.AdminURL+c.path, tok, "", nil)
			p := wantProblem(t, resp, body, c.status, "", c.substr)
			if deref(p.Instance) != c.path {
				t.Errorf("%s %s: instance %q, want the path", c.method, c.path, deref(p.Instance))
			}
		}
		// Also on the api service, and on the public service (which serves no API yet).
		resp, body := rawDo(t, http.MethodGet, h.s.APIURL+"/api/v1/nope", tok, "", nil)
		wantProblem(t, resp, body, http.StatusNotFound, "", "no route")
		resp, body = rawDo(t, http.MethodGet, h.s.PublicURL+"/api/v1/namespaces", "", "", nil)
		wantProblem(t, resp, body, http.StatusNotFound, "", "no route")
	})
}
