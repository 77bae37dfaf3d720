package encrypt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// PreviousSource is a Source that can also load the material it held before its last rotation,
// so values sealed with it stay readable until they are re-encrypted.
type PreviousSource interface {
	Source
	// LoadPrevious returns the previous material; ok is false when none is configured or present.
	LoadPrevious(ctx context.Context) (m Material, ok bool, err error)
}

var (
	_ PreviousSource = EnvSource{}
	_ PreviousSource = FileSource{}
	_ PreviousSource = (*AWSSecretsManagerSource)(nil)
)

// ErrVersionGone is returned by [LoadVersion] when the source holds neither
// as current nor as previous material the version asked for.
var ErrVersionGone = errors.New("encrypt: key version is no longer held by its source")

// LoadVersion returns src's current material if its Version is version, else
// its previous material (see [PreviousSource]) if that has this Version, else
// an error wrapping [ErrVersionGone] that names the versions src holds. Key
// bytes it loads but does not return are cleared.
func LoadVersion(ctx context.Context, src Source, version string) (Material, error) {
	cur, err := src.Load(ctx)
	if err != nil {
		return Material{}, err
	}
	if cur.Version == version {
		return cur, nil
	}
	clear(cur.Key)
	held := fmt.Sprintf("current %q", cur.Version)
	if ps, ok := src.(PreviousSource); ok {
		prev, ok, err := ps.LoadPrevious(ctx)
		if err != nil {
			return Material{}, err
		}
		if ok {
			if prev.Version == version {
				return prev, nil
			}
			clear(prev.Key)
			held += fmt.Sprintf(", previous %q", prev.Version)
		}
	}
	return Material{}, fmt.Errorf("%w: want version %q, the source holds %s", ErrVersionGone, version, held)
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
	// Var names the variable holding the current key.
	Var string
	// PreviousVar, when set, names a variable holding the key in use before
	// the last rotation, in the same encodings; unset or empty means none.
	PreviousVar string
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
	return envMaterial(s.Var, v)
}

// LoadPrevious reads PreviousVar; ok is false when it is not configured, or
// the variable is unset, empty or only whitespace.
func (s EnvSource) LoadPrevious(context.Context) (Material, bool, error) {
	if s.PreviousVar == "" {
		return Material{}, false, nil
	}
	v := os.Getenv(s.PreviousVar)
	if strings.TrimSpace(v) == "" {
		return Material{}, false, nil
	}
	m, err := envMaterial(s.PreviousVar, v)
	return m, err == nil, err
}

func envMaterial(name, value string) (Material, error) {
	key, err := decodeKey([]byte(value))
	if err != nil {
		return Material{}, fmt.Errorf("encrypt: env var %s %v", name, err)
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
	// Path is the file holding the current key.
	Path string
	// PreviousPath, when set, is a file holding the key in use before the
	// last rotation, in the same forms and with the same checks; a missing
	// file means none.
	PreviousPath string
}

// Load reads the file.
func (s FileSource) Load(context.Context) (Material, error) {
	if s.Path == "" {
		return Material{}, fmt.Errorf("encrypt: file key source has no path")
	}
	return loadKeyFile(s.Path)
}

// LoadPrevious reads PreviousPath; ok is false when it is not configured or
// the file does not exist.
func (s FileSource) LoadPrevious(context.Context) (Material, bool, error) {
	if s.PreviousPath == "" {
		return Material{}, false, nil
	}
	m, err := loadKeyFile(s.PreviousPath)
	if errors.Is(err, fs.ErrNotExist) {
		return Material{}, false, nil
	}
	return m, err == nil, err
}

func loadKeyFile(path string) (Material, error) {
	// Check before opening too: opening a FIFO would block.
	if fi, err := os.Stat(path); err != nil {
		return Material{}, fmt.Errorf("encrypt: key file: %w", err)
	} else if !fi.Mode().IsRegular() {
		return Material{}, fmt.Errorf("encrypt: key file %s is not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Material{}, fmt.Errorf("encrypt: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Material{}, fmt.Errorf("encrypt: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Material{}, fmt.Errorf("encrypt: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return Material{}, fmt.Errorf("encrypt: key file %s has mode %04o: group or others may access it; refusing to use it (chmod 600 %s)", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return Material{}, fmt.Errorf("encrypt: key file %s: %w", path, err)
	}
	defer clear(data)
	if len(data) > maxKeyFileSize {
		return Material{}, fmt.Errorf("encrypt: key file %s is larger than %d bytes; it is not a key", path, maxKeyFileSize)
	}
	var key []byte
	if len(data) == KeySize {
		key = clone(data)
	} else if key, err = decodeKey(data); err != nil {
		return Material{}, fmt.Errorf("encrypt: key file %s is not %d raw bytes and its text %v", path, KeySize, err)
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
	SourceEnv:               {"var", "previous_var"},
	SourceFile:              {"path", "previous_path"},
	SourceAWSSecretsManager: {"secret_id", "region", "endpoint", "version_stage", "json_key"},
}

// ParseSourceConfig builds a Source from configuration:
//
//	env                  var (required), previous_var
//	file                 path (required), previous_path
//	aws_secrets_manager  secret_id (required), region, endpoint, version_stage, json_key
//
// previous_var and previous_path name where the key in use before the last
// rotation is kept (see [PreviousSource]); the AWS source finds it under the
// AWSPREVIOUS staging label unless version_stage is set. Unknown parameters
// are rejected, so a typo is an error rather than a silently ignored setting.
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
		if err := checkPrevious(kind, params, "var", "previous_var"); err != nil {
			return nil, err
		}
		return EnvSource{Var: params["var"], PreviousVar: params["previous_var"]}, nil
	case SourceFile:
		if err := checkPrevious(kind, params, "path", "previous_path"); err != nil {
			return nil, err
		}
		return FileSource{Path: params["path"], PreviousPath: params["previous_path"]}, nil
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

// checkPrevious refuses a previous_* parameter that is given but blank, or
// that names the same variable or file as the current one.
func checkPrevious(kind string, params map[string]string, cur, prev string) error {
	v, ok := params[prev]
	if !ok {
		return nil
	}
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("encrypt: key source %s: the parameter %q is blank", kind, prev)
	}
	if v == params[cur] {
		return fmt.Errorf("encrypt: key source %s: %q and %q are the same", kind, cur, prev)
	}
	return nil
}
