package encrypt

import (
	"encoding/binary"
	"fmt"
)

// aadFormatV1 is the first byte of the encoded additional data. Any change
// to the encoding must use a new value so old and new never collide.
const aadFormatV1 byte = 1

// AAD names where a value is stored. It is authenticated with the ciphertext,
// so a value only opens at the table, column and row it was sealed for. All
// three fields must be non-empty; use [Column.AAD] rather than building one by
// hand.
type AAD struct {
	Table, Column, Row string
}

func (a AAD) String() string {
	return fmt.Sprintf("%s.%s row %q", a.Table, a.Column, a.Row)
}

func (a AAD) validate() error {
	if a.Table == "" || a.Column == "" || a.Row == "" {
		return fmt.Errorf("encrypt: AAD needs a table, column and row (got %s)", a)
	}
	return nil
}

// additionalData is the GCM additional data: a format byte, then the key
// version id, table, column and row, each as a 4-byte big-endian length
// followed by its bytes. Length prefixes make the encoding unambiguous
// ("a"+"bc" and "ab"+"c" differ); the key id binds the value to the id it is
// stored under.
func additionalData(keyID string, a AAD) []byte {
	fields := [...]string{keyID, a.Table, a.Column, a.Row}
	n := 1
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 1, n)
	b[0] = aadFormatV1
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}
