package blob

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// backend is a store under test together with a view of what it holds that
// bypasses the Store interface.
type backend struct {
	store Store
	// objects lists everything the backend holds (files, temporary files
	// included, or objects), by the name the backend uses.
	objects func(t *testing.T) []string
	// raw reads one object by the key the caller gave.
	raw func(t *testing.T, key string) ([]byte, bool)
	// touched reports whether any I/O reached the backend since the
	// backend was made (the local directory exists / a request was served).
	touched func() bool
}

// backends are the implementations the shared table runs against; each call
// gives a fresh, empty backend.
var backends = []struct {
	name string
	new  func(t *testing.T) backend
}{
	{"local", newLocalBackend},
	{"s3", func(t *testing.T) backend { return newS3Backend(t, "") }},
	{"s3-prefix", func(t *testing.T) backend { return newS3Backend(t, "bodies") }},
}

func randomBytes(n int, seed uint64) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func mustPut(t *testing.T, s Store, key string, body []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(body), err)
	}
}

func mustGet(t *testing.T, s Store, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): reading: %v", key, err)
	}
	return b
}

func wantNotFound(t *testing.T, s Store, key string) {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err == nil {
		rc.Close()
		t.Fatalf("Get(%q): found, want ErrNotFound", key)
	}
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%q) = %v, want ErrNotFound", key, err)
	}
}

// wantOnly checks that the backend holds exactly the given keys' objects with
// these contents, and nothing else (no temporary or partial object).
func wantOnly(t *testing.T, b backend, want map[string][]byte) {
	t.Helper()
	var keys []string
	for k, body := range want {
		keys = append(keys, k)
		got, ok := b.raw(t, k)
		if !ok {
			t.Errorf("backend has no object for %q", k)
		} else if !bytes.Equal(got, body) {
			t.Errorf("backend object %q: %d bytes, want %d bytes %.20q", k, len(got), len(body), body)
		}
	}
	if objs := b.objects(t); len(objs) != len(want) {
		t.Errorf("backend holds %q, want only the objects for keys %q", objs, keys)
	}
}

// failingReader yields n bytes of data and then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// untouchable fails the test if it is ever read.
type untouchable struct{ t *testing.T }

func (u untouchable) Read([]byte) (int, error) {
	u.t.Error("the body of a refused Put was read")
	return 0, io.EOF
}

// cancelAfter cancels ctx once n bytes have been read, then keeps serving.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 && c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	return n, err
}

var errBoom = errors.New("reader exploded")

var invalidKeys = []string{
	"",
	"/abs",
	"/",
	"..",
	"../outside",
	"a/../../outside",
	"a/..",
	".",
	"./a",
	"a/./b",
	"a/.",
	"a//b",
	"a/",
	"a b",
	"a\\b",
	"..\\outside",
	"a\x00b",
	"a\nb",
	"é",
	"a?b",
	"a%2Fb",
	"a:b",
	"a~",
	"a*",
	strings.Repeat("a", MaxKeyLen+1),
	strings.Repeat("abcdefg/", MaxKeyLen/8) + "x",
}

// longValidKey is MaxKeyLen bytes in segments short enough for any
// filesystem.
var longValidKey = func() string {
	k := strings.Repeat(strings.Repeat("k", 99)+"/", MaxKeyLen/100)
	return k + strings.Repeat("z", MaxKeyLen-len(k))
}()

func TestStore(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"RoundTrip", func(t *testing.T, b backend) {
			bodies := map[string][]byte{
				"empty":                                 {},
				"one":                                   {0},
				"ns/root.tenants.acme/2024/01/02/x.req": randomBytes(1000, 1),
				"big/5MiB_body-1.res":                   randomBytes(5<<20, 2),
				longValidKey:                            []byte("long key"),
			}
			for k, body := range bodies {
				mustPut(t, b.store, k, body)
			}
			for k, body := range bodies {
				if got := mustGet(t, b.store, k); !bytes.Equal(got, body) {
					t.Errorf("Get(%q): %d bytes differing from the %d put", k, len(got), len(body))
				}
			}
			wantOnly(t, b, bodies)
		}},
		{"Overwrite", func(t *testing.T, b backend) {
			mustPut(t, b.store, "k", []byte("the first, longer body"))
			mustPut(t, b.store, "k", []byte("second"))
			if got := mustGet(t, b.store, "k"); string(got) != "second" {
				t.Errorf("Get after overwrite = %q, want %q", got, "second")
			}
			mustPut(t, b.store, "k", nil)
			if got := mustGet(t, b.store, "k"); len(got) != 0 {
				t.Errorf("Get after overwrite with empty = %q, want empty", got)
			}
			wantOnly(t, b, map[string][]byte{"k": {}})
		}},
		{"GetMissing", func(t *testing.T, b backend) {
			wantNotFound(t, b.store, "never/put")
			mustPut(t, b.store, "dir/blob", []byte("x"))
			wantNotFound(t, b.store, "dir")          // a prefix of a key, not a key
			wantNotFound(t, b.store, "dir/blob/sub") // below a blob
			wantNotFound(t, b.store, "dir/other")
			rc, err := b.store.Get(context.Background(), "never/put")
			if rc != nil || err == nil || !strings.Contains(err.Error(), `"never/put"`) {
				t.Errorf("Get(missing) = %v, %v; want nil and an error naming the key", rc, err)
			}
		}},
		{"DeleteIdempotent", func(t *testing.T, b backend) {
			ctx := context.Background()
			mustPut(t, b.store, "a/b", []byte("1"))
			mustPut(t, b.store, "a/c", []byte("2"))
			for i := range 2 {
				if err := b.store.Delete(ctx, "a/b"); err != nil {
					t.Fatalf("Delete #%d: %v", i+1, err)
				}
			}
			wantNotFound(t, b.store, "a/b")
			for _, k := range []string{"never/put", "a", "a/c/d"} {
				if err := b.store.Delete(ctx, k); err != nil {
					t.Errorf("Delete(%q) of a missing key: %v", k, err)
				}
			}
			wantOnly(t, b, map[string][]byte{"a/c": []byte("2")})
		}},
		{"InvalidKeysRefusedWithoutIO", func(t *testing.T, b backend) {
			ctx := context.Background()
			for _, k := range invalidKeys {
				check := func(op string, err error) {
					t.Helper()
					if !errors.Is(err, ErrInvalidKey) {
						t.Errorf("%s(%.40q) = %v, want ErrInvalidKey", op, k, err)
					}
				}
				check("Put", b.store.Put(ctx, k, untouchable{t}, 3))
				rc, err := b.store.Get(ctx, k)
				if rc != nil {
					rc.Close()
					t.Errorf("Get(%.40q) returned a body", k)
				}
				check("Get", err)
				check("Delete", b.store.Delete(ctx, k))
			}
			if b.touched() {
				t.Error("refused keys reached the backend")
			}
		}},
		{"SizeMismatch", func(t *testing.T, b backend) {
			ctx := context.Background()
			mustPut(t, b.store, "k", []byte("old"))
			err := b.store.Put(ctx, "k", strings.NewReader("short"), 10)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Put of a short body = %v, want io.ErrUnexpectedEOF", err)
			}
			err = b.store.Put(ctx, "k", strings.NewReader("longer than said"), 4)
			if !errors.Is(err, errSizeMismatch) {
				t.Errorf("Put of a long body = %v, want errSizeMismatch", err)
			}
			err = b.store.Put(ctx, "k", untouchable{t}, -1)
			if err == nil || !strings.Contains(err.Error(), "negative size -1") {
				t.Errorf("Put with size -1 = %v, want a negative size error", err)
			}
			err = b.store.Put(ctx, "new", strings.NewReader(""), 1)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Put of an empty body with size 1 = %v, want io.ErrUnexpectedEOF", err)
			}
			wantOnly(t, b, map[string][]byte{"k": []byte("old")})
		}},
		{"FailingReaderKeepsOldContent", func(t *testing.T, b backend) {
			mustPut(t, b.store, "k", []byte("old"))
			for _, k := range []string{"k", "fresh"} {
				r := &failingReader{data: randomBytes(3<<20, 3), err: errBoom}
				err := b.store.Put(context.Background(), k, r, 4<<20)
				if !errors.Is(err, errBoom) {
					t.Errorf("Put(%q) with a failing reader = %v, want the reader's error", k, err)
				}
			}
			wantNotFound(t, b.store, "fresh")
			if got := mustGet(t, b.store, "k"); string(got) != "old" {
				t.Errorf("Get after a failed overwrite = %q, want %q", got, "old")
			}
			wantOnly(t, b, map[string][]byte{"k": []byte("old")})
		}},
		{"ContextCancellation", func(t *testing.T, b backend) {
			mustPut(t, b.store, "k", []byte("old"))
			done, cancel := context.WithCancel(context.Background())
			cancel()
			if err := b.store.Put(done, "k", untouchable{t}, 3); !errors.Is(err, context.Canceled) {
				t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
			}
			if _, err := b.store.Get(done, "k"); !errors.Is(err, context.Canceled) {
				t.Errorf("Get with a cancelled context = %v, want context.Canceled", err)
			}
			if err := b.store.Delete(done, "k"); !errors.Is(err, context.Canceled) {
				t.Errorf("Delete with a cancelled context = %v, want context.Canceled", err)
			}

			// Cancelled while the body streams in.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &cancelAfter{r: bytes.NewReader(randomBytes(4<<20, 4)), n: 1 << 20, cancel: cancel}
			if err := b.store.Put(ctx, "k", r, 4<<20); !errors.Is(err, context.Canceled) {
				t.Errorf("Put cancelled mid-body = %v, want context.Canceled", err)
			}

			// Cancelled while the blob streams out.
			mustPut(t, b.store, "big", randomBytes(4<<20, 5))
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			rc, err := b.store.Get(ctx, "big")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
				t.Fatal(err)
			}
			cancel()
			if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
				t.Errorf("reading a blob after its Get's context ended = %v, want context.Canceled", err)
			}

			if got := mustGet(t, b.store, "k"); string(got) != "old" {
				t.Errorf("Get after cancelled calls = %q, want %q", got, "old")
			}
		}},
		{"ConcurrentPutsSameKey", func(t *testing.T, b backend) {
			const n = 8
			bodies := make([][]byte, n)
			var wg sync.WaitGroup
			for i := range n {
				bodies[i] = randomBytes(64<<10+i, uint64(10+i))
				wg.Go(func() {
					if err := b.store.Put(context.Background(), "same", bytes.NewReader(bodies[i]), int64(len(bodies[i]))); err != nil {
						t.Errorf("concurrent Put #%d: %v", i, err)
					}
				})
			}
			wg.Wait()
			got := mustGet(t, b.store, "same")
			if !slices.ContainsFunc(bodies, func(b []byte) bool { return bytes.Equal(b, got) }) {
				t.Errorf("after concurrent Puts Get gave %d bytes matching none of the bodies", len(got))
			}
			if objs := b.objects(t); len(objs) != 1 {
				t.Errorf("backend holds %q, want one object", objs)
			}
		}},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, be.new(t)) })
			}
		})
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range []string{"a", "A.b_c-d", "ns/root.tenants.acme/2024/01/02/0123.req", "...", ".hidden", "a/..b/c..", longValidKey} {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	want := map[string]string{
		"":                                   `blob: invalid key "": empty`,
		"/abs":                               `blob: invalid key "/abs": starts with '/'`,
		"a/../b":                             `blob: invalid key "a/../b": has a ".." segment`,
		"a/./b":                              `blob: invalid key "a/./b": has a "." segment`,
		"a//b":                               `blob: invalid key "a//b": has an empty segment`,
		"a/":                                 `blob: invalid key "a/": has an empty segment`,
		"a b":                                `blob: invalid key "a b": byte 1 is ' '; only [A-Za-z0-9._/-] are allowed`,
		"\xff":                               `blob: invalid key "\xff": byte 0 is 'ÿ'; only [A-Za-z0-9._/-] are allowed`,
		strings.Repeat("x", MaxKeyLen+1):     fmt.Sprintf(`blob: invalid key %q: 513 bytes long, more than 512`, strings.Repeat("x", 64)+"…"),
		strings.Repeat("x", MaxKeyLen) + " ": fmt.Sprintf(`blob: invalid key %q: 513 bytes long, more than 512`, strings.Repeat("x", 64)+"…"),
	}
	for k, msg := range want {
		err := ValidateKey(k)
		if !errors.Is(err, ErrInvalidKey) || err.Error() != msg {
			t.Errorf("ValidateKey(%.40q) = %v, want %s", k, err, msg)
		}
	}
	for _, k := range invalidKeys {
		if err := ValidateKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%.40q) = %v, want ErrInvalidKey", k, err)
		}
	}
}
