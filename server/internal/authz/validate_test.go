package authz

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	const actor = "root.a"
	ok := func(ns string) Permission { return perm(ns, list(ResourceActors), list(VerbGet)) }
	tests := []struct {
		name string
		p    Permission
		want []Violation // Message compared by prefix
	}{
		{"valid exact", ok("root.a.b"), nil},
		{"valid subtree", ok("root.a.**"), nil},
		{"actor's own namespace", ok("root.a"), nil},
		{"valid with everything", perm("root.a.b.**", all, all, "x", "y"), nil},
		{"special verb with its resource", perm("root.a", list(ResourceConnectors, ResourceActors), list(VerbPromote, VerbImpersonate)), nil},
		{"special verb with wildcard resources", perm("root.a", all, list(VerbProxy)), nil},
		{"outside", ok("root.b.**"), []Violation{{"namespace", `permission namespace "root.b.**" is outside the actor's namespace "root.a"`}}},
		{"look-alike sibling", ok("root.ab"), []Violation{{"namespace", `permission namespace "root.ab" is outside`}}},
		{"parent subtree", ok("root.**"), []Violation{{"namespace", `permission namespace "root.**" is outside`}}},
		{"single star", ok("root.a.*"), []Violation{{"namespace", `namespace "root.a.*" is not valid: a wildcard may only be a final ".**"`}}},
		{"inner double star", ok("root.**.b"), []Violation{{"namespace", `namespace "root.**.b" is not valid: a wildcard`}}},
		{"bare double star", ok("**"), []Violation{{"namespace", `namespace "**" is not valid: a wildcard`}}},
		{"bad path", ok("root.A"), []Violation{{"namespace", `namespace "root.A" is not valid: path segment 2`}}},
		{"empty", ok(""), []Violation{{"namespace", `namespace "" is not valid: path must not be empty`}}},
		{"not under root", ok("tenant.**"), []Violation{{"namespace", `namespace "tenant.**" is not valid: path must start with "root"`}}},
		{"no resources", perm("root.a", nil, list(VerbGet)), []Violation{{"resources", "must list at least one resource"}}},
		{"no verbs", perm("root.a", all, list()), []Violation{{"verbs", "must list at least one verb"}}},
		{"unknown resource", perm("root.a", list(ResourceActors, "widgets"), list(VerbGet)),
			[]Violation{{"resources[1]", `unknown resource "widgets"; allowed: *, namespaces, actors, keys, connectors, connections, request_logs`}}},
		{"unknown verb", perm("root.a", all, list("destroy")),
			[]Violation{{"verbs[0]", `unknown verb "destroy"; allowed: *, get, list, create, update, delete, promote, proxy, rotate, impersonate`}}},
		{"duplicate resource", perm("root.a", list(ResourceKeys, ResourceActors, ResourceKeys), list(VerbGet)),
			[]Violation{{"resources[2]", `duplicate resource "keys"`}}},
		{"duplicate verb", perm("root.a", all, list(VerbGet, VerbGet)), []Violation{{"verbs[1]", `duplicate verb "get"`}}},
		{"wildcard with others", perm("root.a", list(ResourceKeys, Wildcard), list(VerbGet)),
			[]Violation{{"resources[1]", `"*" already includes every resource`}}},
		{"special verb without its resource", perm("root.a", list(ResourceActors), list(VerbGet, VerbPromote)),
			[]Violation{{"verbs[1]", `verb "promote" applies only to connectors`}}},
		{"empty ids list", Permission{Namespace: "root.a", Resources: all, Verbs: all, ResourceIDs: []string{}},
			[]Violation{{"resourceIds", "must list at least one id"}}},
		{"bad ids", perm("root.a", all, all, "x", "", "x", strings.Repeat("i", 256)), []Violation{
			{"resourceIds[1]", "resource id must not be empty"},
			{"resourceIds[2]", `duplicate resource id "x"`},
			{"resourceIds[3]", "resource id is 256 characters long; the limit is 255"},
		}},
		{"several at once", perm("root.b", list("widgets"), list(VerbRotate)), []Violation{
			{"namespace", "permission namespace"},
			{"resources[0]", `unknown resource "widgets"`},
			{"verbs[0]", `verb "rotate" applies only to keys`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(tt.p, actor)
			if len(got) != len(tt.want) {
				t.Fatalf("Validate = %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i].Field != tt.want[i].Field || !strings.HasPrefix(got[i].Message, tt.want[i].Message) {
					t.Errorf("violation %d = %q, want %q…", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestValidateRootActor(t *testing.T) {
	if got := Validate(perm("root.**", all, all), "root"); !reflect.DeepEqual(got, []Violation(nil)) {
		t.Errorf("root actor granting root.**: %q", got)
	}
}
