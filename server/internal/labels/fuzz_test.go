package labels

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		"",
		"a=b",
		"a==b,c!=d",
		"a=",
		"a!=,b",
		"a in (b,c)",
		"a notin (c, b, c)",
		"!a, b",
		"example.com/app in (web,db),tier",
		"in in (in,notin)",
		"a in ()",
		"a in (b",
		"a,,b",
		"=b",
		"a b",
		"!",
		"a===b",
		"é=ü",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "labelSelector: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		checkSelectorInvariants(t, sel)
		canon := sel.String()
		again, err := ParseSelector(canon)
		if err != nil {
			t.Fatalf("ParseSelector(%q) = %#v, but its String %q does not parse: %v", s, sel, canon, err)
		}
		if !reflect.DeepEqual(again, sel) {
			t.Fatalf("round trip of %q through %q:\n got %#v\nwant %#v", s, canon, again, sel)
		}
		if c := again.String(); c != canon {
			t.Fatalf("String is not canonical: %q, then %q", canon, c)
		}
		for _, m := range labelSetsFor(sel) {
			got, want := again.Matches(m), sel.Matches(m)
			if got != want {
				t.Fatalf("%q.Matches(%v) = %v but %q.Matches = %v", canon, m, got, s, want)
			}
			if want != matchesOracle(sel, m) {
				t.Fatalf("%q.Matches(%v) = %v, disagreeing with the oracle", s, m, want)
			}
		}
	})
}

// checkSelectorInvariants checks what every parsed selector must satisfy.
func checkSelectorInvariants(t *testing.T, sel Selector) {
	t.Helper()
	if len(sel.Requirements) > maxRequirements {
		t.Fatalf("%d requirements", len(sel.Requirements))
	}
	for _, r := range sel.Requirements {
		if msg := checkKey(r.Key); msg != "" {
			t.Fatalf("invalid key %q accepted: %s", r.Key, msg)
		}
		for _, v := range r.Values {
			if msg := checkValue(v); msg != "" {
				t.Fatalf("invalid value %q accepted: %s", v, msg)
			}
		}
		switch r.Op {
		case Equals, NotEquals:
			if len(r.Values) != 1 {
				t.Fatalf("%s with %d values", r.Op, len(r.Values))
			}
		case In, NotIn:
			if len(r.Values) == 0 || len(r.Values) > maxSetValues || slices.Contains(r.Values, "") ||
				!slices.IsSorted(r.Values) || len(slices.Compact(slices.Clone(r.Values))) != len(r.Values) {
				t.Fatalf("bad set %q", r.Values)
			}
		case Exists, DoesNotExist:
			if r.Values != nil {
				t.Fatalf("%s with values %q", r.Op, r.Values)
			}
		default:
			t.Fatalf("unknown operator %q", r.Op)
		}
	}
}

// labelSetsFor returns label maps that exercise sel: none, and ones that give
// each key its first or an unrelated value.
func labelSetsFor(sel Selector) []map[string]string {
	first, other := map[string]string{}, map[string]string{}
	for _, r := range sel.Requirements {
		if len(r.Values) > 0 {
			first[r.Key] = r.Values[0]
		} else {
			first[r.Key] = ""
		}
		other[r.Key] = "zz-unrelated"
	}
	return []map[string]string{nil, first, other, {"a": "b"}}
}

// matchesOracle is a second, deliberately naive implementation of Matches.
func matchesOracle(sel Selector, m map[string]string) bool {
	for _, r := range sel.Requirements {
		v, ok := m[r.Key]
		in := false
		for _, x := range r.Values {
			in = in || x == v
		}
		var holds bool
		switch r.Op {
		case Equals, In:
			holds = ok && in
		case NotEquals, NotIn:
			holds = !ok || !in
		case Exists:
			holds = ok
		case DoesNotExist:
			holds = !ok
		}
		if !holds {
			return false
		}
	}
	return true
}

func FuzzValidateLabels(f *testing.F) {
	f.Add("app", "web")
	f.Add("example.com/app", "")
	f.Add("Foo Bar", "x")
	f.Add("a/b/c", "-v")
	f.Add("in", "notin")
	f.Fuzz(func(t *testing.T, k, v string) {
		vs := ValidateLabels(map[string]string{k: v})
		for _, x := range vs {
			if x.Key != k || x.Message == "" {
				t.Fatalf("bad violation %#v", x)
			}
		}
		if vs != nil {
			return
		}
		// A valid label must be selectable by equality and set membership.
		m := map[string]string{k: v}
		sels := []string{k, k + "=" + v}
		if v != "" {
			sels = append(sels, k+" in ("+v+")")
		}
		if k != "zz-unrelated" && v != "zz-unrelated" {
			sels = append(sels, k+" notin (zz-unrelated)", "!zz-unrelated")
		}
		for _, s := range sels {
			sel, err := ParseSelector(s)
			if err != nil {
				t.Fatalf("valid label %q=%q, but ParseSelector(%q): %v", k, v, s, err)
			}
			if !sel.Matches(m) {
				t.Fatalf("%q does not match valid label %q=%q", s, k, v)
			}
		}
	})
}
