package blob

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidateKey: every accepted key is short, made of the allowed bytes,
// already clean, and local (it names a file below Local.Dir, never outside
// it nor Dir itself).
func FuzzValidateKey(f *testing.F) {
	for _, k := range append([]string{"a", "ns/root.acme/2024/01/02/x.req", "a/..b", ".hidden", "..."}, invalidKeys...) {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if ValidateKey(key) != nil {
			return
		}
		if len(key) == 0 || len(key) > MaxKeyLen {
			t.Fatalf("accepted %d-byte key", len(key))
		}
		if strings.Trim(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") != "" {
			t.Fatalf("accepted key %q with a byte outside the alphabet", key)
		}
		if path.Clean(key) != key || !filepath.IsLocal(filepath.FromSlash(key)) {
			t.Fatalf("accepted key %q is not clean and local", key)
		}
		dir := filepath.FromSlash("/blobs")
		if p := filepath.Join(dir, filepath.FromSlash(key)); !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("key %q names %q, outside %q", key, p, dir)
		}
	})
}
