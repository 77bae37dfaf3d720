package definition

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// MaxSize is the largest definition accepted, in bytes.
const MaxSize = 256 << 10

var errNotDuration = errors.New("not a duration")

// Error is one problem in a definition: the dotted path of the field (such as
// "auth.oauth2.tokenUrl" or "probes[0].period"; "" for the whole document), its line in the
// source when known (0 otherwise) and what is wrong.
type Error struct {
	Field   string `json:"field"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

func (e Error) String() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Errors lists the problems of a definition, in source order.
type Errors []Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, "; ")
}

// Parsed is a valid definition.
type Parsed struct {
	// Definition is the typed definition with defaults applied.
	Definition *Definition
	// Normalized is the document as canonical JSON (object keys sorted, no insignificant
	// whitespace, no defaults added): definitions that differ only in formatting, key
	// order or YAML-versus-JSON have the same Normalized bytes.
	Normalized []byte
	// Hash is "sha256:" and the hex SHA-256 of Normalized.
	Hash string
}

// Parse reads a definition written as YAML or JSON and validates it against the schema
// and the cross-field rules. On failure it returns every problem found (schema problems
// first; cross-field rules only run on a document the schema accepts).
func Parse(src []byte) (*Parsed, Errors) {
	if len(src) > MaxSize {
		return nil, Errors{{Message: fmt.Sprintf("definition is %d bytes, more than the limit of %d", len(src), MaxSize)}}
	}
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, Errors{{Message: "definition is empty"}}
	}
	doc, lines, errs := decodeYAML(src)
	if len(errs) > 0 {
		return nil, errs
	}
	normalized, err := canonicalJSON(doc)
	if err != nil {
		return nil, Errors{{Message: err.Error()}}
	}
	if errs := validateSchema(normalized, lines); len(errs) > 0 {
		return nil, errs
	}
	var def Definition
	dec := json.NewDecoder(bytes.NewReader(normalized))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		// The schema admits only what Definition can hold; this is a bug, said plainly.
		return nil, Errors{{Message: fmt.Sprintf("definition does not fit the schema's types: %v", err)}}
	}
	c := checker{lines: lines}
	c.check(&def)
	if len(c.errs) > 0 {
		sortErrors(c.errs)
		return nil, c.errs
	}
	sum := sha256.Sum256(normalized)
	return &Parsed{Definition: &def, Normalized: normalized, Hash: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// Normalize returns the canonical JSON of a YAML or JSON document without validating it
// against the schema: what Parse's Normalized would be.
func Normalize(src []byte) ([]byte, error) {
	doc, _, errs := decodeYAML(src)
	if len(errs) > 0 {
		return nil, errs
	}
	return canonicalJSON(doc)
}

// decodeYAML turns the single YAML (or JSON) document in src into plain Go values (maps,
// slices, strings, json.Number, bools, nil) and records the line of every value by its
// JSON pointer.
func decodeYAML(src []byte) (any, map[string]int, Errors) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, Errors{{Message: "definition is empty"}}
		}
		return nil, nil, Errors{yamlError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, nil, Errors{{Line: extra.Line, Message: "more than one YAML document; a definition is exactly one"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, nil, Errors{yamlError(err)}
	}
	lines := map[string]int{}
	var errs Errors
	v := convert(&root, "", lines, &errs, 0)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, nil, Errors{{Line: 1, Message: "a definition is a mapping (an object) at the top level"}}
	}
	return v, lines, nil
}

// yamlError turns a yaml.v3 error ("yaml: line 3: …") into an Error with its line.
func yamlError(err error) Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ":"); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return Error{Line: line, Message: "not valid YAML or JSON: " + strings.TrimSpace(after)}
			}
		}
	}
	return Error{Message: "not valid YAML or JSON: " + msg}
}

const maxDepth = 64

func convert(n *yaml.Node, ptr string, lines map[string]int, errs *Errors, depth int) any {
	if depth > maxDepth {
		*errs = append(*errs, Error{Field: fieldOf(ptr), Line: n.Line, Message: "nested too deeply"})
		return nil
	}
	lines[ptr] = n.Line
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return convert(n.Content[0], ptr, lines, errs, depth+1)
	case yaml.AliasNode:
		*errs = append(*errs, Error{Field: fieldOf(ptr), Line: n.Line, Message: "YAML aliases (*" + n.Value + ") are not supported; write the value out"})
		return nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!bool" && k.Tag != "!!float") {
				*errs = append(*errs, Error{Field: fieldOf(ptr), Line: k.Line, Message: "mapping keys must be plain strings"})
				continue
			}
			if k.Value == "<<" {
				*errs = append(*errs, Error{Field: fieldOf(ptr), Line: k.Line, Message: "YAML merge keys (<<) are not supported"})
				continue
			}
			if _, dup := m[k.Value]; dup {
				*errs = append(*errs, Error{Field: fieldOf(ptr + "/" + escapePtr(k.Value)), Line: k.Line, Message: "defined twice"})
				continue
			}
			m[k.Value] = convert(v, ptr+"/"+escapePtr(k.Value), lines, errs, depth+1)
		}
		return m
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = convert(c, ptr+"/"+strconv.Itoa(i), lines, errs, depth+1)
		}
		return out
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				return b
			}
		case "!!int":
			var i int64
			if err := n.Decode(&i); err == nil {
				return json.Number(strconv.FormatInt(i, 10))
			}
		case "!!float":
			var f float64
			if err := n.Decode(&f); err == nil && !isInfOrNaN(f) {
				return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
			}
			*errs = append(*errs, Error{Field: fieldOf(ptr), Line: n.Line, Message: fmt.Sprintf("%q is not a finite number", n.Value)})
			return nil
		}
		return n.Value // strings, timestamps and anything else stay text
	}
	*errs = append(*errs, Error{Field: fieldOf(ptr), Line: n.Line, Message: "unsupported YAML node"})
	return nil
}

func isInfOrNaN(f float64) bool { return f != f || f > 1e308 || f < -1e308 }

func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// fieldOf turns a JSON pointer into a dotted path: /probes/0/url -> probes[0].url.
func fieldOf(ptr string) string {
	if ptr == "" {
		return ""
	}
	var b strings.Builder
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("definition cannot be written as JSON: %v", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("connector-definition.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("connector-definition.json")
})

var printer = message.NewPrinter(language.English)

func validateSchema(normalized []byte, lines map[string]int) Errors {
	sch, err := compiled()
	if err != nil {
		panic(fmt.Sprintf("definition: embedded schema does not compile: %v", err))
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(normalized))
	if err != nil {
		return Errors{{Message: err.Error()}}
	}
	err = sch.Validate(inst)
	var ve *jsonschema.ValidationError
	if err == nil || !errors.As(err, &ve) {
		if err != nil {
			return Errors{{Message: err.Error()}}
		}
		return nil
	}
	var out Errors
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		ptr := ""
		for _, tok := range e.InstanceLocation {
			ptr += "/" + escapePtr(tok)
		}
		add := func(p, msg string) {
			key := p + "\x00" + msg
			if seen[key] {
				return
			}
			seen[key] = true
			line, ok := lines[p]
			if !ok {
				line = lines[ptr]
			}
			out = append(out, Error{Field: fieldOf(p), Line: line, Message: msg})
		}
		switch k := e.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				add(ptr+"/"+escapePtr(p), "unknown field")
			}
		case *kind.Required:
			for _, p := range k.Missing {
				add(ptr+"/"+escapePtr(p), "is required")
			}
		default:
			add(ptr, e.ErrorKind.LocalizedString(printer))
		}
	}
	walk(ve)
	sortErrors(out)
	return out
}

func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Field < es[j].Field
	})
}
