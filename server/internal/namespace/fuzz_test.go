package namespace

import (
	"strings"
	"testing"
)

func FuzzValidatePath(f *testing.F) {
	for _, p := range []string{
		"root",
		"root.a",
		"root.team-1.svc_2",
		"root.a-",
		"root.-a",
		"root..a",
		"root.",
		"rootx",
		"Root.A",
		"root.café",
		"root.a b",
		"root" + strings.Repeat(".a", MaxDepth-1),
		"root." + strings.Repeat("x", MaxSegmentLength+1),
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if err := ValidatePath(p); err != nil {
			if err.Error() == "" {
				t.Fatalf("ValidatePath(%q) returned an empty error", p)
			}
			return
		}
		if len(p) > MaxPathLength {
			t.Fatalf("valid path %q is %d bytes long", p, len(p))
		}
		if !IsWithin(p, p) || !IsWithin(p, Root) || !IsWithin(p+".x", p) || IsWithin(p+"x", p) {
			t.Fatalf("IsWithin is wrong around valid path %q", p)
		}
		depth := 1
		for cur := p; ; depth++ {
			parent, ok := Parent(cur)
			if !ok {
				if cur != Root {
					t.Fatalf("Parent chain of %q ends at %q, not %q", p, cur, Root)
				}
				break
			}
			if err := ValidatePath(parent); err != nil {
				t.Fatalf("parent %q of valid path %q is invalid: %v", parent, cur, err)
			}
			if !IsWithin(cur, parent) || IsWithin(parent, cur) || !IsWithin(p, parent) {
				t.Fatalf("IsWithin disagrees with Parent(%q) = %q", cur, parent)
			}
			cur = parent
		}
		if depth > MaxDepth || depth != strings.Count(p, ".")+1 {
			t.Fatalf("valid path %q has depth %d", p, depth)
		}
	})
}
