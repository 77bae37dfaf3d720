package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// UpstreamURLHeader names the upstream URL of a call to the streaming proxy endpoint.
const UpstreamURLHeader = "X-AuthProxy-Upstream-Url"

// ProxiedHeader is set by AuthProxy on a streaming proxy response that is the upstream's;
// without it the response is AuthProxy's own refusal or failure (a problem).
const ProxiedHeader = "X-AuthProxy-Proxied"

// RoundTrip implements http.RoundTripper. It uses the streaming endpoint
// (…/connections/{id}/_proxy_raw): the request body is sent as it is read and the
// upstream's response body is returned as it arrives, unbuffered.
func (t *ConnectionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Client == nil || t.ConnectionID == "" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errors.New("authproxy: ConnectionTransport needs a Client and a ConnectionID")
	}
	c, ok := t.Client.ClientInterface.(*Client)
	if !ok {
		return t.roundTripEnvelope(req)
	}
	endpoint := strings.TrimSuffix(c.Server, "/") + "/api/v1/connections/" + url.PathEscape(t.ConnectionID) + "/_proxy_raw"
	var body io.Reader
	if req.Body != nil && req.Body != http.NoBody {
		body = req.Body
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, endpoint, body)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	out.Header.Del("Authorization")
	out.Header.Set(UpstreamURLHeader, req.URL.String())
	out.ContentLength = req.ContentLength
	if body == nil {
		out.ContentLength = 0
	}
	if err := c.applyEditors(req.Context(), out, nil); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	doer := c.Client
	if hc, isClient := doer.(*http.Client); isClient {
		// Redirects are the upstream's answer: return them, never follow them here.
		cp := *hc
		cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		doer = &cp
	}
	resp, err := doer.Do(out)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get(ProxiedHeader) == "" {
		defer resp.Body.Close()
		pe := &ProxyError{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
		var p Problem
		if b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err == nil && json.Unmarshal(b, &p) == nil && p.Title != "" {
			pe.Title = p.Title
			if p.Detail != nil {
				pe.Detail = *p.Detail
			}
		}
		return nil, pe
	}
	resp.Header.Del(ProxiedHeader)
	resp.Request = req
	return resp, nil
}

// roundTripEnvelope sends req through the JSON envelope (POST …/_proxy), buffering both
// bodies; it is used only when the client is not a generated *Client.
func (t *ConnectionTransport) roundTripEnvelope(req *http.Request) (*http.Response, error) {
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
