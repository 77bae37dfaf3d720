package blob

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func newLocalBackend(t *testing.T) backend {
	dir := filepath.Join(t.TempDir(), "blobs") // not created: Put must make it
	return backend{
		store: Local{Dir: dir},
		objects: func(t *testing.T) []string {
			var names []string
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					names = append(names, filepath.ToSlash(rel))
				}
				return nil
			})
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			slices.Sort(names)
			return names
		},
		raw: func(t *testing.T, key string) ([]byte, bool) {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
			if errors.Is(err, fs.ErrNotExist) {
				return nil, false
			}
			if err != nil {
				t.Fatal(err)
			}
			return b, true
		},
		touched: func() bool {
			_, err := os.Lstat(dir)
			return !errors.Is(err, fs.ErrNotExist)
		},
	}
}

// TestLocalAtomicPut fails Puts at several points of the body and checks that
// neither a file under the final name nor a temporary file is left, and that
// a blob being overwritten keeps its content throughout.
func TestLocalAtomicPut(t *testing.T) {
	dir := t.TempDir()
	l := Local{Dir: dir}
	ctx := context.Background()
	mustPut(t, l, "ns/keep", []byte("previous"))
	for _, n := range []int{0, 1, 4096, 1 << 20} {
		for _, key := range []string{"ns/keep", "ns/new", "other/deeper/new"} {
			err := l.Put(ctx, key, &failingReader{data: randomBytes(n, uint64(n)), err: errBoom}, int64(n)+1)
			if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), `blob: put "`+key+`"`) {
				t.Errorf("Put(%q) failing after %d bytes = %v, want the reader's error naming the key", key, n, err)
			}
		}
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if !slices.Equal(files, []string{"ns/keep"}) {
		t.Errorf("files after failed Puts = %q, want only ns/keep (no partial or temporary file)", files)
	}
	if got := mustGet(t, l, "ns/keep"); string(got) != "previous" {
		t.Errorf("ns/keep = %q after failed overwrites, want %q", got, "previous")
	}
}

// TestLocalTempNamesAreNotKeys: the temporary file pattern can never be a
// valid key's last segment, so a temporary file is never taken for a blob.
func TestLocalTempNamesAreNotKeys(t *testing.T) {
	dir := t.TempDir()
	f, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	name := filepath.Base(f.Name())
	if err := ValidateKey(name); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("temporary name %q is a valid key", name)
	}
}

func TestLocalPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := filepath.Join(t.TempDir(), "a", "blobs")
	l := Local{Dir: dir}
	mustPut(t, l, "ns/x/y.req", []byte("body"))
	mustPut(t, l, "ns/x/y.req", []byte("overwritten")) // a replaced file too
	mustPut(t, l, "top", nil)
	for p, want := range map[string]fs.FileMode{
		filepath.Dir(dir):                fs.ModeDir | 0o700,
		dir:                              fs.ModeDir | 0o700,
		filepath.Join(dir, "ns"):         fs.ModeDir | 0o700,
		filepath.Join(dir, "ns", "x"):    fs.ModeDir | 0o700,
		filepath.Join(dir, "ns/x/y.req"): 0o600,
		filepath.Join(dir, "top"):        0o600,
	} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode(), want)
		}
	}
}

// TestLocalNoTraversal: a file next to Dir is out of reach of every key, and
// refused keys never touch the filesystem.
func TestLocalNoTraversal(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(root, "secret")
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := Local{Dir: filepath.Join(root, "blobs")}
	ctx := context.Background()
	for _, k := range []string{"../secret", "blobs/../../secret", "/" + secret, "..", "..\\secret"} {
		if rc, err := l.Get(ctx, k); !errors.Is(err, ErrInvalidKey) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := l.Delete(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := l.Put(ctx, k, strings.NewReader("x"), 1); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "outside" {
		t.Errorf("file outside Dir: %q, %v", b, err)
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Dir was created by refused calls: %v", err)
	}
}

// TestLocalKeyPrefixIsNotABlob: the directory a key's prefix makes is neither
// readable as a blob nor removed by Delete.
func TestLocalKeyPrefixIsNotABlob(t *testing.T) {
	l := Local{Dir: t.TempDir()}
	mustPut(t, l, "a/b", []byte("x"))
	wantNotFound(t, l, "a")
	if err := l.Delete(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, l, "a/b"); string(got) != "x" {
		t.Errorf("a/b = %q after Delete(a)", got)
	}
	// A key whose path is taken by a directory cannot be put.
	err := l.Put(context.Background(), "a", bytes.NewReader([]byte("y")), 1)
	if err == nil {
		t.Error("Put over a directory succeeded")
	}
	if err := l.Delete(context.Background(), "a/b"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, l, "a/b")
}

func TestLocalWithoutDir(t *testing.T) {
	var l Local
	ctx := context.Background()
	if err := l.Put(ctx, "k", untouchable{t}, 1); err == nil || err.Error() != "blob: local store has no directory" {
		t.Errorf("Put = %v", err)
	}
	if _, err := l.Get(ctx, "k"); err == nil || err.Error() != "blob: local store has no directory" {
		t.Errorf("Get = %v", err)
	}
	if err := l.Delete(ctx, "k"); err == nil || err.Error() != "blob: local store has no directory" {
		t.Errorf("Delete = %v", err)
	}
}
