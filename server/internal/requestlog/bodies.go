package requestlog

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/authproxy/authproxy/server/internal/encrypt"
)

// DefaultBodyLimit is how many bytes of each body are recorded by default.
const DefaultBodyLimit = 64 << 10

// Why a body was not stored.
const (
	OmitTruncated = "the body had to be redacted (logging.redactJsonFields) but was truncated at the body limit, so it could not be parsed"
	OmitNotJSON   = "the body had to be redacted (logging.redactJsonFields) but is not JSON"
)

// BodiesKeyColumn registers the data key of recorded bodies: a random 256-bit key, sealed
// with the namespace's key, that encrypts the request and response stored in the blob
// store. Re-encryption, debt and crypto-shredding of namespace keys cover it.
var BodiesKeyColumn = encrypt.Register(encrypt.Column{
	Table: "request_logs", Column: "bodies_key", IDColumn: "id", NamespaceColumn: "namespace",
})

// Sealer encrypts and decrypts values of registered columns (package keys implements it).
type Sealer interface {
	Seal(ctx context.Context, ns string, col encrypt.Column, rowID string, plaintext []byte) (string, error)
	Open(ctx context.Context, col encrypt.Column, rowID, envelope string) ([]byte, error)
}

// Message is a recorded request or response: headers already redacted, at most the body
// limit of the body.
type Message struct {
	Header http.Header `json:"headers"`
	// Size is the body's full size in bytes (what was streamed).
	Size int64 `json:"size"`
	// Truncated says only the first bytes (the body limit) were captured.
	Truncated bool   `json:"truncated"`
	Body      []byte `json:"body"`
	// Omitted says why the body is not stored ("" when it is).
	Omitted string `json:"omitted,omitempty"`
}

// Bodies is what a call recorded. The proxy fills it with headers already redacted; the
// writer redacts RedactJSONFields in the bodies before anything is stored.
type Bodies struct {
	Request, Response Message
	// RedactJSONFields names the JSON fields (at any depth) whose values become Redacted.
	RedactJSONFields []string
	// Secrets (the credential injected into the call) are replaced by Redacted wherever
	// they appear in the recorded headers and bodies (an upstream echoing the request).
	Secrets []string
}

func (b *Bodies) size() int64 { return int64(len(b.Request.Body) + len(b.Response.Body)) }

// AlwaysRedactedHeaders carry credentials or session state: never recorded, whatever the
// connector says.
var AlwaysRedactedHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// RedactHeaders returns a copy of h with the values of AlwaysRedactedHeaders and of the
// extra names (case-insensitive) replaced by Redacted.
func RedactHeaders(h http.Header, extra ...string) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		out[k] = append([]string(nil), vs...)
	}
	names := append(append([]string(nil), AlwaysRedactedHeaders...), extra...)
	for k, vs := range out {
		for _, n := range names {
			if n != "" && strings.EqualFold(k, n) {
				for i := range vs {
					vs[i] = Redacted
				}
			}
		}
	}
	return out
}

// MinScrubbedSecret is the shortest credential scrubbed from recorded bodies: shorter
// values would clobber ordinary text (they are still redacted from the headers that carry
// them).
const MinScrubbedSecret = 6

// redact applies RedactJSONFields to both messages, then scrubs Secrets from them.
func (b *Bodies) redact() {
	if len(b.RedactJSONFields) > 0 {
		b.Request.redactJSON(b.RedactJSONFields)
		b.Response.redactJSON(b.RedactJSONFields)
	}
	for _, sec := range b.Secrets {
		if len(sec) < MinScrubbedSecret {
			continue
		}
		b.Request.scrub(sec)
		b.Response.scrub(sec)
	}
	b.Secrets = nil
}

// scrub replaces every occurrence of secret (and of a prefix of it cut off by the body
// limit at the end of a truncated body) with Redacted.
func (m *Message) scrub(secret string) {
	for k, vs := range m.Header {
		for i, v := range vs {
			vs[i] = strings.ReplaceAll(v, secret, Redacted)
		}
		m.Header[k] = vs
	}
	m.Body = bytes.ReplaceAll(m.Body, []byte(secret), []byte(Redacted))
	if m.Truncated {
		for n := len(secret) - 1; n >= MinScrubbedSecret; n-- {
			if bytes.HasSuffix(m.Body, []byte(secret[:n])) {
				m.Body = append(m.Body[:len(m.Body)-n], Redacted...)
				break
			}
		}
	}
}

// redactJSON replaces the values of fields named in fields at any depth; a body that cannot
// be parsed (not JSON, or truncated) is dropped and the reason kept in Omitted.
func (m *Message) redactJSON(fields []string) {
	if len(m.Body) == 0 || m.Omitted != "" {
		return
	}
	if m.Truncated {
		m.Body, m.Omitted = nil, OmitTruncated
		return
	}
	out, err := RedactJSON(m.Body, fields)
	if err != nil {
		m.Body, m.Omitted = nil, OmitNotJSON
		return
	}
	m.Body = out
}

// RedactJSON re-encodes the JSON document b with the value of every object member named in
// fields (case-insensitive, at any depth, whatever the value's type) replaced by the
// string Redacted. Numbers keep their text. A b that is not exactly one JSON value is an
// error.
func RedactJSON(b []byte, fields []string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("requestlog: body is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("requestlog: body holds more than one JSON value")
	}
	v = redactValue(v, fields)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func redactValue(v any, fields []string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if matchField(k, fields) {
				t[k] = Redacted
			} else {
				t[k] = redactValue(val, fields)
			}
		}
	case []any:
		for i := range t {
			t[i] = redactValue(t[i], fields)
		}
	}
	return v
}

func matchField(name string, fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(name, f) {
			return true
		}
	}
	return false
}

// Parts of a recorded call in its blob, bound into the AAD of each.
const (
	partRequest  = "request"
	partResponse = "response"
)

// blobFile is the stored form of a call's bodies: each part is nonce || AES-256-GCM
// ciphertext of the JSON of its Message under the call's data key.
type blobFile struct {
	V        int    `json:"v"`
	Request  []byte `json:"request"`
	Response []byte `json:"response"`
}

// BlobKey is the blob store key of the bodies of entry id in namespace ns started at t:
// "<namespace>/<yyyy>/<mm>/<dd>/<id>" (namespace paths and ids use only key-safe bytes).
func BlobKey(ns string, t time.Time, id string) string {
	t = t.UTC()
	return fmt.Sprintf("%s/%04d/%02d/%02d/%s", ns, t.Year(), int(t.Month()), t.Day(), id)
}

func partAAD(id, part string) []byte {
	return []byte("authproxy request log bodies\x00" + id + "\x00" + part)
}

// encryptBodies encrypts b for entry id under a fresh data key and returns the blob and the
// data key (clear it when done).
func encryptBodies(id string, b *Bodies) (blob, dataKey []byte, err error) {
	dataKey = make([]byte, 32)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, nil, fmt.Errorf("requestlog: data key: %w", err)
	}
	gcm, err := newGCM(dataKey)
	if err != nil {
		return nil, nil, err
	}
	f := blobFile{V: 1}
	for _, p := range []struct {
		part string
		m    *Message
		dst  *[]byte
	}{{partRequest, &b.Request, &f.Request}, {partResponse, &b.Response, &f.Response}} {
		plain, err := json.Marshal(p.m)
		if err != nil {
			return nil, nil, err
		}
		nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plain)+gcm.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, nil, err
		}
		*p.dst = gcm.Seal(nonce, nonce, plain, partAAD(id, p.part))
		clear(plain)
	}
	out, err := json.Marshal(f)
	if err != nil {
		return nil, nil, err
	}
	return out, dataKey, nil
}

// errNotAuthentic is the error for a blob that does not decrypt under its data key.
var errNotAuthentic = errors.New("requestlog: recorded bodies do not authenticate")

// decryptBodies is the reverse of encryptBodies.
func decryptBodies(id string, blob, dataKey []byte) (*Bodies, error) {
	var f blobFile
	if err := json.Unmarshal(blob, &f); err != nil || f.V != 1 {
		return nil, fmt.Errorf("%w: not a bodies blob", errNotAuthentic)
	}
	gcm, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	var out Bodies
	for _, p := range []struct {
		part string
		src  []byte
		m    *Message
	}{{partRequest, f.Request, &out.Request}, {partResponse, f.Response, &out.Response}} {
		if len(p.src) < gcm.NonceSize() {
			return nil, errNotAuthentic
		}
		plain, err := gcm.Open(nil, p.src[:gcm.NonceSize()], p.src[gcm.NonceSize():], partAAD(id, p.part))
		if err != nil {
			return nil, errNotAuthentic
		}
		err = json.Unmarshal(plain, p.m)
		clear(plain)
		if err != nil {
			return nil, fmt.Errorf("requestlog: recorded %s: %w", p.part, err)
		}
	}
	return &out, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("requestlog: data key: %w", err)
	}
	return cipher.NewGCM(block)
}

// Identity is the connection a token exchange (or any call made outside the proxy) belongs
// to, carried by the context for the entries recorded under it.
type Identity struct {
	Namespace        string
	ConnectionID     string
	ConnectorID      string
	ConnectorVersion int
	Labels           map[string]string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity WithIdentity put into ctx, and whether there was one.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
