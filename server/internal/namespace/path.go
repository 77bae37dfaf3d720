package namespace

import (
	"fmt"
	"strings"
)

// Root is the path every namespace descends from.
const Root = "root"

// Limits on namespace paths.
const (
	MaxPathLength    = 253
	MaxSegmentLength = 63
	MaxDepth         = 16
)

// ValidatePath reports why p is not a valid namespace path, or nil. A valid path is "root"
// or "root" followed by dot-separated segments matching [a-z0-9_][a-z0-9_-]*.
func ValidatePath(p string) error {
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
