package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/authproxy/authproxy/sdk"
)

func TestParsePublicKeyAccepts(t *testing.T) {
	k := keys(t)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)}))
	edLine := authorizedLine(t, k.ed.Public())
	tests := []struct {
		name  string
		in    string
		pub   crypto.PublicKey
		typ   string
		lines bool // also test as the SDK's AuthorizedKey output
	}{
		{"ed25519 line", edLine, k.ed.Public(), KeyTypeEd25519, true},
		{"ed25519 line with comment", edLine + " alice@laptop", k.ed.Public(), KeyTypeEd25519, false},
		{"ed25519 line with options", `restrict,command="echo hi there",from="10.0.0.0/8" ` + edLine + " ci key", k.ed.Public(), KeyTypeEd25519, false},
		{"ed25519 line surrounded by whitespace", "\n  " + edLine + "  \r\n", k.ed.Public(), KeyTypeEd25519, false},
		{"p256 line", authorizedLine(t, k.p256.Public()), k.p256.Public(), KeyTypeECDSAP256, true},
		{"rsa line", authorizedLine(t, k.rsa.Public()), k.rsa.Public(), KeyTypeRSA, true},
		{"ed25519 pkix", pkixPEM(t, k.ed.Public()), k.ed.Public(), KeyTypeEd25519, false},
		{"p256 pkix", pkixPEM(t, k.p256.Public()), k.p256.Public(), KeyTypeECDSAP256, false},
		{"rsa pkix", pkixPEM(t, k.rsa.Public()), k.rsa.Public(), KeyTypeRSA, false},
		{"rsa pkcs1", pkcs1, k.rsa.Public(), KeyTypeRSA, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePublicKey(tc.in)
			if err != nil {
				t.Fatalf("ParsePublicKey: %v", err)
			}
			if got.Type != tc.typ {
				t.Fatalf("Type = %q, want %q", got.Type, tc.typ)
			}
			type equaler interface{ Equal(crypto.PublicKey) bool }
			if !tc.pub.(equaler).Equal(got.Key) {
				t.Fatal("parsed key differs from the generated one")
			}
			sk, _ := ssh.NewPublicKey(tc.pub)
			if got.Fingerprint != ssh.FingerprintSHA256(sk) {
				t.Fatalf("Fingerprint = %q, want %q", got.Fingerprint, ssh.FingerprintSHA256(sk))
			}
			sdkFP, err := sdk.Fingerprint(tc.pub)
			if err != nil {
				t.Fatal(err)
			}
			if got.Fingerprint != sdkFP {
				t.Fatalf("Fingerprint = %q, sdk.Fingerprint = %q", got.Fingerprint, sdkFP)
			}
			line, err := got.AuthorizedKey()
			if err != nil || line != authorizedLine(t, tc.pub) {
				t.Fatalf("AuthorizedKey() = %q, %v", line, err)
			}
			if tc.lines {
				sdkLine, err := sdk.AuthorizedKey(tc.pub)
				if err != nil {
					t.Fatal(err)
				}
				again, err := ParsePublicKey(sdkLine)
				if err != nil || again.Fingerprint != got.Fingerprint {
					t.Fatalf("sdk.AuthorizedKey line does not parse back: %v", err)
				}
			}
		})
	}
}

func TestParsePublicKeyGeneratedBySDK(t *testing.T) {
	priv, line, err := sdk.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	s, err := sdk.NewSigner("act_1", priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ParsePublicKey(line)
	if err != nil {
		t.Fatal(err)
	}
	if pk.Fingerprint != s.KeyID() || pk.Type != KeyTypeEd25519 {
		t.Fatalf("registered key %+v does not match signer kid %q", pk, s.KeyID())
	}
}

func TestParsePublicKeyRejects(t *testing.T) {
	k := keys(t)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024PKCS1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa1024.PublicKey)}))
	edLine := authorizedLine(t, k.ed.Public())
	edPEM := pkixPEM(t, k.ed.Public())
	privPEM := string(pkcs8PEM(t, k.ed))

	// A security-key Ed25519 public key: string type, string key, string application.
	skBlob := ssh.Marshal(struct {
		Name, Key, App string
	}{ssh.KeyAlgoSKED25519, string(k.ed.Public().(ed25519.PublicKey)), "ssh:"})
	skLine := ssh.KeyAlgoSKED25519 + " " + base64.StdEncoding.EncodeToString(skBlob)

	// An OpenSSH certificate for the Ed25519 key.
	caSigner, err := ssh.NewSignerFromKey(k.edStranger)
	if err != nil {
		t.Fatal(err)
	}
	edSSH, _ := ssh.NewPublicKey(k.ed.Public())
	cert := &ssh.Certificate{Key: edSSH, CertType: ssh.UserCert, ValidPrincipals: []string{"ci"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, caSigner); err != nil {
		t.Fatal(err)
	}
	certLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert)))

	tests := []struct {
		name, in, want string
	}{
		{"rsa 1024 line", authorizedLine(t, k.rsa1024.Public()), "RSA key is 1024 bits; at least 2048 are required"},
		{"rsa 1024 pkix", pkixPEM(t, k.rsa1024.Public()), "RSA key is 1024 bits; at least 2048 are required"},
		{"rsa 1024 pkcs1", rsa1024PKCS1, "RSA key is 1024 bits; at least 2048 are required"},
		{"p384 line", authorizedLine(t, k.p384.Public()), "ECDSA curve P-384 is not supported; use P-256"},
		{"p384 pkix", pkixPEM(t, k.p384.Public()), "ECDSA curve P-384 is not supported; use P-256"},
		{"p521 line", authorizedLine(t, p521.Public()), "ECDSA curve P-521 is not supported; use P-256"},
		{"p521 pkix", pkixPEM(t, p521.Public()), "ECDSA curve P-521 is not supported; use P-256"},
		{"garbage", "hello world", "not an OpenSSH public key or PEM block"},
		{"single word", "ssh-ed25519", "not an OpenSSH public key or PEM block"},
		{"corrupted base64", "ssh-ed25519 AAAA!!!!", "not an OpenSSH public key or PEM block"},
		{"type mismatch", "ssh-rsa " + strings.Fields(edLine)[1], "not an OpenSSH public key or PEM block"},
		{"comment line", "# " + edLine, "not an OpenSSH public key or PEM block"},
		{"empty", "  \n\t", "public key is empty"},
		{"two lines", edLine + "\n" + authorizedLine(t, k.p256.Public()), "expected a single authorized_keys line"},
		{"two pem blocks", edPEM + edPEM, "expected a single public key, found trailing data after the PEM block"},
		{"bad pem", "-----BEGIN PUBLIC KEY-----\nAAAA", "malformed PEM block"},
		{"pem garbage body", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "malformed PKIX public key"},
		{"pkcs1 garbage body", "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n", "malformed PKCS#1 RSA public key"},
		{"private key pem", privPEM, "this is a private key; register only the public key"},
		{"certificate pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", `unsupported PEM block type; expected "PUBLIC KEY" or "RSA PUBLIC KEY"`},
		{"security key", skLine, "security-key (sk-) keys cannot sign tokens; use Ed25519, ECDSA P-256 or RSA"},
		{"openssh certificate", certLine, "OpenSSH certificates are not supported; register the plain public key"},
		{"too large", strings.Repeat("A", 17<<10), "public key is too large (17408 bytes; at most 16384)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePublicKey(tc.in)
			if err == nil {
				t.Fatal("expected an error")
			}
			if err.Error() != tc.want {
				t.Fatalf("error = %q, want %q", err, tc.want)
			}
			// Errors never echo the input.
			for _, f := range strings.Fields(tc.in) {
				if len(f) > 12 && strings.Contains(err.Error(), f) {
					t.Fatalf("error %q echoes the input", err)
				}
			}
		})
	}
}

func TestKeyFitsAlg(t *testing.T) {
	k := keys(t)
	ed, p256, rs := registered(t, k.ed.Public()), registered(t, k.p256.Public()), registered(t, k.rsa.Public())
	small := PublicKey{Key: &k.rsa1024.PublicKey, Type: KeyTypeRSA}
	p384 := PublicKey{Key: &k.p384.PublicKey, Type: KeyTypeECDSAP256}
	unknown := PublicKey{Key: []byte("secret"), Type: KeyTypeEd25519}
	for _, tc := range []struct {
		key  *PublicKey
		alg  string
		want bool
	}{
		{&ed, "EdDSA", true}, {&ed, "ES256", false}, {&ed, "RS256", false}, {&ed, "HS256", false},
		{&p256, "ES256", true}, {&p256, "EdDSA", false}, {&p256, "PS256", false}, {&p256, "HS256", false},
		{&rs, "RS256", true}, {&rs, "PS256", true}, {&rs, "ES256", false}, {&rs, "HS256", false},
		{&small, "RS256", false}, {&p384, "ES256", false}, {&unknown, "EdDSA", false}, {&unknown, "HS256", false},
	} {
		if got := keyFitsAlg(tc.key, tc.alg); got != tc.want {
			t.Errorf("keyFitsAlg(%s, %s) = %v, want %v", tc.key.Type, tc.alg, got, tc.want)
		}
	}
}
