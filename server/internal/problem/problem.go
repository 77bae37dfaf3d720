// Package problem carries errors that have an HTTP meaning (RFC 9457 problem details) from the
// domain packages to the transport, and writes them as application/problem+json.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ContentType is the media type of every error body.
const ContentType = "application/problem+json"

// FieldError names one offending field (a dotted path such as "labels.app" or
// "permissions[0].verbs", or a parameter name) and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error with an HTTP status and, optionally, the fields at fault.
type Error struct {
	Status int          `json:"status"`
	Title  string       `json:"title"`
	Type   string       `json:"type"`
	Detail string       `json:"detail,omitempty"`
	Fields []FieldError `json:"errors,omitempty"`
	// RequestID is filled in by the transport.
	RequestID string `json:"requestId,omitempty"`
	Instance  string `json:"instance,omitempty"`
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.Title
}

// New builds an Error with the standard title for status.
func New(status int, format string, args ...any) *Error {
	return &Error{Status: status, Title: http.StatusText(status), Type: "about:blank", Detail: fmt.Sprintf(format, args...)}
}

// Invalid is a 400 naming the offending fields; the detail lists them.
func Invalid(fields ...FieldError) *Error {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	e := New(http.StatusBadRequest, "%s", strings.Join(parts, "; "))
	e.Fields = fields
	return e
}

// InvalidField is Invalid with one field.
func InvalidField(field, format string, args ...any) *Error {
	return Invalid(FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// NotFound is a 404.
func NotFound(format string, args ...any) *Error { return New(http.StatusNotFound, format, args...) }

// Conflict is a 409.
func Conflict(format string, args ...any) *Error { return New(http.StatusConflict, format, args...) }

// Forbidden is a 403.
func Forbidden(format string, args ...any) *Error { return New(http.StatusForbidden, format, args...) }

// Unauthorized is a 401.
func Unauthorized(format string, args ...any) *Error {
	return New(http.StatusUnauthorized, format, args...)
}

// As returns err as a *Error, or a 500 that reveals nothing of err.
func As(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return New(http.StatusInternalServerError, "internal error")
}

// Write writes p as an application/problem+json response.
func Write(w http.ResponseWriter, p *Error) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="authproxy"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
