package namespace

import "github.com/authproxy/authproxy/sdk/names"

// The path rules are the contract's, shared with clients through sdk/names.

// Root is the path every namespace descends from.
const Root = names.Root

// Limits on namespace paths.
const (
	MaxPathLength    = names.MaxPathLength
	MaxSegmentLength = names.MaxSegmentLength
	MaxDepth         = names.MaxDepth
)

// ValidatePath reports why p is not a valid namespace path, or nil.
func ValidatePath(p string) error { return names.ValidateNamespacePath(p) }

// Parent returns the parent of a valid path and false for root.
func Parent(p string) (string, bool) { return names.Parent(p) }

// IsWithin reports whether p is ancestor or lies below it.
func IsWithin(p, ancestor string) bool { return names.IsWithin(p, ancestor) }
