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
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Key size limits for RSA keys. The server enforces the same bounds.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// ParsePrivateKey parses a PEM encoded private key usable to sign authproxy tokens.
//
// Accepted encodings: PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY"), SEC1
// ("EC PRIVATE KEY", optionally preceded by an "EC PARAMETERS" block) and unencrypted
// OpenSSH ("OPENSSH PRIVATE KEY"). Accepted key types: Ed25519, ECDSA P-256 and RSA with at
// least 2048 bits. Errors describe the problem but never contain key material.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	var block *pem.Block
	rest := data
	for {
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found; expected PKCS#8, PKCS#1, SEC1 or OpenSSH PEM")
		}
		if block.Type != "EC PARAMETERS" {
			break
		}
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("encrypted PEM private keys are not supported; decrypt the key first")
	}

	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("malformed PKCS#8 private key: %w", scrub(err))
		}
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("malformed PKCS#1 RSA private key: %w", scrub(err))
		}
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("malformed SEC1 EC private key: %w", scrub(err))
		}
	case "OPENSSH PRIVATE KEY":
		key, err = ssh.ParseRawPrivateKey(pem.EncodeToMemory(block))
		if err != nil {
			var missing *ssh.PassphraseMissingError
			if errors.As(err, &missing) {
				return nil, errors.New("OpenSSH private key is encrypted; passphrase-protected keys are not supported (remove the passphrase with ssh-keygen -p or use an unencrypted key)")
			}
			return nil, fmt.Errorf("malformed OpenSSH private key: %w", scrub(err))
		}
	case "PUBLIC KEY", "RSA PUBLIC KEY", "OPENSSH PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("PEM block %q is not a private key", block.Type)
	default:
		return nil, fmt.Errorf("unsupported PEM block type %q; expected PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY or OPENSSH PRIVATE KEY", truncate(block.Type, 40))
	}
	return checkPrivateKey(key)
}

// checkPrivateKey narrows a parsed key to the supported types.
func checkPrivateKey(key any) (crypto.Signer, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("malformed Ed25519 private key")
		}
		return k, nil
	case *ed25519.PrivateKey:
		return checkPrivateKey(*k)
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ECDSA curve %s is not supported; use P-256", k.Curve.Params().Name)
		}
		return k, nil
	case *rsa.PrivateKey:
		if err := checkRSABits(k.N.BitLen()); err != nil {
			return nil, err
		}
		return k, nil
	default:
		return nil, fmt.Errorf("private key type %T is not supported; use Ed25519, ECDSA P-256 or RSA (at least %d bits)", key, minRSABits)
	}
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

// scrub keeps parser errors short. Standard library and x/crypto parser errors describe
// structure, not content, but are capped defensively so nothing long ever reaches a log.
func scrub(err error) error {
	return errors.New(truncate(err.Error(), 120))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sshPublicKey converts a Go public key (or an ssh.PublicKey) to an ssh.PublicKey.
func sshPublicKey(pub crypto.PublicKey) (ssh.PublicKey, error) {
	switch k := pub.(type) {
	case nil:
		return nil, errors.New("public key is nil")
	case ssh.PublicKey:
		return k, nil
	case *ed25519.PublicKey:
		return sshPublicKey(*k)
	case ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey:
		return nil, errors.New("a public key is required, not a private key")
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}
	return k, nil
}

// Fingerprint returns the OpenSSH SHA256 fingerprint ("SHA256:…", as printed by
// ssh-keygen -l and produced by ssh.FingerprintSHA256) of a public key. The server uses the
// same value as key id: it is the JWT "kid" header.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	k, err := sshPublicKey(pub)
	if err != nil {
		return "", err
	}
	return ssh.FingerprintSHA256(k), nil
}

// AuthorizedKey returns the public key as a single OpenSSH authorized_keys line
// (e.g. "ssh-ed25519 AAAA…") without a trailing newline, ready to be registered on an actor.
func AuthorizedKey(pub crypto.PublicKey) (string, error) {
	k, err := sshPublicKey(pub)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(k)), "\n"), nil
}

// GenerateKeyPair creates a new Ed25519 key pair. It returns the private key as PKCS#8 PEM
// (keep it secret; ParsePrivateKey and NewSigner read it) and the public key as an
// authorized_keys line to register on the actor.
func GenerateKeyPair() (privatePEM []byte, authorizedKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("generate Ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, "", fmt.Errorf("encode Ed25519 key: %w", err)
	}
	authorizedKey, err = AuthorizedKey(pub)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), authorizedKey, nil
}
