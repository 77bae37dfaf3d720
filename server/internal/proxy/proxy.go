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
	"sync"
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
	// BodyLimit bounds each recorded body (connector logging.bodies), in bytes;
	// 0 means requestlog.DefaultBodyLimit.
	BodyLimit int
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
	apiKeyParam string     // the connector's API-key query parameter, redacted in the URL
	rec         *recording // bodies being recorded (nil when the connector records none)
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

// StreamRequest is a call whose request body is streamed to the upstream.
type StreamRequest struct {
	Method string
	URL    string
	Header http.Header
	// Body is sent as it is read; nil for none.
	Body io.Reader
	// ContentLength is the body's length, -1 when unknown (sent chunked).
	ContentLength int64
	// Replayable says Body may be sent again after an upstream 401 on an OAuth2 token: it
	// must then be nil or an io.Seeker (rewound to its start).
	Replayable bool
}

// Do sends r through connection c, buffering the upstream's response (at most MaxBody
// bytes), and, with a Recorder, logs the call.
func (p *Proxy) Do(ctx context.Context, c *connection.Connection, r Request) (*Response, error) {
	resp, err := p.Stream(ctx, c, StreamRequest{Method: r.Method, URL: r.URL, Header: r.Header,
		Body: bytes.NewReader(r.Body), ContentLength: int64(len(r.Body)), Replayable: true})
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	sb, _ := resp.Body.(*streamBody)
	if err == nil && len(body) > MaxBody && sb != nil {
		sb.info.class = requestlog.ClassUpstreamError
	}
	resp.Body.Close()
	if err != nil {
		return nil, upstreamError(err, resp.Request.URL, time.Since(sb.begin))
	}
	if len(body) > MaxBody {
		return nil, problem.New(http.StatusBadGateway, "the upstream's response body is larger than %d bytes", MaxBody)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// Stream sends r through connection c and returns the upstream's live response, with its
// hop-by-hop headers removed; the caller must close its body. The connector's timeout
// bounds the whole exchange, up to that close. With a Recorder, the call is logged once:
// at once when it fails, else when the body is closed, with the bytes actually streamed
// each way.
func (p *Proxy) Stream(ctx context.Context, c *connection.Connection, r StreamRequest) (*http.Response, error) {
	begin := time.Now()
	info := &call{}
	req := &countingReader{}
	if r.Body != nil {
		req.r = r.Body
	}
	resp, cancel, err := p.start(ctx, c, r, req, info)
	if err != nil {
		if info.class == "" {
			info.class = requestlog.ClassInternal
		}
		p.record(ctx, c, r, begin, req.n, info)
		return nil, err
	}
	resp.Header = cleanHeader(resp.Header)
	info.status = resp.StatusCode
	info.respType = resp.Header.Get("Content-Type")
	var respCap *capture
	if info.rec != nil {
		info.rec.receivedHeader(resp.Header)
		respCap = info.rec.resp
	}
	resp.Body = &streamBody{rc: resp.Body, info: info, begin: begin, cap: respCap, finish: func(n int64, readErr error) {
		cancel()
		info.respSize = n
		if readErr != nil && info.class == "" {
			info.class = errorClass(readErr)
		}
		p.record(ctx, c, r, begin, req.n, info)
	}}
	return resp, nil
}

func (p *Proxy) record(ctx context.Context, c *connection.Connection, r StreamRequest, start time.Time, reqSize int64, info *call) {
	if p.Recorder == nil {
		return
	}
	caller := requestlog.CallerFrom(ctx)
	p.Recorder.Record(requestlog.Entry{
		Time: start, Namespace: c.Namespace, ConnectionID: c.ID, ConnectorID: c.ConnectorID, ConnectorVersion: c.ConnectorVersion,
		Kind: requestlog.KindFrom(ctx), ActorID: caller.ActorID, CorrelationID: caller.CorrelationID, Method: r.Method,
		URL: requestlog.RedactRawURL(r.URL, info.apiKeyParam), Status: info.status, Duration: time.Since(start),
		RequestSize: reqSize, ResponseSize: info.respSize, RequestContentType: r.Header.Get("Content-Type"),
		ResponseContentType: info.respType, ErrorClass: info.class, Labels: c.Labels,
		Bodies: info.rec.bodies(r.Header, reqSize, info),
	})
}

// countingReader counts the bytes read through it (and captures them when recording).
type countingReader struct {
	r   io.Reader
	n   int64
	cap *capture
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.cap.write(b[:n])
	return n, err
}

// streamBody is an upstream response body that counts what was read and, on Close, ends
// the call (cancels its timeout, logs it) once.
type streamBody struct {
	rc      io.ReadCloser
	n       int64
	readErr error
	info    *call
	begin   time.Time
	once    sync.Once
	finish  func(n int64, readErr error)
	cap     *capture // the recorded response body, when recording
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	b.cap.write(p[:n])
	if err != nil && err != io.EOF && b.readErr == nil {
		b.readErr = err
	}
	return n, err
}

func (b *streamBody) Close() error {
	err := b.rc.Close()
	b.once.Do(func() { b.finish(b.n, b.readErr) })
	return err
}

// start checks and sends the call; on success the returned cancel ends its timeout.
func (p *Proxy) start(ctx context.Context, c *connection.Connection, r StreamRequest, body *countingReader, info *call) (*http.Response, context.CancelFunc, error) {
	if c.State != connection.Ready {
		info.class = requestlog.ClassNotReady
		return nil, nil, problem.Conflict("connection %s is %s, not ready", c.ID, c.State)
	}
	def, err := p.Connections.Definition(ctx, c.ConnectorID, c.ConnectorVersion)
	if err != nil {
		return nil, nil, err
	}
	if def.Auth.Type == definition.AuthAPIKey && def.Auth.APIKey.Placement == definition.PlaceQuery {
		info.apiKeyParam = def.Auth.APIKey.QueryParam
	}
	p.prepareRecording(def, body, info)
	target, err := url.Parse(r.URL)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" || target.User != nil {
		info.class = requestlog.ClassInvalidRequest
		return nil, nil, problem.InvalidField("url", "must be an absolute http or https URL without credentials")
	}
	if target.Fragment != "" {
		info.class = requestlog.ClassInvalidRequest
		return nil, nil, problem.InvalidField("url", "must not have a fragment")
	}
	allowed := make([]string, 0, len(def.Upstream.AllowedURLs))
	for _, a := range def.Upstream.AllowedURLs {
		u, err := definition.Render(a, c.Config)
		if err != nil {
			info.class = requestlog.ClassNotReady
			return nil, nil, problem.Conflict("connection %s cannot use connector %s version %d: %v", c.ID, c.ConnectorID, c.ConnectorVersion, err)
		}
		allowed = append(allowed, u)
	}
	if len(allowed) == 0 || !definition.Allowed(allowed, target.String()) {
		info.class = requestlog.ClassNotAllowed
		return nil, nil, problem.Forbidden("%s is not under the connector's allowed upstream URLs (%s)", redact(target), strings.Join(allowed, ", "))
	}
	ctx, cancel := context.WithTimeout(ctx, def.Upstream.Timeout.Duration)
	ok := false
	defer func() {
		if !ok {
			cancel()
		}
	}()
	attempt := 0
	build := func() (*http.Request, error) {
		var rb io.Reader
		if body.r != nil {
			if attempt > 0 {
				s, isSeeker := body.r.(io.Seeker)
				if !isSeeker {
					return nil, errors.New("the request body cannot be replayed")
				}
				if _, err := s.Seek(0, io.SeekStart); err != nil {
					return nil, err
				}
				body.n = 0
				body.cap.reset()
			}
			rb = body
		}
		attempt++
		out, err := http.NewRequestWithContext(ctx, r.Method, target.String(), rb)
		if err != nil {
			info.class = requestlog.ClassInvalidRequest
			return nil, problem.InvalidField("method", "%v", err)
		}
		out.Header = cleanHeader(r.Header)
		out.Header.Del("Authorization")
		for name := range out.Header {
			if strings.HasPrefix(http.CanonicalHeaderKey(name), "X-Authproxy-") {
				out.Header.Del(name)
			}
		}
		switch {
		case rb == nil:
			out.ContentLength = 0
		case r.ContentLength >= 0:
			out.ContentLength = r.ContentLength
		default:
			out.ContentLength = -1
		}
		if out.ContentLength == 0 {
			out.Body = http.NoBody
		}
		return out, nil
	}
	out, err := build()
	if err != nil {
		return nil, nil, err
	}
	var o *oauthCall
	secret := "" // the injected credential, kept out of recorded bodies
	if def.Auth.Type == definition.AuthOAuth2 {
		o = &oauthCall{p: p, c: c, def: def, info: info}
		tok, err := o.token(ctx)
		if err != nil {
			return nil, nil, err
		}
		out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		secret = tok.AccessToken
	} else if def.Auth.Type != definition.AuthNone {
		creds, err := p.credentials(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		if creds == nil {
			info.class = requestlog.ClassNotReady
			return nil, nil, problem.Conflict("connection %s has no credentials", c.ID)
		}
		if err := inject(out, def, creds); err != nil {
			info.class = requestlog.ClassNotReady
			return nil, nil, err
		}
		secret = creds.APIKey
	}
	info.rec.sentHeader(out.Header, secret)
	begin := time.Now()
	resp, err := p.Client.Do(out)
	if err != nil {
		info.class = errorClass(err)
		return nil, nil, upstreamError(err, target, time.Since(begin))
	}
	replayable := r.Replayable && (body.r == nil || isSeeker(body.r))
	if o != nil && resp.StatusCode == http.StatusUnauthorized && replayable {
		// The upstream refused the token: one forced refresh, one replay (only of a body
		// that can be sent again; otherwise the 401 goes back to the caller).
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		tok, err := o.forceRefresh(ctx)
		if err != nil {
			return nil, nil, err
		}
		if out, err = build(); err != nil {
			return nil, nil, err
		}
		out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		info.rec.sentHeader(out.Header, tok.AccessToken)
		if resp, err = p.Client.Do(out); err != nil {
			info.class = errorClass(err)
			return nil, nil, upstreamError(err, target, time.Since(begin))
		}
	}
	ok = true
	return resp, cancel, nil
}

func isSeeker(r io.Reader) bool {
	_, ok := r.(io.Seeker)
	return ok
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
