package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/mux"

	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/proxy"
)

// UpstreamURLHeader carries the upstream URL of a call to the streaming proxy endpoint.
const UpstreamURLHeader = "X-AuthProxy-Upstream-Url"

// ProxiedHeader marks a streaming proxy response as the upstream's; AuthProxy's own
// refusals and failures (problems) do not carry it.
const ProxiedHeader = "X-AuthProxy-Proxied"

// proxyRawPath is the streaming proxy endpoint. It is a plain handler, not a generated
// strict one (which would buffer both bodies), documented in openapi/authproxy.yaml.
const proxyRawPath = "/api/v1/connections/{id}/_proxy_raw"

// copyBuffers holds the buffers responses are copied through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

var proxyRawMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}

// proxyRaw serves /api/v1/connections/{id}/_proxy_raw: the request body is streamed to
// the upstream and the upstream's status, headers and body are streamed back, flushed as
// they arrive (so server-sent events work). No body size limit applies beyond the
// connector's upstream timeout, which bounds the whole exchange.
func (s *Server) proxyRaw(l *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(err error) {
			p := problem.As(err)
			if p.Status >= 500 && p.Status != http.StatusBadGateway && p.Status != http.StatusGatewayTimeout {
				logger(l).ErrorContext(r.Context(), "request failed", "error", err, "request_id", RequestID(r.Context()))
			}
			writeProblem(w, r, p)
		}
		ctx := r.Context()
		c, err := s.loadConnection(ctx, mux.Vars(r)["id"], authz.VerbProxy)
		if err != nil {
			fail(err)
			return
		}
		target := r.Header.Get(UpstreamURLHeader)
		if target == "" {
			fail(problem.InvalidField(UpstreamURLHeader, "is required: the absolute upstream URL to call"))
			return
		}
		in := proxy.StreamRequest{Method: r.Method, URL: target, Header: r.Header, ContentLength: r.ContentLength}
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			in.Body = r.Body
		} else {
			// No body: the call can be replayed after an upstream 401 on an OAuth2 token.
			in.Replayable = true
			in.ContentLength = 0
		}
		resp, err := s.proxy.Stream(ctx, c, in)
		if err != nil {
			fail(err)
			return
		}
		defer resp.Body.Close()
		h := w.Header()
		for k, vs := range resp.Header {
			if !strings.HasPrefix(http.CanonicalHeaderKey(k), "X-Authproxy-") {
				h[k] = vs
			}
		}
		h.Set(ProxiedHeader, "1")
		w.WriteHeader(resp.StatusCode)
		if r.Method == http.MethodHead {
			return
		}
		// A response of unknown length (or an event stream) is flushed as it arrives; one
		// of known length is written through the server's buffer, as a reverse proxy does,
		// which saves a write per response.
		streaming := resp.ContentLength < 0 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
		rc := http.NewResponseController(w)
		if streaming {
			_ = rc.Flush()
		}
		bp := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(bp)
		buf := *bp
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				if streaming {
					if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
						return
					}
				}
			}
			if rerr != nil {
				if rerr != io.EOF {
					// The status is sent: all that is left is to cut the response short.
					logger(l).WarnContext(ctx, "streaming the upstream response failed", "error", rerr, "connection", c.ID, "request_id", RequestID(ctx))
					panic(http.ErrAbortHandler)
				}
				return
			}
		}
	})
}
