package encrypt

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// KeySize is the size in bytes of every key version's material (AES-256).
const KeySize = 32

// MaxKeyIDLen is the longest key version id an envelope may name.
const MaxKeyIDLen = 128

// KeyVersion is one version of a key: an id (such as "kv_…", see [ValidKeyID])
// and its 32 bytes of AES-256 material.
type KeyVersion struct {
	ID       string
	Material []byte
}

// KeyLookup resolves a key version id to its material. Implementations return
// an error wrapping [ErrUnknownKey] for ids they do not know, and other errors
// for failures to find out (database down, source unreachable).
type KeyLookup interface {
	KeyVersion(ctx context.Context, id string) (KeyVersion, error)
}

// KeyLookupFunc adapts a function to [KeyLookup].
type KeyLookupFunc func(ctx context.Context, id string) (KeyVersion, error)

// KeyVersion calls f.
func (f KeyLookupFunc) KeyVersion(ctx context.Context, id string) (KeyVersion, error) {
	return f(ctx, id)
}

// StaticKeys is a [KeyLookup] over a fixed set of key versions (the root key,
// tests). It holds the slices it is given; do not modify them afterwards.
func StaticKeys(kvs ...KeyVersion) KeyLookup {
	m := make(map[string]KeyVersion, len(kvs))
	for _, kv := range kvs {
		m[kv.ID] = kv
	}
	return KeyLookupFunc(func(_ context.Context, id string) (KeyVersion, error) {
		kv, ok := m[id]
		if !ok {
			return KeyVersion{}, ErrUnknownKey
		}
		return kv, nil
	})
}

// ValidKeyID reports whether id can name a key version: 1 to [MaxKeyIDLen]
// bytes of ASCII letters, digits, '_', '-', '.' and ':'. Ids from
// [NewKeyVersionID] ("kv_…") always are.
func ValidKeyID(id string) bool {
	if id == "" || len(id) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '-', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// String describes kv without its material. KeyVersion also implements
// fmt.Formatter and json.Marshaler with the same redacted text, so no fmt
// verb, structured logger or JSON encoder prints the key.
func (kv KeyVersion) String() string {
	return fmt.Sprintf("KeyVersion{ID:%q, Material:[%d bytes redacted]}", kv.ID, len(kv.Material))
}

// Format writes [KeyVersion.String] whatever the verb.
func (kv KeyVersion) Format(f fmt.State, _ rune) { io.WriteString(f, kv.String()) }

// MarshalJSON encodes [KeyVersion.String] as a JSON string.
func (kv KeyVersion) MarshalJSON() ([]byte, error) { return json.Marshal(kv.String()) }
