package authz

import (
	"reflect"
	"testing"

	"github.com/authproxy/authproxy/server/internal/namespace"
)

func TestIntersect(t *testing.T) {
	tests := []struct {
		name string
		a, b []Permission
		want []Permission
	}{
		{"empty", nil, []Permission{perm("root.**", all, all)}, nil},
		{"exact equal", []Permission{perm("root.a", all, all)}, []Permission{perm("root.a", all, all)},
			[]Permission{perm("root.a", all, all)}},
		{"exact differ", []Permission{perm("root.a", all, all)}, []Permission{perm("root.b", all, all)}, nil},
		{"exact within subtree", []Permission{perm("root.a.b", all, all)}, []Permission{perm("root.a.**", all, all)},
			[]Permission{perm("root.a.b", all, all)}},
		{"subtree root is exact's own", []Permission{perm("root.a.**", all, all)}, []Permission{perm("root.a", all, all)},
			[]Permission{perm("root.a", all, all)}},
		{"exact outside subtree", []Permission{perm("root.ab", all, all)}, []Permission{perm("root.a.**", all, all)}, nil},
		{"nested subtrees give the deeper", []Permission{perm("root.**", all, all)}, []Permission{perm("root.a.b.**", all, all)},
			[]Permission{perm("root.a.b.**", all, all)}},
		{"sibling subtrees", []Permission{perm("root.a.**", all, all)}, []Permission{perm("root.ab.**", all, all)}, nil},
		{"wildcard takes the other list", []Permission{perm("root.**", all, list(VerbList, VerbGet, VerbGet))},
			[]Permission{perm("root.**", list(ResourceKeys, ResourceActors), all)},
			[]Permission{perm("root.**", list(ResourceActors, ResourceKeys), list(VerbGet, VerbList))}},
		{"wildcard among names", []Permission{perm("root.**", list(ResourceKeys, Wildcard), all)},
			[]Permission{perm("root.**", all, all)}, []Permission{perm("root.**", all, all)}},
		{"names intersect", []Permission{perm("root.**", list(ResourceKeys, ResourceActors), list(VerbGet, VerbDelete))},
			[]Permission{perm("root.**", list(ResourceActors, ResourceConnectors), list(VerbDelete))},
			[]Permission{perm("root.**", list(ResourceActors), list(VerbDelete))}},
		{"disjoint resources", []Permission{perm("root.**", list(ResourceKeys), all)},
			[]Permission{perm("root.**", list(ResourceActors), all)}, nil},
		{"disjoint verbs", []Permission{perm("root.**", all, list(VerbGet))},
			[]Permission{perm("root.**", all, list(VerbList))}, nil},
		{"any id takes the other ids", []Permission{perm("root.**", all, all)},
			[]Permission{perm("root.**", all, all, "y", "x")}, []Permission{perm("root.**", all, all, "x", "y")}},
		{"ids intersect", []Permission{perm("root.**", all, all, "x", "y")},
			[]Permission{perm("root.**", all, all, "y", "z")}, []Permission{perm("root.**", all, all, "y")}},
		{"disjoint ids drop the pair", []Permission{perm("root.**", all, all, "x")},
			[]Permission{perm("root.**", all, all, "z")}, nil},
		{"union of pairs, deduplicated", []Permission{perm("root.a.**", all, all), perm("root.a", all, all)},
			[]Permission{perm("root.a", all, all), perm("root.b", all, all)},
			[]Permission{perm("root.a", all, all)}},
		{"order follows a then b",
			[]Permission{perm("root.b", all, all), perm("root.a.**", all, all)},
			[]Permission{perm("root.**", list(ResourceKeys), all), perm("root.a.c", all, all)},
			[]Permission{perm("root.b", list(ResourceKeys), all), perm("root.a.**", list(ResourceKeys), all), perm("root.a.c", all, all)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Intersect(tt.a, tt.b); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Intersect =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// forEachCheck enumerates checks over a small alphabet with the usual look-alikes.
func forEachCheck(fn func(ns, res, verb, id string)) {
	for _, ns := range []string{"root", "root.a", "root.ab", "root.a.b", "root.a.b.c", "root.b"} {
		for _, res := range []string{ResourceActors, ResourceKeys, ResourceConnectors, "widgets"} {
			for _, verb := range []string{VerbGet, VerbList, VerbPromote} {
				for _, id := range []string{"", "x", "y", "w"} {
					fn(ns, res, verb, id)
				}
			}
		}
	}
}

// checkIntersection asserts the intersection property for a and b over forEachCheck.
func checkIntersection(t *testing.T, a, b []Permission) {
	t.Helper()
	sa, sb, si := Compile(a), Compile(b), Compile(Intersect(a, b))
	forEachCheck(func(ns, res, verb, id string) {
		want := sa.Allows(ns, res, verb, id) && sb.Allows(ns, res, verb, id)
		if got := si.Allows(ns, res, verb, id); got != want {
			t.Fatalf("Allows(%q, %q, %q, %q): intersection %v, a∧b %v\na = %+v\nb = %+v\nIntersect = %+v",
				ns, res, verb, id, got, want, a, b, Intersect(a, b))
		}
	})
}

func TestIntersectProperty(t *testing.T) {
	ps := []Permission{
		perm("root.**", all, all),
		perm("root.a", all, list(VerbGet)),
		perm("root.a.**", list(ResourceActors, ResourceKeys), all, "x"),
		perm("root.ab.**", all, all),
		perm("root.a.b.**", list(ResourceConnectors), list(VerbPromote, VerbList)),
		perm("root.a.b", list("widgets"), list(VerbGet), "x", "y"),
		perm("root.b", all, all, "w"),
	}
	for i := range ps {
		for j := range ps {
			checkIntersection(t, ps[i:i+1], ps[j:j+1])
			checkIntersection(t, ps[:i], ps[j:])
		}
	}
}

func TestClamp(t *testing.T) {
	ps := []Permission{
		perm("root.**", list(ResourceActors), all),
		perm("root.a.b", all, list(VerbGet)),
		perm("root.b.**", all, all),
		perm("root.ab", all, all),
	}
	want := []Permission{
		perm("root.a.**", list(ResourceActors), all),
		perm("root.a.b", all, list(VerbGet)),
	}
	got := Clamp("root.a", ps)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Clamp = %+v, want %+v", got, want)
	}
	s := Compile(got)
	forEachCheck(func(ns, res, verb, id string) {
		if s.Allows(ns, res, verb, id) && !namespace.IsWithin(ns, "root.a") {
			t.Errorf("clamped permissions allow %q outside root.a", ns)
		}
	})
}

func TestCovers(t *testing.T) {
	holder := []Permission{
		perm("root.a.**", all, list(VerbGet, VerbList)),
		perm("root.a.**", list(ResourceKeys), all),
		perm("root.b", list(ResourceActors), list(VerbImpersonate), "x", "y"),
		perm("root.c.**", list(ResourceActors), list(VerbGet)),
		perm("root.c.**", list(ResourceKeys), list(VerbGet)),
	}
	tests := []struct {
		name string
		p    Permission
		want bool
	}{
		{"same", perm("root.a.**", all, list(VerbGet)), true},
		{"narrower subtree", perm("root.a.b.**", list(ResourceActors), list(VerbList)), true},
		{"exact within", perm("root.a.b", list(ResourceActors), list(VerbGet)), true},
		{"with ids", perm("root.a.b", list(ResourceActors), list(VerbGet), "z"), true},
		{"wider subtree", perm("root.**", list(ResourceActors), list(VerbGet)), false},
		{"look-alike sibling", perm("root.ab.**", list(ResourceActors), list(VerbGet)), false},
		{"verb not held", perm("root.a.**", list(ResourceActors), list(VerbDelete)), false},
		{"wildcard verbs need wildcard", perm("root.a.**", list(ResourceActors), all), false},
		{"wildcard verbs held for keys", perm("root.a.b.**", list(ResourceKeys), all), true},
		{"elements from different holders", perm("root.a.**", list(ResourceKeys), list(VerbGet, VerbRotate)), true},
		{"wildcard resources need wildcard", perm("root.c.**", all, list(VerbGet)), false},
		{"listed resources from different holders", perm("root.c.**", list(ResourceActors, ResourceKeys), list(VerbGet)), true},
		{"held ids", perm("root.b", list(ResourceActors), list(VerbImpersonate), "y"), true},
		{"unheld id", perm("root.b", list(ResourceActors), list(VerbImpersonate), "y", "z"), false},
		{"ids held, any id asked", perm("root.b", list(ResourceActors), list(VerbImpersonate)), false},
		{"exact does not cover subtree", perm("root.b.**", list(ResourceActors), list(VerbImpersonate), "x"), false},
		{"allows nothing", perm("root.z", nil, list(VerbGet)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Covers(holder, tt.p); got != tt.want {
				t.Errorf("Covers(holder, %+v) = %v, want %v", tt.p, got, tt.want)
			}
			if tt.want { // soundness on the check alphabet
				h, p := Compile(holder), Compile([]Permission{tt.p})
				forEachCheck(func(ns, res, verb, id string) {
					if p.Allows(ns, res, verb, id) && !h.Allows(ns, res, verb, id) {
						t.Errorf("covered p allows %q %q %q %q, holder does not", ns, res, verb, id)
					}
				})
			}
		})
	}
}
