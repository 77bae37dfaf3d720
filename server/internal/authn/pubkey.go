// Package authn authenticates requests: it parses the public keys registered on actors and
// verifies the bearer JWTs actors (and internal hops) sign.
package authn

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Key types of PublicKey.Type.
const (
	KeyTypeEd25519   = "ed25519"
	KeyTypeECDSAP256 = "ecdsa-p256"
	KeyTypeRSA       = "rsa"
)

const (
	minRSABits = 2048
	// maxRSABits bounds verification cost; larger keys buy nothing and slow every request.
	maxRSABits = 8192
	// maxPublicKeyLen bounds the input of ParsePublicKey (an 8192-bit RSA key in any
	// supported encoding is well below this).
	maxPublicKeyLen = 16 << 10
)

// PublicKey is a verified, supported public key registered on an actor.
type PublicKey struct {
	// Key is ed25519.PublicKey, *ecdsa.PublicKey (P-256) or *rsa.PublicKey.
	Key crypto.PublicKey
	// Fingerprint is the OpenSSH SHA256 fingerprint ("SHA256:…"); tokens name it as "kid".
	Fingerprint string
	// Type is KeyTypeEd25519, KeyTypeECDSAP256 or KeyTypeRSA.
	Type string
}

// ParsePublicKey parses one public key: a single OpenSSH authorized_keys line (options and a
// comment are allowed) or a PEM block ("PUBLIC KEY" PKIX or "RSA PUBLIC KEY" PKCS#1). Only
// Ed25519, ECDSA P-256 and RSA keys of 2048 to 8192 bits are accepted. Errors are safe to
// return to the caller: they never contain the input.
func ParsePublicKey(s string) (PublicKey, error) {
	if len(s) > maxPublicKeyLen {
		return PublicKey{}, fmt.Errorf("public key is too large (%d bytes; at most %d)", len(s), maxPublicKeyLen)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return PublicKey{}, errors.New("public key is empty")
	}
	if strings.HasPrefix(s, "-----BEGIN ") {
		return parsePEMPublicKey(s)
	}
	return parseAuthorizedKey(s)
}

func parsePEMPublicKey(s string) (PublicKey, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return PublicKey{}, errors.New("malformed PEM block")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return PublicKey{}, errors.New("expected a single public key, found trailing data after the PEM block")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return PublicKey{}, errors.New("malformed PKIX public key")
		}
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return PublicKey{}, errors.New("malformed PKCS#1 RSA public key")
		}
	default:
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return PublicKey{}, errors.New("this is a private key; register only the public key")
		}
		return PublicKey{}, errors.New(`unsupported PEM block type; expected "PUBLIC KEY" or "RSA PUBLIC KEY"`)
	}
	return newPublicKey(key)
}

func parseAuthorizedKey(s string) (PublicKey, error) {
	if strings.ContainsAny(s, "\r\n") {
		return PublicKey{}, errors.New("expected a single authorized_keys line")
	}
	if strings.HasPrefix(s, "#") {
		return PublicKey{}, errors.New("not an OpenSSH public key or PEM block")
	}
	sk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return PublicKey{}, errors.New("not an OpenSSH public key or PEM block")
	}
	switch t := sk.Type(); t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSA:
	case ssh.KeyAlgoECDSA384:
		return PublicKey{}, errors.New("ECDSA curve P-384 is not supported; use P-256")
	case ssh.KeyAlgoECDSA521:
		return PublicKey{}, errors.New("ECDSA curve P-521 is not supported; use P-256")
	case ssh.KeyAlgoDSA:
		return PublicKey{}, errors.New("DSA keys are not supported; use Ed25519, ECDSA P-256 or RSA")
	case ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256:
		return PublicKey{}, errors.New("security-key (sk-) keys cannot sign tokens; use Ed25519, ECDSA P-256 or RSA")
	default:
		if strings.Contains(t, "-cert-") {
			return PublicKey{}, errors.New("OpenSSH certificates are not supported; register the plain public key")
		}
		return PublicKey{}, errors.New("unsupported key type; use Ed25519, ECDSA P-256 or RSA")
	}
	ck, ok := sk.(ssh.CryptoPublicKey)
	if !ok {
		return PublicKey{}, errors.New("unsupported key type; use Ed25519, ECDSA P-256 or RSA")
	}
	return newPublicKey(ck.CryptoPublicKey())
}

// newPublicKey checks a parsed key and computes its type and fingerprint.
func newPublicKey(key any) (PublicKey, error) {
	var typ string
	switch k := key.(type) {
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return PublicKey{}, errors.New("malformed Ed25519 public key")
		}
		typ = KeyTypeEd25519
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			name := "unknown"
			if k.Curve != nil && k.Curve.Params() != nil {
				name = k.Curve.Params().Name
			}
			return PublicKey{}, fmt.Errorf("ECDSA curve %s is not supported; use P-256", name)
		}
		typ = KeyTypeECDSAP256
	case *rsa.PublicKey:
		if err := checkRSABits(k.N.BitLen()); err != nil {
			return PublicKey{}, err
		}
		typ = KeyTypeRSA
	default:
		return PublicKey{}, errors.New("unsupported key type; use Ed25519, ECDSA P-256 or RSA")
	}
	sk, err := ssh.NewPublicKey(key)
	if err != nil {
		return PublicKey{}, errors.New("unsupported key type; use Ed25519, ECDSA P-256 or RSA")
	}
	return PublicKey{Key: key, Fingerprint: ssh.FingerprintSHA256(sk), Type: typ}, nil
}

func checkRSABits(bits int) error {
	if bits < minRSABits {
		return fmt.Errorf("RSA key is %d bits; at least %d are required", bits, minRSABits)
	}
	if bits > maxRSABits {
		return fmt.Errorf("RSA key is %d bits; at most %d are supported", bits, maxRSABits)
	}
	return nil
}

// AuthorizedKey returns the key as an authorized_keys line without comment or newline, the
// canonical form to store.
func (k PublicKey) AuthorizedKey() (string, error) {
	sk, err := ssh.NewPublicKey(k.Key)
	if err != nil {
		return "", errors.New("unsupported key type")
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(sk)), "\n"), nil
}
