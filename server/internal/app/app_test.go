package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/server/internal/config"
	"github.com/authproxy/authproxy/server/internal/keys"
)

func TestRootKeyRequiredOutsideDevMode(t *testing.T) {
	cfg := config.Default(t.TempDir())
	cfg.Dev = false
	cfg.Redis.Addr = "127.0.0.1:1"
	_, err := New(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "encryption.rootKey is required outside dev mode") {
		t.Fatalf("got %v", err)
	}
}

func TestDevModeGeneratesRootKey(t *testing.T) {
	dir := t.TempDir()
	a, err := New(context.Background(), config.Default(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fi, err := os.Stat(filepath.Join(dir, keys.DevRootKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root key file: %v %v", fi, err)
	}
	if a.Keys == nil || !strings.HasPrefix(a.Keys.Root.Version.ID, keys.RootKeyIDPrefix) || a.Keys.Keyring == nil {
		t.Fatalf("keys service not wired: %+v", a.Keys)
	}
}
