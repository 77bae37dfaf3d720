package provider

import (
	"strings"
	"testing"

	"github.com/authproxy/authproxy/sdk"
)

func TestPermissionNamespaceValidator(t *testing.T) {
	check := permissionNamespaceValidator().(stringCheck).check
	for _, ok := range []string{"root", "root.**", "root.a.**", "root.a"} {
		if err := check(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for p, want := range map[string]string{
		"root.*": "other wildcards", "root.**.a": "other wildcards", "root.A.**": "only a-z", "tenants.**": "start with",
	} {
		if err := check(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", p, err, want)
		}
	}
}

func TestCheckLabelKeyAndValue(t *testing.T) {
	for _, ok := range []string{"app", "example.com/app", "a.b_c-d", "A1"} {
		if err := checkLabelKey(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Bad Key", "-x", "x-", strings.Repeat("a", 64), "/x", "Example.com/x", "a/b/c"} {
		if err := checkLabelKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := checkLabelValue("k", "-v"); err == nil {
		t.Error("-v accepted")
	}
	if err := checkLabelValue("k", ""); err != nil {
		t.Error("empty value refused")
	}
}

func TestVocabularyComesFromTheContract(t *testing.T) {
	for _, r := range resourceNames() {
		if !sdk.Resource(r).Valid() {
			t.Errorf("resource %q not in the contract", r)
		}
	}
	for _, v := range verbNames() {
		if !sdk.Verb(v).Valid() {
			t.Errorf("verb %q not in the contract", v)
		}
	}
	if len(resourceNames()) != 7 || len(verbNames()) != 10 {
		t.Errorf("vocabulary size changed: update resourceNames/verbNames from the contract")
	}
}
