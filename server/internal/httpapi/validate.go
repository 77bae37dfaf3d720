package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	middleware "github.com/oapi-codegen/nethttp-middleware"

	"github.com/authproxy/authproxy/server/internal/problem"
)

// validateRequests checks every request against the contract before a handler runs and
// answers a 400 problem naming each offending field.
func validateRequests(spec *openapi3.T) func(http.Handler) http.Handler {
	return middleware.OapiRequestValidatorWithOptions(spec, &middleware.Options{
		// api.Spec has no servers list, so the validator matches by path only; the option
		// that would clear it writes to the shared document and is not used.
		SilenceServersWarning: true,
		Options: openapi3filter.Options{
			MultiError: true,
			// Authentication already ran; the security scheme only documents it.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		},
		ErrorHandlerWithOpts: func(ctx context.Context, err error, w http.ResponseWriter, r *http.Request, o middleware.ErrorHandlerOpts) {
			writeProblem(w, r, validationProblem(err, o.StatusCode))
		},
	})
}

func validationProblem(err error, status int) *problem.Error {
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return problem.New(http.StatusMethodNotAllowed, "method not allowed")
	case errors.Is(err, routers.ErrPathNotFound) || status == http.StatusNotFound:
		return problem.NotFound("no such API path")
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return problem.New(http.StatusRequestEntityTooLarge, "request body exceeds %d bytes", tooLarge.Limit)
	}
	fields := fieldErrors(err)
	if len(fields) == 0 {
		fields = []problem.FieldError{{Field: "request", Message: firstLine(err.Error())}}
	}
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	return problem.Invalid(dedupe(fields)...)
}

func fieldErrors(err error) []problem.FieldError {
	// A RequestError wraps a MultiError of its own; look at the outer one directly.
	if me, ok := err.(openapi3.MultiError); ok {
		var out []problem.FieldError
		for _, e := range me {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	re, ok := err.(*openapi3filter.RequestError)
	if !ok {
		return nil
	}
	switch {
	case re.Parameter != nil:
		return []problem.FieldError{{Field: re.Parameter.Name, Message: reason(re.Err, re.Reason)}}
	case re.RequestBody != nil:
		if inner, ok := re.Err.(openapi3.MultiError); ok {
			var out []problem.FieldError
			for _, e := range inner {
				out = append(out, bodyField(e)...)
			}
			return out
		}
		if re.Err == nil {
			msg := re.Reason
			if msg == "" {
				msg = "request body is required"
			}
			return []problem.FieldError{{Field: "body", Message: msg}}
		}
		return bodyField(re.Err)
	}
	return []problem.FieldError{{Field: "request", Message: reason(re.Err, re.Reason)}}
}

func bodyField(err error) []problem.FieldError {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		field := pointerField(se.JSONPointer())
		msg := se.Reason
		// An unknown property is reported on its parent object; name the property itself.
		if prop, ok := unsupportedProperty(msg); ok {
			field = joinField(field, prop)
			msg = "unknown field"
		}
		if field == "" {
			field = "body"
		}
		return []problem.FieldError{{Field: field, Message: msg}}
	}
	var pe *openapi3filter.ParseError
	if errors.As(err, &pe) {
		return []problem.FieldError{{Field: "body", Message: "not valid JSON: " + firstLine(pe.Error())}}
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return []problem.FieldError{{Field: "body", Message: fmt.Sprintf("exceeds %d bytes", tooLarge.Limit)}}
	}
	return []problem.FieldError{{Field: "body", Message: firstLine(err.Error())}}
}

func unsupportedProperty(reason string) (string, bool) {
	const pre, post = `property "`, `" is unsupported`
	if strings.HasPrefix(reason, pre) && strings.HasSuffix(reason, post) {
		return reason[len(pre) : len(reason)-len(post)], true
	}
	return "", false
}

// pointerField renders a JSON pointer as a field path: ["permissions","0","verbs"] →
// "permissions[0].verbs".
func pointerField(ptr []string) string {
	var b strings.Builder
	for _, p := range ptr {
		if isIndex(p) {
			b.WriteString("[" + p + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func joinField(parent, child string) string {
	if parent == "" {
		return child
	}
	return parent + "." + child
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func reason(err error, fallback string) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return se.Reason
	}
	if err != nil {
		return firstLine(err.Error())
	}
	return fallback
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func dedupe(fs []problem.FieldError) []problem.FieldError {
	seen := map[problem.FieldError]bool{}
	out := fs[:0]
	for _, f := range fs {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}
