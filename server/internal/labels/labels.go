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
	"unicode/utf8"

	"github.com/authproxy/authproxy/sdk/names"
)

// Limits, as in Kubernetes.
const maxAnnotationsSize = 256 << 10

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

// checkKey and checkValue are the contract's rules, shared with clients.
func checkKey(k string) string   { return names.LabelKeyProblem(k) }
func checkValue(v string) string { return names.LabelValueProblem(v) }

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
