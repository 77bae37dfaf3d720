package keys_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/keys"
)

func TestRootKeySource(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := config.Default(dir)

	// Dev mode: a generated key file, created once, mode 0600, with a stable id.
	src, err := keys.RootKeySource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keys.DevRootKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != encrypt.KeySize {
		t.Fatalf("dev root key file: %v %v", fi, err)
	}
	r1, err := keys.LoadRootKey(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	src2, err := keys.RootKeySource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := keys.LoadRootKey(ctx, src2)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Version.ID != r2.Version.ID || !strings.HasPrefix(r1.Version.ID, "kv_root.") || len(r1.Version.ID) != len("kv_root.")+16 || !encrypt.ValidKeyID(r1.Version.ID) {
		t.Fatalf("root key ids %q %q", r1.Version.ID, r2.Version.ID)
	}
	if strings.Contains(r1.Version.String(), base64.StdEncoding.EncodeToString(r1.Version.Material)) {
		t.Fatal("root key printed")
	}

	// Configured sources, through the environment as operators set them.
	key := make([]byte, encrypt.KeySize)
	key[0] = 1
	t.Setenv("AUTHPROXY_ROOT_KEY", base64.StdEncoding.EncodeToString(key))
	prod := cfg
	prod.Dev = false
	prod.Encryption.RootKey = config.RootKey{Source: "env", Params: map[string]string{"var": "AUTHPROXY_ROOT_KEY"}}
	src, err = keys.RootKeySource(prod)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := keys.LoadRootKey(ctx, src)
	if err != nil || r3.Version.ID != keys.RootKeyID(encrypt.Fingerprint(key)) || r3.Version.ID == r1.Version.ID {
		t.Fatalf("env root key: %v %v", r3.Version, err)
	}

	for name, c := range map[string]struct {
		cfg func(config.Config) config.Config
		msg string
	}{
		"missing outside dev": {func(c config.Config) config.Config { c.Dev = false; return c }, "encryption.rootKey is required outside dev mode"},
		"unknown source":      {func(c config.Config) config.Config { c.Encryption.RootKey.Source = "vault"; return c }, `unknown key source "vault"`},
		"missing param":       {func(c config.Config) config.Config { c.Encryption.RootKey.Source = "file"; return c }, `needs the parameter "path"`},
		"dev without dataDir": {func(c config.Config) config.Config { c.DataDir = ""; return c }, "needs a dataDir"},
	} {
		if _, err := keys.RootKeySource(c.cfg(config.Default(t.TempDir()))); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %q", name, err, c.msg)
		}
	}
	if _, err := keys.LoadRootKey(ctx, encrypt.EnvSource{Var: "KEYS_TEST_UNSET_ROOT"}); err == nil || !strings.Contains(err.Error(), "root key: encrypt: env var KEYS_TEST_UNSET_ROOT is not set") {
		t.Fatalf("unset root key: %v", err)
	}
}
