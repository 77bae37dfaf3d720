// Package labels implements Kubernetes-compatible labels, annotations and
// label selectors.
//
// A key is an optional prefix and a name separated by "/". The prefix is a DNS
// subdomain (lowercase alphanumerics, '-' and '.', each dot-separated part
// starting and ending with an alphanumeric, at most 253 characters). The name is
// 1 to 63 characters of alphanumerics, '-', '_' and '.', starting and ending with
// an alphanumeric. Label values are empty or follow the rules of a name;
// annotation values are free-form but all keys and values of an object together
// are limited to 256 KiB.
package labels

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits, as in Kubernetes.
const (
	maxNameLength      = 63
	maxPrefixLength    = 253
	maxValueLength     = 63
	maxAnnotationsSize = 256 << 10
)

// Violation is one problem found in a set of labels or annotations. Key is the
// offending key, or "" for a problem with the set as a whole.
type Violation struct {
	Key, Message string
}

// ValidateLabels reports every problem with the keys and values of m, sorted by
// key. It returns nil if m is valid.
func ValidateLabels(m map[string]string) []Violation {
	var vs []Violation
	for _, k := range sortedKeys(m) {
		if msg := checkKey(k); msg != "" {
			vs = append(vs, Violation{k, fmt.Sprintf("label key %s: %s", show(k), msg)})
		}
		if msg := checkValue(m[k]); msg != "" {
			vs = append(vs, Violation{k, fmt.Sprintf("label %s: value %s %s", show(k), show(m[k]), msg)})
		}
	}
	return vs
}

// ValidateAnnotations reports every problem with the keys of m, sorted by key,
// and a violation with an empty Key if the keys and values together exceed
// 256 KiB. It returns nil if m is valid.
func ValidateAnnotations(m map[string]string) []Violation {
	var vs []Violation
	size := 0
	for k, v := range m {
		size += len(k) + len(v)
	}
	if size > maxAnnotationsSize {
		vs = append(vs, Violation{"", fmt.Sprintf(
			"annotations are %d bytes in total (keys plus values); the limit is %d bytes (256 KiB)",
			size, maxAnnotationsSize)})
	}
	for _, k := range sortedKeys(m) {
		if msg := checkKey(k); msg != "" {
			vs = append(vs, Violation{k, fmt.Sprintf("annotation key %s: %s", show(k), msg)})
		}
	}
	return vs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkKey describes what is wrong with the key k, or returns "".
func checkKey(k string) string {
	name := k
	if strings.Count(k, "/") > 1 {
		return `key must contain at most one "/", separating prefix and name`
	}
	if prefix, n, ok := strings.Cut(k, "/"); ok {
		name = n
		switch {
		case prefix == "":
			return `prefix must not be empty when "/" is present`
		case len(prefix) > maxPrefixLength:
			return fmt.Sprintf("prefix must be no more than %d characters (got %d)", maxPrefixLength, len(prefix))
		case !isDNSSubdomain(prefix):
			return "prefix must be a DNS subdomain: lowercase alphanumerics, '-' or '.', " +
				"with each dot-separated part starting and ending with an alphanumeric"
		}
	}
	switch {
	case name == "":
		return "name must not be empty"
	case len(name) > maxNameLength:
		return fmt.Sprintf("name must be no more than %d characters (got %d)", maxNameLength, len(name))
	case !isName(name):
		return "name must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
	}
	return ""
}

// checkValue describes what is wrong with the label value v, or returns "".
// The description starts with "must".
func checkValue(v string) string {
	switch {
	case v == "":
		return ""
	case len(v) > maxValueLength:
		return fmt.Sprintf("must be no more than %d characters (got %d)", maxValueLength, len(v))
	case !isName(v):
		return "must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isName reports whether s is non-empty, consists of alphanumerics, '-', '_'
// and '.', and starts and ends with an alphanumeric. Length is not checked.
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

// isDNSSubdomain reports whether s is a non-empty sequence of dot-separated
// parts, each of lowercase alphanumerics and '-', starting and ending with an
// alphanumeric. Like Kubernetes, it checks neither total nor part length.
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

// show quotes s for a message, shortening it if it is long.
func show(s string) string {
	const max = 80
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max - 16
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}
