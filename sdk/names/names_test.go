package names

import (
	"strings"
	"testing"
)

func TestValidateNamespacePath(t *testing.T) {
	for _, ok := range []string{"root", "root.a", "root.tenants.acme_1", "root.a-b", "root._x", "root.0"} {
		if err := ValidateNamespacePath(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for p, want := range map[string]string{
		"":                                "must not be empty",
		"tenants.a":                       `must start with "root"`,
		"rootx":                           `must start with "root"`,
		"root.A":                          `segment 2 "A" has 'A'`,
		"root..a":                         "segment 2 is empty",
		"root.-a":                         "must not start with '-'",
		"root.café":                       `has 'é'`,
		"root." + strings.Repeat("a", 64): "segment 2 is 64 characters long; the limit is 63",
		"root" + strings.Repeat(".a", 16): "has 17 segments; the limit is 16",
		"root." + strings.Repeat("a.", 130) + "a": "the limit is 253",
	} {
		if err := ValidateNamespacePath(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", p, err, want)
		}
	}
}

func TestParentAndIsWithin(t *testing.T) {
	if p, ok := Parent("root.a.b"); !ok || p != "root.a" {
		t.Errorf("Parent(root.a.b) = %q, %v", p, ok)
	}
	if _, ok := Parent("root"); ok {
		t.Error("root has a parent")
	}
	for _, c := range []struct {
		p, anc string
		want   bool
	}{{"root.a", "root.a", true}, {"root.a.b", "root.a", true}, {"root.ab", "root.a", false}, {"root", "root.a", false}} {
		if got := IsWithin(c.p, c.anc); got != c.want {
			t.Errorf("IsWithin(%q, %q) = %v", c.p, c.anc, got)
		}
	}
}

func TestLabelRules(t *testing.T) {
	for _, ok := range []string{"app", "example.com/app", "a.b_c-d", "A1"} {
		if msg := LabelKeyProblem(ok); msg != "" {
			t.Errorf("%q: %s", ok, msg)
		}
	}
	for k, want := range map[string]string{
		"": "name must not be empty", "Bad Key": "name must consist", "-x": "name must consist", "/x": "prefix must not be empty",
		"a/b/c": "at most one", "Example.com/x": "DNS subdomain", strings.Repeat("a", 64): "no more than 63",
	} {
		if msg := LabelKeyProblem(k); !strings.Contains(msg, want) {
			t.Errorf("%q: got %q, want %q", k, msg, want)
		}
	}
	if LabelValueProblem("") != "" || LabelValueProblem("v-1.x") != "" {
		t.Error("valid values refused")
	}
	if !strings.Contains(LabelValueProblem("-v"), "must consist") || !strings.Contains(LabelValueProblem(strings.Repeat("v", 64)), "no more than 63") {
		t.Error("invalid values accepted")
	}
}
