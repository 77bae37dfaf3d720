package encrypt

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Column declares an encrypted column. Every table with secrets registers
// each of its encrypted columns once, at package level, one line per column:
//
//	var connectionCredentials = encrypt.Register(encrypt.Column{
//		Table: "connections", Column: "encrypted_credentials",
//		IDColumn: "id", NamespaceColumn: "namespace",
//	})
//
// and seals and opens with connectionCredentials.AAD(row.ID). Re-encryption
// walks [Columns] to find every value; the names are SQL identifiers it
// interpolates, which is why they are restricted to lower-case identifiers.
type Column struct {
	// Table and Column name the table and the encrypted (text) column.
	Table, Column string
	// IDColumn names the column holding the row's primary key, the Row of
	// the AAD. It must never change for a row.
	IDColumn string
	// NamespaceColumn names the column holding the row's namespace path,
	// whose nearest assigned key seals the value; "" when the values always
	// use the global root key.
	NamespaceColumn string
}

// AAD is the additional data for this column's value in row rowID.
func (c Column) AAD(rowID string) AAD {
	return AAD{Table: c.Table, Column: c.Column, Row: rowID}
}

func (c Column) key() string { return c.Table + "." + c.Column }

var registry struct {
	sync.Mutex
	columns map[string]Column
}

// Register records an encrypted column and returns it. It panics if the
// table, column or id column is empty or not a lower-case SQL identifier
// ([a-z_][a-z0-9_]*, at most 63 bytes), if the namespace column is set and not
// one, or if the table and column are already registered: all programming
// errors, found when the program starts.
func Register(c Column) Column {
	for _, f := range []struct{ name, v string }{
		{"Table", c.Table}, {"Column", c.Column}, {"IDColumn", c.IDColumn},
	} {
		if f.v == "" {
			panic(fmt.Sprintf("encrypt.Register: %s is empty in %+v", f.name, c))
		}
		if !validIdent(f.v) {
			panic(fmt.Sprintf("encrypt.Register: %s %q is not a lower-case SQL identifier", f.name, f.v))
		}
	}
	if c.NamespaceColumn != "" && !validIdent(c.NamespaceColumn) {
		panic(fmt.Sprintf("encrypt.Register: NamespaceColumn %q is not a lower-case SQL identifier", c.NamespaceColumn))
	}
	registry.Lock()
	defer registry.Unlock()
	if registry.columns == nil {
		registry.columns = make(map[string]Column)
	}
	if _, dup := registry.columns[c.key()]; dup {
		panic(fmt.Sprintf("encrypt.Register: %s registered twice", c.key()))
	}
	registry.columns[c.key()] = c
	return c
}

// Columns returns every registered column, sorted by table then column.
func Columns() []Column {
	registry.Lock()
	defer registry.Unlock()
	out := make([]Column, 0, len(registry.columns))
	for _, c := range registry.columns {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Column) int {
		if n := strings.Compare(a.Table, b.Table); n != 0 {
			return n
		}
		return strings.Compare(a.Column, b.Column)
	})
	return out
}

// LookupColumn returns the registered column table.column, if any.
func LookupColumn(table, column string) (Column, bool) {
	registry.Lock()
	defer registry.Unlock()
	c, ok := registry.columns[table+"."+column]
	return c, ok
}

// unregister removes a column; tests only.
func unregister(c Column) {
	registry.Lock()
	defer registry.Unlock()
	delete(registry.columns, c.key())
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
