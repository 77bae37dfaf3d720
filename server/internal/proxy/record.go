package proxy

import (
	"net/http"
	"sync"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/requestlog"
)

// Body recording: per the connector's logging policy, the request as sent upstream and the
// response as received are captured while they stream (each body into a buffer bounded by
// the body limit: streaming stays streaming) and handed to the request log with the entry.
// Headers are redacted here, before they leave the call; JSON field redaction, sealing
// and storing happen in the request log writer's goroutine, off the hot path.

// capture keeps the first limit bytes written to it and counts them all. The transport may
// still be sending the request body when the response is done, hence the lock.
type capture struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	n     int64
}

func newCapture(limit int) *capture { return &capture{limit: limit} }

func (c *capture) write(p []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(len(p))
	if room := c.limit - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
}

func (c *capture) reset() {
	if c != nil {
		c.mu.Lock()
		c.buf, c.n = c.buf[:0], 0
		c.mu.Unlock()
	}
}

func (c *capture) message(h http.Header, size int64) requestlog.Message {
	m := requestlog.Message{Header: h, Size: size}
	if m.Header == nil {
		m.Header = http.Header{}
	}
	if c != nil {
		c.mu.Lock()
		m.Body = append([]byte(nil), c.buf...)
		c.mu.Unlock()
		m.Truncated = size > int64(len(m.Body))
	}
	return m
}

// recording is what one call records, set up once the connector's definition is known.
type recording struct {
	policy         definition.Logging
	redactHeaders  []string // the connector's redactHeaders and its API-key header
	req, resp      *capture
	reqHeader      http.Header // as sent upstream, redacted
	respHeader     http.Header // as received, redacted
	secret         string      // the injected credential, scrubbed from what is recorded
	reqHeaderSaved bool
}

// bodyLimit is the configured limit or the default.
func (p *Proxy) bodyLimit() int {
	if p.BodyLimit > 0 {
		return p.BodyLimit
	}
	return requestlog.DefaultBodyLimit
}

// prepareRecording starts capturing when the connector records bodies.
func (p *Proxy) prepareRecording(def *definition.Definition, body *countingReader, info *call) {
	if p.Recorder == nil || def.Logging.Bodies == "" || def.Logging.Bodies == definition.BodiesNever {
		return
	}
	rec := &recording{policy: def.Logging, redactHeaders: append([]string(nil), def.Logging.RedactHeaders...),
		req: newCapture(p.bodyLimit()), resp: newCapture(p.bodyLimit())}
	if def.Auth.Type == definition.AuthAPIKey && def.Auth.APIKey != nil && def.Auth.APIKey.HeaderName != "" {
		rec.redactHeaders = append(rec.redactHeaders, def.Auth.APIKey.HeaderName)
	}
	body.cap = rec.req
	info.rec = rec
}

// sentHeader records the headers of the request as it goes upstream, with the credential
// that was injected.
func (r *recording) sentHeader(h http.Header, secret string) {
	if r == nil {
		return
	}
	r.reqHeader = requestlog.RedactHeaders(h, r.redactHeaders...)
	r.reqHeaderSaved = true
	if secret != "" {
		r.secret = secret
	}
}

// receivedHeader records the response's headers.
func (r *recording) receivedHeader(h http.Header) {
	if r != nil {
		r.respHeader = requestlog.RedactHeaders(h, r.redactHeaders...)
	}
}

// bodies is what the entry of a finished call records: nil when the policy keeps nothing
// for this outcome ("errors" keeps calls with an error class or a status of 400 or more).
func (r *recording) bodies(callerHeader http.Header, reqSize int64, info *call) *requestlog.Bodies {
	if r == nil {
		return nil
	}
	switch r.policy.Bodies {
	case definition.BodiesAlways:
	case definition.BodiesErrors:
		if info.class == "" && info.status < 400 {
			return nil
		}
	default:
		return nil
	}
	reqHeader := r.reqHeader
	if !r.reqHeaderSaved {
		// Refused before it was sent: the caller's headers, as they would have gone.
		h := cleanHeader(callerHeader)
		h.Del("Authorization")
		reqHeader = requestlog.RedactHeaders(h, r.redactHeaders...)
	}
	b := &requestlog.Bodies{Request: r.req.message(reqHeader, reqSize), RedactJSONFields: r.policy.RedactJSONFields}
	if info.status != 0 {
		b.Response = r.resp.message(r.respHeader, info.respSize)
	} else {
		b.Response = requestlog.Message{Header: http.Header{}}
	}
	if r.secret != "" {
		b.Secrets = []string{r.secret}
	}
	return b
}
