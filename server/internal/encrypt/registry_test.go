package encrypt

import (
	"slices"
	"strings"
	"testing"
)

// mustPanic runs f and returns the panic message, failing if it did not panic.
func mustPanic(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("did not panic")
		}
		msg, _ = r.(string)
	}()
	f()
	return ""
}

func TestRegister(t *testing.T) {
	a := Column{Table: "zz_test_tokens", Column: "encrypted_secret", IDColumn: "id", NamespaceColumn: "namespace"}
	b := Column{Table: "aa_test_root", Column: "encrypted_value", IDColumn: "id"}
	t.Cleanup(func() { unregister(a); unregister(b) })

	if got := Register(a); got != a {
		t.Fatalf("Register returned %+v", got)
	}
	Register(b)

	cols := Columns()
	ia, ib := slices.Index(cols, a), slices.Index(cols, b)
	if ia < 0 || ib < 0 || ib > ia {
		t.Fatalf("Columns() = %+v: want both, sorted", cols)
	}
	if !slices.IsSortedFunc(cols, func(x, y Column) int { return strings.Compare(x.key(), y.key()) }) {
		t.Fatalf("Columns() not sorted: %+v", cols)
	}
	cols[0].Table = "mutated"
	if slices.Index(Columns(), a) < 0 {
		t.Fatal("Columns() is not a copy")
	}
	if c, ok := LookupColumn(a.Table, a.Column); !ok || c != a {
		t.Fatalf("LookupColumn = %+v, %v", c, ok)
	}
	if _, ok := LookupColumn(a.Table, "nope"); ok {
		t.Fatal("LookupColumn found an unregistered column")
	}
	if got, want := a.AAD("tok_1"), (AAD{"zz_test_tokens", "encrypted_secret", "tok_1"}); got != want {
		t.Fatalf("AAD = %+v, want %+v", got, want)
	}

	msg := mustPanic(t, func() { Register(Column{Table: a.Table, Column: a.Column, IDColumn: "other_id"}) })
	if !strings.Contains(msg, "registered twice") {
		t.Fatalf("duplicate panic message: %q", msg)
	}
}

func TestRegisterRejectsBadColumns(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Column
		want string
	}{
		{"empty table", Column{Column: "c", IDColumn: "id"}, "Table is empty"},
		{"empty column", Column{Table: "t", IDColumn: "id"}, "Column is empty"},
		{"empty id column", Column{Table: "t", Column: "c"}, "IDColumn is empty"},
		{"injection", Column{Table: "t; DROP TABLE x", Column: "c", IDColumn: "id"}, "not a lower-case SQL identifier"},
		{"upper case", Column{Table: "T", Column: "c", IDColumn: "id"}, "not a lower-case SQL identifier"},
		{"leading digit", Column{Table: "t", Column: "1c", IDColumn: "id"}, "not a lower-case SQL identifier"},
		{"bad namespace column", Column{Table: "t", Column: "c", IDColumn: "id", NamespaceColumn: "ns-path"}, "NamespaceColumn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if msg := mustPanic(t, func() { Register(tc.c) }); !strings.Contains(msg, tc.want) {
				t.Fatalf("panic %q, want it to mention %q", msg, tc.want)
			}
			if _, ok := LookupColumn(tc.c.Table, tc.c.Column); ok {
				t.Fatal("a rejected column was registered")
			}
		})
	}
}
