package authz

import (
	"fmt"
	"slices"
)

// Intersect returns permissions allowing exactly the checks that both a and b allow: the
// union of the pairwise intersections, without duplicates, in the order of a, then b.
// Resource, verb and id lists of the result are sorted and deduplicated.
func Intersect(a, b []Permission) []Permission {
	var out []Permission
	seen := make(map[string]bool)
	for _, x := range a {
		for _, y := range b {
			p, ok := intersectOne(x, y)
			if !ok {
				continue
			}
			k := permissionKey(p)
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

// Clamp narrows ps to the subtree of actorNamespace, so that nothing reaches outside it.
func Clamp(actorNamespace string, ps []Permission) []Permission {
	return Intersect(ps, []Permission{{
		Namespace: actorNamespace + subtreeSuffix,
		Resources: []string{Wildcard},
		Verbs:     []string{Wildcard},
	}})
}

func intersectOne(x, y Permission) (Permission, bool) {
	ns, ok := intersectMatchers(parseMatcher(x.Namespace), parseMatcher(y.Namespace))
	if !ok {
		return Permission{}, false
	}
	p := Permission{
		Namespace:   ns.String(),
		Resources:   intersectNames(x.Resources, y.Resources),
		Verbs:       intersectNames(x.Verbs, y.Verbs),
		ResourceIDs: intersectIDs(x.ResourceIDs, y.ResourceIDs),
	}
	if len(p.Resources) == 0 || len(p.Verbs) == 0 ||
		len(p.ResourceIDs) == 0 && (len(x.ResourceIDs) > 0 || len(y.ResourceIDs) > 0) {
		return Permission{}, false
	}
	return p, true
}

// intersectMatchers returns the matcher for the namespaces both x and y match, if any.
func intersectMatchers(x, y matcher) (matcher, bool) {
	switch {
	case x.covers(y):
		return y, true
	case y.covers(x):
		return x, true
	}
	// Otherwise no namespace matches both: distinct exact paths, an exact path outside a
	// subtree, or two subtrees neither of which contains the other.
	return matcher{}, false
}

// intersectNames intersects two resource or verb lists, where Wildcard stands for all names.
func intersectNames(x, y []string) []string {
	x, y = canonicalNames(x), canonicalNames(y)
	switch {
	case slices.Equal(x, []string{Wildcard}):
		return y
	case slices.Equal(y, []string{Wildcard}):
		return x
	}
	return keepIn(x, y)
}

// intersectIDs intersects two id lists, where an empty list stands for any id.
func intersectIDs(x, y []string) []string {
	x, y = sortedUnique(x), sortedUnique(y)
	switch {
	case len(x) == 0:
		return y
	case len(y) == 0:
		return x
	}
	return keepIn(x, y)
}

// canonicalNames returns names sorted and deduplicated, or just Wildcard if it is among them.
func canonicalNames(names []string) []string {
	if slices.Contains(names, Wildcard) {
		return []string{Wildcard}
	}
	return sortedUnique(names)
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// keepIn returns the elements of x that are also in y.
func keepIn(x, y []string) []string {
	var out []string
	for _, v := range x {
		if slices.Contains(y, v) {
			out = append(out, v)
		}
	}
	return out
}

// permissionKey identifies p for deduplication; %q keeps [""] apart from no ids.
func permissionKey(p Permission) string {
	return fmt.Sprintf("%q %q %q %q", p.Namespace, p.Resources, p.Verbs, p.ResourceIDs)
}

// Covers reports whether holder allows every check that p allows, so that an actor holding
// holder may grant p. Each (resource, verb, id) of p must be allowed by a single holder
// permission whose namespace covers p's: a subtree covers itself, its descendants' subtrees and
// the exact paths within it; an exact path covers only itself. A Wildcard in p needs a Wildcard
// in that holder permission; p without ids needs a holder permission without ids. A p that
// allows nothing (no resources or verbs) is covered.
//
// Treating names as arbitrary strings this is exact, not an approximation: no finite union of
// holder permissions allows a subtree, a Wildcard or "any id" unless one of them does. It is
// conservative only at the namespace depth and length limits, where a subtree has no
// descendants and exact paths could in principle cover it.
func Covers(holder []Permission, p Permission) bool {
	hs := Compile(holder)
	m := parseMatcher(p.Namespace)
	ids := p.ResourceIDs
	if len(ids) == 0 {
		ids = []string{""} // any id
	}
	for _, r := range canonicalNames(p.Resources) {
		for _, v := range canonicalNames(p.Verbs) {
			for _, id := range ids {
				if len(p.ResourceIDs) > 0 && id == "" {
					continue // p never allows a check without an id
				}
				if !hs.coversOne(m, r, v, id) {
					return false
				}
			}
		}
	}
	return true
}

// coversOne reports whether some rule covers namespace m for resource r and verb v (either may
// be Wildcard, needing a Wildcard in the rule) and resource id id ("" for any id).
func (s Set) coversOne(m matcher, r, v, id string) bool {
	rb, vb := kindBits(r, v)
	for i := range s.rules {
		ru := &s.rules[i]
		if ru.allowsKind(rb, vb, r, v) && ru.ns.covers(m) &&
			(len(ru.ids) == 0 || id != "" && slices.Contains(ru.ids, id)) {
			return true
		}
	}
	return false
}
