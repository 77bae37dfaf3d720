package keys_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/authproxy/authproxy/server/internal/encrypt"
	"github.com/authproxy/authproxy/server/internal/keys"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
	"github.com/authproxy/authproxy/server/testserver"
)

// secrets is a test-only encrypted column; each test database creates its table.
var secrets = encrypt.Register(encrypt.Column{Table: "keys_test_secrets", Column: "secret", IDColumn: "id", NamespaceColumn: "namespace"})

type env struct {
	ctx  context.Context
	db   *gorm.DB
	ns   *namespace.Service
	keys *keys.Service
	root []byte // raw root key material
}

type backend struct {
	name string
	dsn  func(t testing.TB) store.Config
}

func backends() []backend {
	out := []backend{{"sqlite", func(t testing.TB) store.Config {
		return store.Config{Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "keys.db")}
	}}}
	if dsn := os.Getenv(testserver.EnvPostgresDSN); dsn != "" {
		out = append(out, backend{"postgres", func(t testing.TB) store.Config {
			return store.Config{Driver: store.Postgres, DSN: testserver.FreshPostgres(t, dsn)}
		}})
	}
	return out
}

// each runs f on a fresh database of every backend (see [open]).
func each(t *testing.T, f func(t *testing.T, e *env)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, open(t, b)) })
	}
}

// open returns a fresh migrated database of backend b with the test table and the
// namespaces root, root.t1, root.t1.sub, root.t1.sub.deep and root.t2.
func open(t testing.TB, b backend) *env {
	ctx := context.Background()
	db, err := store.Open(ctx, b.dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})
	if _, err := store.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("CREATE TABLE keys_test_secrets (id TEXT PRIMARY KEY, namespace TEXT NOT NULL, secret TEXT)").Error; err != nil {
		t.Fatal(err)
	}
	nss := &namespace.Service{DB: db, Dependents: []namespace.Dependent{keys.Dependent, keys.AssignmentDependent}}
	if err := nss.EnsureRoot(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"root.t1", "root.t1.sub", "root.t1.sub.deep", "root.t2"} {
		if _, err := nss.Create(ctx, namespace.Namespace{Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	raw := randomKey(t)
	root, err := keys.LoadRootKey(ctx, encrypt.FileSource{Path: keyFile(t, raw)})
	if err != nil {
		t.Fatal(err)
	}
	return &env{ctx: ctx, db: db, ns: nss, keys: keys.New(db, root), root: raw}
}

func randomKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, encrypt.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func keyFile(t testing.TB, key []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantProblem fails unless err is a problem with this status whose text contains msg.
func wantProblem(t testing.TB, err error, status int, msg string) {
	t.Helper()
	p := problem.As(err)
	if p == nil || p.Status != status {
		t.Fatalf("want problem %d %q, got %T %v", status, msg, err, err)
	}
	if !strings.Contains(p.Error(), msg) {
		t.Fatalf("want message containing %q, got %q", msg, p.Error())
	}
}

func (e *env) create(t testing.TB, ns, name, kind string, params map[string]string, material []byte) *keys.Key {
	t.Helper()
	k, err := e.keys.Create(e.ctx, keys.Key{Namespace: ns, Name: name, SourceKind: kind, SourceParams: params}, material)
	if err != nil {
		t.Fatalf("create %s key %s: %v", kind, name, err)
	}
	return k
}

// put seals plaintext for row id in ns and stores it.
func (e *env) put(t *testing.T, id, ns, plaintext string) string {
	t.Helper()
	v, err := e.keys.Seal(e.ctx, ns, secrets, id, []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Exec("DELETE FROM keys_test_secrets WHERE id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	if err := e.db.Exec("INSERT INTO keys_test_secrets (id, namespace, secret) VALUES (?, ?, ?)", id, ns, v).Error; err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *env) get(t *testing.T, id string) string {
	t.Helper()
	var v string
	if err := e.db.Raw("SELECT secret FROM keys_test_secrets WHERE id = ?", id).Scan(&v).Error; err != nil {
		t.Fatal(err)
	}
	got, err := e.keys.Open(e.ctx, secrets, id, v)
	if err != nil {
		t.Fatalf("open %s: %v", id, err)
	}
	return string(got)
}

func kvOf(t *testing.T, envelope string) string {
	t.Helper()
	id, err := encrypt.KeyIDOf(envelope)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCreate(t *testing.T) {
	envKey := randomKey(t)
	t.Setenv("KEYS_TEST_ENV_KEY", base64.StdEncoding.EncodeToString(envKey))
	fileKey := randomKey(t)
	filePath := keyFile(t, fileKey)
	open := filepath.Join(t.TempDir(), "open")
	if err := os.WriteFile(open, []byte(hex.EncodeToString(fileKey)), 0o644); err != nil {
		t.Fatal(err)
	}
	inline := randomKey(t)

	type tc struct {
		name     string
		key      keys.Key
		material []byte
		status   int    // 0: success
		msg      string // in the error
	}
	cases := []tc{
		{name: "generated", key: keys.Key{Namespace: "root.t1", Name: "gen", SourceKind: "generated", Labels: map[string]string{"tier": "gold"}}},
		{name: "inline", key: keys.Key{Namespace: "root.t1", Name: "inl", SourceKind: "inline"}, material: inline},
		{name: "env", key: keys.Key{Namespace: "root.t1", Name: "env", SourceKind: "env", SourceParams: map[string]string{"var": "KEYS_TEST_ENV_KEY"}}},
		{name: "file", key: keys.Key{Namespace: "root", Name: "file", SourceKind: "file", SourceParams: map[string]string{"path": filePath}}},
		{name: "unknown kind", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "vault"}, status: 400, msg: `unknown source kind "vault"`},
		{name: "missing env param", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "env"}, status: 400, msg: `needs the parameter "var"`},
		{name: "missing file param", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "file", SourceParams: map[string]string{}}, status: 400, msg: `needs the parameter "path"`},
		{name: "unknown param", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "file", SourceParams: map[string]string{"path": filePath, "mode": "x"}}, status: 400, msg: `has no parameter "mode"`},
		{name: "params on generated", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "generated", SourceParams: map[string]string{"a": "b"}}, status: 400, msg: "takes no source parameters"},
		{name: "inline too short", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "inline"}, material: inline[:31], status: 400, msg: "exactly 32 bytes, got 31"},
		{name: "inline missing", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "inline"}, status: 400, msg: "exactly 32 bytes, got 0"},
		{name: "material on generated", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "generated"}, material: inline, status: 400, msg: "only inline keys take key material"},
		{name: "env var unset", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "env", SourceParams: map[string]string{"var": "KEYS_TEST_NOT_SET"}}, status: 400, msg: "env var KEYS_TEST_NOT_SET is not set"},
		{name: "file readable by others", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "file", SourceParams: map[string]string{"path": open}}, status: 400, msg: "group or others may access it"},
		{name: "bad name", key: keys.Key{Namespace: "root.t1", Name: "-bad", SourceKind: "generated"}, status: 400, msg: `name "-bad" must be`},
		{name: "empty name", key: keys.Key{Namespace: "root.t1", Name: "", SourceKind: "generated"}, status: 400, msg: `name "" must be`},
		{name: "long name", key: keys.Key{Namespace: "root.t1", Name: strings.Repeat("a", 64), SourceKind: "generated"}, status: 400, msg: "must be 1-63"},
		{name: "bad label", key: keys.Key{Namespace: "root.t1", Name: "x", SourceKind: "generated", Labels: map[string]string{"-": "v"}}, status: 400, msg: "labels"},
		{name: "namespace missing", key: keys.Key{Namespace: "root.nope", Name: "x", SourceKind: "generated"}, status: 400, msg: `namespace "root.nope" does not exist`},
		{name: "namespace invalid", key: keys.Key{Namespace: "Root", Name: "x", SourceKind: "generated"}, status: 400, msg: `namespace path "Root"`},
		{name: "duplicate name", key: keys.Key{Namespace: "root.t1", Name: "gen", SourceKind: "generated"}, status: 409, msg: `a key named "gen" already exists in namespace "root.t1"`},
	}
	each(t, func(t *testing.T, e *env) {
		for _, c := range cases {
			k, err := e.keys.Create(e.ctx, c.key, c.material)
			if c.status != 0 {
				wantProblem(t, err, c.status, c.msg)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !strings.HasPrefix(k.ID, "key_") || k.Name != c.key.Name || k.SourceKind != c.key.SourceKind || k.CurrentVersion != 1 || k.State != keys.StateActive {
				t.Fatalf("%s: got %+v", c.name, k)
			}
			vs, err := e.keys.Versions(e.ctx, k.ID)
			if err != nil || len(vs) != 1 || vs[0].Number != 1 || vs[0].State != keys.VersionCurrent || !strings.HasPrefix(vs[0].ID, "kv_") {
				t.Fatalf("%s: versions %+v %v", c.name, vs, err)
			}
			switch c.key.SourceKind {
			case "env":
				if vs[0].SourceVersion != encrypt.Fingerprint(envKey) {
					t.Fatalf("env source version %q", vs[0].SourceVersion)
				}
			case "file":
				if vs[0].SourceVersion != encrypt.Fingerprint(fileKey) {
					t.Fatalf("file source version %q", vs[0].SourceVersion)
				}
			}
			// Every created key's version opens what it sealed.
			kv, err := e.keys.KeyVersion(e.ctx, vs[0].ID)
			if err != nil {
				t.Fatalf("%s: key version: %v", c.name, err)
			}
			want := map[string][]byte{"inline": inline, "env": envKey, "file": fileKey}[c.key.SourceKind]
			if want != nil && !bytes.Equal(kv.Material, want) {
				t.Fatalf("%s: material differs from its source", c.name)
			}
		}
		// Get, List, Update.
		list, next, err := e.keys.List(e.ctx, store.ListOptions{Namespace: "root.t1", Scope: store.Scope{All: true}})
		if err != nil || next != "" || len(list) != 3 {
			t.Fatalf("list root.t1: %d %q %v", len(list), next, err)
		}
		page, next, err := e.keys.List(e.ctx, store.ListOptions{Scope: store.Scope{All: true}, Page: store.Page{Limit: 2}})
		if err != nil || len(page) != 2 || next == "" {
			t.Fatalf("page 1: %d %q %v", len(page), next, err)
		}
		page2, next2, err := e.keys.List(e.ctx, store.ListOptions{Scope: store.Scope{All: true}, Page: store.Page{Limit: 2, Cursor: next}})
		if err != nil || len(page2) != 2 || next2 != "" || page2[0].ID <= page[1].ID {
			t.Fatalf("page 2: %d %q %v", len(page2), next2, err)
		}
		var gen *keys.Key
		for i := range list {
			if list[i].Name == "gen" {
				gen = &list[i]
			}
		}
		if gen == nil || gen.Labels["tier"] != "gold" {
			t.Fatalf("gen key labels: %+v", gen)
		}
		lbls := map[string]string{"tier": "silver"}
		ann := map[string]string{"owner": "ops"}
		up, err := e.keys.Update(e.ctx, gen.ID, &lbls, &ann)
		if err != nil || up.Labels["tier"] != "silver" || up.Annotations["owner"] != "ops" {
			t.Fatalf("update: %+v %v", up, err)
		}
		if _, err := e.keys.Update(e.ctx, "key_missing", &lbls, nil); err == nil {
			t.Fatal("update of a missing key succeeded")
		} else {
			wantProblem(t, err, http.StatusNotFound, "key not found")
		}
		if _, err := e.keys.Get(e.ctx, "key_missing"); err == nil {
			t.Fatal("get of a missing key succeeded")
		}
	})
}

func TestRotateAndRetire(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		k := e.create(t, "root.t1", "tenant", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
			t.Fatal(err)
		}
		old := e.put(t, "s1", "root.t1", "first")
		v1 := kvOf(t, old)
		v2, err := e.keys.Rotate(e.ctx, k.ID, nil)
		if err != nil || v2.Number != 2 || v2.State != keys.VersionCurrent {
			t.Fatalf("rotate: %+v %v", v2, err)
		}
		newer := e.put(t, "s2", "root.t1", "second")
		if kvOf(t, newer) != v2.ID || v1 == v2.ID {
			t.Fatalf("new value sealed with %s, want %s", kvOf(t, newer), v2.ID)
		}
		if e.get(t, "s1") != "first" || e.get(t, "s2") != "second" {
			t.Fatal("values do not open after rotation")
		}
		vs, err := e.keys.Versions(e.ctx, k.ID)
		if err != nil || len(vs) != 2 || vs[0].State != keys.VersionCurrent || vs[1].State != keys.VersionPrevious || vs[1].ID != v1 {
			t.Fatalf("versions %+v %v", vs, err)
		}
		if got, _ := e.keys.Get(e.ctx, k.ID); got.CurrentVersion != 2 {
			t.Fatalf("current version %d", got.CurrentVersion)
		}
		// The schema allows one current version per key.
		err = e.db.Exec("INSERT INTO encryption_key_versions (id, key_id, number, state, created_at) VALUES ('kv_second_current', ?, 3, 'current', CURRENT_TIMESTAMP)", k.ID).Error
		if !store.IsUniqueViolation(err) {
			t.Fatalf("second current version: %v", err)
		}

		type tc struct {
			name   string
			number int
			debt   keys.DebtFunc
			status int
			msg    string
		}
		for _, c := range []tc{
			{"current", 2, nil, 409, "is the current version"},
			{"debt counted", 1, nil, 409, "still seals 1 stored value(s)"},
			{"debt given", 1, func(string) (int64, error) { return 7, nil }, 409, "still seals 7 stored value(s)"},
			{"missing", 9, nil, 404, "has no version 9"},
		} {
			_, err := e.keys.RetireVersion(e.ctx, k.ID, c.number, c.debt)
			wantProblem(t, err, c.status, c.msg)
		}
		if _, err := e.keys.RetireVersion(e.ctx, k.ID, 1, func(string) (int64, error) { return 0, errors.New("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("debt error not returned: %v", err)
		}
		// Re-encrypt s1 (what the worker will do) and the old version can go.
		e.put(t, "s1", "root.t1", "first")
		if n, err := e.keys.VersionDebt(e.ctx, v1); err != nil || n != 0 {
			t.Fatalf("debt of v1 after re-encryption: %d %v", n, err)
		}
		r, err := e.keys.RetireVersion(e.ctx, k.ID, 1, nil)
		if err != nil || r.State != keys.VersionRetired {
			t.Fatalf("retire: %+v %v", r, err)
		}
		if _, err := e.keys.Open(e.ctx, secrets, "s1", old); !errors.Is(err, encrypt.ErrUnknownKey) {
			t.Fatalf("a value of a retired version opened: %v", err)
		}

		// Inline keys need new material; external keys rotate at their source.
		inl := e.create(t, "root.t1", "inl", "inline", nil, randomKey(t))
		_, err = e.keys.Rotate(e.ctx, inl.ID, nil)
		wantProblem(t, err, 400, "needs new material of exactly 32 bytes, got 0")
		_, err = e.keys.Rotate(e.ctx, k.ID, randomKey(t))
		wantProblem(t, err, 400, "generated key takes no key material")
		if v, err := e.keys.Rotate(e.ctx, inl.ID, randomKey(t)); err != nil || v.Number != 2 {
			t.Fatalf("rotate inline: %+v %v", v, err)
		}
		path := keyFile(t, randomKey(t))
		ext := e.create(t, "root.t1", "ext", "file", map[string]string{"path": path}, nil)
		_, err = e.keys.Rotate(e.ctx, ext.ID, nil)
		wantProblem(t, err, 409, "rotates at its source; the periodic sync picks up new versions")
		_, err = e.keys.Rotate(e.ctx, "key_missing", nil)
		wantProblem(t, err, 404, "key not found")
	})
}

func TestAssignment(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		t1 := e.create(t, "root.t1", "t1", "generated", nil, nil)
		sub := e.create(t, "root.t1.sub", "sub", "generated", nil, nil)
		t2 := e.create(t, "root.t2", "t2", "generated", nil, nil)
		rootKey := e.create(t, "root", "global", "generated", nil, nil)

		effective := func(ns string) string {
			t.Helper()
			id, ok, err := e.keys.EffectiveKey(e.ctx, ns)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return "root-key"
			}
			return id
		}
		for _, ns := range []string{"root", "root.t1", "root.t1.sub.deep", "root.t2"} {
			if got := effective(ns); got != "root-key" {
				t.Fatalf("%s uses %s before any assignment", ns, got)
			}
		}
		type tc struct {
			ns, key string
			status  int
			msg     string
		}
		for _, c := range []tc{
			{"root.t1", t1.ID, 0, ""},
			{"root.t1.sub.deep", sub.ID, 0, ""},
			{"root.t1.sub", rootKey.ID, 0, ""}, // a key from an ancestor
			{"root.t1", t2.ID, 400, "neither \"root.t1\" nor one of its ancestors"},
			{"root.t1", sub.ID, 400, "neither \"root.t1\" nor one of its ancestors"},
			{"root.nope", rootKey.ID, 404, `namespace "root.nope" not found`},
			{"root.t1", "key_missing", 404, "key not found"},
		} {
			err := e.keys.Assign(e.ctx, c.ns, c.key)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("assign %s to %s: %v", c.key, c.ns, err)
				}
				continue
			}
			wantProblem(t, err, c.status, c.msg)
		}
		want := map[string]string{"root": "root-key", "root.t1": t1.ID, "root.t1.sub": rootKey.ID, "root.t1.sub.deep": sub.ID, "root.t2": "root-key"}
		for ns, k := range want {
			if got := effective(ns); got != k {
				t.Fatalf("%s uses %s, want %s", ns, got, k)
			}
		}
		if id, ok, err := e.keys.Assigned(e.ctx, "root.t1"); err != nil || !ok || id != t1.ID {
			t.Fatalf("assigned root.t1: %s %v %v", id, ok, err)
		}
		if _, ok, err := e.keys.Assigned(e.ctx, "root.t2"); err != nil || ok {
			t.Fatalf("assigned root.t2: %v %v", ok, err)
		}
		// Reassigning replaces.
		if err := e.keys.Assign(e.ctx, "root.t1", rootKey.ID); err != nil || effective("root.t1") != rootKey.ID {
			t.Fatalf("reassign: %v", err)
		}
		if err := e.keys.Unassign(e.ctx, "root.t1.sub"); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, e.keys.Unassign(e.ctx, "root.t1.sub"), 404, "has no key assigned")
		if got := effective("root.t1.sub"); got != rootKey.ID { // walks up to root.t1
			t.Fatalf("root.t1.sub uses %s after unassign", got)
		}
		// A key assigned anywhere is not deleted; a namespace holding a key or an
		// assignment is not deleted.
		wantProblem(t, e.keys.Delete(e.ctx, rootKey.ID), 409, "is assigned to namespace(s) [root.t1]")
		wantProblem(t, e.ns.Delete(e.ctx, "root.t2"), 409, "still holds 1 encryption key(s)")
		if err := e.keys.Delete(e.ctx, t2.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.ns.Delete(e.ctx, "root.t2"); err != nil {
			t.Fatalf("delete emptied namespace: %v", err)
		}
		if err := e.keys.Unassign(e.ctx, "root.t1.sub.deep"); err != nil {
			t.Fatal(err)
		}
		e.put(t, "d1", "root.t1", "sealed with the global key")
		if err := e.keys.Unassign(e.ctx, "root.t1"); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, e.keys.Delete(e.ctx, rootKey.ID), 409, "still seals 1 stored value(s)")
		if err := e.db.Exec("DELETE FROM keys_test_secrets").Error; err != nil {
			t.Fatal(err)
		}
		if err := e.keys.Delete(e.ctx, rootKey.ID); err != nil {
			t.Fatal(err)
		}
		wantProblem(t, e.keys.Delete(e.ctx, rootKey.ID), 404, "key not found")
	})
}

func TestSealDebtOpen(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		tenant := e.create(t, "root.t1", "tenant", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", tenant.ID); err != nil {
			t.Fatal(err)
		}
		vs, _ := e.keys.Versions(e.ctx, tenant.ID)
		tv1 := vs[0].ID
		rootID := e.keys.Root.Version.ID
		if !strings.HasPrefix(rootID, keys.RootKeyIDPrefix) || !encrypt.ValidKeyID(rootID) {
			t.Fatalf("root key id %q", rootID)
		}
		values := []struct{ id, ns, plain, kv string }{
			{"a1", "root.t1", "tenant secret", tv1},
			{"a2", "root.t1.sub", "sub secret", tv1},
			{"a3", "root.t1.sub", "sub secret 2", tv1},
			{"b1", "root.t2", "other secret", rootID},
			{"b2", "root", "root secret", rootID},
		}
		for _, v := range values {
			if got := kvOf(t, e.put(t, v.id, v.ns, v.plain)); got != v.kv {
				t.Fatalf("%s sealed with %s, want %s", v.id, got, v.kv)
			}
		}
		v2, err := e.keys.Rotate(e.ctx, tenant.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.put(t, "a4", "root.t1", "after rotation")
		debt, err := e.keys.Debt(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []keys.DebtRow{
			// The wrapped material of the tenant key's two versions is a registered column too,
			// always sealed with the root key.
			{Table: "encryption_key_versions", Column: "wrapped_material", Namespace: "", KeyVersionID: rootID, Count: 2},
			{Table: "keys_test_secrets", Column: "secret", Namespace: "root", KeyVersionID: rootID, Count: 1},
			{Table: "keys_test_secrets", Column: "secret", Namespace: "root.t1", KeyVersionID: tv1, Count: 1},
			{Table: "keys_test_secrets", Column: "secret", Namespace: "root.t1", KeyVersionID: v2.ID, Count: 1},
			{Table: "keys_test_secrets", Column: "secret", Namespace: "root.t1.sub", KeyVersionID: tv1, Count: 2},
			{Table: "keys_test_secrets", Column: "secret", Namespace: "root.t2", KeyVersionID: rootID, Count: 1},
		}
		if tv1 > v2.ID { // sorted by key version id within a namespace
			want[2], want[3] = want[3], want[2]
		}
		if len(debt) != len(want) {
			t.Fatalf("debt %+v", debt)
		}
		for i := range want {
			if debt[i] != want[i] {
				t.Fatalf("debt[%d] = %+v, want %+v", i, debt[i], want[i])
			}
		}
		for _, v := range values {
			if got := e.get(t, v.id); got != v.plain {
				t.Fatalf("%s opened to %q", v.id, got)
			}
		}
		// A value copied to another row, or opened as another row, does not open.
		var a1 string
		e.db.Raw("SELECT secret FROM keys_test_secrets WHERE id = 'a1'").Scan(&a1)
		if err := e.db.Exec("UPDATE keys_test_secrets SET secret = ? WHERE id = 'a2'", a1).Error; err != nil {
			t.Fatal(err)
		}
		var a2 string
		e.db.Raw("SELECT secret FROM keys_test_secrets WHERE id = 'a2'").Scan(&a2)
		if _, err := e.keys.Open(e.ctx, secrets, "a2", a2); !errors.Is(err, encrypt.ErrNotAuthentic) {
			t.Fatalf("copied value: %v", err)
		}
		if _, err := e.keys.Open(e.ctx, secrets, "a1", `{"id":"kv_nope","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`); !errors.Is(err, encrypt.ErrUnknownKey) {
			t.Fatalf("unknown key version: %v", err)
		}
		// Debt in batches: more rows than a batch are all counted.
		for i := 0; i < 1100; i++ {
			if err := e.db.Exec("INSERT INTO keys_test_secrets (id, namespace, secret) VALUES (?, 'root.t2', ?)", "z"+strings.Repeat("0", 5-len(itoa(i)))+itoa(i), a1).Error; err != nil {
				t.Fatal(err)
			}
		}
		if n, err := e.keys.VersionDebt(e.ctx, tv1); err != nil || n != 1+2+1100 {
			t.Fatalf("batched debt %d %v", n, err)
		}
	})
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestWrappedMaterialNeverRaw(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		inline := randomKey(t)
		inl := e.create(t, "root.t1", "inl", "inline", nil, inline)
		gen := e.create(t, "root.t1", "gen", "generated", nil, nil)
		if _, err := e.keys.Rotate(e.ctx, gen.ID, nil); err != nil {
			t.Fatal(err)
		}
		raws := [][]byte{inline, e.root}
		for _, k := range []*keys.Key{inl, gen} {
			vs, err := e.keys.Versions(e.ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				kv, err := e.keys.KeyVersion(e.ctx, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				raws = append(raws, kv.Material)
			}
		}
		if len(raws) != 5 {
			t.Fatalf("%d keys", len(raws))
		}
		type vrow struct {
			ID              string
			WrappedMaterial *string
			SourceVersion   string
		}
		var rows []vrow
		if err := e.db.Raw("SELECT id, wrapped_material, source_version FROM encryption_key_versions").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 3 {
			t.Fatalf("%d version rows", len(rows))
		}
		for _, r := range rows {
			if r.WrappedMaterial == nil || !strings.HasPrefix(*r.WrappedMaterial, `{"id":"`+e.keys.Root.Version.ID+`"`) {
				t.Fatalf("version %s is not wrapped with the root key: %v", r.ID, r.WrappedMaterial)
			}
			for _, raw := range raws {
				for _, form := range []string{string(raw), base64.StdEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw[:24]), hex.EncodeToString(raw)} {
					if strings.Contains(*r.WrappedMaterial, form) || strings.Contains(r.SourceVersion, form) {
						t.Fatalf("version %s stores raw key material", r.ID)
					}
				}
			}
		}
		var kr []struct{ SourceParams, Annotations string }
		e.db.Raw("SELECT source_params, annotations FROM encryption_keys").Scan(&kr)
		for _, r := range kr {
			for _, raw := range raws {
				if strings.Contains(r.SourceParams+r.Annotations, base64.StdEncoding.EncodeToString(raw)) {
					t.Fatal("key row stores raw material")
				}
			}
		}
		// A different root key cannot unwrap them.
		other, err := keys.LoadRootKey(e.ctx, encrypt.FileSource{Path: keyFile(t, randomKey(t))})
		if err != nil {
			t.Fatal(err)
		}
		s2 := keys.New(e.db, other)
		if _, err := s2.KeyVersion(e.ctx, rows[0].ID); !errors.Is(err, encrypt.ErrUnknownKey) {
			t.Fatalf("unwrapped with another root key: %v", err)
		}
	})
}

func TestKeyringAndExternalSources(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		k := e.create(t, "root.t1", "tenant", "generated", nil, nil)
		if err := e.keys.Assign(e.ctx, "root.t1", k.ID); err != nil {
			t.Fatal(err)
		}
		v1 := kvOf(t, e.put(t, "k1", "root.t1", "one"))
		if e.get(t, "k1") != "one" || e.keys.Keyring.Len() == 0 {
			t.Fatalf("keyring holds %d keys", e.keys.Keyring.Len())
		}
		r, err := e.keys.Rotate(e.ctx, k.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		v2 := kvOf(t, e.put(t, "k2", "root.t1", "two"))
		if v2 != r.ID || v2 == v1 {
			t.Fatalf("after rotation sealed with %s, want %s", v2, r.ID)
		}
		if e.get(t, "k1") != "one" || e.get(t, "k2") != "two" {
			t.Fatal("keyring does not open both versions")
		}

		// A file key: its version records the file's fingerprint; a changed file is
		// detected rather than used for the old version.
		key := randomKey(t)
		path := keyFile(t, key)
		fk := e.create(t, "root.t2", "file", "file", map[string]string{"path": path}, nil)
		if err := e.keys.Assign(e.ctx, "root.t2", fk.ID); err != nil {
			t.Fatal(err)
		}
		e.put(t, "f1", "root.t2", "from file")
		if e.get(t, "f1") != "from file" {
			t.Fatal("file key does not open")
		}
		vs, _ := e.keys.Versions(e.ctx, fk.ID)
		if err := os.WriteFile(path, randomKey(t), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := e.keys.KeyVersion(e.ctx, vs[0].ID); !errors.Is(err, encrypt.ErrVersionGone) {
			t.Fatalf("changed file key: %v", err)
		}
		// The keyring still serves the cached material until forgotten.
		if e.get(t, "f1") != "from file" {
			t.Fatal("cached file key does not open")
		}
		e.keys.Keyring.Forget(vs[0].ID)
		var f1 string
		e.db.Raw("SELECT secret FROM keys_test_secrets WHERE id = 'f1'").Scan(&f1)
		if _, err := e.keys.Open(e.ctx, secrets, "f1", f1); err == nil {
			t.Fatal("opened with a key version whose source changed")
		}

		// An env key.
		t.Setenv("KEYS_TEST_ENV_KEY2", hex.EncodeToString(randomKey(t)))
		ek := e.create(t, "root.t1.sub", "env", "env", map[string]string{"var": "KEYS_TEST_ENV_KEY2"}, nil)
		if err := e.keys.Assign(e.ctx, "root.t1.sub", ek.ID); err != nil {
			t.Fatal(err)
		}
		e.put(t, "e1", "root.t1.sub", "from env")
		if e.get(t, "e1") != "from env" {
			t.Fatal("env key does not open")
		}
	})
}
