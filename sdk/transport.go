package sdk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// MaxProxyBody is the largest request or response body the JSON proxy envelope carries.
const MaxProxyBody = 10 << 20

// ConnectionTransport is an http.RoundTripper that sends every request through an
// AuthProxy connection: application code uses a plain http.Client with the third-party
// URL, and AuthProxy adds the credentials. Use [NewConnectionClient] for such a client.
//
// A request AuthProxy refuses (a URL outside the connector's allowed upstream URLs, an
// internal address, a connection that is not ready) or cannot complete (upstream timeout
// or failure) returns a *ProxyError; the upstream's own answers, whatever their status,
// are responses.
type ConnectionTransport struct {
	// Client is an SDK client for the api (or admin) service, authenticated as an actor
	// with connections:proxy on the connection.
	Client *ClientWithResponses
	// ConnectionID is the connection (cxn_…) every request goes through.
	ConnectionID string
}

// NewConnectionClient returns an http.Client whose requests go through the connection.
func NewConnectionClient(c *ClientWithResponses, connectionID string) *http.Client {
	return &http.Client{Transport: &ConnectionTransport{Client: c, ConnectionID: connectionID}}
}

// ProxyError is AuthProxy's refusal or failure to proxy a request, from its problem
// response.
type ProxyError struct {
	Status int
	Title  string
	Detail string
}

func (e *ProxyError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("authproxy: %d %s: %s", e.Status, e.Title, e.Detail)
	}
	return fmt.Sprintf("authproxy: %d %s", e.Status, e.Title)
}

// RoundTrip implements http.RoundTripper.
func (t *ConnectionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, MaxProxyBody+1))
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("authproxy: read request body: %w", err)
		}
		if len(b) > MaxProxyBody {
			return nil, fmt.Errorf("authproxy: request body is larger than %d bytes", MaxProxyBody)
		}
		body = b
	}
	if t.Client == nil || t.ConnectionID == "" {
		return nil, errors.New("authproxy: ConnectionTransport needs a Client and a ConnectionID")
	}
	in := ProxyRequest{Method: ProxyRequestMethod(req.Method), Url: req.URL.String()}
	if len(req.Header) > 0 {
		h := map[string][]string(req.Header.Clone())
		in.Headers = &h
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			s := string(body)
			in.Body = &s
		} else {
			in.BodyBase64 = &body
		}
	}
	resp, err := t.Client.ProxyConnectionWithResponse(req.Context(), t.ConnectionID, in)
	if err != nil {
		return nil, err
	}
	if resp.JSON200 == nil {
		pe := &ProxyError{Status: resp.StatusCode(), Title: http.StatusText(resp.StatusCode())}
		if p := resp.ApplicationproblemJSONDefault; p != nil {
			pe.Title = p.Title
			if p.Detail != nil {
				pe.Detail = *p.Detail
			}
		}
		return nil, pe
	}
	out := resp.JSON200
	var rb []byte
	switch {
	case out.BodyBase64 != nil:
		rb = *out.BodyBase64
	case out.Body != nil:
		rb = []byte(*out.Body)
	}
	h := http.Header(out.Headers)
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Length", strconv.Itoa(len(rb)))
	return &http.Response{
		Status: fmt.Sprintf("%d %s", out.Status, http.StatusText(out.Status)), StatusCode: out.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(rb)), ContentLength: int64(len(rb)), Request: req,
	}, nil
}
