package authz

import (
	"slices"
	"strings"

	"github.com/authproxy/authproxy/server/internal/namespace"
)

// subtreeSuffix turns a namespace path into a matcher for the path and all its descendants.
const subtreeSuffix = ".**"

// matcher is a parsed permission namespace: an exact path, or a path and its subtree.
type matcher struct {
	path    string
	subtree bool
}

func parseMatcher(s string) matcher {
	if p, ok := strings.CutSuffix(s, subtreeSuffix); ok {
		return matcher{path: p, subtree: true}
	}
	return matcher{path: s}
}

func (m matcher) String() string {
	if m.subtree {
		return m.path + subtreeSuffix
	}
	return m.path
}

// matches reports whether the namespace ns is matched.
func (m matcher) matches(ns string) bool {
	if m.subtree {
		return namespace.IsWithin(ns, m.path)
	}
	return ns == m.path
}

// covers reports whether m matches every namespace o matches. An exact matcher never covers a
// subtree; that is exact, as a subtree always has descendants (short of the depth limit).
func (m matcher) covers(o matcher) bool {
	if m.subtree {
		return namespace.IsWithin(o.path, m.path)
	}
	return !o.subtree && o.path == m.path
}

// rule is a compiled Permission.
type rule struct {
	ns                matcher
	resources, verbs  uint32   // vocabulary bits; anyBit for Wildcard, otherBit if other names
	otherRes, otherVb []string // names outside the vocabulary (only from unvalidated input)
	ids               []string // empty: any id
}

// Set is a compiled list of permissions, ready for fast checks. The zero Set allows nothing.
type Set struct {
	rules []rule
	perms []Permission
}

// Compile prepares ps for checking. ps is copied.
func Compile(ps []Permission) Set {
	s := Set{rules: make([]rule, 0, len(ps)), perms: make([]Permission, 0, len(ps))}
	for _, p := range ps {
		p = clonePermission(p)
		s.perms = append(s.perms, p)
		r := rule{ns: parseMatcher(p.Namespace), ids: p.ResourceIDs}
		r.resources, r.otherRes = compileNames(Resources, p.Resources)
		r.verbs, r.otherVb = compileNames(Verbs, p.Verbs)
		s.rules = append(s.rules, r)
	}
	return s
}

func compileNames(vocab, names []string) (mask uint32, other []string) {
	for _, n := range names {
		switch b := bitOf(vocab, n); {
		case n == Wildcard:
			mask |= anyBit
		case b != 0:
			mask |= b
		default:
			mask |= otherBit
			other = append(other, n)
		}
	}
	return mask, other
}

// Permissions returns a copy of the permissions the Set was compiled from.
func (s Set) Permissions() []Permission {
	out := make([]Permission, len(s.perms))
	for i, p := range s.perms {
		out[i] = clonePermission(p)
	}
	return out
}

// Allows reports whether some permission allows verb on resource in namespace ns. resourceID
// names the resource acted on, or is "" when there is none (create, an unscoped list); a
// permission limited to resource ids never allows a check without one. Allows only tests
// membership: it does not reject meaningless pairs such as ("actors", "promote").
// It does not allocate.
func (s Set) Allows(ns, resource, verb, resourceID string) bool {
	rb, vb := kindBits(resource, verb)
	for i := range s.rules {
		r := &s.rules[i]
		if r.resources&rb == 0 || r.verbs&vb == 0 || !r.ns.matches(ns) ||
			len(r.ids) > 0 && (resourceID == "" || !slices.Contains(r.ids, resourceID)) {
			continue
		}
		// Only a name outside the vocabulary needs a second look.
		if r.resources&rb != otherBit && r.verbs&vb != otherBit || r.allowsKind(rb, vb, resource, verb) {
			return true
		}
	}
	return false
}

// kindBits returns the mask bits a rule must have one of to allow resource and verb: the
// name's own bit or anyBit, and otherBit for names outside the vocabulary.
func kindBits(resource, verb string) (rb, vb uint32) {
	rb, vb = bitOf(Resources, resource), bitOf(Verbs, verb)
	if rb == 0 {
		rb = otherBit
	}
	if vb == 0 {
		vb = otherBit
	}
	return rb | anyBit, vb | anyBit
}

// allowsKind reports whether r allows the (resource, verb) pair with bits from kindBits.
// Only a name outside the vocabulary needs a look at the rule's other names.
func (r *rule) allowsKind(rb, vb uint32, resource, verb string) bool {
	return r.resources&rb != 0 && r.verbs&vb != 0 &&
		(r.resources&rb != otherBit || slices.Contains(r.otherRes, resource)) &&
		(r.verbs&vb != otherBit || slices.Contains(r.otherVb, verb))
}

func clonePermission(p Permission) Permission {
	p.Resources = slices.Clone(p.Resources)
	p.Verbs = slices.Clone(p.Verbs)
	p.ResourceIDs = slices.Clone(p.ResourceIDs)
	return p
}
