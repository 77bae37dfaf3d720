package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleConfigsLoad(t *testing.T) {
	for _, f := range []string{"../../config.example.yaml", "../../config.compose.yaml"} {
		t.Setenv("AUTHPROXY_SYSTEM_SECRET", "")
		cfg, err := Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if cfg.Dev || cfg.DB.Driver != "postgres" || cfg.Redis.Addr == "" {
			t.Fatalf("%s: unexpected %+v", f, cfg)
		}
	}
}

func TestDevDefaults(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Dev || cfg.DB.Driver != "sqlite" || cfg.Listen.Admin != "127.0.0.1:8082" || !cfg.AutoMigrate {
		t.Fatalf("unexpected dev defaults %+v", cfg)
	}
	// Dev mode may call local demo APIs; a configuration file starts from refusing them.
	if !cfg.Proxy.AllowLoopback || cfg.Proxy.AllowPrivate {
		t.Fatalf("dev proxy policy %+v", cfg.Proxy)
	}
	t.Setenv("AUTHPROXY_SYSTEM_SECRET", "")
	prod, err := Load("../../config.compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if prod.Proxy.AllowLoopback || prod.Proxy.AllowPrivate {
		t.Fatalf("production proxy policy %+v", prod.Proxy)
	}
	t.Setenv("AUTHPROXY_PROXY_ALLOW_PRIVATE", "true")
	if prod, err = Load("../../config.compose.yaml"); err != nil || !prod.Proxy.AllowPrivate {
		t.Fatalf("env override: %+v %v", prod.Proxy, err)
	}
	t.Setenv("AUTHPROXY_PROXY_ALLOW_PRIVATE", "maybe")
	if _, err := Load("../../config.compose.yaml"); err == nil || !strings.Contains(err.Error(), `AUTHPROXY_PROXY_ALLOW_PRIVATE: "maybe"`) {
		t.Fatalf("bad bool: %v", err)
	}
}

func TestBadConfigs(t *testing.T) {
	cases := map[string]string{
		"unknown field":  "databse:\n  driver: sqlite\n",
		"bad driver":     "database:\n  driver: mysql\n  dsn: x\nredis:\n  addr: x:1\n",
		"no redis":       "database:\n  driver: sqlite\n  dsn: x.db\n",
		"bad duration":   "database:\n  driver: sqlite\n  dsn: x.db\nredis:\n  addr: x:1\nauth:\n  maxTokenLifetime: soon\n",
		"bad log format": "database:\n  driver: sqlite\n  dsn: x.db\nredis:\n  addr: x:1\nlog:\n  format: xml\n",
		"bad cidr":       "database:\n  driver: sqlite\n  dsn: x.db\nredis:\n  addr: x:1\nproxy:\n  allowedCidrs: [10.1.0.0]\n",
		"no queue":       "database:\n  driver: sqlite\n  dsn: x.db\nredis:\n  addr: x:1\nworker:\n  queue: \"\"\n",
		"zero workers":   "database:\n  driver: sqlite\n  dsn: x.db\nredis:\n  addr: x:1\nworker:\n  concurrency: 0\n",
	}
	want := map[string]string{
		"unknown field": "field databse not found", "bad driver": `"mysql"`, "no redis": "redis.addr is required",
		"bad duration": "not a duration", "bad log format": "log.format",
		"bad cidr": `proxy.allowedCidrs: "10.1.0.0" is not a CIDR prefix`, "no queue": "worker.queue must not be empty",
		"zero workers": "worker.concurrency 0 must be at least 1",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil || !strings.Contains(err.Error(), want[name]) {
				t.Fatalf("got %v, want mention of %q", err, want[name])
			}
		})
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Setenv("AUTHPROXY_DATABASE_DRIVER", "postgres")
	t.Setenv("AUTHPROXY_DATABASE_DSN", "postgres://x")
	t.Setenv("AUTHPROXY_MAX_TOKEN_LIFETIME", "10m")
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB.Driver != "postgres" || cfg.DB.DSN != "postgres://x" || cfg.Auth.MaxTokenLifetime.Minutes() != 10 {
		t.Fatalf("env not applied: %+v", cfg)
	}
	t.Setenv("AUTHPROXY_MAX_TOKEN_LIFETIME", "long")
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), "AUTHPROXY_MAX_TOKEN_LIFETIME") {
		t.Fatalf("want env error, got %v", err)
	}
}

func TestRootKeyEnv(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want RootKey
		err  string
	}{
		{"key only", map[string]string{"AUTHPROXY_ROOT_KEY": "x"}, RootKey{Source: "env", Params: map[string]string{"var": "AUTHPROXY_ROOT_KEY"}}, ""},
		{"source and params", map[string]string{"AUTHPROXY_ROOT_KEY_SOURCE": "file", "AUTHPROXY_ROOT_KEY_PARAMS": "path=/run/key"}, RootKey{Source: "file", Params: map[string]string{"path": "/run/key"}}, ""},
		{"source wins over key", map[string]string{"AUTHPROXY_ROOT_KEY_SOURCE": "aws_secrets_manager", "AUTHPROXY_ROOT_KEY_PARAMS": "secret_id=root, region=eu-west-1", "AUTHPROXY_ROOT_KEY": "x"},
			RootKey{Source: "aws_secrets_manager", Params: map[string]string{"secret_id": "root", "region": "eu-west-1"}}, ""},
		{"bad params", map[string]string{"AUTHPROXY_ROOT_KEY_PARAMS": "path"}, RootKey{}, "AUTHPROXY_ROOT_KEY_PARAMS"},
	}
	for _, c := range cases {
		cfg := Default(t.TempDir())
		err := applyEnv(&cfg, func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %v", c.name, err)
			}
			continue
		}
		got := cfg.Encryption.RootKey
		if err != nil || got.Source != c.want.Source || len(got.Params) != len(c.want.Params) {
			t.Errorf("%s: got %+v %v", c.name, got, err)
			continue
		}
		for k, v := range c.want.Params {
			if got.Params[k] != v {
				t.Errorf("%s: param %s = %q", c.name, k, got.Params[k])
			}
		}
	}
}
