package encrypt

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"github.com/authproxy/authproxy/server/internal/id"
)

// Where wrapped key material is stored: the AAD of a wrapped key version is
// {WrappedKeyTable, WrappedKeyColumn, <child key version id>}. Wrapped
// material is not in the [Register] registry: it is sealed with the parent
// key, not with the nearest key of a row's namespace, and is re-wrapped by
// key rotation rather than by the generic re-encryption of registered columns.
const (
	WrappedKeyTable  = "encryption_key_versions"
	WrappedKeyColumn = "wrapped_material"
)

// NewKeyVersionID returns a fresh key version id, "kv_" and 20 random
// base-62 characters.
func NewKeyVersionID() string { return id.New("kv") }

// GenerateKeyVersion returns a key version named id with 32 random bytes of
// material from crypto/rand.
func GenerateKeyVersion(id string) (KeyVersion, error) {
	if !ValidKeyID(id) {
		return KeyVersion{}, fmt.Errorf("encrypt: invalid key version id %q", id)
	}
	m := make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, m); err != nil {
		return KeyVersion{}, fmt.Errorf("encrypt: generating key material: %w", err)
	}
	return KeyVersion{ID: id, Material: m}, nil
}

// WrappedKeyAAD is the AAD binding wrapped material to its key version id.
func WrappedKeyAAD(childID string) AAD {
	return AAD{Table: WrappedKeyTable, Column: WrappedKeyColumn, Row: childID}
}

// Wrap seals child's material with parent, bound to child's id, for storing
// a generated key version.
func Wrap(parent, child KeyVersion) (string, error) {
	if !ValidKeyID(child.ID) {
		return "", fmt.Errorf("encrypt: invalid key version id %q", child.ID)
	}
	if len(child.Material) != KeySize {
		return "", fmt.Errorf("encrypt: key version %q has %d bytes of material, want %d", child.ID, len(child.Material), KeySize)
	}
	return Seal(parent, child.Material, WrappedKeyAAD(child.ID))
}

// Unwrap opens material wrapped by [Wrap] for key version childID, looking
// the parent key version up in keys.
func Unwrap(ctx context.Context, keys KeyLookup, childID, wrapped string) (KeyVersion, error) {
	if !ValidKeyID(childID) {
		return KeyVersion{}, fmt.Errorf("encrypt: invalid key version id %q", childID)
	}
	m, err := Open(ctx, keys, wrapped, WrappedKeyAAD(childID))
	if err != nil {
		return KeyVersion{}, err
	}
	if len(m) != KeySize {
		clear(m)
		return KeyVersion{}, fmt.Errorf("encrypt: unwrapped key version %q has %d bytes of material, want %d", childID, len(m), KeySize)
	}
	return KeyVersion{ID: childID, Material: m}, nil
}
