package blob

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const (
	testBucket    = "authproxy-bodies"
	testAccessKey = "AKIDAUTHPROXYBLOBTEST"
	testSecretKey = "blob-test-secret-access-key"
	testRegion    = "eu-west-1"
)

// fakeS3 is gofakes3 with an in-memory backend, served on loopback, with a
// record of the requests it saw.
type fakeS3 struct {
	backend *s3mem.Backend
	server  *httptest.Server

	mu       sync.Mutex
	requests []*http.Request
}

func newFakeS3(t *testing.T, buckets ...string) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New()}
	for _, b := range buckets {
		if err := f.backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	handler := gofakes3.New(f.backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	f.server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Clone(context.Background()))
		f.mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	f.server.Config.ErrorLog = log.New(io.Discard, "", 0) // gofakes3's superfluous WriteHeader calls
	f.server.Start()
	t.Cleanup(f.server.Close)
	if !strings.HasPrefix(f.server.URL, "http://127.0.0.1:") {
		t.Fatalf("fake S3 is not on loopback: %s", f.server.URL)
	}
	return f
}

func (f *fakeS3) seen() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// isolateAWSEnv keeps the developer's and the CI's AWS configuration out of
// the test: no shared config or credentials files, no region, no instance
// metadata.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
	} {
		t.Setenv(k, v)
	}
}

func (f *fakeS3) config(prefix string) Config {
	return Config{
		Driver:          "s3",
		Bucket:          testBucket,
		Prefix:          prefix,
		Region:          testRegion,
		Endpoint:        f.server.URL,
		PathStyle:       true,
		AccessKeyID:     testAccessKey,
		SecretAccessKey: testSecretKey,
	}
}

func newS3Backend(t *testing.T, prefix string) backend {
	isolateAWSEnv(t)
	f := newFakeS3(t, testBucket)
	st, err := Open(f.config(prefix))
	if err != nil {
		t.Fatal(err)
	}
	objectName := func(key string) string {
		if prefix == "" {
			return key
		}
		return prefix + "/" + key
	}
	return backend{
		store: st,
		objects: func(t *testing.T) []string {
			list, err := f.backend.ListBucket(testBucket, nil, gofakes3.ListBucketPage{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range list.Contents {
				if !strings.HasPrefix(c.Key, objectName("")) {
					t.Errorf("object %q is outside the prefix %q", c.Key, prefix)
				}
				names = append(names, c.Key)
			}
			return names
		},
		raw: func(t *testing.T, key string) ([]byte, bool) {
			obj, err := f.backend.GetObject(testBucket, objectName(key), nil)
			if gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey) {
				return nil, false
			}
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Contents.Close()
			b, err := io.ReadAll(obj.Contents)
			if err != nil {
				t.Fatal(err)
			}
			return b, true
		},
		touched: func() bool { return len(f.seen()) > 0 },
	}
}

// TestS3Requests checks what goes over the wire: path-style URLs under the
// prefix, SigV4 with the static credentials and the configured region, the
// exact Content-Length and the body sent as is (no aws-chunked framing).
func TestS3Requests(t *testing.T) {
	isolateAWSEnv(t)
	f := newFakeS3(t, testBucket)
	st, err := Open(f.config("bodies/"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustPut(t, st, "ns/k.req", []byte("hello"))
	mustGet(t, st, "ns/k.req")
	if err := st.Delete(ctx, "ns/k.req"); err != nil {
		t.Fatal(err)
	}
	reqs := f.seen()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (PutObject, GetObject, DeleteObject)", len(reqs))
	}
	wantMethods := []string{http.MethodPut, http.MethodGet, http.MethodDelete}
	credential := regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=` + testAccessKey + `/\d{8}/` + testRegion + `/s3/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$`)
	for i, r := range reqs {
		if r.Method != wantMethods[i] || r.URL.Path != "/"+testBucket+"/bodies/ns/k.req" {
			t.Errorf("request %d: %s %s, want %s /%s/bodies/ns/k.req", i, r.Method, r.URL.Path, wantMethods[i], testBucket)
		}
		if auth := r.Header.Get("Authorization"); !credential.MatchString(auth) {
			t.Errorf("request %d: Authorization %q is not SigV4 with the static credentials and region %s", i, auth, testRegion)
		}
		if strings.Contains(r.Header.Get("Authorization"), testSecretKey) {
			t.Errorf("request %d carries the secret key", i)
		}
	}
	put := reqs[0]
	if put.ContentLength != 5 || put.Header.Get("Content-Encoding") != "" || put.Header.Get("X-Amz-Decoded-Content-Length") != "" {
		t.Errorf("PutObject: Content-Length %d, Content-Encoding %q; want 5 and a plain body", put.ContentLength, put.Header.Get("Content-Encoding"))
	}
}

// TestS3PrefixForms: "bodies" and "bodies/" name the same place; no prefix
// stores the key as it is.
func TestS3PrefixForms(t *testing.T) {
	isolateAWSEnv(t)
	f := newFakeS3(t, testBucket)
	for prefix, object := range map[string]string{"": "k", "bodies": "bodies/k", "bodies/": "bodies/k", "a/b": "a/b/k"} {
		st, err := Open(f.config(prefix))
		if err != nil {
			t.Fatal(err)
		}
		mustPut(t, st, "k", []byte(prefix))
		obj, err := f.backend.GetObject(testBucket, object, nil)
		if err != nil {
			t.Errorf("prefix %q: no object %q: %v", prefix, object, err)
			continue
		}
		b, _ := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		if string(b) != prefix {
			t.Errorf("prefix %q: object %q holds %q", prefix, object, b)
		}
	}
}

// TestS3MissingBucket: every operation on a bucket that does not exist fails
// with a message naming it, and Get's error is not ErrNotFound.
func TestS3MissingBucket(t *testing.T) {
	isolateAWSEnv(t)
	f := newFakeS3(t) // no bucket at all
	st, err := Open(f.config(""))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := `s3 bucket "` + testBucket + `" does not exist`
	checks := map[string]error{
		"put":    st.Put(ctx, "k", strings.NewReader("x"), 1),
		"delete": st.Delete(ctx, "k"),
	}
	rc, err := st.Get(ctx, "k")
	if rc != nil {
		rc.Close()
	}
	checks["get"] = err
	if errors.Is(err, ErrNotFound) {
		t.Errorf("Get on a missing bucket = %v; it must not be ErrNotFound", err)
	}
	for op, err := range checks {
		if err == nil || !strings.HasPrefix(err.Error(), `blob: `+op+` "k": `+want) {
			t.Errorf("%s on a missing bucket = %v, want it to start with %q", op, err, `blob: `+op+` "k": `+want)
		}
		if err != nil && strings.Contains(err.Error(), testSecretKey) {
			t.Errorf("%s error carries the secret key: %v", op, err)
		}
	}
}

// TestS3DefaultCredentialChain: without static credentials the default chain
// supplies them (here from the environment).
func TestS3DefaultCredentialChain(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_REGION", "ap-south-1")
	f := newFakeS3(t, testBucket)
	cfg := f.config("")
	cfg.AccessKeyID, cfg.SecretAccessKey, cfg.Region = "", "", ""
	st, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, st, "k", []byte("v"))
	auth := f.seen()[0].Header.Get("Authorization")
	if !strings.Contains(auth, "Credential=AKIDFROMENVIRONMENT/") || !strings.Contains(auth, "/ap-south-1/s3/") {
		t.Errorf("Authorization %q does not use the environment's credentials and region", auth)
	}
}

// TestS3UnseekableBody: a body that is only an io.Reader streams over plain
// HTTP (no TLS, no trailing checksum needed).
func TestS3UnseekableBody(t *testing.T) {
	b := newS3Backend(t, "")
	body := randomBytes(1<<20, 7)
	r := io.MultiReader(&failingReader{data: body[:1000], err: io.EOF}, &failingReader{data: body[1000:], err: io.EOF})
	if err := b.store.Put(context.Background(), "k", r, int64(len(body))); err != nil {
		t.Fatal(err)
	}
	wantOnly(t, b, map[string][]byte{"k": body})
}
