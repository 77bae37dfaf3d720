package proxy

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/server/internal/connector/definition"
	"github.com/authproxy/authproxy/server/internal/requestlog"
)

type nopRecorder struct{}

func (nopRecorder) Record(requestlog.Entry) {}

func apiKeyDef(bodies string) *definition.Definition {
	return &definition.Definition{
		Auth:    definition.Auth{Type: definition.AuthAPIKey, APIKey: &definition.APIKey{Placement: definition.PlaceHeader, HeaderName: "X-Key"}},
		Logging: definition.Logging{Bodies: bodies, RedactHeaders: []string{"X-Secret-Thing"}, RedactJSONFields: []string{"token"}},
	}
}

func TestCaptureRespectsLimit(t *testing.T) {
	c := newCapture(10)
	c.write(bytes.Repeat([]byte("a"), 7))
	c.write(bytes.Repeat([]byte("b"), 7))
	c.write(bytes.Repeat([]byte("c"), 100))
	if len(c.buf) != 10 || cap(c.buf) > 64 || c.n != 114 || string(c.buf) != "aaaaaaabbb" {
		t.Fatalf("buf %q (cap %d), n %d", c.buf, cap(c.buf), c.n)
	}
	m := c.message(nil, c.n)
	if !m.Truncated || m.Size != 114 || len(m.Body) != 10 || m.Header == nil {
		t.Errorf("message = %+v", m)
	}
	c.reset()
	c.write([]byte("xy"))
	if m := c.message(nil, c.n); m.Truncated || string(m.Body) != "xy" {
		t.Errorf("after reset: %+v", m)
	}
	var nilCap *capture
	nilCap.write([]byte("no panic"))
}

func TestPrepareRecordingPolicy(t *testing.T) {
	p := &Proxy{Recorder: nopRecorder{}, BodyLimit: 16}
	for _, bodies := range []string{definition.BodiesNever, ""} {
		info, body := &call{}, &countingReader{}
		p.prepareRecording(apiKeyDef(bodies), body, info)
		if info.rec != nil || body.cap != nil {
			t.Errorf("bodies %q: recording prepared", bodies)
		}
	}
	info, body := &call{}, &countingReader{}
	(&Proxy{BodyLimit: 16}).prepareRecording(apiKeyDef(definition.BodiesAlways), body, info)
	if info.rec != nil {
		t.Error("recording prepared without a recorder")
	}
	p.prepareRecording(apiKeyDef(definition.BodiesAlways), body, info)
	if info.rec == nil || body.cap != info.rec.req || info.rec.req.limit != 16 {
		t.Fatalf("recording = %+v", info.rec)
	}
}

func TestRecordingErrorsPolicyAndRedaction(t *testing.T) {
	p := &Proxy{Recorder: nopRecorder{}}
	newRec := func(bodies string) (*recording, *call) {
		info, body := &call{}, &countingReader{}
		p.prepareRecording(apiKeyDef(bodies), body, info)
		return info.rec, info
	}
	rec, info := newRec(definition.BodiesErrors)
	info.status = 200
	if rec.bodies(nil, 0, info) != nil {
		t.Error("errors policy kept a 200")
	}
	info.status = 404
	if rec.bodies(nil, 0, info) == nil {
		t.Error("errors policy dropped a 404")
	}
	info.status, info.class = 0, requestlog.ClassTimeout
	b := rec.bodies(http.Header{"Authorization": {"Bearer caller"}, "X-Secret-Thing": {"s"}}, 0, info)
	if b == nil {
		t.Fatal("errors policy dropped a timeout")
	}
	// Never sent: the caller's headers, without its Authorization, redacted.
	if b.Request.Header.Get("Authorization") != "" || b.Request.Header.Get("X-Secret-Thing") != requestlog.Redacted {
		t.Errorf("request headers = %v", b.Request.Header)
	}
	if b.Response.Header == nil || b.Response.Size != 0 {
		t.Errorf("response of a call without one = %+v", b.Response)
	}

	rec, info = newRec(definition.BodiesAlways)
	sent := http.Header{"X-Key": {"the-api-key-value"}, "Authorization": {"Bearer t"}, "Cookie": {"c=1"}, "Accept": {"*/*"}}
	rec.sentHeader(sent, "the-api-key-value")
	rec.req.write([]byte(`{"token":"abc"}`))
	rec.receivedHeader(http.Header{"Set-Cookie": {"s=1"}, "X-Secret-Thing": {"v"}, "Content-Type": {"application/json"}})
	rec.resp.write([]byte("ok"))
	info.status, info.respSize = 200, 2
	b = rec.bodies(nil, 15, info)
	if b == nil {
		t.Fatal("always policy dropped a 200")
	}
	for _, h := range []http.Header{b.Request.Header, b.Response.Header} {
		for k, vs := range h {
			for _, v := range vs {
				if strings.Contains(v, "api-key-value") || (k != "Accept" && k != "Content-Type" && v != requestlog.Redacted) {
					t.Errorf("%s: %q not redacted", k, v)
				}
			}
		}
	}
	if len(b.Secrets) != 1 || b.Secrets[0] != "the-api-key-value" || len(b.RedactJSONFields) != 1 {
		t.Errorf("bodies = %+v", b)
	}
	if string(b.Request.Body) != `{"token":"abc"}` || b.Request.Size != 15 || string(b.Response.Body) != "ok" {
		t.Errorf("bodies = %+v", b)
	}
}
