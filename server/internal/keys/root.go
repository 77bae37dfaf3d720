package keys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/encrypt"
)

// RootKeyIDPrefix starts the key version id of the global root key.
const RootKeyIDPrefix = "kv_root."

// RootKey is the global root key: it seals the values of namespaces that have no key
// assigned anywhere up their path, and wraps the material of every generated or inline
// namespace key version.
type RootKey struct {
	Version encrypt.KeyVersion
	// Previous is the root key before its last rotation, when the source still holds it
	// (see encrypt.PreviousSource): it keeps opening what it sealed until re-encryption
	// has moved everything to Version.
	Previous *encrypt.KeyVersion
}

// lookup resolves the current and the previous root key versions.
func (r RootKey) lookup() encrypt.KeyLookup {
	if r.Previous != nil {
		return encrypt.StaticKeys(r.Version, *r.Previous)
	}
	return encrypt.StaticKeys(r.Version)
}

// RootKeyID derives the stable key version id of root key material from its
// Material.Version at the source: "kv_root." and the first 16 hex digits of a SHA-256 of
// it. The same material (or the same secret version) always gets the same id, and a
// rotated root key a new one.
func RootKeyID(sourceVersion string) string {
	sum := sha256.Sum256([]byte("authproxy root key id v1\x00" + sourceVersion))
	return RootKeyIDPrefix + hex.EncodeToString(sum[:8])
}

// LoadRootKey loads the root key from src.
func LoadRootKey(ctx context.Context, src encrypt.Source) (RootKey, error) {
	if src == nil {
		return RootKey{}, errors.New("root key: no source")
	}
	m, err := src.Load(ctx)
	if err != nil {
		return RootKey{}, fmt.Errorf("root key: %w", err)
	}
	if len(m.Key) != encrypt.KeySize {
		clear(m.Key)
		return RootKey{}, fmt.Errorf("root key: source returned %d bytes, want %d", len(m.Key), encrypt.KeySize)
	}
	if m.Version == "" {
		m.Version = encrypt.Fingerprint(m.Key)
	}
	root := RootKey{Version: encrypt.KeyVersion{ID: RootKeyID(m.Version), Material: m.Key}}
	if ps, ok := src.(encrypt.PreviousSource); ok {
		p, ok, err := ps.LoadPrevious(ctx)
		if err != nil {
			clear(m.Key)
			return RootKey{}, fmt.Errorf("root key: previous: %w", err)
		}
		if ok && len(p.Key) != encrypt.KeySize {
			clear(p.Key)
			clear(m.Key)
			return RootKey{}, fmt.Errorf("root key: previous: source returned %d bytes, want %d", len(p.Key), encrypt.KeySize)
		}
		if ok && p.Version == "" {
			p.Version = encrypt.Fingerprint(p.Key)
		}
		if ok && p.Version != m.Version {
			root.Previous = &encrypt.KeyVersion{ID: RootKeyID(p.Version), Material: p.Key}
		} else if ok {
			clear(p.Key)
		}
	}
	return root, nil
}

// DevRootKeyFile is the name of the generated root key file under the dev data dir.
const DevRootKeyFile = "root_key"

// RootKeySource returns the configured source of the root key. With none configured, dev
// mode uses a generated 32-byte key in <dataDir>/root_key (created with mode 0600 when
// missing); outside dev mode that is an error.
func RootKeySource(cfg config.Config) (encrypt.Source, error) {
	rk := cfg.Encryption.RootKey
	if rk.Source != "" {
		src, err := encrypt.ParseSourceConfig(rk.Source, rk.Params)
		if err != nil {
			return nil, fmt.Errorf("config: encryption.rootKey: %w", err)
		}
		return src, nil
	}
	if !cfg.Dev {
		return nil, errors.New("config: encryption.rootKey is required outside dev mode: set encryption.rootKey.source " +
			"and params (env, file or aws_secrets_manager), or AUTHPROXY_ROOT_KEY to base64 of 32 random bytes (openssl rand -base64 32)")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("config: dev mode needs a dataDir for the generated root key")
	}
	path := filepath.Join(cfg.DataDir, DevRootKeyFile)
	if err := ensureKeyFile(path); err != nil {
		return nil, fmt.Errorf("dev root key: %w", err)
	}
	return encrypt.FileSource{Path: path}, nil
}

// ensureKeyFile creates path holding 32 random bytes, mode 0600, unless it exists.
func ensureKeyFile(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	key := make([]byte, encrypt.KeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil // created concurrently
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		_ = os.Remove(path)
		return err
	}
	return f.Close()
}
