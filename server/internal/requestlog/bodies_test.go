package requestlog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authproxy/authproxy/server/internal/blob"
	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// staticSealer seals with one key version (the encrypt package's real envelope code).
type staticSealer struct{ kv encrypt.KeyVersion }

func newStaticSealer(t *testing.T) *staticSealer {
	t.Helper()
	kv, err := encrypt.GenerateKeyVersion(encrypt.NewKeyVersionID())
	if err != nil {
		t.Fatal(err)
	}
	return &staticSealer{kv: kv}
}

func (s *staticSealer) Seal(_ context.Context, _ string, col encrypt.Column, rowID string, plaintext []byte) (string, error) {
	return encrypt.Seal(s.kv, plaintext, col.AAD(rowID))
}

func (s *staticSealer) Open(ctx context.Context, col encrypt.Column, rowID, env string) ([]byte, error) {
	return encrypt.Open(ctx, encrypt.StaticKeys(s.kv), env, col.AAD(rowID))
}

func TestRedactHeaders(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer tok"}, "Cookie": {"a=b"}, "Set-Cookie": {"s=1"},
		"Proxy-Authorization": {"Basic x"}, "X-Api-Key": {"k1", "k2"}, "Accept": {"application/json"}}
	out := RedactHeaders(h, "x-api-key")
	for _, k := range []string{"Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization", "X-Api-Key"} {
		for _, v := range out[k] {
			if v != Redacted {
				t.Errorf("%s = %q, want %s", k, v, Redacted)
			}
		}
	}
	if len(out["X-Api-Key"]) != 2 || out.Get("Accept") != "application/json" {
		t.Errorf("out = %v", out)
	}
	if h.Get("Authorization") != "Bearer tok" {
		t.Error("RedactHeaders changed its input")
	}
}

func TestRedactJSON(t *testing.T) {
	in := `{"user":{"name":"ann","Password":"p1","tokens":[{"token":"t1","n":1.50},{"token":{"deep":true}}]},"token":null,"list":[1,2]}`
	out, err := RedactJSON([]byte(in), []string{"password", "token"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"list":[1,2],"token":"REDACTED","user":{"Password":"REDACTED","name":"ann","tokens":[{"n":1.50,"token":"REDACTED"},{"token":"REDACTED"}]}}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	for _, bad := range []string{`{"token":`, `not json`, `{"a":1} {"b":2}`, ``} {
		if _, err := RedactJSON([]byte(bad), []string{"token"}); err == nil {
			t.Errorf("RedactJSON(%q) accepted", bad)
		}
	}
}

func TestBodiesRedact(t *testing.T) {
	t.Run("truncated JSON is not stored", func(t *testing.T) {
		b := &Bodies{Request: Message{Body: []byte(`{"token":"abc","x":`), Truncated: true, Size: 100}, RedactJSONFields: []string{"token"}}
		b.redact()
		if b.Request.Body != nil || b.Request.Omitted != OmitTruncated {
			t.Errorf("request = %+v", b.Request)
		}
	})
	t.Run("non-JSON is not stored when fields must be redacted", func(t *testing.T) {
		b := &Bodies{Response: Message{Body: []byte("token=abc"), Size: 9}, RedactJSONFields: []string{"token"}}
		b.redact()
		if b.Response.Body != nil || b.Response.Omitted != OmitNotJSON {
			t.Errorf("response = %+v", b.Response)
		}
	})
	t.Run("no fields: any body kept as is", func(t *testing.T) {
		bin := []byte{0xff, 0x00, 0xfe}
		b := &Bodies{Response: Message{Body: bin, Size: 3}}
		b.redact()
		if !bytes.Equal(b.Response.Body, bin) || b.Response.Omitted != "" {
			t.Errorf("response = %+v", b.Response)
		}
	})
	t.Run("secrets are scrubbed from headers and bodies, also cut at the limit", func(t *testing.T) {
		secret := "sk_live_0123456789"
		b := &Bodies{
			Request:  Message{Header: http.Header{"X-Echo": {"key " + secret}}, Body: []byte(`{"k":"` + secret + `"}`)},
			Response: Message{Body: []byte("echo: " + secret[:10]), Truncated: true, Size: 100},
			Secrets:  []string{secret},
		}
		b.redact()
		for _, s := range []string{b.Request.Header.Get("X-Echo"), string(b.Request.Body), string(b.Response.Body)} {
			if strings.Contains(s, secret[:MinScrubbedSecret]) {
				t.Errorf("secret left in %q", s)
			}
		}
		if string(b.Response.Body) != "echo: "+Redacted {
			t.Errorf("response body = %q", b.Response.Body)
		}
	})
}

func TestEncryptBodiesRoundTrip(t *testing.T) {
	b := &Bodies{Request: Message{Header: http.Header{"A": {"1"}}, Body: []byte("hello"), Size: 5},
		Response: Message{Header: http.Header{}, Body: []byte{0, 1, 2}, Size: 9, Truncated: true}}
	data, key, err := encryptBodies("rlg_1", b)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("hello")) {
		t.Fatal("blob holds the plaintext")
	}
	got, err := decryptBodies("rlg_1", data, key)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Request.Body) != "hello" || got.Response.Size != 9 || !got.Response.Truncated || got.Request.Header.Get("A") != "1" {
		t.Errorf("got %+v", got)
	}
	if _, err := decryptBodies("rlg_2", data, key); !errors.Is(err, errNotAuthentic) {
		t.Errorf("blob of another entry opened: %v", err)
	}
	other := make([]byte, 32)
	if _, err := decryptBodies("rlg_1", data, other); !errors.Is(err, errNotAuthentic) {
		t.Errorf("blob opened with another key: %v", err)
	}
}

// failingStore is a blob store whose Put fails (fault injection).
type failingStore struct{ blob.Store }

func (failingStore) Put(context.Context, string, io.Reader, int64) error {
	return errors.New("injected: blob store down")
}

func TestWriterStoresBodies(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	dir := t.TempDir()
	keys := newStaticSealer(t)
	w := NewWriter(db, Options{Blobs: blob.Local{Dir: dir}, Keys: keys})
	e := Entry{Namespace: "root", ConnectionID: "con_1", ConnectorID: "cnr_1", ConnectorVersion: 1, Method: "POST",
		URL: "https://x.test/a", Status: 200, Labels: map[string]string{},
		Bodies: &Bodies{Request: Message{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"password":"hunter22","a":1}`), Size: 29},
			Response: Message{Header: http.Header{}, Body: []byte(`{"ok":true}`), Size: 11}, RedactJSONFields: []string{"password"},
			Secrets: []string{"sk_secret_api_key"}}}
	w.Record(e)
	w.Record(Entry{Namespace: "root", ConnectionID: "con_1", ConnectorID: "cnr_1", ConnectorVersion: 1, Method: "GET", URL: "https://x.test/b"})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	svc := &Service{DB: db, Blobs: blob.Local{Dir: dir}, Keys: keys}
	list, _, err := svc.List(ctx, listAll(), Filter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %v, %v", list, err)
	}
	var recorded, plain *Entry
	for i := range list {
		if list[i].BodiesRecorded {
			recorded = &list[i]
		} else {
			plain = &list[i]
		}
	}
	if recorded == nil || plain == nil || recorded.Kind != KindProxy {
		t.Fatalf("entries = %+v", list)
	}
	got, err := svc.Bodies(ctx, recorded.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Request.Body) != `{"a":1,"password":"REDACTED"}` || string(got.Response.Body) != `{"ok":true}` {
		t.Errorf("bodies = %s / %s", got.Request.Body, got.Response.Body)
	}
	// The blob is where the structured key says, and holds no plaintext.
	raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(BlobKey("root", recorded.Time, recorded.ID))))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("hunter22")) || bytes.Contains(raw, []byte(`"ok"`)) {
		t.Error("blob holds plaintext")
	}
	_, err = svc.Bodies(ctx, plain.ID)
	if p := problem.As(err); p.Status != http.StatusNotFound || !strings.Contains(p.Detail, "no recorded bodies") {
		t.Errorf("bodies of an entry without = %v", err)
	}
	if st := w.Stats(); st.BodiesFailed != 0 || st.Flushed != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestWriterBlobFailureStillWritesEntry(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	w := NewWriter(db, Options{Blobs: failingStore{}, Keys: newStaticSealer(t)})
	w.Record(Entry{Namespace: "root", ConnectionID: "con_1", ConnectorID: "cnr_1", ConnectorVersion: 1, Method: "GET",
		URL: "https://x.test/", Status: 500, Bodies: &Bodies{Response: Message{Body: []byte("boom"), Size: 4}}})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.BodiesFailed != 1 || st.Flushed != 1 {
		t.Errorf("stats = %+v", st)
	}
	svc := &Service{DB: db, Blobs: failingStore{}, Keys: newStaticSealer(t)}
	list, _, err := svc.List(ctx, listAll(), Filter{})
	if err != nil || len(list) != 1 || list[0].BodiesRecorded {
		t.Fatalf("list = %+v, %v", list, err)
	}
	var n int64
	db.Table("request_logs").Where("bodies_key IS NOT NULL OR bodies_blob IS NOT NULL").Count(&n)
	if n != 0 {
		t.Errorf("%d rows have bodies columns set", n)
	}
}

func TestWriterBoundsPendingBodies(t *testing.T) {
	db := testDB(t)
	w := NewWriter(db, Options{Blobs: blob.Local{Dir: t.TempDir()}, Keys: newStaticSealer(t), MaxPendingBodyBytes: 10})
	big := &Bodies{Response: Message{Body: make([]byte, 8), Size: 8}}
	w.Record(Entry{Namespace: "root", Bodies: big})
	w.Record(Entry{Namespace: "root", Bodies: &Bodies{Response: Message{Body: make([]byte, 8), Size: 8}}})
	if st := w.Stats(); st.BodiesFailed != 1 || st.Recorded != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestKindFilter(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	w := NewWriter(db, Options{})
	for _, k := range []string{"", KindProbe, KindToken, KindToken} {
		w.Record(Entry{Namespace: "root", Kind: k, Time: time.Now()})
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	svc := &Service{DB: db}
	for kind, want := range map[string]int{KindProxy: 1, KindProbe: 1, KindToken: 2, "": 4} {
		list, _, err := svc.List(ctx, listAll(), Filter{Kind: kind})
		if err != nil || len(list) != want {
			t.Errorf("kind %q: %d entries (%v), want %d", kind, len(list), err, want)
		}
		for _, e := range list {
			if kind != "" && e.Kind != kind {
				t.Errorf("kind %q listed %q", kind, e.Kind)
			}
		}
	}
}

func listAll() store.ListOptions { return store.ListOptions{Scope: store.Scope{All: true}} }
