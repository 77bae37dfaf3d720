package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBlobAndRequestLogConfig(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg.BlobConfig(); b.Driver != "" || b.Dir != filepath.Join(".authproxy", "blobs") || cfg.RequestLog.BodyLimit != 64<<10 {
		t.Fatalf("dev defaults: blob %v, body limit %d", b, cfg.RequestLog.BodyLimit)
	}
	cfg.DataDir = "/var/lib/authproxy"
	if b := cfg.BlobConfig(); b.Dir != "/var/lib/authproxy/blobs" {
		t.Errorf("local dir follows dataDir: %v", b)
	}
	cfg.Blob.Driver, cfg.Blob.Bucket = "s3", "b"
	if b := cfg.BlobConfig(); b.Dir != "" {
		t.Errorf("s3 got a dir: %v", b)
	}

	p := filepath.Join(t.TempDir(), "c.yaml")
	body := "database:\n  driver: sqlite\n  dsn: x.db\nredis:\n  addr: x:1\nblob:\n  driver: s3\n  bucket: bodies\n  prefix: rl/\n  pathStyle: true\nrequestLog:\n  bodyLimit: 1024\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Blob.Driver != "s3" || cfg.Blob.Bucket != "bodies" || cfg.Blob.Prefix != "rl/" || !cfg.Blob.PathStyle || cfg.RequestLog.BodyLimit != 1024 {
		t.Errorf("file not applied: blob %v, request log %+v", cfg.Blob, cfg.RequestLog)
	}

	t.Setenv("AUTHPROXY_BLOB_BUCKET", "from-env")
	t.Setenv("AUTHPROXY_BLOB_ENDPOINT", "http://127.0.0.1:9000")
	t.Setenv("AUTHPROXY_BLOB_PATH_STYLE", "false")
	t.Setenv("AUTHPROXY_BLOB_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AUTHPROXY_REQUEST_LOG_BODY_LIMIT", "2048")
	cfg, err = Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Blob.Bucket != "from-env" || cfg.Blob.Endpoint != "http://127.0.0.1:9000" || cfg.Blob.PathStyle ||
		cfg.Blob.SecretAccessKey != "env-secret" || cfg.RequestLog.BodyLimit != 2048 {
		t.Errorf("env not applied: blob %v, request log %+v", cfg.Blob, cfg.RequestLog)
	}
	if strings.Contains(cfg.Blob.String(), "env-secret") {
		t.Errorf("blob config prints its secret: %s", cfg.Blob)
	}
}

func TestBadBlobAndRequestLogConfigs(t *testing.T) {
	base := "database:\n  driver: sqlite\n  dsn: x.db\nredis:\n  addr: x:1\n"
	for name, tc := range map[string]struct{ body, env, want string }{
		"zero body limit":   {base + "requestLog:\n  bodyLimit: 0\n", "", "requestLog.bodyLimit 0 must be between 1 and"},
		"huge body limit":   {base + "requestLog:\n  bodyLimit: 104857600\n", "", "requestLog.bodyLimit 104857600"},
		"unknown driver":    {base + "blob:\n  driver: gcs\n", "", `blob.driver "gcs" must be local or s3`},
		"s3 without bucket": {base + "blob:\n  driver: s3\n", "", "blob.bucket is required"},
		"unknown field":     {base + "blob:\n  bukket: x\n", "", "field bukket not found"},
		"bad env limit":     {base, "lots", "AUTHPROXY_REQUEST_LOG_BODY_LIMIT"},
	} {
		t.Run(name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("AUTHPROXY_REQUEST_LOG_BODY_LIMIT", tc.env)
			}
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(p); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want mention of %q", err, tc.want)
			}
		})
	}
}
