package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authproxy/authproxy/server/internal/labels"
	"github.com/authproxy/authproxy/server/internal/store"
	"github.com/authproxy/authproxy/server/testserver"
)

// databases returns a fresh SQLite file always and a fresh PostgreSQL schema when
// AUTHPROXY_TEST_POSTGRES_DSN is set.
func databases(t *testing.T) map[string]store.Config {
	out := map[string]store.Config{"sqlite": {Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "t.db")}}
	if dsn := os.Getenv(testserver.EnvPostgresDSN); dsn != "" {
		out["postgres"] = store.Config{Driver: store.Postgres, DSN: testserver.FreshPostgres(t, dsn)}
	}
	return out
}

func TestMigrateIsForwardOnlyAndIdempotent(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range databases(t) {
		t.Run(name, func(t *testing.T) {
			db, err := store.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := store.Migrations()
			if err != nil || len(ms) == 0 {
				t.Fatalf("migrations: %v %d", err, len(ms))
			}
			applied, err := store.Migrate(ctx, db)
			if err != nil || len(applied) != len(ms) {
				t.Fatalf("first: %v %v", applied, err)
			}
			applied, err = store.Migrate(ctx, db)
			if err != nil || len(applied) != 0 {
				t.Fatalf("second run applied %v, %v", applied, err)
			}
			// A schema newer than the binary is refused, not silently used.
			if err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', CURRENT_TIMESTAMP)", len(ms)+1).Error; err != nil {
				t.Fatal(err)
			}
			if _, err := store.Migrate(ctx, db); err == nil || !strings.Contains(err.Error(), "newer") && !strings.Contains(err.Error(), "upgrade") {
				t.Fatalf("want refusal of a newer schema, got %v", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cfg  store.Config
		want string
	}{
		{store.Config{Driver: "mysql", DSN: "x"}, `unknown driver "mysql"`},
		{store.Config{Driver: store.SQLite}, "needs a dsn"},
		{store.Config{Driver: store.Postgres}, "needs a dsn"},
		{store.Config{Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "missing", "dir", "x.db")}, "sqlite"},
	} {
		if _, err := store.Open(ctx, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.cfg, err, c.want)
		}
	}
}

type item struct {
	ID        string `gorm:"primaryKey"`
	Namespace string
}

func TestScopeSelectorAndPaging(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range databases(t) {
		t.Run(name, func(t *testing.T) {
			db, err := store.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("CREATE TABLE items (id TEXT PRIMARY KEY, namespace TEXT NOT NULL)").Error; err != nil {
				t.Fatal(err)
			}
			rows := []item{{"i1", "root.a"}, {"i2", "root.a.b"}, {"i3", "root.ab"}, {"i4", "root.b"}, {"i5", "root.a_x"}}
			if err := db.Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			store.SetLabels(db, "item", "i1", map[string]string{"env": "prod", "tier": "gold"})
			store.SetLabels(db, "item", "i2", map[string]string{"env": "dev"})
			store.SetLabels(db, "item", "i4", map[string]string{"env": "prod"})

			ids := func(scope store.Scope, selector string) string {
				sel, err := labels.ParseSelector(selector)
				if err != nil {
					t.Fatal(err)
				}
				q := store.WhereScope(db.Model(&item{}), scope, "namespace", "id")
				q = store.WhereSelector(q, "item", "items.id", sel)
				var got []item
				if err := q.Order("id").Find(&got).Error; err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, g := range got {
					out = append(out, g.ID)
				}
				return strings.Join(out, ",")
			}
			subtreeA := store.Scope{Rules: []store.ScopeRule{{Namespace: "root.a", Subtree: true}}}
			for _, c := range []struct {
				scope    store.Scope
				selector string
				want     string
			}{
				{store.Scope{All: true}, "", "i1,i2,i3,i4,i5"},
				{store.Scope{}, "", ""},
				// root.ab and root.a_x are not in root.a's subtree ("_" is no wildcard here).
				{subtreeA, "", "i1,i2"},
				{store.Scope{Rules: []store.ScopeRule{{Namespace: "root.a"}}}, "", "i1"},
				{store.Scope{Rules: []store.ScopeRule{{Namespace: "root.a", Subtree: true, IDs: []string{"i2", "i4"}}}}, "", "i2"},
				{store.Scope{Rules: []store.ScopeRule{{Namespace: "root.a"}, {Namespace: "root.b"}}}, "", "i1,i4"},
				{store.Scope{All: true}, "env=prod", "i1,i4"},
				{store.Scope{All: true}, "env!=prod", "i2,i3,i5"},
				{store.Scope{All: true}, "env in (dev,prod),tier", "i1"},
				{store.Scope{All: true}, "env notin (prod)", "i2,i3,i5"},
				{store.Scope{All: true}, "!env", "i3,i5"},
				{subtreeA, "env", "i1,i2"},
			} {
				if got := ids(c.scope, c.selector); got != c.want {
					t.Errorf("scope %+v selector %q: got %q want %q", c.scope, c.selector, got, c.want)
				}
			}
			// Paging walks every row once, in order.
			var seen []string
			cursor := ""
			for i := 0; i < 10; i++ {
				got, next, err := store.FindPage(db.Model(&item{}), "id", store.Page{Limit: 2, Cursor: cursor}, func(r *item) string { return r.ID })
				if err != nil {
					t.Fatal(err)
				}
				for _, g := range got {
					seen = append(seen, g.ID)
				}
				if cursor = next; cursor == "" {
					break
				}
			}
			if strings.Join(seen, ",") != "i1,i2,i3,i4,i5" {
				t.Fatalf("paged %v", seen)
			}
			if _, _, err := store.WherePage(db, "id", store.Page{Cursor: "!!not-base64"}); err != store.ErrBadCursor {
				t.Fatalf("bad cursor: %v", err)
			}
		})
	}
}
