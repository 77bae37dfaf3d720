package encrypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	nonceSize = 12 // GCM standard nonce
	tagSize   = 16 // GCM tag
)

// Errors returned by [Open], [ParseEnvelope] and friends. Test with errors.Is.
var (
	// ErrMalformed: the stored string is not a well-formed envelope.
	ErrMalformed = errors.New("malformed envelope")
	// ErrUnknownKey: no key version with the envelope's id is known. A
	// [KeyLookup] returns (an error wrapping) it for ids it does not know.
	ErrUnknownKey = errors.New("unknown key version")
	// ErrNotAuthentic: the ciphertext does not authenticate under the key and
	// AAD given: it belongs to another row or column, was tampered with, or was
	// sealed with other material under the same id.
	ErrNotAuthentic = errors.New("ciphertext does not authenticate")
)

func newGCM(kv KeyVersion) (cipher.AEAD, error) {
	if len(kv.Material) != KeySize {
		return nil, fmt.Errorf("encrypt: key version %q has %d bytes of material, want %d", kv.ID, len(kv.Material), KeySize)
	}
	block, err := aes.NewCipher(kv.Material)
	if err != nil {
		return nil, fmt.Errorf("encrypt: key version %q: %w", kv.ID, err)
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plaintext with kv for the place aad names and returns the
// envelope to store. Every call uses a fresh random nonce, so sealing the same
// plaintext twice gives different envelopes.
func Seal(kv KeyVersion, plaintext []byte, aad AAD) (string, error) {
	if !ValidKeyID(kv.ID) {
		return "", fmt.Errorf("encrypt: invalid key version id %q", kv.ID)
	}
	if err := aad.validate(); err != nil {
		return "", err
	}
	gcm, err := newGCM(kv)
	if err != nil {
		return "", err
	}
	sealed := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := io.ReadFull(rand.Reader, sealed); err != nil {
		return "", fmt.Errorf("encrypt: reading nonce: %w", err)
	}
	sealed = gcm.Seal(sealed, sealed, plaintext, additionalData(kv.ID, aad))

	// The id is restricted to characters that need no JSON escaping. The
	// base64 goes through a stack buffer in chunks of a multiple of 3 bytes
	// (so only the last is padded) to build the string in one allocation.
	var sb strings.Builder
	sb.Grow(len(envHead) + len(kv.ID) + len(envMid) + base64.StdEncoding.EncodedLen(len(sealed)) + len(envTail))
	sb.WriteString(envHead)
	sb.WriteString(kv.ID)
	sb.WriteString(envMid)
	var chunk [1024]byte
	for rest := sealed; len(rest) > 0; {
		n := min(len(rest), 768) // 768 bytes encode to 1024
		base64.StdEncoding.Encode(chunk[:], rest[:n])
		sb.Write(chunk[:base64.StdEncoding.EncodedLen(n)])
		rest = rest[n:]
	}
	sb.WriteString(envTail)
	return sb.String(), nil
}

// The canonical envelope is envHead + id + envMid + base64 + envTail.
const envHead, envMid, envTail = `{"id":"`, `","d":"`, `"}`

// Envelope is a parsed stored value: the key version id and the raw
// nonce || ciphertext || tag.
type Envelope struct {
	KeyID string
	Data  []byte
}

// ParseEnvelope parses a stored value strictly: a JSON object with exactly the
// members "id" and "d" (in either order, each once, both strings, nothing
// after it), id a valid key version id ([ValidKeyID]), d canonical padded
// standard base64 of at least nonce+tag bytes. Every error wraps
// [ErrMalformed].
func ParseEnvelope(s string) (Envelope, error) {
	if env, ok := parseCanonical(s); ok {
		return env, nil
	}
	return parseJSON(s)
}

// parseCanonical parses the exact form [Seal] writes without a JSON decoder.
// It accepts only strings parseJSON would accept with the same result, and
// reports false for anything else, which parseJSON then examines.
func parseCanonical(s string) (Envelope, bool) {
	rest, ok := strings.CutPrefix(s, envHead)
	if !ok {
		return Envelope{}, false
	}
	id, rest, ok := strings.Cut(rest, envMid)
	if !ok || !ValidKeyID(id) {
		return Envelope{}, false
	}
	d, ok := strings.CutSuffix(rest, envTail)
	if !ok || strings.ContainsAny(d, "\r\n") {
		return Envelope{}, false
	}
	// Every byte of valid base64 is a letter, digit, '+', '/' or '=', so a
	// successful decode also proves d held no quote or escape.
	data, err := base64.StdEncoding.Strict().DecodeString(d)
	if err != nil || len(data) < nonceSize+tagSize {
		return Envelope{}, false
	}
	return Envelope{KeyID: id, Data: data}, true
}

// parseJSON is the general strict parser: any member order and whitespace.
func parseJSON(s string) (Envelope, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return Envelope{}, malformed("not a JSON object")
	}
	var id, d *string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return Envelope{}, malformed("invalid JSON")
		}
		name, _ := t.(string)
		var slot **string
		switch name {
		case "id":
			slot = &id
		case "d":
			slot = &d
		default:
			// The name is not echoed: the value may be a stray secret.
			return Envelope{}, malformed(`unexpected member (want only "id" and "d")`)
		}
		if *slot != nil {
			return Envelope{}, malformed("duplicate member %q", name)
		}
		t, err = dec.Token()
		if err != nil {
			return Envelope{}, malformed("invalid JSON")
		}
		v, ok := t.(string)
		if !ok {
			return Envelope{}, malformed("member %q is not a string", name)
		}
		*slot = &v
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return Envelope{}, malformed("invalid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Envelope{}, malformed("trailing data after the object")
	}
	if id == nil || d == nil {
		return Envelope{}, malformed(`want exactly the members "id" and "d"`)
	}
	if !ValidKeyID(*id) {
		return Envelope{}, malformed("invalid key version id")
	}
	// The decoder skips '\r' and '\n'; a canonical envelope has none.
	if strings.ContainsAny(*d, "\r\n") {
		return Envelope{}, malformed("d is not valid base64")
	}
	data, err := base64.StdEncoding.Strict().DecodeString(*d)
	if err != nil {
		return Envelope{}, malformed("d is not valid base64")
	}
	if len(data) < nonceSize+tagSize {
		return Envelope{}, malformed("d is %d bytes, shorter than nonce and tag (%d)", len(data), nonceSize+tagSize)
	}
	return Envelope{KeyID: *id, Data: data}, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("encrypt: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// KeyIDOf returns the id of the key version a stored value was sealed with,
// without decrypting it (to find values that still use an old version).
func KeyIDOf(s string) (string, error) {
	env, err := ParseEnvelope(s)
	if err != nil {
		return "", err
	}
	return env.KeyID, nil
}

// Open parses the envelope s, looks its key version up in keys and decrypts
// it for the place aad names. Errors wrap [ErrMalformed], [ErrUnknownKey]
// (with the id), [ErrNotAuthentic], or whatever keys returned; Open never
// returns plaintext with an error.
func Open(ctx context.Context, keys KeyLookup, s string, aad AAD) ([]byte, error) {
	if err := aad.validate(); err != nil {
		return nil, err
	}
	env, err := ParseEnvelope(s)
	if err != nil {
		return nil, err
	}
	kv, err := keys.KeyVersion(ctx, env.KeyID)
	if err != nil {
		return nil, fmt.Errorf("encrypt: key version %q: %w", env.KeyID, err)
	}
	if kv.ID != env.KeyID {
		return nil, fmt.Errorf("encrypt: key lookup for %q returned key version %q", env.KeyID, kv.ID)
	}
	gcm, err := newGCM(kv)
	if err != nil {
		return nil, err
	}
	nonce, body := env.Data[:nonceSize], env.Data[nonceSize:]
	// Decrypt in place: env.Data is this call's own freshly decoded buffer.
	plaintext, err := gcm.Open(body[:0], nonce, body, additionalData(env.KeyID, aad))
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w for %s (key version %q): wrong row, tampered, or wrong key", ErrNotAuthentic, aad, env.KeyID)
	}
	return plaintext, nil
}
