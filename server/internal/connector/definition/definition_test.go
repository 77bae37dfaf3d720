package definition

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExamplesAreValid(t *testing.T) {
	files, err := filepath.Glob("../../../../examples/connectors/*")
	if err != nil || len(files) < 6 {
		t.Fatalf("examples: %v %v", files, err)
	}
	more, _ := filepath.Glob("../../../../examples/connector-promotion-ci/connectors/*/*.yaml")
	files = append(files, more...)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, errs := Parse(src)
		if len(errs) > 0 {
			t.Errorf("%s: %v", f, errs)
			continue
		}
		if !strings.HasPrefix(p.Hash, "sha256:") || len(p.Hash) != 7+64 {
			t.Errorf("%s: hash %q", f, p.Hash)
		}
	}
}

func TestDefaultsAndTypes(t *testing.T) {
	p, errs := Parse([]byte(`
display: {name: X}
auth:
  type: oauth2
  oauth2: {clientId: c, clientSecretRef: version, authorizeUrl: "https://a.example/auth", tokenUrl: "https://a.example/token",
           scopes: [{name: s, reason: r}, {name: t, reason: r, required: false}]}
upstream: {allowedUrls: ["https://api.example/"]}
probes: [{name: me, url: "https://api.example/me"}]
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d := p.Definition
	o := d.Auth.OAuth2
	if o.Grant != GrantAuthorizationCode || !o.UsesPKCE() || o.TokenEndpointAuthMethod != ClientSecretBasic || !o.NeedsClientSecret() {
		t.Fatalf("oauth2 defaults %+v", o)
	}
	if o.RefreshLeadTime.Duration != DefaultRefreshLeadTime || d.Upstream.Timeout.Duration != DefaultUpstreamTimeout {
		t.Fatalf("durations %v %v", o.RefreshLeadTime, d.Upstream.Timeout)
	}
	if !o.Scopes[0].IsRequired() || o.Scopes[1].IsRequired() {
		t.Fatal("scope required defaults")
	}
	if pr := d.Probes[0]; pr.Method != "GET" || pr.Period.Duration != DefaultProbePeriod || len(pr.HealthyStatuses) != 1 {
		t.Fatalf("probe defaults %+v", pr)
	}
	if d.Logging.Bodies != BodiesNever || d.Upstream.Retry.MaxAttempts != 1 {
		t.Fatalf("logging/retry defaults %+v %+v", d.Logging, d.Upstream.Retry)
	}
}

func TestNormalizationIgnoresFormatting(t *testing.T) {
	a := []byte("display: {name: X}\nauth: {type: none}\n")
	b := []byte("# a comment\nauth:\n  type: \"none\"\ndisplay:\n    name: 'X'\n")
	c := []byte(`{"auth":{"type":"none"},"display":{"name":"X"}}`)
	pa, errs := Parse(a)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, src := range [][]byte{b, c} {
		p, errs := Parse(src)
		if errs != nil {
			t.Fatal(errs)
		}
		if p.Hash != pa.Hash || string(p.Normalized) != string(pa.Normalized) {
			t.Fatalf("%s normalised to %s, want %s", src, p.Normalized, pa.Normalized)
		}
	}
	if string(pa.Normalized) != `{"auth":{"type":"none"},"display":{"name":"X"}}` {
		t.Fatalf("normalized %s", pa.Normalized)
	}
	n, err := Normalize(b)
	if err != nil || string(n) != string(pa.Normalized) {
		t.Fatalf("Normalize %s %v", n, err)
	}
	d, errs := Parse([]byte("display: {name: Y}\nauth: {type: none}\n"))
	if errs != nil || d.Hash == pa.Hash {
		t.Fatal("different definitions share a hash")
	}
}

const oauthBase = `display: {name: X}
auth:
  type: oauth2
  oauth2:
    clientId: c
    clientSecretRef: version
    authorizeUrl: https://a.example/auth
    tokenUrl: https://a.example/token
upstream:
  allowedUrls: [https://api.example/v1/]
`

func TestBadDefinitions(t *testing.T) {
	cases := []struct {
		name, src, field string
		line             int
		msg              string
	}{
		{"empty", "  \n", "", 0, "definition is empty"},
		{"not yaml", "display: [1,\n", "", 1, "not valid YAML or JSON"},
		{"scalar", "hello\n", "", 1, "mapping (an object) at the top level"},
		{"two documents", "display: {name: X}\nauth: {type: none}\n---\na: 1\n", "", 3, "more than one YAML document"},
		{"alias", "display: &d {name: X}\nauth: {type: none}\nx: *d\n", "x", 3, "aliases"},
		{"duplicate key", "display: {name: X}\nauth: {type: none}\nauth: {type: none}\n", "auth", 3, "defined twice"},
		{"missing display", "auth: {type: none}\n", "display", 1, "is required"},
		{"unknown field", "display: {name: X, colour: red}\nauth: {type: none}\n", "display.colour", 1, "unknown field"},
		{"bad enum", "display: {name: X}\nauth: {type: magic}\n", "auth.type", 2, "must be one of 'oauth2', 'api_key', 'none'"},
		{"bad duration", "display: {name: X}\nauth: {type: none}\nupstream: {timeout: soon}\n", "upstream.timeout", 3, "does not match pattern"},
		{"duration out of range", "display: {name: X}\nauth: {type: none}\nupstream: {timeout: 10m}\n", "upstream.timeout", 3, "out of range"},
		{"oauth2 block missing", "display: {name: X}\nauth: {type: oauth2}\nupstream: {allowedUrls: [https://a.example/]}\n", "auth.oauth2", 2, "is required when auth.type is oauth2"},
		{"api key block on oauth2", strings.Replace(oauthBase, "  type: oauth2\n", "  type: oauth2\n  apiKey: {placement: bearer}\n", 1), "auth.apiKey", 4, "only for auth.type api_key"},
		{"no allowed urls", strings.Replace(oauthBase, "upstream:\n  allowedUrls: [https://api.example/v1/]\n", "", 1), "upstream.allowedUrls", 0, "required when credentials are injected"},
		{"authorize url missing", strings.Replace(oauthBase, "    authorizeUrl: https://a.example/auth\n", "", 1), "auth.oauth2.authorizeUrl", 0, "required for the authorization_code grant"},
		{"client secret ref missing", strings.Replace(oauthBase, "    clientSecretRef: version\n", "", 1), "auth.oauth2.clientSecretRef", 0, "is required with tokenEndpointAuthMethod client_secret_basic"},
		{"relative token url", strings.Replace(oauthBase, "https://a.example/token", "/token", 1), "auth.oauth2.tokenUrl", 8, "absolute http or https URL"},
		{"javascript logo", "display: {name: X, logoUrl: \"javascript:alert(1)\"}\nauth: {type: none}\n", "display.logoUrl", 1, "absolute http or https URL"},
		{"credentials in url", strings.Replace(oauthBase, "https://a.example/token", "https://u:p@a.example/token", 1), "auth.oauth2.tokenUrl", 8, "must not carry credentials"},
		{"unknown template", strings.Replace(oauthBase, "https://a.example/token", "https://{{config.tenant}}.example/token", 1), "auth.oauth2.tokenUrl", 8, "names no field declared"},
		{"bad template", strings.Replace(oauthBase, "https://a.example/token", "https://{{env.HOME}}.example/token", 1), "auth.oauth2.tokenUrl", 8, "only {{config.<field>}}"},
		{"reserved param", oauthBase[:strings.Index(oauthBase, "upstream:")] + "    authorizeParams: {state: x}\n" + oauthBase[strings.Index(oauthBase, "upstream:"):], "auth.oauth2.authorizeParams.state", 9, "set by AuthProxy"},
		{"duplicate scope", strings.Replace(oauthBase, "    tokenUrl: https://a.example/token\n", "    tokenUrl: https://a.example/token\n    scopes: [{name: a, reason: r}, {name: a, reason: r}]\n", 1), "auth.oauth2.scopes[1].name", 9, "listed twice"},
		{"client credentials with authorize url", strings.Replace(oauthBase, "    clientId: c\n", "    grant: client_credentials\n    clientId: c\n", 1), "auth.oauth2.authorizeUrl", 8, "no authorization step"},
		{"probe outside allowed urls", oauthBase + "probes: [{name: p, url: \"https://evil.example/v1/x\"}]\n", "probes[0].url", 11, "not under any of upstream.allowedUrls"},
		{"probe on sibling path", oauthBase + "probes: [{name: p, url: \"https://api.example/v10/x\"}]\n", "probes[0].url", 11, "not under any"},
		{"header placement without name", "display: {name: X}\nauth:\n  type: api_key\n  apiKey: {placement: header}\nupstream: {allowedUrls: [https://a.example/]}\n", "auth.apiKey.headerName", 4, "required for placement header"},
		{"query param on bearer", "display: {name: X}\nauth:\n  type: api_key\n  apiKey: {placement: bearer, queryParam: k}\nupstream: {allowedUrls: [https://a.example/]}\n", "auth.apiKey.queryParam", 4, "only for placement query"},
		{"bad config pattern", "display: {name: X}\nauth: {type: none}\nconfig: {fields: [{name: a, label: A, pattern: \"(\"}]}\n", "config.fields[0].pattern", 3, "not a valid regular expression"},
		{"infinite number", "display: {name: X}\nauth: {type: none}\nprobes: [{name: p, url: \"https://a.example/\", healthyStatuses: [.inf]}]\n", "probes[0].healthyStatuses[0]", 3, "not a finite number"},
		{"too large", "display: {name: X}\n#" + strings.Repeat("x", MaxSize) + "\n", "", 0, "more than the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, errs := Parse([]byte(tc.src))
			if p != nil || len(errs) == 0 {
				t.Fatalf("accepted")
			}
			for _, e := range errs {
				if e.Field == tc.field && strings.Contains(e.Message, tc.msg) && (tc.line == 0 || e.Line == tc.line) {
					return
				}
			}
			t.Fatalf("want %s (line %d) %q, got %v", tc.field, tc.line, tc.msg, errs)
		})
	}
}

func TestAllowed(t *testing.T) {
	allowed := []string{"https://api.example/v1/", "https://other.example", "https://{{config.sub}}.zendesk.com/api/"}
	for target, want := range map[string]bool{
		"https://api.example/v1/users":                 true,
		"https://api.example/v1/":                      true,
		"https://api.example/v2/users":                 false,
		"http://api.example/v1/users":                  false,
		"https://api.example.evil/v1/":                 false,
		"https://other.example/anything":               true,
		"https://OTHER.example/x":                      true,
		"https://{{config.sub}}.zendesk.com/api/x":     true,
		"https://{{config.sub}}.zendesk.com/private/x": false,
	} {
		if got := Allowed(allowed, target); got != want {
			t.Errorf("Allowed(%q) = %v", target, got)
		}
	}
}
