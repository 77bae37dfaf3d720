package definition

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics, errors always say something, and a definition it accepts
// parses again from its own normalised JSON to the same hash (normalisation is stable).
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../../../examples/connectors/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(oauthBase))
	f.Add([]byte("display: &a {name: X}\nauth: *a\n"))
	f.Add([]byte(`{"display":{"name":"X"},"auth":{"type":"none"},"upstream":{"allowedUrls":["https://{{config.a}}.x/"]}}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, errs := Parse(src)
		if p == nil {
			if len(errs) == 0 {
				t.Fatal("rejected without a reason")
			}
			for _, e := range errs {
				if e.Message == "" {
					t.Fatalf("empty message in %v", errs)
				}
			}
			return
		}
		again, errs := Parse(p.Normalized)
		if len(errs) > 0 {
			t.Fatalf("normalised form %s rejected: %v", p.Normalized, errs)
		}
		if again.Hash != p.Hash {
			t.Fatalf("normalisation unstable: %s vs %s", p.Normalized, again.Normalized)
		}
	})
}
