// Package names holds the contract's rules for names that clients and the server both check:
// namespace paths and label keys and values. The server is authoritative; clients (the
// Terraform provider's plan-time validation, for one) use the same rules to fail early.
package names

import (
	"fmt"
	"strings"
)

// Root is the namespace path every namespace descends from.
const Root = "root"

// Limits on namespace paths.
const (
	MaxPathLength    = 253
	MaxSegmentLength = 63
	MaxDepth         = 16
)

// ValidateNamespacePath reports why p is not a valid namespace path, or nil. A valid path
// is "root" or "root" followed by dot-separated segments matching [a-z0-9_][a-z0-9_-]*.
// The error reads after the path: `namespace path "root.A" <error>`.
func ValidateNamespacePath(p string) error {
	if p == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(p) > MaxPathLength {
		return fmt.Errorf("is %d characters long; the limit is %d", len(p), MaxPathLength)
	}
	segments := strings.Split(p, ".")
	if segments[0] != Root {
		return fmt.Errorf("must start with %q", Root)
	}
	if len(segments) > MaxDepth {
		return fmt.Errorf("has %d segments; the limit is %d", len(segments), MaxDepth)
	}
	for i, s := range segments[1:] {
		if err := validateSegment(s); err != nil {
			return fmt.Errorf("segment %d %w", i+2, err)
		}
	}
	return nil
}

func validateSegment(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if len(s) > MaxSegmentLength {
		return fmt.Errorf("is %d characters long; the limit is %d", len(s), MaxSegmentLength)
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == '-':
			if i == 0 {
				return fmt.Errorf("%q must not start with '-'", s)
			}
		default:
			return fmt.Errorf("%q has %q; only a-z, 0-9, '_' and '-' are allowed", s, c)
		}
	}
	return nil
}

// Parent returns the parent of a valid path and false for root.
func Parent(p string) (string, bool) {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return "", false
	}
	return p[:i], true
}

// IsWithin reports whether p is ancestor or lies below it.
func IsWithin(p, ancestor string) bool {
	return p == ancestor || (len(p) > len(ancestor) && p[len(ancestor)] == '.' && p[:len(ancestor)] == ancestor)
}

// Limits on labels, as in Kubernetes.
const (
	MaxLabelNameLength   = 63
	MaxLabelPrefixLength = 253
	MaxLabelValueLength  = 63
)

// LabelKeyProblem describes what is wrong with the label or annotation key k, or returns
// "". A key is an optional DNS-subdomain prefix and a name separated by "/"; the name is
// 1–63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric.
func LabelKeyProblem(k string) string {
	name := k
	if strings.Count(k, "/") > 1 {
		return `key must contain at most one "/", separating prefix and name`
	}
	if prefix, n, ok := strings.Cut(k, "/"); ok {
		name = n
		switch {
		case prefix == "":
			return `prefix must not be empty when "/" is present`
		case len(prefix) > MaxLabelPrefixLength:
			return fmt.Sprintf("prefix must be no more than %d characters (got %d)", MaxLabelPrefixLength, len(prefix))
		case !isDNSSubdomain(prefix):
			return "prefix must be a DNS subdomain: lowercase alphanumerics, '-' or '.', " +
				"with each dot-separated part starting and ending with an alphanumeric"
		}
	}
	switch {
	case name == "":
		return "name must not be empty"
	case len(name) > MaxLabelNameLength:
		return fmt.Sprintf("name must be no more than %d characters (got %d)", MaxLabelNameLength, len(name))
	case !isName(name):
		return "name must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
	}
	return ""
}

// LabelValueProblem describes what is wrong with the label value v, or returns "". The
// description starts with "must".
func LabelValueProblem(v string) string {
	switch {
	case v == "":
		return ""
	case len(v) > MaxLabelValueLength:
		return fmt.Sprintf("must be no more than %d characters (got %d)", MaxLabelValueLength, len(v))
	case !isName(v):
		return "must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isName reports whether s is non-empty, consists of alphanumerics, '-', '_' and '.', and
// starts and ends with an alphanumeric. Length is not checked.
func isName(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isDNSSubdomain reports whether s is a non-empty sequence of dot-separated parts, each of
// lowercase alphanumerics and '-', starting and ending with an alphanumeric. Like
// Kubernetes, it checks neither total nor part length.
func isDNSSubdomain(s string) bool {
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
			continue
		}
		part := s[start:i]
		if part == "" || part[0] == '-' || part[len(part)-1] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}
