package authz_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/authproxy/authproxy/server/internal/api"
	"github.com/authproxy/authproxy/server/internal/authz"
)

// TestVocabularyMatchesOpenAPI keeps the Resource and Verb enums of the API contract and the
// vocabulary of this package in step.
func TestVocabularyMatchesOpenAPI(t *testing.T) {
	spec, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	for schema, names := range map[string][]string{"Resource": authz.Resources, "Verb": authz.Verbs} {
		ref := spec.Components.Schemas[schema]
		if ref == nil || ref.Value == nil {
			t.Errorf("schema %s missing from the spec", schema)
			continue
		}
		var enum []string
		for _, v := range ref.Value.Enum {
			enum = append(enum, fmt.Sprint(v))
		}
		want := append([]string{authz.Wildcard}, names...)
		slices.Sort(enum)
		slices.Sort(want)
		if !slices.Equal(enum, want) {
			t.Errorf("schema %s enum = %q, code has %q", schema, enum, want)
		}
	}
}
