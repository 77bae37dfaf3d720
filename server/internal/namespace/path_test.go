package namespace

import (
	"strings"
	"testing"
)

func TestValidatePath(t *testing.T) {
	seg63 := strings.Repeat("a", MaxSegmentLength)
	// "root" plus three 64-byte ".<63 chars>" parts plus ".<56 chars>" is exactly 253 bytes.
	longest := Root + strings.Repeat("."+seg63, 3) + "." + strings.Repeat("b", 56)
	deepest := Root + strings.Repeat(".a", MaxDepth-1)
	tests := []struct {
		path string
		want string // substring of the error, "" if valid
	}{
		{"root", ""},
		{"root.a", ""},
		{"root.team-1.svc_2", ""},
		{"root._x", ""},
		{"root.0", ""},
		{"root.a-", ""}, // only a leading '-' is forbidden
		{"root." + seg63, ""},
		{longest, ""},
		{deepest, ""},

		{"", "must not be empty"},
		{"Root", `must start with "root"`},
		{"rootx", `must start with "root"`},
		{"rootx.a", `must start with "root"`},
		{"tenant.a", `must start with "root"`},
		{".root", `must start with "root"`},
		{"a.root", `must start with "root"`},
		{"root.", "segment 2 is empty"},
		{"root..a", "segment 2 is empty"},
		{"root.a.", "segment 3 is empty"},
		{"root.A", `segment 2 "A" has 'A'; only a-z, 0-9, '_' and '-' are allowed`},
		{"root.a.bC", `segment 3 "bC" has 'C'`},
		{"root.-a", `segment 2 "-a" must not start with '-'`},
		{"root.a b", `segment 2 "a b" has ' '`},
		{"root. a", `segment 2 " a" has ' '`},
		{"root.a/b", `segment 2 "a/b" has '/'`},
		{"root.café", `segment 2 "café" has 'é'`},
		{"root.日本", `segment 2 "日本" has '日'`},
		{"root.\xff", `segment 2 "\xff" has`},
		{deepest + ".a", "has 17 segments; the limit is 16"},
		{longest + "b", "is 254 characters long; the limit is 253"},
		{"root." + seg63 + "a", "segment 2 is 64 characters long; the limit is 63"},
	}
	for _, tt := range tests {
		err := ValidatePath(tt.path)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidatePath(%q) = %v; want nil", tt.path, err)
		case tt.want != "" && err == nil:
			t.Errorf("ValidatePath(%q) = nil; want error containing %q", tt.path, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("ValidatePath(%q) = %v; want error containing %q", tt.path, err, tt.want)
		}
	}
	if len(longest) != MaxPathLength {
		t.Fatalf("test bug: len(longest) = %d", len(longest))
	}
}

func TestParent(t *testing.T) {
	tests := []struct {
		path, want string
		ok         bool
	}{
		{"root", "", false},
		{"root.a", "root", true},
		{"root.a.b", "root.a", true},
		{"root.a-b.c_d.e", "root.a-b.c_d", true},
	}
	for _, tt := range tests {
		if got, ok := Parent(tt.path); got != tt.want || ok != tt.ok {
			t.Errorf("Parent(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsWithin(t *testing.T) {
	tests := []struct {
		path, ancestor string
		want           bool
	}{
		{"root", "root", true},
		{"root.a", "root", true},
		{"root.a.b", "root", true},
		{"root.a.b", "root.a", true},
		{"root.a", "root.a", true},
		{"root.ab", "root.a", false}, // a shared prefix is not ancestry
		{"root.a", "root.ab", false},
		{"root.ab.c", "root.a", false},
		{"root", "root.a", false},
		{"root.a", "root.b", false},
		{"root.b.a", "root.a", false},
		{"rootx", "root", false},
		{"rootx.a", "root", false},
	}
	for _, tt := range tests {
		if got := IsWithin(tt.path, tt.ancestor); got != tt.want {
			t.Errorf("IsWithin(%q, %q) = %v; want %v", tt.path, tt.ancestor, got, tt.want)
		}
	}
}
