// Package definition parses and validates connector definitions: YAML or JSON documents,
// described by the JSON Schema in schema.json (a copy of openapi/connector-definition.schema.json),
// that say how to authenticate to one third-party system and what the proxy may call there.
//
// [Parse] applies the schema and then the cross-field rules the schema cannot express, and
// reports every problem with the dotted path of the field and its line in the source. The
// server, `authproxy connectors validate` and the fuzz target all use it.
package definition

import (
	_ "embed"
	"time"
)

// Schema is the JSON Schema of a definition, as served at /schemas/connector-definition.json.
//
//go:embed schema.json
var Schema []byte

// Auth types.
const (
	AuthOAuth2 = "oauth2"
	AuthAPIKey = "api_key"
	AuthNone   = "none"
)

// OAuth2 grants and token endpoint auth methods.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"

	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
	ClientAuthNone    = "none"

	// ClientSecretFromVersion is the only clientSecretRef today: the write-only client
	// secret given with the connector version.
	ClientSecretFromVersion = "version"
)

// API key placements.
const (
	PlaceBearer = "bearer"
	PlaceHeader = "header"
	PlaceQuery  = "query"
	PlaceBasic  = "basic"
)

// Body recording policies.
const (
	BodiesNever  = "never"
	BodiesErrors = "errors"
	BodiesAlways = "always"
)

// Defaults applied by [Parse] to the typed Definition (not to the normalised document).
const (
	DefaultUpstreamTimeout = 30 * time.Second
	DefaultRefreshLeadTime = 5 * time.Minute
	DefaultProbePeriod     = 15 * time.Minute
	MaxUpstreamTimeout     = 5 * time.Minute
	MinProbePeriod         = time.Minute
)

// Definition is a parsed, validated connector definition with defaults applied.
type Definition struct {
	Display  Display  `json:"display"`
	Auth     Auth     `json:"auth"`
	Upstream Upstream `json:"upstream"`
	Probes   []Probe  `json:"probes"`
	Logging  Logging  `json:"logging"`
	Config   Config   `json:"config"`
}

// Display is what the marketplace shows.
type Display struct {
	Name        string     `json:"name"`
	Description string     `json:"description"`
	LogoURL     string     `json:"logoUrl"`
	Categories  []string   `json:"categories"`
	HelpLinks   []HelpLink `json:"helpLinks"`
}

// HelpLink is a titled link.
type HelpLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Auth says how credentials are obtained and injected.
type Auth struct {
	Type   string  `json:"type"`
	OAuth2 *OAuth2 `json:"oauth2"`
	APIKey *APIKey `json:"apiKey"`
}

// OAuth2 configures an OAuth2 client.
type OAuth2 struct {
	Grant                   string            `json:"grant"`
	PKCE                    *bool             `json:"pkce"`
	ClientID                string            `json:"clientId"`
	ClientSecretRef         string            `json:"clientSecretRef"`
	TokenEndpointAuthMethod string            `json:"tokenEndpointAuthMethod"`
	AuthorizeURL            string            `json:"authorizeUrl"`
	TokenURL                string            `json:"tokenUrl"`
	RevocationURL           string            `json:"revocationUrl"`
	Scopes                  []Scope           `json:"scopes"`
	AuthorizeParams         map[string]string `json:"authorizeParams"`
	TokenParams             map[string]string `json:"tokenParams"`
	RefreshLeadTime         Duration          `json:"refreshLeadTime"`
}

// UsesPKCE reports whether the authorization code flow uses PKCE (S256).
func (o *OAuth2) UsesPKCE() bool {
	return o.Grant == GrantAuthorizationCode && (o.PKCE == nil || *o.PKCE)
}

// NeedsClientSecret reports whether the token endpoint needs the client secret.
func (o *OAuth2) NeedsClientSecret() bool { return o.TokenEndpointAuthMethod != ClientAuthNone }

// Scope is one OAuth2 scope with the reason it is asked for.
type Scope struct {
	Name     string `json:"name"`
	Reason   string `json:"reason"`
	Required *bool  `json:"required"`
}

// IsRequired reports whether the user must grant the scope (default true).
func (s Scope) IsRequired() bool { return s.Required == nil || *s.Required }

// APIKey says where an API key goes in each request.
type APIKey struct {
	Placement  string `json:"placement"`
	HeaderName string `json:"headerName"`
	Prefix     string `json:"prefix"`
	QueryParam string `json:"queryParam"`
	Username   string `json:"username"`
}

// Upstream limits where and how the proxy calls.
type Upstream struct {
	AllowedURLs []string `json:"allowedUrls"`
	Timeout     Duration `json:"timeout"`
	Retry       Retry    `json:"retry"`
}

// Retry is the retry policy for idempotent methods.
type Retry struct {
	MaxAttempts    int      `json:"maxAttempts"`
	InitialBackoff Duration `json:"initialBackoff"`
	MaxBackoff     Duration `json:"maxBackoff"`
}

// Probe is a health check request through a connection.
type Probe struct {
	Name            string   `json:"name"`
	Method          string   `json:"method"`
	URL             string   `json:"url"`
	HealthyStatuses []int    `json:"healthyStatuses"`
	Period          Duration `json:"period"`
}

// Logging is the request log policy.
type Logging struct {
	Bodies           string   `json:"bodies"`
	RedactHeaders    []string `json:"redactHeaders"`
	RedactJSONFields []string `json:"redactJsonFields"`
}

// Config declares the values collected at connect time.
type Config struct {
	Fields []ConfigField `json:"fields"`
}

// ConfigField is one value collected at connect time.
type ConfigField struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	Required    bool   `json:"required"`
	Pattern     string `json:"pattern"`
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration struct{ time.Duration }

// UnmarshalJSON reads a duration string; the schema has checked its shape.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errNotDuration
	}
	v, err := time.ParseDuration(string(b[1 : len(b)-1]))
	if err != nil {
		return errNotDuration
	}
	d.Duration = v
	return nil
}
