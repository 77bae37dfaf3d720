package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/authproxy/authproxy/server/internal/problem"
)

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

// Metrics are the HTTP metrics every service exports.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authproxy_http_requests_total", Help: "HTTP requests served, by service, method and status.",
		}, []string{"service", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authproxy_http_request_duration_seconds", Help: "HTTP request latency, by service and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"service", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Instrument gives every request an id (X-Request-Id, taken from the caller when it is a
// sane token), recovers panics as 500 problems, logs one line per request and counts it.
// It never logs headers or bodies, so no credential reaches the log.
func Instrument(service string, l *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	l = logger(l)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rid := r.Header.Get("X-Request-Id")
			if !saneID(rid) {
				var b [12]byte
				_, _ = rand.Read(b[:])
				rid = hex.EncodeToString(b[:])
			}
			w.Header().Set("X-Request-Id", rid)
			ctx := context.WithValue(r.Context(), requestIDKey{}, rid)
			r = r.WithContext(ctx)
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					l.ErrorContext(ctx, "panic serving request", "service", service, "path", r.URL.Path, "panic", v, "request_id", rid)
					if sw.status == 0 {
						writeProblem(sw, r, problem.New(http.StatusInternalServerError, "internal error"))
					}
				}
				status := sw.status
				if status == 0 {
					status = http.StatusOK
				}
				d := time.Since(start)
				if m != nil {
					m.requests.WithLabelValues(service, r.Method, strconv.Itoa(status)).Inc()
					m.duration.WithLabelValues(service, r.Method).Observe(d.Seconds())
				}
				l.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("service", service), slog.String("method", r.Method),
					slog.String("path", r.URL.Path), slog.Int("status", status), slog.Int("bytes", sw.bytes),
					slog.Duration("duration", d), slog.String("request_id", rid))
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

func saneID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
