// Package requestlog records one entry per proxied call — who called what, how it went and
// how long it took, never a header value, a body or a credential — and answers queries
// over them. Entries are written in batches off the hot path by a Writer. When a
// connector's logging policy asks for it, the call's redacted request and response are
// recorded apart from the entry: encrypted under a per-call data key in the blob store,
// the data key sealed with the namespace's key (BodiesKeyColumn).
package requestlog

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"time"
)

// IDPrefix starts every request log id.
const IDPrefix = "rlg"

// LabelKind is the resource type of request log rows in the labels table.
const LabelKind = "request_log"

// Error classes: why a call did not get an upstream response ("" when it did).
const (
	ClassRefused        = "refused"         // the dial guard refused the upstream address
	ClassNotAllowed     = "not_allowed"     // the URL is outside the connector's allowed URLs
	ClassTimeout        = "timeout"         // the upstream did not answer within the timeout
	ClassUpstreamError  = "upstream_error"  // the upstream call failed otherwise
	ClassNotReady       = "not_ready"       // the connection cannot be used (state, credentials)
	ClassInvalidRequest = "invalid_request" // the caller's request was malformed
	ClassInternal       = "internal"        // AuthProxy failed (database, decryption)
	ClassRejected       = "rejected"        // a token endpoint refused the grant or the client
	ClassUnavailable    = "unavailable"     // a dependency (Redis) was unavailable
)

// Kinds of entries.
const (
	KindProxy = "proxy" // a call through the proxy
	KindProbe = "probe" // a connector probe run through the proxy
	KindToken = "token" // an OAuth2 token exchange at the provider
)

type kindKey struct{}

// WithKind marks the calls made with ctx as being of kind k (KindProxy when unmarked).
func WithKind(ctx context.Context, k string) context.Context {
	return context.WithValue(ctx, kindKey{}, k)
}

// KindFrom is the kind ctx was marked with, KindProxy by default.
func KindFrom(ctx context.Context) string {
	if k, ok := ctx.Value(kindKey{}).(string); ok && k != "" {
		return k
	}
	return KindProxy
}

// Entry is one proxied call. URL is already redacted (see RedactURL); Labels are the
// connection's labels at call time.
type Entry struct {
	ID                  string
	Kind                string // KindProxy, KindProbe or KindToken ("" is KindProxy)
	Time                time.Time
	Namespace           string
	ConnectionID        string
	ConnectorID         string
	ConnectorVersion    int
	ActorID             string
	CorrelationID       string
	Method              string
	URL                 string
	Status              int
	Duration            time.Duration
	RequestSize         int64
	ResponseSize        int64
	RequestContentType  string
	ResponseContentType string
	ErrorClass          string
	Labels              map[string]string
	// Bodies, when set, is recorded (encrypted, in the blob store) by the writer.
	Bodies *Bodies
	// BodiesRecorded says the entry's bodies are in the blob store (read side).
	BodiesRecorded bool
}

// idWidth is the number of digits of the time part of an id: nanoseconds since 1970 fit
// in 19 digits until the year 2262.
const idWidth = 19

var lastNanos atomic.Int64

// NewID returns a request log id whose order is time order: "rlg_", the unix time in
// nanoseconds zero-padded to 19 digits (strictly increasing within the process), and 8
// random hex digits that keep ids of several replicas apart.
func NewID(t time.Time) string {
	n := t.UnixNano()
	for {
		last := lastNanos.Load()
		if n <= last {
			n = last + 1
		}
		if lastNanos.CompareAndSwap(last, n) {
			break
		}
		n = t.UnixNano()
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s_%0*d%x", IDPrefix, idWidth, n, r)
}

// idAt is the smallest id of an entry at or after t.
func idAt(t time.Time) string {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	return fmt.Sprintf("%s_%0*d", IDPrefix, idWidth, n)
}

// Caller is who made a call and the correlation id it belongs to.
type Caller struct {
	ActorID       string
	CorrelationID string
}

type callerKey struct{}

// WithCaller returns ctx carrying c, for the entries recorded under it.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller WithCaller put into ctx (zero when none).
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}
