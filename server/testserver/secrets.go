package testserver

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/authproxy/authproxy/server/internal/app"
	"github.com/authproxy/authproxy/server/internal/encrypt"
)

// SecretTable is a test-only table with one encrypted column, registered for
// re-encryption like every table with secrets: it lets tests outside the server module
// store values in a namespace and check which key seals them.
const SecretTable = "testserver_secrets"

var (
	secretOnce   sync.Once
	secretColumn encrypt.Column
)

// createSecretTable registers the test column (once per process, on the first server
// started, so processes that never start one do not walk a table they lack) and creates
// the table in this server's database.
func createSecretTable(ctx context.Context, a *app.App) error {
	secretOnce.Do(func() {
		secretColumn = encrypt.Register(encrypt.Column{Table: SecretTable, Column: "secret", IDColumn: "id", NamespaceColumn: "namespace"})
	})
	err := a.DB.WithContext(ctx).Exec("CREATE TABLE IF NOT EXISTS " + SecretTable +
		" (id TEXT PRIMARY KEY, namespace TEXT NOT NULL, secret TEXT NOT NULL)").Error
	if err != nil {
		return fmt.Errorf("testserver: create %s: %w", SecretTable, err)
	}
	return nil
}

// PutSecret seals plaintext for row id in namespace ns, as a table with secrets does, and
// stores it (replacing any value of that row).
func (s *Server) PutSecret(t testing.TB, ns, id, plaintext string) {
	t.Helper()
	ctx := context.Background()
	v, err := s.app.Keys.Seal(ctx, ns, secretColumn, id, []byte(plaintext))
	if err != nil {
		t.Fatalf("testserver: seal %s: %v", id, err)
	}
	db := s.app.DB.WithContext(ctx)
	if err := db.Exec("DELETE FROM "+SecretTable+" WHERE id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("INSERT INTO "+SecretTable+" (id, namespace, secret) VALUES (?, ?, ?)", id, ns, v).Error; err != nil {
		t.Fatalf("testserver: store %s: %v", id, err)
	}
}

// RawSecret returns the stored envelope of row id.
func (s *Server) RawSecret(t testing.TB, id string) string {
	t.Helper()
	var v string
	if err := s.app.DB.Raw("SELECT secret FROM "+SecretTable+" WHERE id = ?", id).Scan(&v).Error; err != nil || v == "" {
		t.Fatalf("testserver: read %s: %q %v", id, v, err)
	}
	return v
}

// OpenSecret decrypts row id directly with the server's keys and returns the plaintext
// and the id of the key version that sealed it.
func (s *Server) OpenSecret(t testing.TB, id string) (plaintext, keyVersionID string) {
	t.Helper()
	v := s.RawSecret(t, id)
	kv, err := encrypt.KeyIDOf(v)
	if err != nil {
		t.Fatalf("testserver: %s is not an envelope: %v", id, err)
	}
	p, err := s.app.Keys.Open(context.Background(), secretColumn, id, v)
	if err != nil {
		t.Fatalf("testserver: open %s: %v", id, err)
	}
	return string(p), kv
}

// DatabaseFile is the SQLite file of a server on SQLite ("" on PostgreSQL), and
// PostgresDSN the DSN of its schema on PostgreSQL ("" on SQLite): for tests that inspect
// what is stored at rest.
func (s *Server) DatabaseFile() string {
	if s.app.Config.DB.Driver == "sqlite" {
		return s.app.Config.DB.DSN
	}
	return ""
}

// PostgresDSN is the DSN (with search_path) of a server on PostgreSQL, else "".
func (s *Server) PostgresDSN() string {
	if s.app.Config.DB.Driver == "postgres" {
		return s.app.Config.DB.DSN
	}
	return ""
}
