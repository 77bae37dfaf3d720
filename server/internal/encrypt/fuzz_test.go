package encrypt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fuzz targets use a fixed key and two envelopes sealed with it once
// (nonces are random, so these are recorded, not recomputed). The seed
// corpus lives in testdata/fuzz/<Name>/; TestWriteFuzzCorpus regenerates it.
var (
	fuzzKey       = KeyVersion{ID: "kv_fuzz", Material: []byte("fuzz-key-material-32-bytes-long!")}
	fuzzAAD       = AAD{Table: "fuzz_table", Column: "fuzz_column", Row: "row_1"}
	fuzzPlaintext = "fuzz-plaintext-SECRET-4711"
	// fuzzValid maps each recorded envelope to its plaintext.
	fuzzValid = map[string]string{
		`{"id":"kv_fuzz","d":"1y9F2sZ3B6xG2L+2QdXbr8NrVlNIK3H01Jczj1Jp1twZy7+q/WyfRsbJk6qJtrle7Mfjwt7V"}`: fuzzPlaintext,
		`{"id":"kv_fuzz","d":"72sQEZsABp7SgeQN4LB0JpQMFg394tsuetOrcA=="}`:                                 "",
	}
)

// fuzzSeeds are the inputs written to the seed corpus: the valid envelopes
// and near misses of every shape the parser distinguishes.
func fuzzSeeds() []string {
	const v = `{"id":"kv_fuzz","d":"1y9F2sZ3B6xG2L+2QdXbr8NrVlNIK3H01Jczj1Jp1twZy7+q/WyfRsbJk6qJtrle7Mfjwt7V"}`
	const d = "1y9F2sZ3B6xG2L+2QdXbr8NrVlNIK3H01Jczj1Jp1twZy7+q/WyfRsbJk6qJtrle7Mfjwt7V"
	seeds := []string{
		v,
		`{"id":"kv_fuzz","d":"72sQEZsABp7SgeQN4LB0JpQMFg394tsuetOrcA=="}`,
		`{"d":"` + d + `","id":"kv_fuzz"}`,
		"{ \"id\" : \"kv_fuzz\" ,\n \"d\" : \"" + d + "\" }\n",
		`{"id":"kv_fuzz","d":"` + d[:len(d)-4] + `"}`,
		`{"id":"kv_fuzz","d":"A` + d[1:] + `"}`,
		`{"id":"kv_other","d":"` + d + `"}`,
		`{"id":"kv_fuzz","d":"` + d + `","x":0}`,
		`{"id":"kv_fuzz","id":"kv_fuzz","d":"` + d + `"}`,
		`{"id":"kv_fuzz","d":"` + d + `"}x`,
		`{"id":"kv_fuzz","d":"AAAA"}`,
		`{"id":"kv_fuzz","d":"` + strings.TrimRight(base64.StdEncoding.EncodeToString(make([]byte, 28)), "=") + `"}`,
		`{"id":"kv\u005ffuzz","d":"` + d + `"}`,
		`{"id":"","d":""}`,
		`{"id":null,"d":1}`,
		`{}`,
		`[]`,
		`""`,
		``,
		fuzzPlaintext,
	}
	return seeds
}

func FuzzParseEnvelope(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		env, err := ParseEnvelope(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("accepted invalid JSON %q", s)
		}
		if !ValidKeyID(env.KeyID) || len(env.Data) < nonceSize+tagSize {
			t.Fatalf("accepted id %q with %d bytes", env.KeyID, len(env.Data))
		}
		canon := `{"id":"` + env.KeyID + `","d":"` + base64.StdEncoding.EncodeToString(env.Data) + `"}`
		again, err := ParseEnvelope(canon)
		if err != nil || again.KeyID != env.KeyID || string(again.Data) != string(env.Data) {
			t.Fatalf("canonical form %q does not parse back: %v", canon, err)
		}
		if id, err := KeyIDOf(s); err != nil || id != env.KeyID {
			t.Fatalf("KeyIDOf = %q, %v", id, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	ctx := context.Background()
	keys := StaticKeys(fuzzKey)
	valid := map[string]string{} // id + raw data -> plaintext
	for s, p := range fuzzValid {
		env, err := ParseEnvelope(s)
		if err != nil {
			f.Fatal(err)
		}
		valid[env.KeyID+"\x00"+string(env.Data)] = p
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Open(ctx, keys, s, fuzzAAD)
		if err != nil {
			if p != nil {
				t.Fatal("plaintext returned with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrNotAuthentic) {
				t.Fatalf("unclassified error: %v", err)
			}
			if strings.Contains(err.Error(), fuzzPlaintext) {
				t.Fatalf("error contains the plaintext: %v", err)
			}
			return
		}
		// Only a recorded envelope (perhaps reformatted) may open.
		env, perr := ParseEnvelope(s)
		if perr != nil {
			t.Fatalf("Open succeeded on an unparseable envelope: %v", perr)
		}
		want, ok := valid[env.KeyID+"\x00"+string(env.Data)]
		if !ok {
			t.Fatalf("a mutated envelope opened: %q", s)
		}
		if string(p) != want {
			t.Fatal("opened to the wrong plaintext")
		}
	})
}

// TestFuzzCorpusIsCheckedIn keeps the seed corpus from silently going away:
// every seed must be a file under testdata/fuzz/<target>/.
func TestFuzzCorpusIsCheckedIn(t *testing.T) {
	for _, target := range []string{"FuzzParseEnvelope", "FuzzOpen"} {
		for i, s := range fuzzSeeds() {
			path := filepath.Join("testdata", "fuzz", target, fmt.Sprintf("seed-%02d", i))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (regenerate with AUTHPROXY_WRITE_FUZZ_CORPUS=1 go test -run TestWriteFuzzCorpus)", err)
			}
			if string(b) != corpusFile(s) {
				t.Fatalf("%s is stale (regenerate with AUTHPROXY_WRITE_FUZZ_CORPUS=1 go test -run TestWriteFuzzCorpus)", path)
			}
		}
	}
}

// TestWriteFuzzCorpus writes fuzzSeeds into the seed corpus when
// AUTHPROXY_WRITE_FUZZ_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("AUTHPROXY_WRITE_FUZZ_CORPUS") != "1" {
		t.Skip("set AUTHPROXY_WRITE_FUZZ_CORPUS=1 to rewrite testdata/fuzz")
	}
	for _, target := range []string{"FuzzParseEnvelope", "FuzzOpen"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range fuzzSeeds() {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(corpusFile(s)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// corpusFile is s in the Go fuzzing corpus format.
func corpusFile(s string) string {
	return fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
}

// TestFuzzValidEnvelopesOpen checks the recorded envelopes still open, so
// FuzzOpen's "only these may open" oracle is not vacuous.
func TestFuzzValidEnvelopesOpen(t *testing.T) {
	for s, want := range fuzzValid {
		p, err := Open(context.Background(), StaticKeys(fuzzKey), s, fuzzAAD)
		if err != nil || string(p) != want {
			t.Fatalf("Open(%s) = %q, %v", s, p, err)
		}
	}
}
