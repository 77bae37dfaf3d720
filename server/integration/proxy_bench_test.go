package integration_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/testserver"
)

// Proxy benchmark parameters: every variant sends the same number of requests with the same
// number of concurrent workers, after the same warm-up.
const (
	benchProxyRequests = 5000
	benchProxyWorkers  = 8
	benchProxyWarmup   = 200
	// benchProxySequential requests are then sent by a single worker, whose latencies
	// contain no queueing behind the other workers: the latency each hop itself adds.
	benchProxySequential = 1000
)

// benchUpstreamBody is the small JSON body the benchmark upstream answers with.
const benchUpstreamBody = `{"id":"item_0123456789","name":"demo","price":12.5,"tags":["a","b"]}`

// BenchmarkProxy compares, in one run on loopback, the same GET to a small-JSON upstream made
//
//   - direct: by an http.Client straight to the upstream (the floor);
//   - reverseproxy: through a bare net/http/httputil.ReverseProxy (the baseline);
//   - authproxy: through AuthProxy's streaming /api/v1/connections/{id}/_proxy_raw with
//     API-key injection and the request log, by the SDK's ConnectionTransport as an actor
//     with connections:proxy (its Ed25519 token reused until half its lifetime, as the SDK
//     does).
//
// Each iteration runs the three variants one after the other, benchProxyRequests requests
// each with benchProxyWorkers workers, and reports per variant throughput (req/s) and the
// median and 99th-percentile latency (µs), and for authproxy its throughput as a fraction of
// the reverse proxy's (x-reverseproxy) and its median latency added over direct
// (added-p50-µs); then the same for one worker sending benchProxySequential requests
// (seq-added-p50-µs, seq-rp-added-p50-µs). Run with -benchtime=1x; see docs/benchmarks.md.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchUpstreamBody)
	}))
	b.Cleanup(up.Close)

	// The bare reverse proxy: same upstream, a transport that keeps enough idle connections.
	target, err := url.Parse(up.URL)
	if err != nil {
		b.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = benchTransport()
	rps := httptest.NewServer(rp)
	b.Cleanup(rps.Close)

	// One sub-benchmark per backend (SQLite always, PostgreSQL when configured), each
	// measuring its own direct and reverse-proxy baselines.
	for _, o := range testserver.Backends() {
		b.Run(o.Name, func(b *testing.B) { benchProxy(b, o, up.URL, rps.URL) })
	}
}

func benchProxy(b *testing.B, o testserver.Options, upURL, rpURL string) {
	// AuthProxy: an API-key connection and an actor that may proxy through it, on the api
	// service.
	s := testserver.Start(b, o)
	b.Cleanup(closeIdleConnections)
	signer, err := sdk.NewSigner(s.AdminActor, s.AdminKey)
	if err != nil {
		b.Fatal(err)
	}
	h := &harness{s: s, admin: s.AdminClient(b), adminSigner: signer}
	def := strings.Replace(apiKeyDefinition(upURL+"/api/", "header"), "timeout: 300ms", "timeout: 10s", 1)
	cx := mkConnector(b, h.admin, "root", "bench")
	v := mkConnectorVersion(b, h.admin, cx.Id, def, nil)
	call(h.admin.PromoteConnectorVersionWithResponse(b.Context(), cx.Id, v.Version)).want(b, http.StatusOK)
	cn := *call(h.admin.CreateConnectionWithResponse(b.Context(), sdk.ConnectionCreate{Namespace: "root", ConnectorId: cx.Id, ApiKey: strPtr("bench-key-0123456789")})).
		want(b, http.StatusCreated).JSON201
	app := h.mkActor(b, "root", "bench-app", perm("root", "connections", "proxy"))
	sdkHTTP := &http.Client{Transport: benchTransport(), Timeout: 30 * time.Second}
	api, err := sdk.NewAuthenticatedClient(s.APIURL, app.Signer, sdk.AudienceAPI, sdk.WithHTTPClient(sdkHTTP))
	if err != nil {
		b.Fatal(err)
	}

	plain := &http.Client{Transport: benchTransport(), Timeout: 30 * time.Second}
	viaAuthProxy := sdk.NewConnectionClient(api, cn.Id)
	viaAuthProxy.Timeout = 30 * time.Second
	const path = "/api/items/item_0123456789"
	variants := []struct {
		name   string
		client *http.Client
		url    string
	}{
		{"direct", plain, upURL + path},
		{"reverseproxy", plain, rpURL + path},
		// The SDK client takes the third-party URL; AuthProxy forwards it to the upstream.
		{"authproxy", viaAuthProxy, upURL + path},
	}

	b.ResetTimer()
	for range b.N {
		res, seq := map[string]benchStats{}, map[string]benchStats{}
		for _, vr := range variants {
			res[vr.name] = benchRun(b, vr.client, vr.url, benchProxyRequests, benchProxyWorkers)
		}
		for _, vr := range variants {
			seq[vr.name] = benchRun(b, vr.client, vr.url, benchProxySequential, 1)
		}
		for _, vr := range variants {
			r := res[vr.name]
			b.ReportMetric(r.rps, vr.name+"-req/s")
			b.ReportMetric(us(r.p50), vr.name+"-p50-µs")
			b.ReportMetric(us(r.p99), vr.name+"-p99-µs")
		}
		ap, rpx, d := res["authproxy"], res["reverseproxy"], res["direct"]
		b.ReportMetric(ap.rps/rpx.rps, "x-reverseproxy")
		b.ReportMetric(us(ap.p50-d.p50), "added-p50-µs")
		b.ReportMetric(us(rpx.p50-d.p50), "rp-added-p50-µs")
		b.ReportMetric(us(seq["authproxy"].p50-seq["direct"].p50), "seq-added-p50-µs")
		b.ReportMetric(us(seq["reverseproxy"].p50-seq["direct"].p50), "seq-rp-added-p50-µs")
	}
}

// benchTransport is a loopback transport that keeps an idle connection per worker, so no
// variant pays for reconnecting.
func benchTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * benchProxyWorkers
	t.MaxIdleConnsPerHost = 4 * benchProxyWorkers
	return t
}

type benchStats struct {
	rps      float64
	p50, p99 time.Duration
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// benchRun warms the client up, then sends requests GETs to u from workers goroutines,
// each timing its own requests.
func benchRun(b *testing.B, c *http.Client, u string, requests, workers int) benchStats {
	b.Helper()
	get := func() (time.Duration, error) {
		start := time.Now()
		resp, err := c.Get(u)
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK || string(body) != benchUpstreamBody {
			return 0, fmt.Errorf("GET %s: status %d, body %q", u, resp.StatusCode, body)
		}
		return d, nil
	}
	for range benchProxyWarmup {
		if _, err := get(); err != nil {
			b.Fatal(err)
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		all   = make([]time.Duration, 0, requests)
		first error
		next  = make(chan struct{}, requests)
	)
	for range requests {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			mine := make([]time.Duration, 0, requests/workers+1)
			for range next {
				d, err := get()
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, d)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		b.Fatal(first)
	}
	slices.Sort(all)
	return benchStats{
		rps: float64(len(all)) / elapsed.Seconds(),
		p50: all[len(all)/2],
		p99: all[len(all)*99/100],
	}
}
