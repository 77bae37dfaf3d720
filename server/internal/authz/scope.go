package authz

import (
	"cmp"
	"slices"

	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/store"
)

// Scope is where a (resource, verb) pair is allowed, for list endpoints to filter by in their
// query. All means everywhere, and then Rules is empty; otherwise a row is visible if some
// rule matches it, and no rules means nothing is visible.
type Scope struct {
	All   bool
	Rules []Rule
}

// Rule matches the rows in namespace Namespace (and, if Subtree, its descendants), limited to
// the resource ids IDs when that is not empty.
type Rule struct {
	Namespace string
	Subtree   bool
	IDs       []string
}

// Scope returns where verb is allowed on resource. All is set only if some permission allows
// it on "root.**" without resource ids. Rules are sorted by namespace; rules of the same
// matcher are merged and rules inside a subtree allowed without ids are dropped.
func (s Set) Scope(resource, verb string) Scope {
	rb, vb := kindBits(resource, verb)
	var rules []Rule
	for i := range s.rules {
		r := &s.rules[i]
		if !r.allowsKind(rb, vb, resource, verb) {
			continue
		}
		if r.ns.subtree && r.ns.path == namespace.Root && len(r.ids) == 0 {
			return Scope{All: true}
		}
		rules = append(rules, Rule{Namespace: r.ns.path, Subtree: r.ns.subtree, IDs: r.ids})
	}
	return Scope{Rules: mergeRules(rules)}
}

func mergeRules(rules []Rule) []Rule {
	slices.SortStableFunc(rules, func(a, b Rule) int {
		if c := cmp.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if a.Subtree == b.Subtree {
			return 0
		}
		if a.Subtree {
			return 1
		}
		return -1
	})
	// Merge rules with the same matcher: no ids wins, otherwise the union of the ids.
	var merged []Rule
	for _, r := range rules {
		if n := len(merged); n > 0 && merged[n-1].Namespace == r.Namespace && merged[n-1].Subtree == r.Subtree {
			last := &merged[n-1]
			if len(last.IDs) > 0 && len(r.IDs) > 0 {
				last.IDs = sortedUnique(append(slices.Clone(last.IDs), r.IDs...))
			} else {
				last.IDs = nil
			}
			continue
		}
		r.IDs = sortedUnique(r.IDs)
		merged = append(merged, r)
	}
	// Drop rules another rule already covers: a subtree without ids. Matchers are unique now, so
	// a subtree on r's own path is another rule exactly when r is exact.
	var out []Rule
	for _, r := range merged {
		if !slices.ContainsFunc(merged, func(o Rule) bool {
			return o.Subtree && len(o.IDs) == 0 && namespace.IsWithin(r.Namespace, o.Namespace) &&
				(o.Namespace != r.Namespace || !r.Subtree)
		}) {
			out = append(out, r)
		}
	}
	return out
}

// Contains reports whether the scope includes the resource with id id in namespace ns.
func (sc Scope) Contains(ns, id string) bool {
	if sc.All {
		return true
	}
	for _, r := range sc.Rules {
		m := matcher{path: r.Namespace, subtree: r.Subtree}
		if m.matches(ns) && (len(r.IDs) == 0 || id != "" && slices.Contains(r.IDs, id)) {
			return true
		}
	}
	return false
}

// Query is the scope as the store filters by it (store.WhereScope).
func (s Scope) Query() store.Scope {
	out := store.Scope{All: s.All}
	for _, r := range s.Rules {
		out.Rules = append(out.Rules, store.ScopeRule{Namespace: r.Namespace, Subtree: r.Subtree, IDs: r.IDs})
	}
	return out
}
