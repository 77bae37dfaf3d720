package encrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// secret is the plaintext the tamper tests seal; no error may ever contain it.
const secret = "sk_live_TOP-SECRET-do-not-leak-4242"

func testKey(id string, fill byte) KeyVersion {
	return KeyVersion{ID: id, Material: bytes.Repeat([]byte{fill}, KeySize)}
}

var (
	keyA   = testKey("kv_A", 0xA1)
	keyB   = testKey("kv_B", 0xB2)
	rowAAD = AAD{Table: "connections", Column: "encrypted_credentials", Row: "con_1"}
)

func mustSeal(t testing.TB, kv KeyVersion, plaintext string, aad AAD) string {
	t.Helper()
	s, err := Seal(kv, []byte(plaintext), aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return s
}

// setD returns the envelope s with its data replaced by data.
func setD(t testing.TB, s string, data []byte) string {
	t.Helper()
	env, err := ParseEnvelope(s)
	if err != nil {
		t.Fatal(err)
	}
	return `{"id":"` + env.KeyID + `","d":"` + base64.StdEncoding.EncodeToString(data) + `"}`
}

func TestSealOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	keys := StaticKeys(keyA, keyB)
	for _, tc := range []struct {
		name      string
		kv        KeyVersion
		plaintext []byte
	}{
		{"empty", keyA, []byte{}},
		{"short", keyA, []byte(secret)},
		{"binary", keyB, []byte{0, 1, 2, 255, '"', '\\', '\n'}},
		{"1KiB", keyB, bytes.Repeat([]byte("x"), 1024)},
		{"1MiB", keyA, bytes.Repeat([]byte{7}, 1<<20)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Seal(tc.kv, tc.plaintext, rowAAD)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid([]byte(s)) {
				t.Fatalf("envelope is not JSON: %s", s)
			}
			var raw map[string]string
			if err := json.Unmarshal([]byte(s), &raw); err != nil || len(raw) != 2 || raw["id"] != tc.kv.ID {
				t.Fatalf("envelope %q: members %v, %v", s, raw, err)
			}
			if id, err := KeyIDOf(s); err != nil || id != tc.kv.ID {
				t.Fatalf("KeyIDOf = %q, %v; want %q", id, err, tc.kv.ID)
			}
			got, err := Open(ctx, keys, s, rowAAD)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !bytes.Equal(got, tc.plaintext) {
				t.Fatalf("Open = %d bytes, want %d", len(got), len(tc.plaintext))
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	a := mustSeal(t, keyA, secret, rowAAD)
	b := mustSeal(t, keyA, secret, rowAAD)
	if a == b {
		t.Fatal("sealing the same plaintext twice gave the same envelope")
	}
	ea, _ := ParseEnvelope(a)
	eb, _ := ParseEnvelope(b)
	if bytes.Equal(ea.Data[:nonceSize], eb.Data[:nonceSize]) {
		t.Fatal("nonce reused")
	}
}

// TestOpenRejects is the tamper table: every case must fail with the given
// error and never return plaintext or mention it.
func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	keys := StaticKeys(keyA, keyB)
	good := mustSeal(t, keyA, secret, rowAAD)
	env, err := ParseEnvelope(good)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		d := bytes.Clone(env.Data)
		d[i] ^= 0x01
		return setD(t, good, d)
	}
	n := len(env.Data)
	b64 := base64.StdEncoding.EncodeToString(env.Data)

	for _, tc := range []struct {
		name string
		s    string
		aad  AAD
		keys KeyLookup
		want error
	}{
		{"other row", good, AAD{rowAAD.Table, rowAAD.Column, "con_2"}, keys, ErrNotAuthentic},
		{"other column", good, AAD{rowAAD.Table, "other_secret", rowAAD.Row}, keys, ErrNotAuthentic},
		{"other table", good, AAD{"actors", rowAAD.Column, rowAAD.Row}, keys, ErrNotAuthentic},
		{"shifted AAD boundary", good, AAD{"connectionse", "ncrypted_credentials", rowAAD.Row}, keys, ErrNotAuthentic},
		{"flip nonce first", flip(0), rowAAD, keys, ErrNotAuthentic},
		{"flip nonce last", flip(nonceSize - 1), rowAAD, keys, ErrNotAuthentic},
		{"flip body first", flip(nonceSize), rowAAD, keys, ErrNotAuthentic},
		{"flip body last", flip(n - tagSize - 1), rowAAD, keys, ErrNotAuthentic},
		{"flip tag first", flip(n - tagSize), rowAAD, keys, ErrNotAuthentic},
		{"flip tag last", flip(n - 1), rowAAD, keys, ErrNotAuthentic},
		{"relabelled to other key id", `{"id":"kv_B","d":"` + b64 + `"}`, rowAAD, keys, ErrNotAuthentic},
		{"relabelled, same material", `{"id":"kv_C","d":"` + b64 + `"}`, rowAAD, StaticKeys(keyA, testKey("kv_C", 0xA1)), ErrNotAuthentic},
		{"wrong material, right id", good, rowAAD, StaticKeys(testKey("kv_A", 0x00)), ErrNotAuthentic},
		{"unknown key id", good, rowAAD, StaticKeys(keyB), ErrUnknownKey},
		{"truncated to nonce+tag-1", setD(t, good, env.Data[:nonceSize+tagSize-1]), rowAAD, keys, ErrMalformed},
		{"truncated to nothing", setD(t, good, nil), rowAAD, keys, ErrMalformed},
		{"truncated by one", setD(t, good, env.Data[:n-1]), rowAAD, keys, ErrNotAuthentic},
		{"truncated JSON", good[:len(good)-2], rowAAD, keys, ErrMalformed},
		{"empty string", "", rowAAD, keys, ErrMalformed},
		{"not JSON", "hunter2", rowAAD, keys, ErrMalformed},
		{"JSON string", `"` + good + `"`, rowAAD, keys, ErrMalformed},
		{"JSON array", `["kv_A","` + b64 + `"]`, rowAAD, keys, ErrMalformed},
		{"extra member", `{"id":"kv_A","d":"` + b64 + `","x":1}`, rowAAD, keys, ErrMalformed},
		{"duplicate id", `{"id":"kv_A","id":"kv_B","d":"` + b64 + `"}`, rowAAD, keys, ErrMalformed},
		{"missing d", `{"id":"kv_A"}`, rowAAD, keys, ErrMalformed},
		{"missing id", `{"d":"` + b64 + `"}`, rowAAD, keys, ErrMalformed},
		{"upper-case member", `{"ID":"kv_A","d":"` + b64 + `"}`, rowAAD, keys, ErrMalformed},
		{"id not a string", `{"id":1,"d":"` + b64 + `"}`, rowAAD, keys, ErrMalformed},
		{"d not a string", `{"id":"kv_A","d":null}`, rowAAD, keys, ErrMalformed},
		{"empty id", `{"id":"","d":"` + b64 + `"}`, rowAAD, keys, ErrMalformed},
		{"id too long", `{"id":"` + strings.Repeat("k", MaxKeyIDLen+1) + `","d":"` + b64 + `"}`, rowAAD, keys, ErrMalformed},
		{"id with space", `{"id":"kv A","d":"` + b64 + `"}`, rowAAD, keys, ErrMalformed},
		{"bad base64", `{"id":"kv_A","d":"!!!!"}`, rowAAD, keys, ErrMalformed},
		{"url base64", `{"id":"kv_A","d":"` + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 40)) + `"}`, rowAAD, keys, ErrMalformed},
		{"unpadded base64", `{"id":"kv_A","d":"` + strings.TrimRight(base64.StdEncoding.EncodeToString(env.Data[:n-1]), "=") + `"}`, rowAAD, keys, ErrMalformed},
		{"newline in base64", `{"id":"kv_A","d":"` + b64[:8] + `\n` + b64[8:] + `"}`, rowAAD, keys, ErrMalformed},
		{"trailing data", good + `{}`, rowAAD, keys, ErrMalformed},
		{"trailing garbage", good + `x`, rowAAD, keys, ErrMalformed},
		{"legacy plaintext", secret, rowAAD, keys, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(ctx, tc.keys, tc.s, tc.aad)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			if got != nil {
				t.Fatalf("Open returned %d bytes of plaintext with an error", len(got))
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error contains the plaintext: %v", err)
			}
			if tc.want == ErrNotAuthentic && !strings.Contains(err.Error(), "wrong row, tampered, or wrong key") {
				t.Fatalf("error does not explain itself: %v", err)
			}
			if tc.want == ErrUnknownKey && !strings.Contains(err.Error(), `"kv_A"`) {
				t.Fatalf("error does not name the key id: %v", err)
			}
		})
	}
}

func TestEnvelopeToleratesReformattedJSON(t *testing.T) {
	// A jsonb column or a hand-edited dump may reorder members and add
	// whitespace; the value must still open.
	good := mustSeal(t, keyA, secret, rowAAD)
	env, _ := ParseEnvelope(good)
	reformatted := "{\n  \"d\": \"" + base64.StdEncoding.EncodeToString(env.Data) + "\",\n  \"id\": \"kv_A\"\n}\n"
	got, err := Open(context.Background(), StaticKeys(keyA), reformatted, rowAAD)
	if err != nil || string(got) != secret {
		t.Fatalf("Open(reformatted) = %q, %v", got, err)
	}
}

func TestSealRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   KeyVersion
		aad  AAD
	}{
		{"short key", KeyVersion{ID: "kv_x", Material: make([]byte, 16)}, rowAAD},
		{"no key", KeyVersion{ID: "kv_x"}, rowAAD},
		{"empty id", KeyVersion{Material: make([]byte, KeySize)}, rowAAD},
		{"id with quote", KeyVersion{ID: `kv_"x`, Material: make([]byte, KeySize)}, rowAAD},
		{"empty row", keyA, AAD{Table: "t", Column: "c"}},
		{"empty table", keyA, AAD{Column: "c", Row: "r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := Seal(tc.kv, []byte(secret), tc.aad); err == nil {
				t.Fatalf("Seal succeeded: %s", s)
			} else if strings.Contains(err.Error(), secret) {
				t.Fatalf("error contains the plaintext: %v", err)
			}
		})
	}
	if _, err := Open(context.Background(), StaticKeys(keyA), mustSeal(t, keyA, "x", rowAAD), AAD{Table: "t", Column: "c"}); err == nil {
		t.Fatal("Open with an empty row succeeded")
	}
}

func TestOpenChecksLookup(t *testing.T) {
	ctx := context.Background()
	s := mustSeal(t, keyA, secret, rowAAD)
	lookupErr := errors.New("database is down")
	for _, tc := range []struct {
		name string
		keys KeyLookup
		want string
	}{
		{"lookup fails", KeyLookupFunc(func(context.Context, string) (KeyVersion, error) { return KeyVersion{}, lookupErr }), "database is down"},
		{"lookup returns other id", StaticKeys(KeyVersion{ID: "kv_B", Material: keyA.Material}), "unknown key version"},
		{"lookup returns mismatched id", KeyLookupFunc(func(context.Context, string) (KeyVersion, error) { return keyB, nil }), `returned key version "kv_B"`},
		{"lookup returns short key", KeyLookupFunc(func(context.Context, string) (KeyVersion, error) {
			return KeyVersion{ID: "kv_A", Material: keyA.Material[:16]}, nil
		}), "16 bytes of material"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Open(ctx, tc.keys, s, rowAAD)
			if err == nil || got != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %q, %v; want error containing %q", got, err, tc.want)
			}
		})
	}
	_, err := Open(ctx, KeyLookupFunc(func(context.Context, string) (KeyVersion, error) { return KeyVersion{}, lookupErr }), s, rowAAD)
	if !errors.Is(err, lookupErr) {
		t.Fatalf("lookup error not wrapped: %v", err)
	}
}

func TestAdditionalDataIsUnambiguous(t *testing.T) {
	cases := []struct {
		id string
		a  AAD
	}{
		{"kv_1", AAD{"ab", "c", "r"}},
		{"kv_1", AAD{"a", "bc", "r"}},
		{"kv_1", AAD{"a", "b", "cr"}},
		{"kv_1a", AAD{"b", "c", "r"}},
		{"kv_", AAD{"1ab", "c", "r"}},
	}
	seen := map[string]int{}
	for i, c := range cases {
		k := string(additionalData(c.id, c.a))
		if j, ok := seen[k]; ok {
			t.Fatalf("cases %d and %d encode the same: %q", j, i, k)
		}
		seen[k] = i
		if k[0] != aadFormatV1 {
			t.Fatalf("missing format byte: %q", k)
		}
	}
}

func TestValidKeyID(t *testing.T) {
	for id, want := range map[string]bool{
		"kv_0aZ":                           true,
		NewKeyVersionID():                  true,
		"root:v1.2-x":                      true,
		"":                                 false,
		"kv x":                             false,
		`kv"`:                              false,
		"kv/1":                             false,
		"kv_é":                             false,
		strings.Repeat("a", MaxKeyIDLen):   true,
		strings.Repeat("a", MaxKeyIDLen+1): false,
	} {
		if got := ValidKeyID(id); got != want {
			t.Errorf("ValidKeyID(%q) = %v, want %v", id, got, want)
		}
	}
}
