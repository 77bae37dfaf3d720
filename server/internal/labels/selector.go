package labels

import (
	"fmt"
	"slices"
	"strings"
)

// Limits on selectors.
const (
	maxRequirements = 64
	maxSetValues    = 64
)

// Operator is the relation a Requirement demands between a label and its values.
type Operator string

// Operators, spelled as in Kubernetes.
const (
	Equals       Operator = "="     // key=value or key==value
	NotEquals    Operator = "!="    // key!=value
	In           Operator = "in"    // key in (v1,v2)
	NotIn        Operator = "notin" // key notin (v1,v2)
	Exists       Operator = "exists"
	DoesNotExist Operator = "!"
)

// Requirement is one condition of a Selector. Values holds the single value of
// Equals and NotEquals, the set of In and NotIn (sorted and without duplicates
// when parsed), and nothing for Exists and DoesNotExist.
type Requirement struct {
	Key    string
	Op     Operator
	Values []string
}

// matches reports whether labels satisfy r. NotEquals and NotIn also hold
// when the key is absent; an unknown operator never holds.
func (r Requirement) matches(labels map[string]string) bool {
	v, ok := labels[r.Key]
	switch r.Op {
	case Equals, In:
		return ok && slices.Contains(r.Values, v)
	case NotEquals, NotIn:
		return !ok || !slices.Contains(r.Values, v)
	case Exists:
		return ok
	case DoesNotExist:
		return !ok
	}
	return false
}

// String formats r in the selector syntax, with set values sorted.
func (r Requirement) String() string {
	switch r.Op {
	case Exists:
		return r.Key
	case DoesNotExist:
		return "!" + r.Key
	case Equals, NotEquals:
		v := ""
		if len(r.Values) > 0 {
			v = r.Values[0]
		}
		return r.Key + string(r.Op) + v
	}
	vs := slices.Clone(r.Values)
	slices.Sort(vs)
	return fmt.Sprintf("%s %s (%s)", r.Key, r.Op, strings.Join(slices.Compact(vs), ","))
}

// Selector is a conjunction of requirements. The zero Selector is empty and
// matches everything.
type Selector struct {
	Requirements []Requirement
}

// Empty reports whether s has no requirements, and so matches everything.
func (s Selector) Empty() bool { return len(s.Requirements) == 0 }

// Matches reports whether labels satisfy every requirement of s.
func (s Selector) Matches(labels map[string]string) bool {
	for _, r := range s.Requirements {
		if !r.matches(labels) {
			return false
		}
	}
	return true
}

// String returns s in a canonical form that ParseSelector turns back into s:
// requirements in order, joined by ",", set values sorted.
func (s Selector) String() string {
	parts := make([]string, len(s.Requirements))
	for i, r := range s.Requirements {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// ParseSelector parses a Kubernetes label selector: comma-separated
// requirements, all of which must hold, each one of
//
//	key=value  key==value  key!=value  key in (v1,v2)  key notin (v1,v2)  key  !key
//
// with optional whitespace between tokens. Keys and values follow the label
// rules; a value after "=", "==" or "!=" may be empty, but sets may not be and
// may not contain empty values. An empty or blank string is the empty Selector.
// At most 64 requirements and 64 values per set are allowed. Positions in
// errors are 0-based byte offsets into s.
func ParseSelector(s string) (Selector, error) {
	p := parser{src: s}
	p.advance()
	var sel Selector
	if p.tok.kind == tokEOF {
		return sel, nil
	}
	for {
		start := p.tok.pos
		r, err := p.requirement()
		if err != nil {
			return Selector{}, err
		}
		if len(sel.Requirements) == maxRequirements {
			return Selector{}, fmt.Errorf("labelSelector: more than %d requirements (the %dth starts at position %d)",
				maxRequirements, maxRequirements+1, start)
		}
		sel.Requirements = append(sel.Requirements, r)
		switch p.tok.kind {
		case tokEOF:
			return sel, nil
		case tokComma:
			p.advance()
		default:
			return Selector{}, p.unexpected(`"," or end of input`)
		}
	}
}

type tokenKind int

const (
	tokEOF      tokenKind = iota
	tokIdent              // a run of bytes other than delimiters
	tokNot                // !
	tokEquals             // =
	tokDoubleEq           // ==
	tokNotEq              // !=
	tokOpen               // (
	tokClose              // )
	tokComma              // ,
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	src string
	off int   // where the next token's scan begins
	tok token // the current token
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isDelimiter reports whether c ends an identifier. All delimiters are ASCII,
// so scanning bytes never splits a UTF-8 sequence.
func isDelimiter(c byte) bool { return isSpace(c) || strings.IndexByte("!=(),", c) >= 0 }

// advance scans the next token into p.tok.
func (p *parser) advance() {
	for p.off < len(p.src) && isSpace(p.src[p.off]) {
		p.off++
	}
	start := p.off
	if start == len(p.src) {
		p.tok = token{tokEOF, "", start}
		return
	}
	kind, n := tokIdent, 1
	next := byte(0)
	if start+1 < len(p.src) {
		next = p.src[start+1]
	}
	switch p.src[start] {
	case '!':
		kind = tokNot
		if next == '=' {
			kind, n = tokNotEq, 2
		}
	case '=':
		kind = tokEquals
		if next == '=' {
			kind, n = tokDoubleEq, 2
		}
	case '(':
		kind = tokOpen
	case ')':
		kind = tokClose
	case ',':
		kind = tokComma
	default:
		for start+n < len(p.src) && !isDelimiter(p.src[start+n]) {
			n++
		}
	}
	p.off = start + n
	p.tok = token{kind, p.src[start:p.off], start}
}

// unexpected returns an error for the current token.
func (p *parser) unexpected(expected string) error {
	what := "end of input"
	if p.tok.kind != tokEOF {
		what = show(p.tok.text)
	}
	return fmt.Errorf("labelSelector: unexpected %s at position %d; expected %s", what, p.tok.pos, expected)
}

// key consumes an identifier and checks that it is a valid key.
func (p *parser) key(expected string) (string, error) {
	if p.tok.kind != tokIdent {
		return "", p.unexpected(expected)
	}
	k := p.tok
	if msg := checkKey(k.text); msg != "" {
		return "", fmt.Errorf("labelSelector: invalid key %s at position %d: %s", show(k.text), k.pos, msg)
	}
	p.advance()
	return k.text, nil
}

// value consumes an identifier and checks that it is a valid label value.
func (p *parser) value() (string, error) {
	if p.tok.kind != tokIdent {
		return "", p.unexpected("a value")
	}
	v := p.tok
	if msg := checkValue(v.text); msg != "" {
		return "", fmt.Errorf("labelSelector: invalid value %s at position %d: value %s", show(v.text), v.pos, msg)
	}
	p.advance()
	return v.text, nil
}

// requirement parses one requirement, leaving the token after it current.
func (p *parser) requirement() (Requirement, error) {
	if p.tok.kind == tokNot {
		p.advance()
		k, err := p.key(`a key after "!"`)
		if err != nil {
			return Requirement{}, err
		}
		if p.tok.kind != tokEOF && p.tok.kind != tokComma {
			return Requirement{}, p.unexpected(`"," or end of input ("!key" takes no operator)`)
		}
		return Requirement{Key: k, Op: DoesNotExist}, nil
	}
	k, err := p.key("a key")
	if err != nil {
		return Requirement{}, err
	}
	r := Requirement{Key: k}
	switch {
	case p.tok.kind == tokEOF || p.tok.kind == tokComma:
		r.Op = Exists
	case p.tok.kind == tokEquals || p.tok.kind == tokDoubleEq || p.tok.kind == tokNotEq:
		r.Op = Equals
		if p.tok.kind == tokNotEq {
			r.Op = NotEquals
		}
		p.advance()
		v := "" // "key=" compares with the empty value
		if p.tok.kind != tokEOF && p.tok.kind != tokComma {
			if v, err = p.value(); err != nil {
				return Requirement{}, err
			}
		}
		r.Values = []string{v}
	case p.tok.kind == tokIdent && (p.tok.text == "in" || p.tok.text == "notin"):
		r.Op = Operator(p.tok.text)
		if r.Values, err = p.set(r.Op); err != nil {
			return Requirement{}, err
		}
	default:
		return Requirement{}, p.unexpected(`an operator (=, ==, !=, in or notin), "," or end of input`)
	}
	return r, nil
}

// set parses "(v1,v2,...)" after the operator op, which is current. It returns
// the values sorted and without duplicates.
func (p *parser) set(op Operator) ([]string, error) {
	p.advance()
	if p.tok.kind != tokOpen {
		return nil, p.unexpected(fmt.Sprintf(`"(" after %q`, op))
	}
	p.advance()
	if p.tok.kind == tokClose {
		return nil, fmt.Errorf("labelSelector: empty set at position %d; %q needs at least one value", p.tok.pos, op)
	}
	var vs []string
	for {
		start := p.tok.pos
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if len(vs) == maxSetValues {
			return nil, fmt.Errorf("labelSelector: more than %d values in the set of %q (the %dth is at position %d)",
				maxSetValues, op, maxSetValues+1, start)
		}
		vs = append(vs, v)
		switch p.tok.kind {
		case tokComma:
			p.advance()
		case tokClose:
			p.advance()
			slices.Sort(vs)
			return slices.Compact(vs), nil
		default:
			return nil, p.unexpected(`"," or ")"`)
		}
	}
}
