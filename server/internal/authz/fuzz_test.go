package authz

import (
	"testing"

	"github.com/authproxy/authproxy/server/internal/namespace"
)

// Alphabets the fuzzer draws permissions from, with look-alikes (root.a / root.ab) on purpose.
var (
	fuzzMatchers  = []string{"root", "root.**", "root.a", "root.a.**", "root.ab", "root.ab.**", "root.a.b", "root.a.b.**", "root.b.**", "root.a.b.c", "**"}
	fuzzResources = []string{Wildcard, ResourceActors, ResourceKeys, ResourceConnectors, "widgets"}
	fuzzVerbs     = []string{Wildcard, VerbGet, VerbList, VerbPromote}
	fuzzIDs       = []string{"x", "y", "w", ""}
	fuzzActors    = []string{"root", "root.a", "root.a.b", "root.ab"}
)

// fuzzInput decodes bytes into permissions; reading past the end yields zeros.
type fuzzInput []byte

func (in *fuzzInput) next() byte {
	if len(*in) == 0 {
		return 0
	}
	b := (*in)[0]
	*in = (*in)[1:]
	return b
}

// pick returns the names whose bit is set in mask.
func pick(names []string, mask byte) []string {
	var out []string
	for i, n := range names {
		if mask&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func (in *fuzzInput) permissions(n int) []Permission {
	ps := make([]Permission, n)
	for i := range ps {
		ps[i] = Permission{
			Namespace: fuzzMatchers[int(in.next())%len(fuzzMatchers)],
			Resources: pick(fuzzResources, in.next()),
			Verbs:     pick(fuzzVerbs, in.next()),
		}
		if ids := in.next(); ids&0x80 == 0 { // else nil: any id
			ps[i].ResourceIDs = append([]string{}, pick(fuzzIDs, ids)...) // maybe empty: any id too
		}
	}
	return ps
}

// FuzzIntersect checks that Intersect allows exactly what both inputs allow, that Clamp never
// reaches outside the actor's subtree, and that Covers and Scope agree with Allows.
func FuzzIntersect(f *testing.F) {
	f.Add([]byte{1, 0x11, 3, 0x03, 0x03, 0x80, 8, 0x01, 0x02, 0x01})
	f.Add([]byte{0, 0x22, 1, 0x01, 0x01, 0x80, 4, 0x06, 0x06, 0x03, 3, 0x04, 0x08, 0x80, 9, 0x1f, 0x0f, 0x06})
	f.Add([]byte{2, 0x33, 7, 0x09, 0x0a, 0x00, 5, 0x01, 0x01, 0x80, 6, 0x02, 0x09, 0x0c, 2, 0x10, 0x03, 0x01, 10, 0x01, 0x01, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput(data)
		actor := fuzzActors[int(in.next())%len(fuzzActors)]
		sizes := in.next()
		a := in.permissions(int(sizes&0x0f) % 4)
		b := in.permissions(int(sizes>>4) % 4)

		sa, sb := Compile(a), Compile(b)
		inter := Intersect(a, b)
		si, sc := Compile(inter), Compile(Clamp(actor, a))
		forEachCheck(func(ns, res, verb, id string) {
			allowA, allowB := sa.Allows(ns, res, verb, id), sb.Allows(ns, res, verb, id)
			if got := si.Allows(ns, res, verb, id); got != (allowA && allowB) {
				t.Fatalf("Allows(%q, %q, %q, %q) = %v on Intersect, a: %v, b: %v\na = %q\nb = %q\nIntersect = %q",
					ns, res, verb, id, got, allowA, allowB, a, b, inter)
			}
			if got, want := sc.Allows(ns, res, verb, id), allowA && namespace.IsWithin(ns, actor); got != want {
				t.Fatalf("Allows(%q, %q, %q, %q) = %v on Clamp(%q), want %v\na = %q", ns, res, verb, id, got, actor, want, a)
			}
			if sc := sa.Scope(res, verb); sc.Contains(ns, id) != allowA {
				t.Fatalf("Scope(%q, %q).Contains(%q, %q) = %v, Allows %v\na = %q\nscope = %+v", res, verb, ns, id, !allowA, allowA, a, sc)
			}
		})

		for _, p := range inter { // the intersection is held by both sides
			if !Covers(a, p) || !Covers(b, p) {
				t.Fatalf("Intersect result %q not covered by a (%v) or b (%v)\na = %q\nb = %q", p, Covers(a, p), Covers(b, p), a, b)
			}
		}
		for _, p := range b { // Covers is sound
			if !Covers(a, p) {
				continue
			}
			sp := Compile([]Permission{p})
			forEachCheck(func(ns, res, verb, id string) {
				if sp.Allows(ns, res, verb, id) && !sa.Allows(ns, res, verb, id) {
					t.Fatalf("Covers(a, %q) but a does not allow (%q, %q, %q, %q)\na = %q", p, ns, res, verb, id, a)
				}
			})
		}
	})
}
