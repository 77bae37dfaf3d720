// Package authz decides what an actor may do: permissions, their matching, narrowing and the
// query scopes that list endpoints filter by.
package authz

// Permission grants verbs on resources in a namespace (exact path, or "path.**" for the path
// and its whole subtree), optionally only on the listed resource ids.
type Permission struct {
	Namespace   string   `json:"namespace"`
	Resources   []string `json:"resources"`
	Verbs       []string `json:"verbs"`
	ResourceIDs []string `json:"resourceIds,omitempty"`
}
