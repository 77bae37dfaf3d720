package authz

// Wildcard stands for every resource or every verb in a permission.
const Wildcard = "*"

// Resources a permission can name.
const (
	ResourceNamespaces  = "namespaces"
	ResourceActors      = "actors"
	ResourceKeys        = "keys"
	ResourceConnectors  = "connectors"
	ResourceConnections = "connections"
	ResourceRequestLogs = "request_logs"
)

// Verbs a permission can name. The first five apply to every resource; the rest apply to one
// resource each (see VerbResource).
const (
	VerbGet         = "get"
	VerbList        = "list"
	VerbCreate      = "create"
	VerbUpdate      = "update"
	VerbDelete      = "delete"
	VerbPromote     = "promote"
	VerbProxy       = "proxy"
	VerbRotate      = "rotate"
	VerbImpersonate = "impersonate"
)

// Resources lists every resource, without Wildcard. Do not modify it.
var Resources = []string{
	ResourceNamespaces,
	ResourceActors,
	ResourceKeys,
	ResourceConnectors,
	ResourceConnections,
	ResourceRequestLogs,
}

// Verbs lists every verb, without Wildcard. Do not modify it.
var Verbs = []string{
	VerbGet,
	VerbList,
	VerbCreate,
	VerbUpdate,
	VerbDelete,
	VerbPromote,
	VerbProxy,
	VerbRotate,
	VerbImpersonate,
}

// specialVerbs maps each resource-specific verb to the resource it applies to.
var specialVerbs = map[string]string{
	VerbPromote:     ResourceConnectors,
	VerbProxy:       ResourceConnections,
	VerbRotate:      ResourceKeys,
	VerbImpersonate: ResourceActors,
}

// VerbResource returns the resource a resource-specific verb applies to, and false for verbs
// that apply to every resource (and for unknown verbs).
func VerbResource(verb string) (resource string, ok bool) {
	resource, ok = specialVerbs[verb]
	return resource, ok
}

// Compiled name masks: bit i stands for the vocabulary's name i, anyBit for Wildcard and
// otherBit for any name outside the vocabulary.
const (
	anyBit   = 1 << 31
	otherBit = 1 << 30
)

// bitOf returns the mask bit of name in names, or 0 if it is not one of them.
func bitOf(names []string, name string) uint32 {
	for i, n := range names {
		if n == name {
			return 1 << i
		}
	}
	return 0
}
