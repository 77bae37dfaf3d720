package encrypt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Source loads externally held key material: the global root key, and
// namespace keys whose source is not "generated".
type Source interface {
	// Load reads the current material. Errors never include key material.
	Load(ctx context.Context) (Material, error)
}

// Material is key material as loaded from a [Source].
type Material struct {
	// Key is the 32-byte AES-256 key.
	Key []byte
	// Version identifies this material at the source, so a periodic sync can
	// tell that the key was rotated: the secret's VersionId for AWS Secrets
	// Manager, a fingerprint of the key ([Fingerprint]) for env and file.
	Version string
}

// String describes m without the key; like [KeyVersion], Material also
// redacts itself for every fmt verb and for JSON.
func (m Material) String() string {
	return fmt.Sprintf("Material{Version:%q, Key:[%d bytes redacted]}", m.Version, len(m.Key))
}

// Format writes [Material.String] whatever the verb.
func (m Material) Format(f fmt.State, _ rune) { io.WriteString(f, m.String()) }

// MarshalJSON encodes [Material.String] as a JSON string.
func (m Material) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// Fingerprint identifies key material without revealing it: "sha256:" and
// the first 16 hex digits of a domain-separated SHA-256 of the key.
func Fingerprint(key []byte) string {
	h := sha256.New()
	h.Write([]byte("authproxy/encrypt key fingerprint v1\x00"))
	h.Write(key)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:8])
}

// decodeKey accepts padded standard base64 of exactly 32 bytes or 64 hex
// digits, with surrounding whitespace (a trailing newline) ignored. Errors
// name what was wrong but never echo the value: decoder errors quote the
// offending character, so they are not wrapped.
func decodeKey(value []byte) ([]byte, error) {
	v := bytes.TrimSpace(value)
	if len(v) == 0 {
		return nil, fmt.Errorf("is empty")
	}
	if len(v) == 2*KeySize {
		key := make([]byte, KeySize)
		if _, err := hex.Decode(key, v); err == nil {
			return key, nil
		}
		clear(key) // not hex: maybe base64 of the wrong length, said below
	}
	key := make([]byte, base64.StdEncoding.DecodedLen(len(v)))
	n, err := base64.StdEncoding.Strict().Decode(key, v)
	if err != nil {
		clear(key)
		return nil, fmt.Errorf("is neither base64 of %d bytes nor %d hex digits (%d characters)", KeySize, 2*KeySize, len(v))
	}
	if n != KeySize {
		clear(key)
		return nil, fmt.Errorf("decodes to %d bytes, want %d (base64 of %d bytes or %d hex digits)", n, KeySize, KeySize, 2*KeySize)
	}
	return key[:KeySize], nil
}

// EnvSource reads the key from an environment variable holding padded
// standard base64 of 32 bytes (`openssl rand -base64 32`) or 64 hex digits
// (`openssl rand -hex 32`).
type EnvSource struct {
	Var string
}

// Load reads the variable.
func (s EnvSource) Load(context.Context) (Material, error) {
	if s.Var == "" {
		return Material{}, fmt.Errorf("encrypt: env key source has no variable name")
	}
	v, ok := os.LookupEnv(s.Var)
	if !ok {
		return Material{}, fmt.Errorf("encrypt: env var %s is not set", s.Var)
	}
	key, err := decodeKey([]byte(v))
	if err != nil {
		return Material{}, fmt.Errorf("encrypt: env var %s %v", s.Var, err)
	}
	return Material{Key: key, Version: Fingerprint(key)}, nil
}

// maxKeyFileSize bounds what FileSource reads: any valid key file is far
// smaller.
const maxKeyFileSize = 4096

// FileSource reads the key from a file holding exactly 32 raw bytes, or the
// base64 or hex text [EnvSource] accepts. The file must be a regular file
// with no group or other permissions (mode 0600 or 0400); for a Kubernetes
// Secret volume set defaultMode: 0400.
type FileSource struct {
	Path string
}

// Load reads the file.
func (s FileSource) Load(context.Context) (Material, error) {
	if s.Path == "" {
		return Material{}, fmt.Errorf("encrypt: file key source has no path")
	}
	// Check before opening too: opening a FIFO would block.
	if fi, err := os.Stat(s.Path); err != nil {
		return Material{}, fmt.Errorf("encrypt: key file: %w", err)
	} else if !fi.Mode().IsRegular() {
		return Material{}, fmt.Errorf("encrypt: key file %s is not a regular file", s.Path)
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return Material{}, fmt.Errorf("encrypt: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Material{}, fmt.Errorf("encrypt: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Material{}, fmt.Errorf("encrypt: key file %s is not a regular file", s.Path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return Material{}, fmt.Errorf("encrypt: key file %s has mode %04o: group or others may access it; refusing to use it (chmod 600 %s)", s.Path, perm, s.Path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return Material{}, fmt.Errorf("encrypt: key file %s: %w", s.Path, err)
	}
	defer clear(data)
	if len(data) > maxKeyFileSize {
		return Material{}, fmt.Errorf("encrypt: key file %s is larger than %d bytes; it is not a key", s.Path, maxKeyFileSize)
	}
	var key []byte
	if len(data) == KeySize {
		key = clone(data)
	} else if key, err = decodeKey(data); err != nil {
		return Material{}, fmt.Errorf("encrypt: key file %s is not %d raw bytes and its text %v", s.Path, KeySize, err)
	}
	return Material{Key: key, Version: Fingerprint(key)}, nil
}

// Source kinds for [ParseSourceConfig].
const (
	SourceEnv               = "env"
	SourceFile              = "file"
	SourceAWSSecretsManager = "aws_secrets_manager"
)

// sourceParams lists each kind's parameters; the first is required.
var sourceParams = map[string][]string{
	SourceEnv:               {"var"},
	SourceFile:              {"path"},
	SourceAWSSecretsManager: {"secret_id", "region", "endpoint", "version_stage", "json_key"},
}

// ParseSourceConfig builds a Source from configuration:
//
//	env                  var (required)
//	file                 path (required)
//	aws_secrets_manager  secret_id (required), region, endpoint, version_stage, json_key
//
// Unknown parameters are rejected, so a typo is an error rather than a
// silently ignored setting.
func ParseSourceConfig(kind string, params map[string]string) (Source, error) {
	allowed, ok := sourceParams[kind]
	if !ok {
		return nil, fmt.Errorf("encrypt: unknown key source %q (want %s, %s or %s)", kind, SourceEnv, SourceFile, SourceAWSSecretsManager)
	}
	for name := range params {
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("encrypt: key source %s has no parameter %q (it takes %s)", kind, name, strings.Join(allowed, ", "))
		}
	}
	if strings.TrimSpace(params[allowed[0]]) == "" {
		return nil, fmt.Errorf("encrypt: key source %s needs the parameter %q", kind, allowed[0])
	}
	switch kind {
	case SourceEnv:
		return EnvSource{Var: params["var"]}, nil
	case SourceFile:
		return FileSource{Path: params["path"]}, nil
	default:
		if ep := params["endpoint"]; ep != "" {
			u, err := url.Parse(ep)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, fmt.Errorf("encrypt: key source %s: endpoint %q is not an http(s) URL", kind, ep)
			}
		}
		return &AWSSecretsManagerSource{
			SecretID:     params["secret_id"],
			Region:       params["region"],
			Endpoint:     params["endpoint"],
			VersionStage: params["version_stage"],
			JSONKey:      params["json_key"],
		}, nil
	}
}
