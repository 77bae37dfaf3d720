package encrypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"io"
	"testing"
)

// The benchmarks seal and open 1 KiB values. BenchmarkRawGCM does the same
// AES-256-GCM work with crypto/aes and crypto/cipher directly (cipher setup,
// random nonce, same-size additional data) but no envelope, so
// Seal/RawGCM/seal and Open/RawGCM/open is the envelope's overhead: base64,
// JSON, AAD encoding and the key lookup.

const benchSize = 1024

func benchPlaintext() []byte {
	p := make([]byte, benchSize)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

var benchAAD = AAD{Table: "connections", Column: "encrypted_credentials", Row: "con_0123456789ABCDEFGHIJ"}

func BenchmarkSeal(b *testing.B) {
	p := benchPlaintext()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(keyA, p, benchAAD); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	s := mustSeal(b, keyA, string(benchPlaintext()), benchAAD)
	for _, bc := range []struct {
		name string
		keys KeyLookup
	}{
		{"static", StaticKeys(keyA)},
		{"keyring", NewKeyring(StaticKeys(keyA))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(benchSize)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Open(ctx, bc.keys, s, benchAAD); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRawGCM(b *testing.B) {
	p := benchPlaintext()
	ad := additionalData(keyA.ID, benchAAD)
	newGCM := func() cipher.AEAD {
		block, err := aes.NewCipher(keyA.Material)
		if err != nil {
			b.Fatal(err)
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			b.Fatal(err)
		}
		return gcm
	}
	b.Run("seal", func(b *testing.B) {
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for b.Loop() {
			gcm := newGCM()
			out := make([]byte, nonceSize, nonceSize+benchSize+tagSize)
			if _, err := io.ReadFull(rand.Reader, out); err != nil {
				b.Fatal(err)
			}
			gcm.Seal(out, out, p, ad)
		}
	})
	b.Run("open", func(b *testing.B) {
		gcm := newGCM()
		nonce := make([]byte, nonceSize)
		sealed := gcm.Seal(nonce, nonce, p, ad)
		b.SetBytes(benchSize)
		b.ReportAllocs()
		for b.Loop() {
			gcm := newGCM()
			if _, err := gcm.Open(nil, sealed[:nonceSize], sealed[nonceSize:], ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}
