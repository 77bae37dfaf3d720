package sdk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func mustPEM(t testing.TB, typ string, der []byte, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	return mustPEM(t, "PRIVATE KEY", der, err)
}

func openSSH(t testing.TB, k crypto.PrivateKey) []byte {
	t.Helper()
	b, err := ssh.MarshalPrivateKey(k, "test key")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(b)
}

type testKeys struct {
	ed    ed25519.PrivateKey
	p256  *ecdsa.PrivateKey
	p384  *ecdsa.PrivateKey
	rsa   *rsa.PrivateKey
	rsa1k *rsa.PrivateKey
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	var k testKeys
	var err error
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	// 1024 bits is the smallest size crypto/rsa still generates; ParsePrivateKey must refuse it.
	if k.rsa1k, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParsePrivateKeyFormats(t *testing.T) {
	k := newTestKeys(t)
	sec1, err := x509.MarshalECPrivateKey(k.p256)
	sec1PEM := mustPEM(t, "EC PRIVATE KEY", sec1, err)
	ecParams := []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")

	tests := []struct {
		name string
		data []byte
		want crypto.PublicKey
	}{
		{"pkcs8 ed25519", pkcs8(t, k.ed), k.ed.Public()},
		{"pkcs8 p256", pkcs8(t, k.p256), k.p256.Public()},
		{"pkcs8 rsa", pkcs8(t, k.rsa), k.rsa.Public()},
		{"pkcs1 rsa", mustPEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa), nil), k.rsa.Public()},
		{"sec1 p256", sec1PEM, k.p256.Public()},
		{"sec1 p256 with EC PARAMETERS", append(append([]byte{}, ecParams...), sec1PEM...), k.p256.Public()},
		{"openssh ed25519", openSSH(t, k.ed), k.ed.Public()},
		{"openssh p256", openSSH(t, k.p256), k.p256.Public()},
		{"openssh rsa", openSSH(t, k.rsa), k.rsa.Public()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParsePrivateKey(tc.data)
			if err != nil {
				t.Fatalf("ParsePrivateKey: %v", err)
			}
			type equaler interface{ Equal(crypto.PublicKey) bool }
			if !s.Public().(equaler).Equal(tc.want) {
				t.Fatalf("parsed key does not match the generated one")
			}
		})
	}
}

func TestParsePrivateKeyRejects(t *testing.T) {
	k := newTestKeys(t)
	sec1, err := x509.MarshalECPrivateKey(k.p384)
	encOpenSSH, err2 := ssh.MarshalPrivateKeyWithPassphrase(k.ed, "c", []byte("secret"))
	if err2 != nil {
		t.Fatal(err2)
	}
	pub, err3 := x509.MarshalPKIXPublicKey(k.ed.Public())

	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"rsa 1024 pkcs8", pkcs8(t, k.rsa1k), "RSA key is 1024 bits; at least 2048 are required"},
		{"rsa 1024 pkcs1", mustPEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.rsa1k), nil), "RSA key is 1024 bits; at least 2048 are required"},
		{"rsa 1024 openssh", openSSH(t, k.rsa1k), "RSA key is 1024 bits; at least 2048 are required"},
		{"p384 pkcs8", pkcs8(t, k.p384), "ECDSA curve P-384 is not supported; use P-256"},
		{"p384 sec1", mustPEM(t, "EC PRIVATE KEY", sec1, err), "ECDSA curve P-384 is not supported; use P-256"},
		{"p384 openssh", openSSH(t, k.p384), "ECDSA curve P-384 is not supported; use P-256"},
		{"encrypted openssh", pem.EncodeToMemory(encOpenSSH), "OpenSSH private key is encrypted"},
		{"encrypted legacy pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: []byte{1, 2, 3}}), "encrypted PEM private keys are not supported"},
		{"encrypted pkcs8", mustPEM(t, "ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}, nil), "encrypted PEM private keys are not supported"},
		{"public key", mustPEM(t, "PUBLIC KEY", pub, err3), `PEM block "PUBLIC KEY" is not a private key`},
		{"not pem", []byte("hello"), "no PEM private key found"},
		{"empty", nil, "no PEM private key found"},
		{"garbage pkcs8", mustPEM(t, "PRIVATE KEY", []byte("definitely not DER"), nil), "malformed PKCS#8 private key"},
		{"garbage openssh", mustPEM(t, "OPENSSH PRIVATE KEY", []byte("definitely not openssh"), nil), "malformed OpenSSH private key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tc.data)
			if err == nil {
				t.Fatal("expected an error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParsePrivateKeyErrorHasNoKeyMaterial(t *testing.T) {
	secret := "SECRETSECRETSECRETSECRET"
	data := mustPEM(t, "PRIVATE KEY", []byte(secret), nil)
	_, err := ParsePrivateKey(data)
	if err == nil {
		t.Fatal("expected an error")
	}
	b64 := strings.Split(string(data), "\n")[1]
	if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), b64) {
		t.Fatalf("error leaks key content: %v", err)
	}
}

func TestFingerprintAndAuthorizedKey(t *testing.T) {
	k := newTestKeys(t)
	for name, pub := range map[string]crypto.PublicKey{
		"ed25519": k.ed.Public(),
		"p256":    k.p256.Public(),
		"rsa":     k.rsa.Public(),
	} {
		t.Run(name, func(t *testing.T) {
			sp, err := ssh.NewPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			fp, err := Fingerprint(pub)
			if err != nil {
				t.Fatal(err)
			}
			if want := ssh.FingerprintSHA256(sp); fp != want {
				t.Fatalf("Fingerprint = %q, want %q", fp, want)
			}
			if !strings.HasPrefix(fp, "SHA256:") {
				t.Fatalf("fingerprint %q lacks SHA256: prefix", fp)
			}
			if fp2, _ := Fingerprint(sp); fp2 != fp {
				t.Fatalf("Fingerprint(ssh.PublicKey) = %q, want %q", fp2, fp)
			}

			line, err := AuthorizedKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(line, "\r\n") {
				t.Fatalf("authorized key line %q contains a newline", line)
			}
			parsed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				t.Fatalf("ParseAuthorizedKey(%q): %v", line, err)
			}
			if ssh.FingerprintSHA256(parsed) != fp {
				t.Fatal("authorized key line does not round-trip")
			}
		})
	}
	if _, err := Fingerprint(nil); err == nil {
		t.Fatal("Fingerprint(nil) succeeded")
	}
	if _, err := Fingerprint(k.ed); err == nil {
		t.Fatal("Fingerprint(private key) succeeded")
	}
}

func TestGenerateKeyPair(t *testing.T) {
	priv, line, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(priv), "-----BEGIN PRIVATE KEY-----") {
		t.Fatalf("private key is not PKCS#8 PEM")
	}
	if !strings.HasPrefix(line, "ssh-ed25519 ") || strings.HasSuffix(line, "\n") {
		t.Fatalf("unexpected authorized key line %q", line)
	}
	s, err := ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(ed25519.PrivateKey); !ok {
		t.Fatalf("generated key is %T, want ed25519.PrivateKey", s)
	}
	got, err := AuthorizedKey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got != line {
		t.Fatalf("authorized key of parsed private key %q != %q", got, line)
	}
}
