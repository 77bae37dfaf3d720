package authz

import (
	"fmt"
	"slices"
	"strings"

	"github.com/authproxy/authproxy/server/internal/namespace"
)

// MaxResourceIDLength is the longest resource id a permission may name.
const MaxResourceIDLength = 255

// Violation is one problem with a permission. Field is relative to the permission:
// "namespace", "resources[1]", "verbs[0]", "resourceIds[2]".
type Violation struct {
	Field   string
	Message string
}

// Validate reports what is wrong with p as granted by an actor in namespace actorNamespace,
// or nil. It checks syntax and vocabulary, and that p stays within the actor's subtree; whether
// the actor holds p is for Covers.
func Validate(p Permission, actorNamespace string) []Violation {
	var vs []Violation
	add := func(field, format string, args ...any) {
		vs = append(vs, Violation{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	if err := validateMatcher(p.Namespace); err != nil {
		add("namespace", "%v", err)
	} else if m := parseMatcher(p.Namespace); !namespace.IsWithin(m.path, actorNamespace) {
		add("namespace", "permission namespace %q is outside the actor's namespace %q", p.Namespace, actorNamespace)
	}

	validateNames(p.Resources, "resources", "resource", Resources, add)
	validateNames(p.Verbs, "verbs", "verb", Verbs, add)
	for i, v := range p.Verbs {
		r, special := VerbResource(v)
		if special && !slices.Contains(p.Resources, r) && !slices.Contains(p.Resources, Wildcard) {
			add(fmt.Sprintf("verbs[%d]", i), "verb %q applies only to %s, which resources does not include", v, r)
		}
	}

	if p.ResourceIDs != nil && len(p.ResourceIDs) == 0 {
		add("resourceIds", "must list at least one id, or be omitted to allow any id")
	}
	for i, id := range p.ResourceIDs {
		field := fmt.Sprintf("resourceIds[%d]", i)
		switch {
		case id == "":
			add(field, "resource id must not be empty")
		case len(id) > MaxResourceIDLength:
			add(field, "resource id is %d characters long; the limit is %d", len(id), MaxResourceIDLength)
		case slices.Contains(p.ResourceIDs[:i], id):
			add(field, "duplicate resource id %q", id)
		}
	}
	return vs
}

// validateMatcher checks the syntax of a permission namespace: a path, optionally followed by
// ".**".
func validateMatcher(s string) error {
	path, _ := strings.CutSuffix(s, subtreeSuffix)
	if strings.Contains(path, "*") {
		return fmt.Errorf("namespace %q is not valid: a wildcard may only be a final \".**\", as in \"root.a.**\" for root.a and everything below it", s)
	}
	if err := namespace.ValidatePath(path); err != nil {
		return fmt.Errorf("namespace %q is not valid: path %v", s, err)
	}
	return nil
}

// validateNames checks a resource or verb list against its vocabulary.
func validateNames(names []string, field, noun string, vocab []string, add func(field, format string, args ...any)) {
	if len(names) == 0 {
		add(field, "must list at least one %s", noun)
		return
	}
	allowed := Wildcard + ", " + strings.Join(vocab, ", ")
	for i, n := range names {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case n != Wildcard && !slices.Contains(vocab, n):
			add(f, "unknown %s %q; allowed: %s", noun, n, allowed)
		case slices.Contains(names[:i], n):
			add(f, "duplicate %s %q", noun, n)
		case len(names) > 1 && n == Wildcard:
			add(f, "%q already includes every %s; list it alone", Wildcard, noun)
		}
	}
}
