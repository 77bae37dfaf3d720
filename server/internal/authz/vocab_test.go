package authz

import (
	"slices"
	"testing"
)

func TestVerbResource(t *testing.T) {
	tests := []struct {
		verb, resource string
		special        bool
	}{
		{VerbPromote, ResourceConnectors, true},
		{VerbProxy, ResourceConnections, true},
		{VerbRotate, ResourceKeys, true},
		{VerbImpersonate, ResourceActors, true},
		{VerbGet, "", false},
		{Wildcard, "", false},
		{"unknown", "", false},
	}
	for _, tt := range tests {
		if r, ok := VerbResource(tt.verb); r != tt.resource || ok != tt.special {
			t.Errorf("VerbResource(%q) = %q, %v; want %q, %v", tt.verb, r, ok, tt.resource, tt.special)
		}
	}
}

func TestVocabularyIsConsistent(t *testing.T) {
	for v, r := range specialVerbs {
		if !slices.Contains(Verbs, v) || !slices.Contains(Resources, r) {
			t.Errorf("special verb %q → %q is not in the vocabulary", v, r)
		}
	}
	for _, names := range [][]string{Resources, Verbs} {
		if len(names) >= 30 || slices.Contains(names, Wildcard) || len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
			t.Errorf("vocabulary %q must be unique, without %q and fit the compiled bit mask", names, Wildcard)
		}
	}
}
