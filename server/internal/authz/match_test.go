package authz

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func perm(ns string, resources, verbs []string, ids ...string) Permission {
	return Permission{Namespace: ns, Resources: resources, Verbs: verbs, ResourceIDs: ids}
}

func list(s ...string) []string { return s }

var all = list(Wildcard)

func TestAllows(t *testing.T) {
	tests := []struct {
		name              string
		perms             []Permission
		ns, res, verb, id string
		want              bool
	}{
		{"no permissions", nil, "root", ResourceActors, VerbGet, "", false},
		{"exact match", []Permission{perm("root.a", list(ResourceActors), list(VerbGet))}, "root.a", ResourceActors, VerbGet, "x", true},
		{"exact does not match child", []Permission{perm("root.a", all, all)}, "root.a.b", ResourceActors, VerbGet, "", false},
		{"exact does not match parent", []Permission{perm("root.a", all, all)}, "root", ResourceActors, VerbGet, "", false},
		{"subtree matches itself", []Permission{perm("root.a.**", all, all)}, "root.a", ResourceKeys, VerbRotate, "", true},
		{"subtree matches descendant", []Permission{perm("root.a.**", all, all)}, "root.a.b.c", ResourceKeys, VerbGet, "", true},
		{"subtree does not match sibling prefix", []Permission{perm("root.a.**", all, all)}, "root.ab", ResourceKeys, VerbGet, "", false},
		{"subtree does not match parent", []Permission{perm("root.a.**", all, all)}, "root", ResourceKeys, VerbGet, "", false},
		{"root subtree matches all", []Permission{perm("root.**", all, all)}, "root.x.y", ResourceRequestLogs, VerbList, "", true},
		{"wrong resource", []Permission{perm("root.**", list(ResourceActors), all)}, "root", ResourceKeys, VerbGet, "", false},
		{"wrong verb", []Permission{perm("root.**", all, list(VerbGet, VerbList))}, "root", ResourceKeys, VerbDelete, "", false},
		{"special verb", []Permission{perm("root.**", list(ResourceConnectors), list(VerbPromote))}, "root.a", ResourceConnectors, VerbPromote, "c1", true},
		{"wildcard verb includes special", []Permission{perm("root.**", list(ResourceActors), all)}, "root", ResourceActors, VerbImpersonate, "a1", true},
		{"id listed", []Permission{perm("root.a", all, all, "x", "y")}, "root.a", ResourceActors, VerbGet, "y", true},
		{"id not listed", []Permission{perm("root.a", all, all, "x", "y")}, "root.a", ResourceActors, VerbGet, "z", false},
		{"ids need an id", []Permission{perm("root.a", all, all, "x")}, "root.a", ResourceActors, VerbCreate, "", false},
		{"empty ids is any id", []Permission{perm("root.a", all, all)}, "root.a", ResourceActors, VerbGet, "z", true},
		{"second permission allows", []Permission{
			perm("root.b.**", all, all),
			perm("root.a", list(ResourceKeys), list(VerbGet)),
		}, "root.a", ResourceKeys, VerbGet, "", true},
		{"unknown resource needs wildcard or listing", []Permission{perm("root", list("widgets"), all)}, "root", "widgets", VerbGet, "", true},
		{"unknown resource not listed", []Permission{perm("root", list(ResourceActors), all)}, "root", "widgets", VerbGet, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compile(tt.perms).Allows(tt.ns, tt.res, tt.verb, tt.id); got != tt.want {
				t.Errorf("Allows(%q, %q, %q, %q) = %v, want %v", tt.ns, tt.res, tt.verb, tt.id, got, tt.want)
			}
		})
	}
}

func TestZeroSetAllowsNothing(t *testing.T) {
	if (Set{}).Allows("root", ResourceActors, VerbGet, "") {
		t.Error("zero Set allows")
	}
}

func TestPermissionsIsACopy(t *testing.T) {
	in := []Permission{perm("root.a", list(ResourceActors), list(VerbGet), "x")}
	s := Compile(in)
	in[0].ResourceIDs[0] = "y"
	got := s.Permissions()
	got[0].Resources[0] = ResourceKeys
	if !s.Allows("root.a", ResourceActors, VerbGet, "x") || s.Permissions()[0].Resources[0] != ResourceActors {
		t.Errorf("Set shares memory with its input or output: %+v", s.Permissions())
	}
}

// hundred returns 100 permissions of which only the last allows allowCheck.
func hundred() []Permission {
	resources := []string{ResourceNamespaces, ResourceActors, ResourceConnectors, ResourceConnections, ResourceRequestLogs}
	ps := make([]Permission, 0, 100)
	for i := range 99 {
		switch i % 3 {
		case 0: // the right namespace, the wrong resource
			ps = append(ps, perm("root.tenant.team.**", list(resources[i%len(resources)]), all))
		case 1: // a look-alike sibling namespace
			ps = append(ps, perm(fmt.Sprintf("root.tenantx%d.**", i), list(ResourceKeys), all))
		default: // the right namespace and resource, other ids
			ps = append(ps, perm("root.tenant.**", list(ResourceKeys, ResourceActors), list(VerbGet, VerbRotate), fmt.Sprintf("key-%d", i)))
		}
	}
	return append(ps, perm("root.tenant.**", list(ResourceKeys), list(VerbGet, VerbList, VerbRotate)))
}

func TestHundredAllowsOnlyViaLast(t *testing.T) {
	ps := hundred()
	if !Compile(ps).Allows("root.tenant.team.dev", ResourceKeys, VerbRotate, "key-x") {
		t.Fatal("allow case denied")
	}
	if Compile(ps[:99]).Allows("root.tenant.team.dev", ResourceKeys, VerbRotate, "key-x") {
		t.Fatal("allowed without the last permission")
	}
	if Compile(ps).Allows("root.tenant.team.dev", ResourceKeys, VerbDelete, "key-x") {
		t.Fatal("deny case allowed")
	}
}

func TestAllowsDoesNotAllocate(t *testing.T) {
	s := Compile(hundred())
	for _, verb := range []string{VerbRotate, VerbDelete, "unknown"} {
		if n := testing.AllocsPerRun(100, func() {
			s.Allows("root.tenant.team.dev", ResourceKeys, verb, "key-x")
		}); n != 0 {
			t.Errorf("Allows(..., %q, ...) allocates %v times per run", verb, n)
		}
	}
}

// naiveAllows is the baseline BenchmarkAllows compares against: the obvious loop over the
// permissions as stored, with no compilation.
func naiveAllows(ps []Permission, ns, resource, verb, id string) bool {
	has := func(list []string, s string) bool { return slices.Contains(list, Wildcard) || slices.Contains(list, s) }
	for _, p := range ps {
		match := p.Namespace == ns
		if base, ok := strings.CutSuffix(p.Namespace, ".**"); ok {
			match = ns == base || strings.HasPrefix(ns, base+".")
		}
		if !match || !has(p.Resources, resource) || !has(p.Verbs, verb) {
			continue
		}
		if len(p.ResourceIDs) == 0 || (id != "" && slices.Contains(p.ResourceIDs, id)) {
			return true
		}
	}
	return false
}

// BenchmarkAllows checks an actor with 100 permissions, the allowing one last, beside the
// naive baseline in the same run; report compiled/naive as the ratio.
func BenchmarkAllows(b *testing.B) {
	ps := hundred()
	s := Compile(ps)
	for _, bc := range []struct {
		name, verb string
		want       bool
	}{{"allow-last", VerbRotate, true}, {"deny", VerbDelete, false}} {
		if naiveAllows(ps, "root.tenant.team.dev", ResourceKeys, bc.verb, "key-x") != bc.want {
			b.Fatalf("%s: the baseline disagrees", bc.name)
		}
		b.Run(bc.name+"/compiled", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if s.Allows("root.tenant.team.dev", ResourceKeys, bc.verb, "key-x") != bc.want {
					b.Fatal("wrong answer")
				}
			}
		})
		b.Run(bc.name+"/naive-baseline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if naiveAllows(ps, "root.tenant.team.dev", ResourceKeys, bc.verb, "key-x") != bc.want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}
