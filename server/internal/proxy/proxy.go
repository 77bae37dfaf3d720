// Package proxy forwards an application's request to a third-party API through a
// connection: it checks the URL against the connector's allowed upstream URLs, adds the
// connection's credentials the way the connector says, strips what must not be forwarded,
// and dials only through the SSRF guard (package guard).
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authproxy/authproxy/server/internal/connection"
	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/oauth2"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/proxy/guard"
	"github.com/authproxy/authproxy/server/internal/requestlog"
)

// MaxBody bounds buffered request and response bodies.
const MaxBody = 10 << 20

// Request is a call to make through a connection.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Response is the upstream's answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Proxy makes calls through connections.
type Proxy struct {
	Connections *connection.Service
	// Client sends the requests; build it with NewClient so every dial is guarded and no
	// redirect is followed.
	Client *http.Client
	// Recorder, when set, gets one entry per call of Do, whatever its outcome.
	Recorder Recorder
	// Refresher hands out OAuth2 tokens, refreshing them once across replicas; without it
	// OAuth2 connections work until their token expires and are then refused with 503.
	Refresher *oauth2.Refresher
}

// Recorder takes the request log entry of each proxied call; it must not block.
type Recorder interface {
	Record(requestlog.Entry)
}

// call is what one Do learned, for its log entry.
type call struct {
	class       string // requestlog error class
	status      int    // the upstream's status, 0 without a response
	respSize    int64
	respType    string
	apiKeyParam string // the connector's API-key query parameter, redacted in the URL
}

// NewClient returns an HTTP client whose dials go through d and which never follows
// redirects (the 3xx goes back to the caller).
func NewClient(d *guard.Dialer) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: d.Transport(base), CheckRedirect: guard.NeverFollow}
}

// hopHeaders are never forwarded in either direction (RFC 9110 7.6.1), nor is the caller's
// own Authorization.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func cleanHeader(h http.Header) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for _, f := range out.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			out.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		out.Del(name)
	}
	out.Del("Host")
	return out
}

// Do sends r through connection c and, with a Recorder, logs the call.
func (p *Proxy) Do(ctx context.Context, c *connection.Connection, r Request) (*Response, error) {
	if p.Recorder == nil {
		return p.do(ctx, c, r, &call{})
	}
	start := time.Now()
	var info call
	resp, err := p.do(ctx, c, r, &info)
	if err != nil && info.class == "" {
		info.class = requestlog.ClassInternal
	}
	caller := requestlog.CallerFrom(ctx)
	p.Recorder.Record(requestlog.Entry{
		Time: start, Namespace: c.Namespace, ConnectionID: c.ID, ConnectorID: c.ConnectorID, ConnectorVersion: c.ConnectorVersion,
		ActorID: caller.ActorID, CorrelationID: caller.CorrelationID, Method: r.Method,
		URL: requestlog.RedactRawURL(r.URL, info.apiKeyParam), Status: info.status, Duration: time.Since(start),
		RequestSize: int64(len(r.Body)), ResponseSize: info.respSize, RequestContentType: r.Header.Get("Content-Type"),
		ResponseContentType: info.respType, ErrorClass: info.class, Labels: c.Labels,
	})
	return resp, err
}

func (p *Proxy) do(ctx context.Context, c *connection.Connection, r Request, info *call) (*Response, error) {
	if c.State != connection.Ready {
		info.class = requestlog.ClassNotReady
		return nil, problem.Conflict("connection %s is %s, not ready", c.ID, c.State)
	}
	def, err := p.Connections.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, err
	}
	if def.Auth.Type == definition.AuthAPIKey && def.Auth.APIKey.Placement == definition.PlaceQuery {
		info.apiKeyParam = def.Auth.APIKey.QueryParam
	}
	target, err := url.Parse(r.URL)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" || target.User != nil {
		info.class = requestlog.ClassInvalidRequest
		return nil, problem.InvalidField("url", "must be an absolute http or https URL without credentials")
	}
	if target.Fragment != "" {
		info.class = requestlog.ClassInvalidRequest
		return nil, problem.InvalidField("url", "must not have a fragment")
	}
	allowed := make([]string, 0, len(def.Upstream.AllowedURLs))
	for _, a := range def.Upstream.AllowedURLs {
		u, err := definition.Render(a, c.Config)
		if err != nil {
			info.class = requestlog.ClassNotReady
			return nil, problem.Conflict("connection %s cannot use connector %s version %d: %v", c.ID, c.ConnectorID, c.ConnectorVersion, err)
		}
		allowed = append(allowed, u)
	}
	if len(allowed) == 0 || !definition.Allowed(allowed, target.String()) {
		info.class = requestlog.ClassNotAllowed
		return nil, problem.Forbidden("%s is not under the connector's allowed upstream URLs (%s)", redact(target), strings.Join(allowed, ", "))
	}
	ctx, cancel := context.WithTimeout(ctx, def.Upstream.Timeout.Duration)
	defer cancel()
	build := func() (*http.Request, error) {
		out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), bytes.NewReader(r.Body))
		if err != nil {
			info.class = requestlog.ClassInvalidRequest
			return nil, problem.InvalidField("method", "%v", err)
		}
		out.Header = cleanHeader(r.Header)
		out.Header.Del("Authorization")
		out.ContentLength = int64(len(r.Body))
		return out, nil
	}
	out, err := build()
	if err != nil {
		return nil, err
	}
	var o *oauthCall
	if def.Auth.Type == definition.AuthOAuth2 {
		o = &oauthCall{p: p, c: c, def: def, info: info}
		tok, err := o.token(ctx)
		if err != nil {
			return nil, err
		}
		out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	} else if def.Auth.Type != definition.AuthNone {
		creds, err := p.Connections.Credentials(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		if creds == nil {
			info.class = requestlog.ClassNotReady
			return nil, problem.Conflict("connection %s has no credentials", c.ID)
		}
		if err := inject(out, def, creds); err != nil {
			info.class = requestlog.ClassNotReady
			return nil, err
		}
	}
	start := time.Now()
	resp, err := p.Client.Do(out)
	if err != nil {
		info.class = errorClass(err)
		return nil, upstreamError(err, target, time.Since(start))
	}
	if o != nil && resp.StatusCode == http.StatusUnauthorized {
		// The upstream refused the token: one forced refresh, one replay (the body is held
		// in memory, so it can always be sent again).
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		tok, err := o.forceRefresh(ctx)
		if err != nil {
			return nil, err
		}
		if out, err = build(); err != nil {
			return nil, err
		}
		out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if resp, err = p.Client.Do(out); err != nil {
			info.class = errorClass(err)
			return nil, upstreamError(err, target, time.Since(start))
		}
	}
	defer resp.Body.Close()
	info.status = resp.StatusCode
	info.respType = resp.Header.Get("Content-Type")
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	info.respSize = int64(len(body))
	if err != nil {
		info.class = errorClass(err)
		return nil, upstreamError(err, target, time.Since(start))
	}
	if len(body) > MaxBody {
		info.class = requestlog.ClassUpstreamError
		return nil, problem.New(http.StatusBadGateway, "the upstream's response body is larger than %d bytes", MaxBody)
	}
	return &Response{Status: resp.StatusCode, Header: cleanHeader(resp.Header), Body: body}, nil
}

// inject adds the connection's credentials to the request as the connector says.
func inject(r *http.Request, def *definition.Definition, creds *connection.Credentials) error {
	switch def.Auth.Type {
	case definition.AuthAPIKey:
		k := def.Auth.APIKey
		switch k.Placement {
		case definition.PlaceBearer:
			r.Header.Set("Authorization", "Bearer "+creds.APIKey)
		case definition.PlaceHeader:
			r.Header.Set(k.HeaderName, k.Prefix+creds.APIKey)
		case definition.PlaceQuery:
			q := r.URL.Query()
			q.Set(k.QueryParam, creds.APIKey)
			r.URL.RawQuery = q.Encode()
		case definition.PlaceBasic:
			r.SetBasicAuth(k.Username, creds.APIKey)
		}
		return nil
	}
	return nil
}

// errorClass is the request log class of a failed upstream call, as upstreamError maps it.
func errorClass(err error) string {
	var refused *guard.RefusedError
	if errors.As(err, &refused) {
		return requestlog.ClassRefused
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return requestlog.ClassTimeout
	}
	return requestlog.ClassUpstreamError
}

// upstreamError maps a failed call: a refused dial is 403, a timeout 504, anything else 502.
// Messages name the host, never the query (which may carry an API key).
func upstreamError(err error, target *url.URL, took time.Duration) error {
	switch errorClass(err) {
	case requestlog.ClassRefused:
		var refused *guard.RefusedError
		errors.As(err, &refused)
		return problem.Forbidden("%v", refused)
	case requestlog.ClassTimeout:
		return problem.New(http.StatusGatewayTimeout, "the upstream %s did not answer within the connector's timeout (%s)", target.Host, took.Round(time.Millisecond))
	}
	return problem.New(http.StatusBadGateway, "calling the upstream %s failed: %s", target.Host, cause(err))
}

// cause is the innermost error text, without the URL (which may carry secrets).
func cause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// redact drops the query of a URL for messages.
func redact(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		c.RawQuery = "…"
	}
	return fmt.Sprintf("%s", c.String())
}
