// Package id makes the prefixed random resource ids (act_…, key_…) the API hands out.
package id

import (
	"crypto/rand"
	"math/big"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Length is the number of random characters after the prefix (about 119 bits).
const Length = 20

// New returns prefix + "_" + Length random base-62 characters.
func New(prefix string) string {
	b := make([]byte, 0, len(prefix)+1+Length)
	b = append(b, prefix...)
	b = append(b, '_')
	max := big.NewInt(int64(len(alphabet)))
	for i := 0; i < Length; i++ {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("id: crypto/rand failed: " + err.Error())
		}
		b = append(b, alphabet[n.Int64()])
	}
	return string(b)
}
