package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/authproxy/authproxy/sdk"
)

// problemDetail renders a problem response (or, failing that, the raw body) for a message.
func problemDetail(p *sdk.Problem, body []byte) string {
	if p != nil {
		if p.Detail != nil && *p.Detail != "" {
			return *p.Detail
		}
		return p.Title
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		return "empty response"
	}
	return s
}

// FieldMapper turns an API field ("permissions[0].verbs", "labels.app") into the attribute
// it came from; ok is false when no attribute corresponds.
type FieldMapper func(field string) (path.Path, bool)

var fieldPart = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$`)

// camelToSnake maps an API name (externalId) to an attribute name (external_id).
func camelToSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r + ('a' - 'A'))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// DefaultFieldMapper maps API fields onto attributes of the same (snake_case) name: list
// indexes become list elements, and anything after "labels."/"annotations." is a map key.
func DefaultFieldMapper(field string) (path.Path, bool) {
	if field == "" || field == "body" || field == "request" {
		return path.Empty(), false
	}
	parts := strings.Split(field, ".")
	var p path.Path
	for i, part := range parts {
		if i > 0 {
			prev := parts[i-1]
			if prev == "labels" || prev == "annotations" {
				return p.AtMapKey(strings.Join(parts[i:], ".")), true
			}
		}
		m := fieldPart.FindStringSubmatch(part)
		if m == nil {
			return p, i > 0
		}
		name := camelToSnake(m[1])
		if i == 0 {
			p = path.Root(name)
		} else {
			p = p.AtName(name)
		}
		if m[2] != "" {
			n, _ := strconv.Atoi(m[2])
			p = p.AtListIndex(n)
		}
	}
	return p, true
}

// problemDiagnostics explains a failed API call: one diagnostic per offending field, on the
// attribute the field came from when there is one, and a hint for the status.
func problemDiagnostics(action string, status int, p *sdk.Problem, body []byte, mapField FieldMapper) diag.Diagnostics {
	var diags diag.Diagnostics
	summary := fmt.Sprintf("Cannot %s", action)
	hint := statusHint(status)
	if p != nil && p.Errors != nil && len(*p.Errors) > 0 {
		for _, fe := range *p.Errors {
			if mapField != nil {
				if at, ok := mapField(fe.Field); ok {
					// Name the attribute as the configuration spells it, not the API field.
					diags.AddAttributeError(at, summary, fmt.Sprintf("%s: %s.%s", at, fe.Message, hint))
					continue
				}
			}
			diags.AddError(summary, fmt.Sprintf("%s: %s.%s", fe.Field, fe.Message, hint))
		}
		return diags
	}
	diags.AddError(summary, fmt.Sprintf("AuthProxy answered %d: %s.%s", status, problemDetail(p, body), hint))
	return diags
}

func statusHint(status int) string {
	switch status {
	case http.StatusForbidden:
		return " The provider's actor lacks the permission; grant it on the namespace (or use an actor that has it)."
	case http.StatusNotFound:
		return " It does not exist, or the provider's actor may not see it."
	case http.StatusConflict:
		return " Import the existing object (terraform import) or choose another name."
	case http.StatusUnauthorized:
		return " Check the provider's actor and private key."
	}
	return ""
}
