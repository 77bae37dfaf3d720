package encrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
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
		{"env with previous", "env", map[string]string{"var": "ROOT_KEY", "previous_var": "ROOT_KEY_OLD"},
			EnvSource{Var: "ROOT_KEY", PreviousVar: "ROOT_KEY_OLD"}, ""},
		{"file with previous", "file", map[string]string{"path": "/k/root.key", "previous_path": "/k/root.key.old"},
			FileSource{Path: "/k/root.key", PreviousPath: "/k/root.key.old"}, ""},
		{"env with blank previous_var", "env", map[string]string{"var": "K", "previous_var": " "}, nil, `"previous_var" is blank`},
		{"file with empty previous_path", "file", map[string]string{"path": "/k", "previous_path": ""}, nil, `"previous_path" is blank`},
		{"previous_var is var", "env", map[string]string{"var": "K", "previous_var": "K"}, nil, `"var" and "previous_var" are the same`},
		{"previous_path is path", "file", map[string]string{"path": "/k", "previous_path": "/k"}, nil, `"path" and "previous_path" are the same`},
		{"previous without current", "env", map[string]string{"previous_var": "K"}, nil, `needs the parameter "var"`},
		{"previous_path on env", "env", map[string]string{"var": "K", "previous_path": "/k"}, nil, `has no parameter "previous_path"`},
		{"previous_var on aws", "aws_secrets_manager", map[string]string{"secret_id": "s", "previous_var": "K"}, nil, `has no parameter "previous_var"`},
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

func TestEnvSourcePrevious(t *testing.T) {
	const cur, prev = "AUTHPROXY_TEST_ENCRYPT_KEY", "AUTHPROXY_TEST_ENCRYPT_KEY_PREVIOUS"
	t.Setenv(cur, hex.EncodeToString(bytes.Repeat([]byte{7}, KeySize)))
	for _, tc := range []struct {
		name    string
		src     EnvSource
		value   *string // of prev
		wantOK  bool
		wantErr string
	}{
		{"base64", EnvSource{Var: cur, PreviousVar: prev}, ptr(sourceKeyB64 + "\n"), true, ""},
		{"hex", EnvSource{Var: cur, PreviousVar: prev}, ptr(sourceKeyHex), true, ""},
		{"not configured", EnvSource{Var: cur}, ptr(sourceKeyB64), false, ""},
		{"unset", EnvSource{Var: cur, PreviousVar: prev}, nil, false, ""},
		{"empty", EnvSource{Var: cur, PreviousVar: prev}, ptr(""), false, ""},
		{"blank", EnvSource{Var: cur, PreviousVar: prev}, ptr(" \n"), false, ""},
		{"raw bytes", EnvSource{Var: cur, PreviousVar: prev}, ptr(string(sourceKey)), false, "decodes to 24 bytes"},
		{"short base64", EnvSource{Var: cur, PreviousVar: prev}, ptr(sourceKeyB64[:40]), false, "decodes to 30 bytes"},
		{"bad hex", EnvSource{Var: cur, PreviousVar: prev}, ptr("-" + sourceKeyHex[1:]), false, "neither base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.value == nil {
				os.Unsetenv(prev)
			} else {
				t.Setenv(prev, *tc.value)
			}
			m, ok, err := tc.src.LoadPrevious(context.Background())
			checkLoadPrevious(t, m, ok, err, tc.wantOK, tc.wantErr)
			if err != nil {
				if !strings.Contains(err.Error(), prev) {
					t.Fatalf("error does not name the variable: %v", err)
				}
				assertNoLeak(t, err, *tc.value)
			}
		})
	}
}

func TestFileSourcePrevious(t *testing.T) {
	dir := t.TempDir()
	cur := filepath.Join(dir, "current")
	if err := os.WriteFile(cur, bytes.Repeat([]byte{7}, KeySize), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		mode    os.FileMode
		noParam bool
		wantOK  bool
		wantErr string
	}{
		{"raw 32 bytes", sourceKey, 0o400, false, true, ""},
		{"base64", []byte(sourceKeyB64 + "\n"), 0o600, false, true, ""},
		{"not configured", sourceKey, 0o600, true, false, ""},
		{"missing", nil, 0, false, false, ""},
		{"group readable", sourceKey, 0o640, false, false, "group or others"},
		{"31 raw bytes", sourceKey[:31], 0o600, false, false, "is not 32 raw bytes"},
		{"short hex", []byte(sourceKeyHex[:62]), 0o600, false, false, "neither base64"},
		{"empty", []byte{}, 0o600, false, false, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if tc.content != nil {
				if err := os.WriteFile(path, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			src := FileSource{Path: cur, PreviousPath: path}
			if tc.noParam {
				src.PreviousPath = ""
			}
			m, ok, err := src.LoadPrevious(context.Background())
			checkLoadPrevious(t, m, ok, err, tc.wantOK, tc.wantErr)
			if err != nil {
				assertNoLeak(t, err, string(tc.content))
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("error does not name the file: %v", err)
				}
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, ok, err := FileSource{Path: cur, PreviousPath: dir}.LoadPrevious(context.Background())
		if ok || err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("ok = %v, err = %v", ok, err)
		}
	})
}

// checkLoadPrevious checks what LoadPrevious returned: sourceKey when wantOK,
// else nothing, with an error containing wantErr when that is set.
func checkLoadPrevious(t *testing.T, m Material, ok bool, err error, wantOK bool, wantErr string) {
	t.Helper()
	if wantOK {
		if !ok {
			t.Fatalf("ok = false, err = %v", err)
		}
		checkLoad(t, m, err, "")
		return
	}
	if ok || m.Key != nil {
		t.Fatalf("ok = %v with %d key bytes, want nothing", ok, len(m.Key))
	}
	if wantErr == "" && err != nil {
		t.Fatal(err)
	}
	if wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
		t.Fatalf("err = %v, want it to contain %q", err, wantErr)
	}
}

// rotatedKey is what the rotation tests rotate sourceKey to.
var rotatedKey = bytes.Repeat([]byte{0x42}, KeySize)

// checkRotation checks LoadVersion on src, which holds sourceKey and no
// previous material, then after rotate makes rotatedKey current and
// sourceKey previous: both versions must stay loadable, third must fail
// with ErrVersionGone, and no error may carry either key.
func checkRotation(t *testing.T, src Source, third string, rotate func()) {
	t.Helper()
	ctx := context.Background()
	noLeak := func(err error) {
		t.Helper()
		assertNoLeak(t, err, base64.StdEncoding.EncodeToString(rotatedKey), hex.EncodeToString(rotatedKey), string(rotatedKey))
	}
	load := func(version string, want []byte) {
		t.Helper()
		m, err := LoadVersion(ctx, src, version)
		if err != nil {
			t.Fatalf("LoadVersion(%q): %v", version, err)
		}
		if m.Version != version || !bytes.Equal(m.Key, want) {
			t.Fatalf("LoadVersion(%q) = version %q, right key: %v", version, m.Version, bytes.Equal(m.Key, want))
		}
	}
	gone := func(version string, holds ...string) {
		t.Helper()
		m, err := LoadVersion(ctx, src, version)
		if !errors.Is(err, ErrVersionGone) || m.Key != nil {
			t.Fatalf("LoadVersion(%q) = %d key bytes, %v; want ErrVersionGone", version, len(m.Key), err)
		}
		for _, v := range append(holds, version) {
			if !strings.Contains(err.Error(), v) {
				t.Fatalf("error does not name version %q: %v", v, err)
			}
		}
		noLeak(err)
		t.Logf("error reads: %v", err)
	}

	old, err := src.Load(ctx)
	if err != nil || !bytes.Equal(old.Key, sourceKey) {
		t.Fatalf("before rotation: Load = %v, %v", old, err)
	}
	if ps, ok := src.(PreviousSource); !ok {
		t.Fatalf("%T is not a PreviousSource", src)
	} else if _, ok, err := ps.LoadPrevious(ctx); ok || err != nil {
		t.Fatalf("before rotation: LoadPrevious ok = %v, err = %v", ok, err)
	}
	load(old.Version, sourceKey)
	gone(third, old.Version)

	rotate()
	cur, err := src.Load(ctx)
	if err != nil || !bytes.Equal(cur.Key, rotatedKey) || cur.Version == old.Version {
		t.Fatalf("after rotation: Load = %v, %v", cur, err)
	}
	load(old.Version, sourceKey)
	load(cur.Version, rotatedKey)
	gone(third, old.Version, cur.Version)
}

func TestLoadVersionRotation(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		src := EnvSource{Var: "AUTHPROXY_TEST_ROTATE", PreviousVar: "AUTHPROXY_TEST_ROTATE_OLD"}
		t.Setenv(src.Var, sourceKeyB64)
		t.Setenv(src.PreviousVar, "")
		checkRotation(t, src, Fingerprint(bytes.Repeat([]byte{3}, KeySize)), func() {
			t.Setenv(src.Var, hex.EncodeToString(rotatedKey))
			t.Setenv(src.PreviousVar, sourceKeyB64)
		})
	})
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		src := FileSource{Path: filepath.Join(dir, "root.key"), PreviousPath: filepath.Join(dir, "root.key.old")}
		if err := os.WriteFile(src.Path, sourceKey, 0o600); err != nil {
			t.Fatal(err)
		}
		checkRotation(t, src, Fingerprint(bytes.Repeat([]byte{3}, KeySize)), func() {
			if err := os.Rename(src.Path, src.PreviousPath); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(src.Path, []byte(base64.StdEncoding.EncodeToString(rotatedKey)), 0o400); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// stubSource hands out its own key slices, so a test can see LoadVersion
// clear them.
type stubSource struct {
	cur, prev Material
	prevOK    bool
	err       error // from LoadPrevious
}

func (s *stubSource) Load(context.Context) (Material, error) { return s.cur, nil }

func (s *stubSource) LoadPrevious(context.Context) (Material, bool, error) {
	if s.err != nil {
		return Material{}, false, s.err
	}
	return s.prev, s.prevOK, nil
}

type currentOnly struct{ m Material }

func (s currentOnly) Load(context.Context) (Material, error) { return s.m, nil }

func TestLoadVersion(t *testing.T) {
	prevErr := errors.New("encrypt: env var OLD is empty")
	for _, tc := range []struct {
		name                  string
		prevOK                bool
		plain                 bool // a Source that is not a PreviousSource
		err                   error
		version               string
		want                  string // version returned; "" for an error
		wantErr               error
		curCleared, prevClear bool
	}{
		{"current", true, false, nil, "v2", "v2", nil, false, false},
		{"previous", true, false, nil, "v1", "v1", nil, true, false},
		{"neither", true, false, nil, "v0", "", ErrVersionGone, true, true},
		{"no previous", false, false, nil, "v1", "", ErrVersionGone, true, false},
		{"not a PreviousSource", false, true, nil, "v1", "", ErrVersionGone, true, false},
		{"previous fails", false, false, prevErr, "v1", "", prevErr, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := Material{Key: bytes.Repeat([]byte{2}, KeySize), Version: "v2"}
			prev := Material{Key: bytes.Repeat([]byte{1}, KeySize), Version: "v1"}
			var src Source = &stubSource{cur: cur, prev: prev, prevOK: tc.prevOK, err: tc.err}
			if tc.plain {
				src = currentOnly{cur}
			}
			m, err := LoadVersion(context.Background(), src, tc.version)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || m.Key != nil {
					t.Fatalf("LoadVersion = %v, %v; want %v", m, err, tc.wantErr)
				}
				if tc.wantErr == ErrVersionGone {
					want := `want version "` + tc.version + `", the source holds current "v2"`
					if tc.prevOK {
						want += `, previous "v1"`
					}
					if !strings.HasSuffix(err.Error(), want) {
						t.Fatalf("error %q, want it to end %q", err, want)
					}
				}
			} else if err != nil || m.Version != tc.want {
				t.Fatalf("LoadVersion = %v, %v; want version %s", m, err, tc.want)
			}
			if cleared := !slices.ContainsFunc(cur.Key, func(b byte) bool { return b != 0 }); cleared != tc.curCleared {
				t.Errorf("current key cleared: %v, want %v", cleared, tc.curCleared)
			}
			if cleared := !slices.ContainsFunc(prev.Key, func(b byte) bool { return b != 0 }); cleared != tc.prevClear {
				t.Errorf("previous key cleared: %v, want %v", cleared, tc.prevClear)
			}
		})
	}
}
