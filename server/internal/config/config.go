// Package config reads the server's configuration: a YAML file when one is given, then
// AUTHPROXY_* environment variables; with neither, the embedded development defaults.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authproxy/authproxy/server/internal/blob"
	"github.com/authproxy/authproxy/server/internal/store"
)

// Config is everything the server needs.
type Config struct {
	// Dev turns on the embedded defaults: SQLite and keys under DataDir, an in-process
	// Redis, a bootstrap admin actor. It is on when no config file is given.
	Dev     bool         `yaml:"dev"`
	DataDir string       `yaml:"dataDir"`
	DB      store.Config `yaml:"database"`
	Redis   Redis        `yaml:"redis"`
	Listen  Listen       `yaml:"listen"`
	Auth    Auth         `yaml:"auth"`
	Log     Log          `yaml:"log"`
	// AutoMigrate applies pending migrations at start (always on in dev mode).
	AutoMigrate bool `yaml:"autoMigrate"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish on SIGTERM.
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// Encryption configures application-level encryption.
	Encryption Encryption `yaml:"encryption"`
	// Worker configures background tasks.
	Worker Worker `yaml:"worker"`
	// Proxy configures the authenticating proxy.
	Proxy Proxy `yaml:"proxy"`
	// Blob is the store of recorded request and response bodies; a local store with no
	// dir uses <dataDir>/blobs (see BlobConfig).
	Blob blob.Config `yaml:"blob"`
	// RequestLog configures the request log.
	RequestLog RequestLog `yaml:"requestLog"`
	// PublicURL is the base URL under which browsers reach the public service (OAuth2
	// redirect URIs are <publicUrl>/oauth2/callback). Empty in dev mode means
	// "http://" + listen.public; required outside dev mode for OAuth2 connectors.
	PublicURL string `yaml:"publicUrl"`
	// Marketplace configures the end users' pages on the public service.
	Marketplace Marketplace `yaml:"marketplace"`
}

// Marketplace configures the marketplace pages.
type Marketplace struct {
	// LoginURL is the host application's sign-in page: browsers with an expired, replayed
	// or invalid hand-off go there (with ?authproxy_error=…). Without it they get a 401 page.
	LoginURL string `yaml:"loginUrl"`
	// FrameAncestors are the origins allowed to show the marketplace in an iframe (CSP
	// frame-ancestors), such as https://app.example.com; empty forbids framing.
	FrameAncestors []string `yaml:"frameAncestors"`
	// SessionTTL is how long a browser session lasts (default 1h).
	SessionTTL Duration `yaml:"sessionTtl"`
	Theme      Theme    `yaml:"theme"`
}

// Theme is how the marketplace looks inside the host's product.
type Theme struct {
	// Title names the marketplace in page titles and the header (default "Connections").
	Title string `yaml:"title"`
	// LogoURL is an http(s) or root-relative URL of the host's logo.
	LogoURL string `yaml:"logoUrl"`
	// Accent is the colour of buttons and links, #rgb or #rrggbb.
	Accent string `yaml:"accent"`
	// Mode is light, dark or auto (follow the browser; the default).
	Mode string `yaml:"mode"`
}

var (
	accentRe        = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	frameAncestorRe = regexp.MustCompile(`^(https?://[A-Za-z0-9.*-]+(:[0-9]+)?|'self')$`)
)

// Validate reports what is wrong with the marketplace settings.
func (m Marketplace) Validate() error {
	if m.LoginURL != "" {
		if u, err := url.Parse(m.LoginURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("config: marketplace.loginUrl %q must be an absolute http(s) URL", m.LoginURL)
		}
	}
	for _, a := range m.FrameAncestors {
		if !frameAncestorRe.MatchString(a) {
			return fmt.Errorf("config: marketplace.frameAncestors entry %q must be an origin such as https://app.example.com, or 'self'", a)
		}
	}
	if m.SessionTTL.Duration < 0 || m.SessionTTL.Duration > 24*time.Hour {
		return fmt.Errorf("config: marketplace.sessionTtl %s must be between 0 (default 1h) and 24h", m.SessionTTL.Duration)
	}
	t := m.Theme
	if t.Accent != "" && !accentRe.MatchString(t.Accent) {
		return fmt.Errorf("config: marketplace.theme.accent %q must be #rgb or #rrggbb", t.Accent)
	}
	switch t.Mode {
	case "", "light", "dark", "auto":
	default:
		return fmt.Errorf("config: marketplace.theme.mode %q must be light, dark or auto", t.Mode)
	}
	if t.LogoURL != "" && !strings.HasPrefix(t.LogoURL, "https://") && !strings.HasPrefix(t.LogoURL, "http://") && !strings.HasPrefix(t.LogoURL, "/") {
		return fmt.Errorf("config: marketplace.theme.logoUrl %q must be an http(s) or root-relative URL", t.LogoURL)
	}
	return nil
}

// PublicBaseURL is PublicURL without a trailing slash, or in dev mode "http://" + the public
// listen address; "" when neither applies.
func (c Config) PublicBaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	if c.Dev && c.Listen.Public != "" {
		return "http://" + c.Listen.Public
	}
	return ""
}

// Proxy configures which addresses the proxy may call. By default only public addresses:
// loopback, private (RFC 1918, fc00::/7, 100.64/10), link-local and metadata addresses are
// refused at dial time, whatever a connector allows.
type Proxy struct {
	// AllowLoopback lets upstreams on 127.0.0.0/8 and ::1 be called (tests, local demos).
	AllowLoopback bool `yaml:"allowLoopback"`
	// AllowPrivate lets upstreams on private addresses be called (on-premises APIs).
	AllowPrivate bool `yaml:"allowPrivate"`
	// AllowedCIDRs opens further ranges (the only way to reach link-local addresses).
	AllowedCIDRs []string `yaml:"allowedCidrs"`
}

// RequestLog configures the request log.
type RequestLog struct {
	// BodyLimit is how many bytes of each request and response body a recorded call keeps
	// (connector logging.bodies); the rest is counted, not stored.
	BodyLimit int `yaml:"bodyLimit"`
}

// MaxBodyLimit bounds requestLog.bodyLimit.
const MaxBodyLimit = 10 << 20

// BlobConfig is Blob with the local default filled in: driver local and dir
// <dataDir>/blobs when neither a dir nor S3 is configured.
func (c Config) BlobConfig() blob.Config {
	b := c.Blob
	if (b.Driver == "" || b.Driver == "local") && b.Dir == "" {
		b.Dir = filepath.Join(c.DataDir, "blobs")
	}
	return b
}

// Worker configures the background task queue (asynq over Redis) and its periodic tasks.
type Worker struct {
	// Queue is the asynq queue name; replicas sharing a Redis and a database must share
	// it, and separate deployments on one Redis must not.
	Queue string `yaml:"queue"`
	// Concurrency is how many tasks one worker runs at once.
	Concurrency int `yaml:"concurrency"`
	// KeySyncInterval is how often external key sources are checked for new versions.
	KeySyncInterval Duration `yaml:"keySyncInterval"`
	// SweepInterval is how often pending and abandoned re-encryption jobs are handed to
	// a worker again.
	SweepInterval Duration `yaml:"sweepInterval"`
}

// Encryption configures application-level encryption of secret columns.
type Encryption struct {
	// RootKey is the global root key: it seals values of namespaces with no key
	// assigned and wraps every generated or inline namespace key. Required outside dev
	// mode; in dev mode an empty source means a generated key in <dataDir>/root_key.
	RootKey RootKey `yaml:"rootKey"`
}

// RootKey names the source of the root key: "env" (params: var), "file" (params: path)
// or "aws_secrets_manager" (params: secret_id, region, endpoint, version_stage,
// json_key).
type RootKey struct {
	Source string            `yaml:"source"`
	Params map[string]string `yaml:"params"`
}

// Redis names the Redis server; empty Addr in dev mode means in-process.
type Redis struct {
	Addr     string `yaml:"addr"`
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
}

// Listen holds the address of each service.
type Listen struct {
	Public string `yaml:"public"`
	API    string `yaml:"api"`
	Admin  string `yaml:"admin"`
	Worker string `yaml:"worker"`
}

// Auth configures token verification.
type Auth struct {
	MaxTokenLifetime Duration `yaml:"maxTokenLifetime"`
	ClockSkew        Duration `yaml:"clockSkew"`
	// SystemSecretFile holds the HMAC secret of system tokens for internal hops.
	SystemSecretFile string `yaml:"systemSecretFile"`
}

// Log configures logging.
type Log struct {
	Format string `yaml:"format"` // "json" or "text"
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// Duration is a time.Duration read from strings like "90s" or "1h".
type Duration struct{ time.Duration }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (for example 30s, 5m, 1h)", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

// Default returns the development configuration rooted at dataDir.
func Default(dataDir string) Config {
	return Config{
		Dev:     true,
		DataDir: dataDir,
		DB:      store.Config{Driver: store.SQLite, DSN: filepath.Join(dataDir, "authproxy.db")},
		Listen:  Listen{Public: "127.0.0.1:8080", API: "127.0.0.1:8081", Admin: "127.0.0.1:8082", Worker: "127.0.0.1:8083"},
		Auth: Auth{MaxTokenLifetime: Duration{time.Hour}, ClockSkew: Duration{30 * time.Second},
			SystemSecretFile: filepath.Join(dataDir, "system_secret")},
		Log:    Log{Format: "text", Level: "info"},
		Worker: Worker{Queue: "authproxy", Concurrency: 4, KeySyncInterval: Duration{time.Minute}, SweepInterval: Duration{30 * time.Second}},
		// On a laptop the APIs to try are often local; private and metadata addresses stay refused.
		Proxy:           Proxy{AllowLoopback: true},
		AutoMigrate:     true,
		ShutdownTimeout: Duration{20 * time.Second},
		RequestLog:      RequestLog{BodyLimit: 64 << 10},
	}
}

// Load reads path (or, when path is empty, the dev defaults under ./.authproxy) and then
// applies AUTHPROXY_* environment overrides.
func Load(path string) (Config, error) {
	cfg := Default(".authproxy")
	if path != "" {
		cfg.Dev = false
		cfg.AutoMigrate = false
		cfg.Log.Format = "json"
		cfg.Listen = Listen{Public: ":8080", API: ":8081", Admin: ":8082", Worker: ":8083"}
		cfg.Auth.SystemSecretFile = ""
		cfg.Proxy.AllowLoopback = false
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, os.LookupEnv); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

func applyEnv(cfg *Config, lookup func(string) (string, bool)) error {
	str := map[string]*string{
		"AUTHPROXY_DATABASE_DRIVER":       &cfg.DB.Driver,
		"AUTHPROXY_DATABASE_DSN":          &cfg.DB.DSN,
		"AUTHPROXY_REDIS_ADDR":            &cfg.Redis.Addr,
		"AUTHPROXY_REDIS_PASSWORD":        &cfg.Redis.Password,
		"AUTHPROXY_LISTEN_PUBLIC":         &cfg.Listen.Public,
		"AUTHPROXY_LISTEN_API":            &cfg.Listen.API,
		"AUTHPROXY_LISTEN_ADMIN":          &cfg.Listen.Admin,
		"AUTHPROXY_LISTEN_WORKER":         &cfg.Listen.Worker,
		"AUTHPROXY_SYSTEM_SECRET_FILE":    &cfg.Auth.SystemSecretFile,
		"AUTHPROXY_LOG_FORMAT":            &cfg.Log.Format,
		"AUTHPROXY_LOG_LEVEL":             &cfg.Log.Level,
		"AUTHPROXY_DATA_DIR":              &cfg.DataDir,
		"AUTHPROXY_PUBLIC_URL":            &cfg.PublicURL,
		"AUTHPROXY_MARKETPLACE_LOGIN_URL": &cfg.Marketplace.LoginURL,
		"AUTHPROXY_BLOB_DRIVER":           &cfg.Blob.Driver,
		"AUTHPROXY_BLOB_DIR":              &cfg.Blob.Dir,
		"AUTHPROXY_BLOB_BUCKET":           &cfg.Blob.Bucket,
		"AUTHPROXY_BLOB_PREFIX":           &cfg.Blob.Prefix,
		"AUTHPROXY_BLOB_REGION":           &cfg.Blob.Region,
		"AUTHPROXY_BLOB_ENDPOINT":         &cfg.Blob.Endpoint,
		"AUTHPROXY_BLOB_ACCESS_KEY_ID":    &cfg.Blob.AccessKeyID,
		// The secret access key may also come from the default AWS chain (AWS_*).
		"AUTHPROXY_BLOB_SECRET_ACCESS_KEY": &cfg.Blob.SecretAccessKey,
	}
	for name, dst := range str {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	if v, ok := lookup("AUTHPROXY_MARKETPLACE_FRAME_ANCESTORS"); ok && v != "" {
		// Origins separated by spaces or commas.
		cfg.Marketplace.FrameAncestors = strings.Fields(strings.ReplaceAll(v, ",", " "))
	}
	if v, ok := lookup("AUTHPROXY_ROOT_KEY_SOURCE"); ok && v != "" {
		cfg.Encryption.RootKey = RootKey{Source: v}
	}
	if v, ok := lookup("AUTHPROXY_ROOT_KEY_PARAMS"); ok && v != "" {
		params := map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			name, value, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(name) == "" {
				return fmt.Errorf("AUTHPROXY_ROOT_KEY_PARAMS: %q is not name=value[,name=value…]", kv)
			}
			params[strings.TrimSpace(name)] = strings.TrimSpace(value)
		}
		cfg.Encryption.RootKey.Params = params
	}
	// AUTHPROXY_ROOT_KEY holds the root key itself (base64 of 32 bytes or 64 hex digits):
	// with no other source configured it means the env source reading that variable.
	if v, ok := lookup("AUTHPROXY_ROOT_KEY"); ok && v != "" && cfg.Encryption.RootKey.Source == "" {
		cfg.Encryption.RootKey = RootKey{Source: "env", Params: map[string]string{"var": "AUTHPROXY_ROOT_KEY"}}
		// AUTHPROXY_PREVIOUS_ROOT_KEY holds the root key before a rotation, until
		// re-encryption has moved every value off it.
		if p, ok := lookup("AUTHPROXY_PREVIOUS_ROOT_KEY"); ok && p != "" {
			cfg.Encryption.RootKey.Params["previous_var"] = "AUTHPROXY_PREVIOUS_ROOT_KEY"
		}
	}
	if v, ok := lookup("AUTHPROXY_WORKER_QUEUE"); ok && v != "" {
		cfg.Worker.Queue = v
	}
	if v, ok := lookup("AUTHPROXY_REQUEST_LOG_BODY_LIMIT"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("AUTHPROXY_REQUEST_LOG_BODY_LIMIT: %q is not a number of bytes", v)
		}
		cfg.RequestLog.BodyLimit = n
	}
	for name, dst := range map[string]*bool{"AUTHPROXY_PROXY_ALLOW_LOOPBACK": &cfg.Proxy.AllowLoopback, "AUTHPROXY_PROXY_ALLOW_PRIVATE": &cfg.Proxy.AllowPrivate, "AUTHPROXY_BLOB_PATH_STYLE": &cfg.Blob.PathStyle} {
		if v, ok := lookup(name); ok && v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", name, v)
			}
			*dst = b
		}
	}
	if v, ok := lookup("AUTHPROXY_MAX_TOKEN_LIFETIME"); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("AUTHPROXY_MAX_TOKEN_LIFETIME: %q is not a duration", v)
		}
		cfg.Auth.MaxTokenLifetime = Duration{d}
	}
	if v, ok := lookup("AUTHPROXY_AUTO_MIGRATE"); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("AUTHPROXY_AUTO_MIGRATE: %q is not true or false", v)
		}
		cfg.AutoMigrate = b
	}
	return nil
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch c.DB.Driver {
	case store.SQLite, store.Postgres:
	default:
		return fmt.Errorf("config: database.driver %q must be %q or %q", c.DB.Driver, store.SQLite, store.Postgres)
	}
	if c.DB.DSN == "" {
		return errors.New("config: database.dsn is required")
	}
	if !c.Dev && c.Redis.Addr == "" {
		return errors.New("config: redis.addr is required outside dev mode")
	}
	if c.Auth.MaxTokenLifetime.Duration <= 0 {
		return errors.New("config: auth.maxTokenLifetime must be positive")
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return fmt.Errorf("config: log.format %q must be json or text", c.Log.Format)
	}
	for _, p := range c.Proxy.AllowedCIDRs {
		if _, err := netip.ParsePrefix(p); err != nil {
			return fmt.Errorf("config: proxy.allowedCidrs: %q is not a CIDR prefix such as 10.1.0.0/16", p)
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("config: publicUrl %q must be an absolute http(s) URL without query, such as https://auth.example.com", c.PublicURL)
		}
	}
	if c.RequestLog.BodyLimit < 1 || c.RequestLog.BodyLimit > MaxBodyLimit {
		return fmt.Errorf("config: requestLog.bodyLimit %d must be between 1 and %d bytes", c.RequestLog.BodyLimit, MaxBodyLimit)
	}
	switch c.Blob.Driver {
	case "", "local", "s3":
	default:
		return fmt.Errorf("config: blob.driver %q must be local or s3", c.Blob.Driver)
	}
	if c.Blob.Driver == "s3" && c.Blob.Bucket == "" {
		return errors.New("config: blob.bucket is required with blob.driver s3")
	}
	if err := c.Marketplace.Validate(); err != nil {
		return err
	}
	if c.Worker.Queue == "" {
		return errors.New("config: worker.queue must not be empty")
	}
	if c.Worker.Concurrency <= 0 {
		return fmt.Errorf("config: worker.concurrency %d must be at least 1", c.Worker.Concurrency)
	}
	if c.Worker.KeySyncInterval.Duration < time.Second || c.Worker.SweepInterval.Duration < time.Second {
		return errors.New("config: worker.keySyncInterval and worker.sweepInterval must be at least 1s")
	}
	return nil
}
