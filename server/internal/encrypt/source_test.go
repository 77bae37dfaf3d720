package encrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// sourceKey is the key the source tests load; sourceKeyText is a printable
// piece of it that must never show up in an error.
var (
	sourceKey     = []byte("0123456789abcdef0123456789ABCDEF")
	sourceKeyB64  = base64.StdEncoding.EncodeToString(sourceKey)
	sourceKeyHex  = hex.EncodeToString(sourceKey)
	sourceKeyText = "0123456789abcdef"
)

// assertNoLeak fails if err mentions any form of the key or the bad value.
func assertNoLeak(t *testing.T, err error, values ...string) {
	t.Helper()
	for _, v := range append(values, sourceKeyB64, sourceKeyHex, sourceKeyText) {
		if len(v) >= 8 && strings.Contains(err.Error(), v) {
			t.Fatalf("error leaks key material %q: %v", v, err)
		}
	}
}

func TestEnvSource(t *testing.T) {
	const name = "AUTHPROXY_TEST_ENCRYPT_KEY"
	for _, tc := range []struct {
		name    string
		value   *string
		wantErr string
	}{
		{"base64", ptr(sourceKeyB64), ""},
		{"base64 with newline", ptr(sourceKeyB64 + "\n"), ""},
		{"hex", ptr(sourceKeyHex), ""},
		{"upper hex", ptr(strings.ToUpper(sourceKeyHex)), ""},
		{"unset", nil, "is not set"},
		{"empty", ptr(""), "is empty"},
		{"raw bytes are not allowed", ptr(string(sourceKey)), "decodes to 24 bytes"},
		{"raw bytes, not base64", ptr("0123456789abcdef0123456789ABCD!!"), "neither base64"},
		{"16-byte base64", ptr(base64.StdEncoding.EncodeToString(sourceKey[:16])), "decodes to 16 bytes"},
		{"48-byte base64", ptr(base64.StdEncoding.EncodeToString(append(sourceKey, sourceKey[:16]...))), "decodes to 48 bytes"},
		{"hex with a bad digit", ptr("-" + sourceKeyHex[1:]), "neither base64"},
		{"short hex", ptr(sourceKeyHex[:62]), "neither base64"},
		{"bad base64", ptr("!" + sourceKeyB64[1:]), "neither base64"},
		{"url base64", ptr(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32))), "neither base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.value == nil {
				os.Unsetenv(name)
			} else {
				t.Setenv(name, *tc.value)
			}
			m, err := EnvSource{Var: name}.Load(context.Background())
			checkLoad(t, m, err, tc.wantErr)
			if err != nil {
				if !strings.Contains(err.Error(), name) {
					t.Fatalf("error does not name the variable: %v", err)
				}
				if tc.value != nil {
					assertNoLeak(t, err, *tc.value)
				}
			}
		})
	}
}

func TestFileSource(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		content []byte
		mode    os.FileMode
		wantErr string
	}{
		{"raw 32 bytes", sourceKey, 0o600, ""},
		{"base64 with newline", []byte(sourceKeyB64 + "\n"), 0o400, ""},
		{"hex", []byte(sourceKeyHex), 0o600, ""},
		{"world readable", []byte(sourceKeyB64), 0o644, "mode 0644"},
		{"group readable", []byte(sourceKeyB64), 0o640, "group or others"},
		{"31 raw bytes", sourceKey[:31], 0o600, "is not 32 raw bytes"},
		{"33 raw bytes", append(bytes.Clone(sourceKey), 'x'), 0o600, "is not 32 raw bytes"},
		{"empty", nil, 0o600, "is empty"},
		{"short base64", []byte(base64.StdEncoding.EncodeToString(sourceKey[:16])), 0o600, "decodes to 16 bytes"},
		{"too big", bytes.Repeat([]byte("A"), maxKeyFileSize+1), 0o600, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			m, err := FileSource{Path: path}.Load(context.Background())
			checkLoad(t, m, err, tc.wantErr)
			if err != nil {
				assertNoLeak(t, err, string(tc.content))
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("error does not name the file: %v", err)
				}
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		_, err := FileSource{Path: filepath.Join(dir, "nope")}.Load(context.Background())
		if err == nil || !os.IsNotExist(unwrapAll(err)) {
			t.Fatalf("err = %v, want not-exist", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		sub := filepath.Join(dir, "sub")
		os.Mkdir(sub, 0o700)
		_, err := FileSource{Path: sub}.Load(context.Background())
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("fifo is refused without blocking", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skip(err)
		}
		_, err := FileSource{Path: fifo}.Load(context.Background())
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no path", func(t *testing.T) {
		if _, err := (FileSource{}).Load(context.Background()); err == nil || !strings.Contains(err.Error(), "no path") {
			t.Fatalf("err = %v", err)
		}
		if _, err := (EnvSource{}).Load(context.Background()); err == nil || !strings.Contains(err.Error(), "no variable name") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("rotation changes the version", func(t *testing.T) {
		path := filepath.Join(dir, "rotating")
		os.WriteFile(path, sourceKey, 0o600)
		m1, err := FileSource{Path: path}.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, bytes.Repeat([]byte{9}, KeySize), 0o600)
		m2, err := FileSource{Path: path}.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if m1.Version == m2.Version || !strings.HasPrefix(m1.Version, "sha256:") {
			t.Fatalf("versions %q, %q", m1.Version, m2.Version)
		}
	})
}

func checkLoad(t *testing.T, m Material, err error, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want it to contain %q", err, wantErr)
		}
		if m.Key != nil {
			t.Fatal("key returned with an error")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Key, sourceKey) {
		t.Fatalf("loaded %d bytes, not the key", len(m.Key))
	}
	if m.Version != Fingerprint(sourceKey) {
		t.Fatalf("Version = %q, want %q", m.Version, Fingerprint(sourceKey))
	}
}

func TestFingerprint(t *testing.T) {
	fp := Fingerprint(sourceKey)
	if len(fp) != len("sha256:")+16 || fp == Fingerprint(bytes.Repeat([]byte{1}, 32)) {
		t.Fatalf("Fingerprint = %q", fp)
	}
	if strings.Contains(fp, sourceKeyHex[:16]) {
		t.Fatal("fingerprint is the key")
	}
}

func TestParseSourceConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    string
		params  map[string]string
		want    Source
		wantErr string
	}{
		{"env", "env", map[string]string{"var": "ROOT_KEY"}, EnvSource{Var: "ROOT_KEY"}, ""},
		{"file", "file", map[string]string{"path": "/etc/authproxy/root.key"}, FileSource{Path: "/etc/authproxy/root.key"}, ""},
		{"aws", "aws_secrets_manager", map[string]string{
			"secret_id": "authproxy/root", "region": "eu-west-1", "endpoint": "https://sm.example.test",
			"version_stage": "AWSPREVIOUS", "json_key": "key",
		}, nil, ""},
		{"env without var", "env", nil, nil, `needs the parameter "var"`},
		{"env with blank var", "env", map[string]string{"var": " "}, nil, `needs the parameter "var"`},
		{"file without path", "file", map[string]string{}, nil, `needs the parameter "path"`},
		{"aws without secret", "aws_secrets_manager", map[string]string{"region": "us-east-1"}, nil, `needs the parameter "secret_id"`},
		{"typo", "file", map[string]string{"pth": "/x"}, nil, `has no parameter "pth"`},
		{"bad endpoint", "aws_secrets_manager", map[string]string{"secret_id": "s", "endpoint": "localhost:4566"}, nil, "not an http(s) URL"},
		{"generated has no source", "generated", nil, nil, `unknown key source "generated"`},
		{"unknown kind", "vault", nil, nil, `unknown key source "vault"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := ParseSourceConfig(tc.kind, tc.params)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if src != tc.want {
					t.Fatalf("got %#v, want %#v", src, tc.want)
				}
				return
			}
			aws, ok := src.(*AWSSecretsManagerSource)
			if !ok || aws.SecretID != "authproxy/root" || aws.Region != "eu-west-1" ||
				aws.Endpoint != "https://sm.example.test" || aws.VersionStage != "AWSPREVIOUS" || aws.JSONKey != "key" {
				t.Fatalf("got %#v", src)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
