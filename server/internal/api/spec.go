package api

import (
	_ "embed"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"sigs.k8s.io/yaml"
)

// SpecYAML is the contract exactly as written in openapi/authproxy.yaml (copied here by
// `make generate`, checked by CI), served as-is at /openapi.yaml.
//
//go:embed openapi.yaml
var SpecYAML []byte

var (
	specOnce sync.Once
	specJSON []byte
	spec     *openapi3.T
	specErr  error
)

func loadSpec() {
	specJSON, specErr = yaml.YAMLToJSON(SpecYAML)
	if specErr != nil {
		return
	}
	spec, specErr = openapi3.NewLoader().LoadFromData(SpecYAML)
	if specErr == nil {
		specErr = spec.Validate(openapi3.NewLoader().Context)
	}
	if specErr == nil {
		// Requests are matched by path alone, whatever host and port a service listens on.
		// Doing it here, once, keeps request validators built concurrently from writing to
		// the shared document.
		spec.Servers = nil
	}
}

// Spec returns the parsed contract (without its servers list), for request validation.
// The document is shared: treat it as read-only.
func Spec() (*openapi3.T, error) {
	specOnce.Do(loadSpec)
	return spec, specErr
}

// SpecJSON returns the contract as JSON, for /openapi.json.
func SpecJSON() ([]byte, error) {
	specOnce.Do(loadSpec)
	return specJSON, specErr
}
