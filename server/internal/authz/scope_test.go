package authz

import (
	"reflect"
	"testing"
)

func TestScope(t *testing.T) {
	tests := []struct {
		name  string
		perms []Permission
		want  Scope
	}{
		{"nothing", nil, Scope{}},
		{"other resource only", []Permission{perm("root.**", list(ResourceKeys), all)}, Scope{}},
		{"other verb only", []Permission{perm("root.**", all, list(VerbGet))}, Scope{}},
		{"everything", []Permission{perm("root.a", all, all), perm("root.**", list(ResourceActors), list(VerbList))}, Scope{All: true}},
		{"root with ids is not all", []Permission{perm("root.**", all, all, "x")},
			Scope{Rules: []Rule{{Namespace: "root", Subtree: true, IDs: []string{"x"}}}}},
		{"exact root is not all", []Permission{perm("root", all, all)},
			Scope{Rules: []Rule{{Namespace: "root"}}}},
		{"sorted rules", []Permission{perm("root.b", all, all), perm("root.a.**", all, all)},
			Scope{Rules: []Rule{{Namespace: "root.a", Subtree: true}, {Namespace: "root.b"}}}},
		{"ids merged", []Permission{perm("root.a", all, all, "y"), perm("root.a", all, all, "x", "y")},
			Scope{Rules: []Rule{{Namespace: "root.a", IDs: []string{"x", "y"}}}}},
		{"any id wins the merge", []Permission{perm("root.a", all, all, "y"), perm("root.a", all, all)},
			Scope{Rules: []Rule{{Namespace: "root.a"}}}},
		{"covered rules dropped", []Permission{
			perm("root.a.b", all, all), perm("root.a", all, all, "x"), perm("root.a.**", all, all),
			perm("root.a.c.**", all, all), perm("root.ab", all, all),
		}, Scope{Rules: []Rule{{Namespace: "root.a", Subtree: true}, {Namespace: "root.ab"}}}},
		{"subtree with ids keeps others", []Permission{perm("root.a.**", all, all, "x"), perm("root.a.b", all, all)},
			Scope{Rules: []Rule{{Namespace: "root.a", Subtree: true, IDs: []string{"x"}}, {Namespace: "root.a.b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Compile(tt.perms)
			got := s.Scope(ResourceActors, VerbList)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Scope = %+v, want %+v", got, tt.want)
			}
			forEachCheck(func(ns, _, _, id string) {
				if got.Contains(ns, id) != s.Allows(ns, ResourceActors, VerbList, id) {
					t.Errorf("Contains(%q, %q) = %v disagrees with Allows", ns, id, got.Contains(ns, id))
				}
			})
		})
	}
}
