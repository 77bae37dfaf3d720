package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"gopkg.in/yaml.v3"
)

// A connector definition is YAML or JSON text. AuthProxy stores it as canonical JSON (object
// keys sorted, no insignificant whitespace) and identifies it by the SHA-256 of that JSON, so
// two texts that differ only in formatting, key order or YAML-versus-JSON are the same
// definition. normalizeDefinition computes the same canonical JSON here, so that such a
// change in the configuration plans nothing, and definitionHash the server's definitionHash.

// normalizeDefinition returns the canonical JSON of a YAML or JSON document: what the server
// stores for it. It fails on text the server would refuse before looking at the contents
// (not YAML, several documents, aliases, merge keys, non-finite numbers).
func normalizeDefinition(src string) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("definition is empty")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	v, err := definitionValue(&root, 0)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errors.New("a definition is a mapping (an object) at the top level")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// definitionHash is the server's definitionHash of a definition text.
func definitionHash(src string) (string, error) {
	n, err := normalizeDefinition(src)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(n)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// definitionValue turns a YAML node into the plain value the server keeps: mappings keyed by
// the keys' text, integers and floats as JSON numbers, everything else scalar as text.
func definitionValue(n *yaml.Node, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("nested too deeply")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return definitionValue(n.Content[0], depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				return nil, fmt.Errorf("line %d: unsupported mapping key", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: %q defined twice", k.Line, k.Value)
			}
			v, err := definitionValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := definitionValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b, nil
			}
		case "!!int":
			var i int64
			if n.Decode(&i) == nil {
				return json.Number(strconv.FormatInt(i, 10)), nil
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil && f == f && f <= 1e308 && f >= -1e308 {
				return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
			}
			return nil, fmt.Errorf("line %d: %q is not a finite number", n.Line, n.Value)
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML (aliases are not supported)", n.Line)
}

// definitionsEquivalent says whether two definition texts are the same definition.
func definitionsEquivalent(a, b string) bool {
	if a == b {
		return true
	}
	na, err := normalizeDefinition(a)
	if err != nil {
		return false
	}
	nb, err := normalizeDefinition(b)
	return err == nil && bytes.Equal(na, nb)
}

// definitionFromBody extracts the "definition" of a connector version response as canonical
// JSON text (numbers kept exactly as the server wrote them).
func definitionFromBody(body []byte) (string, error) {
	var v struct {
		Definition json.RawMessage `json:"definition"`
	}
	if err := json.Unmarshal(body, &v); err != nil || len(v.Definition) == 0 {
		return "", fmt.Errorf("no definition in the response: %v", err)
	}
	n, err := normalizeDefinition(string(v.Definition))
	if err != nil {
		return "", err
	}
	return string(n), nil
}

// definitionType is a string attribute holding a definition: values are semantically equal
// when they are the same definition.
type definitionType struct {
	basetypes.StringType
}

var (
	_ basetypes.StringTypable                    = definitionType{}
	_ basetypes.StringValuableWithSemanticEquals = definitionValueT{}
)

func (t definitionType) String() string { return "provider.definitionType" }

func (t definitionType) Equal(o attr.Type) bool {
	_, ok := o.(definitionType)
	return ok
}

func (t definitionType) ValueType(context.Context) attr.Value { return definitionValueT{} }

func (t definitionType) ValueFromString(_ context.Context, in basetypes.StringValue) (basetypes.StringValuable, diag.Diagnostics) {
	return definitionValueT{StringValue: in}, nil
}

func (t definitionType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	v, err := t.StringType.ValueFromTerraform(ctx, in)
	if err != nil {
		return nil, err
	}
	sv, ok := v.(basetypes.StringValue)
	if !ok {
		return nil, fmt.Errorf("unexpected value type %T", v)
	}
	return definitionValueT{StringValue: sv}, nil
}

// definitionValueT is a value of definitionType.
type definitionValueT struct {
	basetypes.StringValue
}

func newDefinitionValue(s string) definitionValueT {
	return definitionValueT{StringValue: basetypes.NewStringValue(s)}
}

func (v definitionValueT) Type(context.Context) attr.Type { return definitionType{} }

func (v definitionValueT) Equal(o attr.Value) bool {
	other, ok := o.(definitionValueT)
	return ok && v.StringValue.Equal(other.StringValue)
}

func (v definitionValueT) StringSemanticEquals(_ context.Context, newValuable basetypes.StringValuable) (bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	nv, ok := newValuable.(definitionValueT)
	if !ok {
		diags.AddError("Semantic equality check error", fmt.Sprintf("Expected a definition value, got %T. This is a bug in the provider.", newValuable))
		return false, diags
	}
	if v.IsNull() || v.IsUnknown() || nv.IsNull() || nv.IsUnknown() {
		return false, diags
	}
	return definitionsEquivalent(v.ValueString(), nv.ValueString()), diags
}

// sameDefinitionKeepsState plans the prior text when the configured one is the same
// definition written differently, so that reformatting a file plans nothing (the CLI accepts
// a planned value equal to the prior one as the provider's normalisation of the config).
// Semantic equality alone does not do this: the framework applies it after Read and apply,
// not when planning.
func sameDefinitionKeepsState() planmodifier.String { return sameDefinitionModifier{} }

type sameDefinitionModifier struct{}

func (sameDefinitionModifier) Description(context.Context) string {
	return "A definition that differs from the prior one only in formatting keeps the prior text."
}

func (m sameDefinitionModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (sameDefinitionModifier) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.StateValue.IsNull() || req.StateValue.IsUnknown() || req.PlanValue.IsNull() || req.PlanValue.IsUnknown() {
		return
	}
	if definitionsEquivalent(req.StateValue.ValueString(), req.PlanValue.ValueString()) {
		resp.PlanValue = req.StateValue
	}
}
