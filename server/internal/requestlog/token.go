package requestlog

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Recorder takes entries; it must not block (a Writer is one).
type Recorder interface {
	Record(Entry)
}

// TokenTransport records every exchange with an OAuth2 provider's token or revocation
// endpoint as an entry of kind KindToken: method, redacted URL, status, duration, sizes,
// content types and error class; never a header value or a body (they carry codes,
// tokens and client secrets). The connection comes from the request's context
// (WithIdentity), else from Identity; without either nothing is recorded.
type TokenTransport struct {
	Base     http.RoundTripper
	Recorder Recorder
	// Identity is the connection when the context does not name one.
	Identity *Identity
}

// RoundTrip implements http.RoundTripper.
func (t *TokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	begin := time.Now()
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	id, ok := IdentityFrom(req.Context())
	if !ok && t.Identity != nil {
		id, ok = *t.Identity, true
	}
	if !ok || t.Recorder == nil {
		return base.RoundTrip(req)
	}
	caller := CallerFrom(req.Context())
	e := Entry{Kind: KindToken, Time: begin, Namespace: id.Namespace, ConnectionID: id.ConnectionID,
		ConnectorID: id.ConnectorID, ConnectorVersion: id.ConnectorVersion, Labels: id.Labels,
		ActorID: caller.ActorID, CorrelationID: caller.CorrelationID, Method: req.Method,
		URL: RedactURL(req.URL), RequestContentType: req.Header.Get("Content-Type")}
	if req.ContentLength > 0 {
		e.RequestSize = req.ContentLength
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		e.ErrorClass = transportClass(req.Context(), err)
		e.Duration = time.Since(begin)
		t.Recorder.Record(e)
		return nil, err
	}
	e.Status = resp.StatusCode
	e.ResponseContentType = resp.Header.Get("Content-Type")
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		e.ErrorClass = ClassRejected
	case resp.StatusCode >= 400:
		e.ErrorClass = ClassUpstreamError
	}
	resp.Body = &tokenBody{rc: resp.Body, done: func(n int64, readErr error) {
		e.ResponseSize = n
		if readErr != nil && e.ErrorClass == "" {
			e.ErrorClass = transportClass(req.Context(), readErr)
		}
		e.Duration = time.Since(begin)
		t.Recorder.Record(e)
	}}
	return resp, nil
}

// transportClass is the error class of a failed exchange.
func transportClass(ctx context.Context, err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
		return ClassTimeout
	}
	return ClassUpstreamError
}

// tokenBody counts the response bytes read and records the entry once, on Close.
type tokenBody struct {
	rc      io.ReadCloser
	n       int64
	readErr error
	once    sync.Once
	done    func(n int64, readErr error)
}

func (b *tokenBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF && b.readErr == nil {
		b.readErr = err
	}
	return n, err
}

func (b *tokenBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() { b.done(b.n, b.readErr) })
	return err
}
