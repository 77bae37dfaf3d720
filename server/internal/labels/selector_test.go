package labels

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func req(key string, op Operator, values ...string) Requirement {
	return Requirement{Key: key, Op: op, Values: values}
}

func TestParseSelector(t *testing.T) {
	tests := []struct {
		in   string
		want []Requirement
	}{
		{"", nil},
		{" \t\n\r ", nil},
		{"a=b", []Requirement{req("a", Equals, "b")}},
		{"a==b", []Requirement{req("a", Equals, "b")}},
		{"a!=b", []Requirement{req("a", NotEquals, "b")}},
		{"a=", []Requirement{req("a", Equals, "")}},
		{"a==", []Requirement{req("a", Equals, "")}},
		{"a!=", []Requirement{req("a", NotEquals, "")}},
		{"a=,b", []Requirement{req("a", Equals, ""), req("b", Exists)}},
		{"a", []Requirement{req("a", Exists)}},
		{"!a", []Requirement{req("a", DoesNotExist)}},
		{" ! a ", []Requirement{req("a", DoesNotExist)}},
		{"a in (b)", []Requirement{req("a", In, "b")}},
		{"a in (c,b,c,a)", []Requirement{req("a", In, "a", "b", "c")}},
		{"a notin (x, y)", []Requirement{req("a", NotIn, "x", "y")}},
		{"a in(b)", []Requirement{req("a", In, "b")}},
		{" a = b , c != d ,e in ( f , g ) , h notin (i), j, !k ", []Requirement{
			req("a", Equals, "b"), req("c", NotEquals, "d"), req("e", In, "f", "g"),
			req("h", NotIn, "i"), req("j", Exists), req("k", DoesNotExist),
		}},
		{"example.com/app=Web_1.x", []Requirement{req("example.com/app", Equals, "Web_1.x")}},
		{"a=b,a!=c", []Requirement{req("a", Equals, "b"), req("a", NotEquals, "c")}},
		// "in" and "notin" are keywords only where an operator is expected.
		{"in", []Requirement{req("in", Exists)}},
		{"in in (in, notin)", []Requirement{req("in", In, "in", "notin")}},
		{"!notin,notin=in", []Requirement{req("notin", DoesNotExist), req("notin", Equals, "in")}},
	}
	for _, tt := range tests {
		got, err := ParseSelector(tt.in)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got.Requirements, tt.want) {
			t.Errorf("ParseSelector(%q)\n got %#v\nwant %#v", tt.in, got.Requirements, tt.want)
		}
	}
}

func TestParseSelectorErrors(t *testing.T) {
	many := func(n int, format, sep string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(format, i)
		}
		return strings.Join(parts, sep)
	}
	tests := []struct {
		in   string
		want string // the whole message, or a substring of it if it starts with "..."
	}{
		{"=b", `labelSelector: unexpected "=" at position 0; expected a key`},
		{"a=b,=c", `labelSelector: unexpected "=" at position 4; expected a key`},
		{"a,,b", `labelSelector: unexpected "," at position 2; expected a key`},
		{"a,", `labelSelector: unexpected end of input at position 2; expected a key`},
		{",a", `labelSelector: unexpected "," at position 0; expected a key`},
		{"!", `labelSelector: unexpected end of input at position 1; expected a key after "!"`},
		{"!!a", `labelSelector: unexpected "!" at position 1; expected a key after "!"`},
		{"!a=b", `labelSelector: unexpected "=" at position 2; expected "," or end of input ("!key" takes no operator)`},
		{"a b", `labelSelector: unexpected "b" at position 2; expected an operator (=, ==, !=, in or notin), "," or end of input`},
		{"a!b", `labelSelector: unexpected "!" at position 1; expected an operator`},
		{"a=b c", `labelSelector: unexpected "c" at position 4; expected "," or end of input`},
		{"a=b=c", `labelSelector: unexpected "=" at position 3; expected "," or end of input`},
		{"a===b", `labelSelector: unexpected "=" at position 3; expected a value`},
		{"a= =b", `labelSelector: unexpected "=" at position 3; expected a value`},
		{"a=(b)", `labelSelector: unexpected "(" at position 2; expected a value`},
		{"a in b", `labelSelector: unexpected "b" at position 5; expected "(" after "in"`},
		{"a notin", `labelSelector: unexpected end of input at position 7; expected "(" after "notin"`},
		{"a in ()", `labelSelector: empty set at position 6; "in" needs at least one value`},
		{"a notin ( )", `labelSelector: empty set at position 10; "notin" needs at least one value`},
		{"a in (b", `labelSelector: unexpected end of input at position 7; expected "," or ")"`},
		{"a in (b c)", `labelSelector: unexpected "c" at position 8; expected "," or ")"`},
		{"a in (b,)", `labelSelector: unexpected ")" at position 8; expected a value`},
		{"a in (,b)", `labelSelector: unexpected "," at position 6; expected a value`},
		{"a in (b))", `labelSelector: unexpected ")" at position 8; expected "," or end of input`},
		{"a in (b),", `labelSelector: unexpected end of input at position 9; expected a key`},
		{"a in ((b))", `labelSelector: unexpected "(" at position 6; expected a value`},
		{"(a)", `labelSelector: unexpected "(" at position 0; expected a key`},
		{"Foo Bar", `labelSelector: unexpected "Bar" at position 4; expected an operator`},
		{"-a", `labelSelector: invalid key "-a" at position 0: ` + msgName},
		{"a>1", `labelSelector: invalid key "a>1" at position 0: ` + msgName},
		{"x, A_/b=c", `labelSelector: invalid key "A_/b" at position 3: ` + msgPrefix},
		{"a/b/c", `labelSelector: invalid key "a/b/c" at position 0: key must contain at most one "/"`},
		{"a=-b", `labelSelector: invalid value "-b" at position 2: value ` + msgValue},
		{"a in (b, c.)", `labelSelector: invalid value "c." at position 9: value ` + msgValue},
		{"a=" + strings.Repeat("v", 64), `...invalid value "` + strings.Repeat("v", 64) + `" at position 2: value must be no more than 63 characters (got 64)`},
		{"a=é", `labelSelector: invalid value "é" at position 2: value ` + msgValue},
		{many(65, "k%d", ","), `labelSelector: more than 64 requirements (the 65th starts at position 246)`},
		{"a in (" + many(65, "v%d", ",") + ")", `labelSelector: more than 64 values in the set of "in" (the 65th is at position 252)`},
	}
	for _, tt := range tests {
		_, err := ParseSelector(tt.in)
		if err == nil {
			t.Errorf("ParseSelector(%q) succeeded; want error %q", tt.in, tt.want)
			continue
		}
		got := err.Error()
		if want, ok := strings.CutPrefix(tt.want, "..."); ok && !strings.Contains(got, want) ||
			!ok && !strings.HasPrefix(got, tt.want) {
			t.Errorf("ParseSelector(%s)\n got error %s\nwant %s", show(tt.in), got, tt.want)
		}
	}
}

func TestParseSelectorLimitsAreInclusive(t *testing.T) {
	var vals, reqs []string
	for i := range 64 {
		vals = append(vals, fmt.Sprint("v", i))
		reqs = append(reqs, fmt.Sprint("k", i))
	}
	for _, s := range []string{"a in (" + strings.Join(vals, ",") + ")", strings.Join(reqs, ",")} {
		if _, err := ParseSelector(s); err != nil {
			t.Errorf("ParseSelector(%.20q...): %v", s, err)
		}
	}
}

func TestMatches(t *testing.T) {
	m := map[string]string{"env": "prod", "tier": "web", "empty": ""}
	tests := []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"env=prod", true},
		{"env==prod", true},
		{"env=dev", false},
		{"missing=prod", false},
		{"empty=", true},
		{"missing=", false},
		{"env!=dev", true},
		{"env!=prod", false},
		{"missing!=prod", true}, // absent keys satisfy !=
		{"empty!=", false},
		{"missing!=", true},
		{"env in (dev,prod)", true},
		{"env in (dev,test)", false},
		{"missing in (prod)", false},
		{"env notin (dev,test)", true},
		{"env notin (dev,prod)", false},
		{"missing notin (prod)", true}, // absent keys satisfy notin
		{"env", true},
		{"empty", true},
		{"missing", false},
		{"!env", false},
		{"!empty", false},
		{"!missing", true},
		{"env=prod,tier=web", true},
		{"env=prod,tier=db", false},
		{"env=prod,!tier", false},
		{"env in (prod),tier notin (db),!missing,empty", true},
	}
	for _, tt := range tests {
		sel, err := ParseSelector(tt.sel)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", tt.sel, err)
		}
		if got := sel.Matches(m); got != tt.want {
			t.Errorf("%q.Matches(%v) = %v; want %v", tt.sel, m, got, tt.want)
		}
	}
	if !(Selector{}).Matches(nil) || !(Selector{}).Empty() {
		t.Error("the zero Selector must be empty and match everything")
	}
	if sel, _ := ParseSelector("!a,b!=c,d notin (e)"); !sel.Matches(nil) || sel.Empty() {
		t.Error(`"!a,b!=c,d notin (e)" must match no labels and not be empty`)
	}
	if (Selector{[]Requirement{req("a", "bogus", "x")}}).Matches(map[string]string{"a": "x"}) {
		t.Error("an unknown operator must not match")
	}
}

func TestSelectorString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  a == b ", "a=b"},
		{"a=", "a="},
		{"a !=", "a!="},
		{"a notin ( z , y,z )", "a notin (y,z)"},
		{" ! a , b", "!a,b"},
		{"x=1,a in (c,b)", "x=1,a in (b,c)"},
		{"in in (in)", "in in (in)"},
	}
	for _, tt := range tests {
		sel, err := ParseSelector(tt.in)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", tt.in, err)
		}
		got := sel.String()
		if got != tt.want {
			t.Errorf("ParseSelector(%q).String() = %q; want %q", tt.in, got, tt.want)
		}
		again, err := ParseSelector(got)
		if err != nil || !reflect.DeepEqual(again, sel) {
			t.Errorf("ParseSelector(%q) = %#v, %v; want %#v", got, again, err, sel)
		}
	}
	// Hand-built selectors are canonicalized too.
	sel := Selector{[]Requirement{req("a", In, "c", "b", "c"), req("d", NotEquals, "e")}}
	if got, want := sel.String(), "a in (b,c),d!=e"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}
