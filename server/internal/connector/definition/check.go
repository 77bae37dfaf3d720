package definition

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// checker applies the cross-field rules and the defaults.
type checker struct {
	lines map[string]int
	errs  Errors
	// config names the declared config fields, for templates.
	config map[string]bool
}

// fail records a problem at a JSON pointer (for its line) with a dotted field name.
func (c *checker) fail(ptr, format string, args ...any) {
	line, ok := c.lines[ptr]
	for p := ptr; !ok && p != ""; {
		p = p[:strings.LastIndex(p, "/")]
		line, ok = c.lines[p]
	}
	c.errs = append(c.errs, Error{Field: fieldOf(ptr), Line: line, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) has(ptr string) bool { _, ok := c.lines[ptr]; return ok }

func (c *checker) check(d *Definition) {
	c.config = map[string]bool{}
	for i, f := range d.Config.Fields {
		p := "/config/fields/" + strconv.Itoa(i)
		if c.config[f.Name] {
			c.fail(p+"/name", "config field %q is declared twice", f.Name)
		}
		c.config[f.Name] = true
		if f.Pattern != "" {
			if _, err := regexp.Compile("^(?:" + f.Pattern + ")$"); err != nil {
				c.fail(p+"/pattern", "not a valid regular expression: %v", err)
			}
		}
	}
	c.display(&d.Display)
	c.auth(&d.Auth)
	c.upstream(d)
	c.probes(d)
	if d.Logging.Bodies == "" {
		d.Logging.Bodies = BodiesNever
	}
}

func (c *checker) display(d *Display) {
	if d.LogoURL != "" {
		c.plainURL("/display/logoUrl", d.LogoURL)
	}
	for i, l := range d.HelpLinks {
		c.plainURL("/display/helpLinks/"+strconv.Itoa(i)+"/url", l.URL)
	}
}

func (c *checker) auth(a *Auth) {
	switch a.Type {
	case AuthOAuth2:
		if a.OAuth2 == nil {
			c.fail("/auth/oauth2", "is required when auth.type is oauth2")
		}
		if a.APIKey != nil {
			c.fail("/auth/apiKey", "only for auth.type api_key")
		}
	case AuthAPIKey:
		if a.APIKey == nil {
			c.fail("/auth/apiKey", "is required when auth.type is api_key")
		}
		if a.OAuth2 != nil {
			c.fail("/auth/oauth2", "only for auth.type oauth2")
		}
	case AuthNone:
		if a.OAuth2 != nil {
			c.fail("/auth/oauth2", "only for auth.type oauth2")
		}
		if a.APIKey != nil {
			c.fail("/auth/apiKey", "only for auth.type api_key")
		}
	}
	if a.Type == AuthOAuth2 && a.OAuth2 != nil {
		c.oauth2(a.OAuth2)
	}
	if a.Type == AuthAPIKey && a.APIKey != nil {
		c.apiKey(a.APIKey)
	}
}

// Parameters AuthProxy sets itself, which a definition may not override.
var (
	reservedAuthorizeParams = []string{"response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method"}
	reservedTokenParams     = []string{"grant_type", "code", "redirect_uri", "client_id", "client_secret", "code_verifier", "refresh_token", "scope"}
)

func (c *checker) oauth2(o *OAuth2) {
	const p = "/auth/oauth2"
	if o.Grant == "" {
		o.Grant = GrantAuthorizationCode
	}
	if o.TokenEndpointAuthMethod == "" {
		o.TokenEndpointAuthMethod = ClientSecretBasic
	}
	switch o.Grant {
	case GrantAuthorizationCode:
		if o.AuthorizeURL == "" {
			c.fail(p+"/authorizeUrl", "is required for the authorization_code grant")
		}
	case GrantClientCredentials:
		if o.AuthorizeURL != "" {
			c.fail(p+"/authorizeUrl", "the client_credentials grant has no authorization step; remove it")
		}
		if o.PKCE != nil && *o.PKCE {
			c.fail(p+"/pkce", "PKCE applies to the authorization_code grant only")
		}
		if o.TokenEndpointAuthMethod == ClientAuthNone {
			c.fail(p+"/tokenEndpointAuthMethod", "the client_credentials grant authenticates the client: use client_secret_basic or client_secret_post")
		}
		if c.has(p + "/authorizeParams") {
			c.fail(p+"/authorizeParams", "the client_credentials grant has no authorization step")
		}
	}
	switch {
	case o.NeedsClientSecret() && o.ClientSecretRef == "":
		c.fail(p+"/clientSecretRef", "is required with tokenEndpointAuthMethod %s: set it to %q and give the secret with the version (Terraform: client_secret_wo)", o.TokenEndpointAuthMethod, ClientSecretFromVersion)
	case !o.NeedsClientSecret() && o.ClientSecretRef != "":
		c.fail(p+"/clientSecretRef", "a public client (tokenEndpointAuthMethod none) has no client secret")
	}
	for _, f := range []struct{ name, v string }{{"authorizeUrl", o.AuthorizeURL}, {"tokenUrl", o.TokenURL}, {"revocationUrl", o.RevocationURL}} {
		if f.v != "" {
			c.templateURL(p+"/"+f.name, f.v)
		}
	}
	seen := map[string]bool{}
	for i, s := range o.Scopes {
		if seen[s.Name] {
			c.fail(p+"/scopes/"+strconv.Itoa(i)+"/name", "scope %q is listed twice", s.Name)
		}
		seen[s.Name] = true
	}
	for _, r := range reservedAuthorizeParams {
		if _, ok := o.AuthorizeParams[r]; ok {
			c.fail(p+"/authorizeParams/"+escapePtr(r), "%s is set by AuthProxy and cannot be overridden", r)
		}
	}
	for _, r := range reservedTokenParams {
		if _, ok := o.TokenParams[r]; ok {
			c.fail(p+"/tokenParams/"+escapePtr(r), "%s is set by AuthProxy and cannot be overridden", r)
		}
	}
	if o.RefreshLeadTime.Duration == 0 && !c.has(p+"/refreshLeadTime") {
		o.RefreshLeadTime.Duration = DefaultRefreshLeadTime
	}
	c.duration(p+"/refreshLeadTime", o.RefreshLeadTime.Duration, time.Second, 24*time.Hour)
}

func (c *checker) apiKey(k *APIKey) {
	const p = "/auth/apiKey"
	only := func(field, value, placement string) {
		if value != "" {
			c.fail(p+"/"+field, "only for placement %s", placement)
		}
	}
	switch k.Placement {
	case PlaceBearer:
		only("headerName", k.HeaderName, PlaceHeader)
		only("prefix", k.Prefix, PlaceHeader)
		only("queryParam", k.QueryParam, PlaceQuery)
		only("username", k.Username, PlaceBasic)
	case PlaceHeader:
		if k.HeaderName == "" {
			c.fail(p+"/headerName", "is required for placement header")
		}
		only("queryParam", k.QueryParam, PlaceQuery)
		only("username", k.Username, PlaceBasic)
	case PlaceQuery:
		if k.QueryParam == "" {
			c.fail(p+"/queryParam", "is required for placement query")
		}
		only("headerName", k.HeaderName, PlaceHeader)
		only("prefix", k.Prefix, PlaceHeader)
		only("username", k.Username, PlaceBasic)
	case PlaceBasic:
		only("headerName", k.HeaderName, PlaceHeader)
		only("prefix", k.Prefix, PlaceHeader)
		only("queryParam", k.QueryParam, PlaceQuery)
	}
}

func (c *checker) upstream(d *Definition) {
	u := &d.Upstream
	if d.Auth.Type != AuthNone && len(u.AllowedURLs) == 0 {
		c.fail("/upstream/allowedUrls", "is required when credentials are injected (auth.type %s): list the URL prefixes the proxy may call", d.Auth.Type)
	}
	for i, a := range u.AllowedURLs {
		c.templateURL("/upstream/allowedUrls/"+strconv.Itoa(i), a)
	}
	if !c.has("/upstream/timeout") {
		u.Timeout.Duration = DefaultUpstreamTimeout
	}
	c.duration("/upstream/timeout", u.Timeout.Duration, time.Millisecond, MaxUpstreamTimeout)
	r := &u.Retry
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 1
	}
	if !c.has("/upstream/retry/initialBackoff") {
		r.InitialBackoff.Duration = 200 * time.Millisecond
	}
	if !c.has("/upstream/retry/maxBackoff") {
		r.MaxBackoff.Duration = 5 * time.Second
	}
	c.duration("/upstream/retry/initialBackoff", r.InitialBackoff.Duration, time.Millisecond, time.Minute)
	c.duration("/upstream/retry/maxBackoff", r.MaxBackoff.Duration, time.Millisecond, 5*time.Minute)
	if r.MaxBackoff.Duration < r.InitialBackoff.Duration {
		c.fail("/upstream/retry/maxBackoff", "must not be shorter than initialBackoff (%s)", r.InitialBackoff.Duration)
	}
}

func (c *checker) probes(d *Definition) {
	seen := map[string]bool{}
	for i := range d.Probes {
		pr := &d.Probes[i]
		p := "/probes/" + strconv.Itoa(i)
		if seen[pr.Name] {
			c.fail(p+"/name", "probe %q is defined twice", pr.Name)
		}
		seen[pr.Name] = true
		if pr.Method == "" {
			pr.Method = "GET"
		}
		if len(pr.HealthyStatuses) == 0 {
			pr.HealthyStatuses = []int{200}
		}
		if !c.has(p + "/period") {
			pr.Period.Duration = DefaultProbePeriod
		}
		c.duration(p+"/period", pr.Period.Duration, MinProbePeriod, 7*24*time.Hour)
		if !c.templateURL(p+"/url", pr.URL) || len(d.Upstream.AllowedURLs) == 0 {
			continue
		}
		if !Allowed(d.Upstream.AllowedURLs, pr.URL) {
			c.fail(p+"/url", "%q is not under any of upstream.allowedUrls", pr.URL)
		}
	}
}

func (c *checker) duration(ptr string, d, lo, hi time.Duration) {
	if !c.has(ptr) && d == 0 {
		return
	}
	if d < lo || d > hi {
		c.fail(ptr, "%s is out of range: between %s and %s", d, lo, hi)
	}
}

// plainURL checks an absolute http(s) URL with no templates (display links).
func (c *checker) plainURL(ptr, raw string) {
	if strings.Contains(raw, "{{") {
		c.fail(ptr, "templates are only allowed in endpoint and upstream URLs")
		return
	}
	if msg := checkURL(raw, true); msg != "" {
		c.fail(ptr, "%s", msg)
	}
}

var templateRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)
var configRefRE = regexp.MustCompile(`^config\.([a-z][a-z0-9_]{0,62})$`)

// templateURL checks an endpoint or upstream URL that may use {{config.<field>}} in its
// host and path. It reports whether the URL is valid.
func (c *checker) templateURL(ptr, raw string) bool {
	ok := true
	sample := templateRE.ReplaceAllStringFunc(raw, func(t string) string {
		ref := templateRE.FindStringSubmatch(t)[1]
		m := configRefRE.FindStringSubmatch(ref)
		switch {
		case m == nil:
			c.fail(ptr, "template %s: only {{config.<field>}} is supported", t)
			ok = false
		case !c.config[m[1]]:
			c.fail(ptr, "template %s names no field declared in config.fields", t)
			ok = false
		}
		return "x"
	})
	if !ok {
		return false
	}
	if strings.Contains(sample, "{{") || strings.Contains(sample, "}}") {
		c.fail(ptr, "unbalanced template braces")
		return false
	}
	if scheme, _, found := strings.Cut(raw, "://"); found && strings.Contains(scheme, "{{") {
		c.fail(ptr, "the scheme cannot be a template")
		return false
	}
	if msg := checkURL(sample, false); msg != "" {
		c.fail(ptr, "%s", msg)
		return false
	}
	return true
}

// checkURL returns what is wrong with an absolute http(s) URL, or "". Fragments are
// allowed in links for people, not in URLs the server calls.
func checkURL(raw string, fragment bool) string {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Sprintf("%q is not a URL", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q must be an absolute http or https URL", raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("%q has no host", raw)
	case u.User != nil:
		return "URL must not carry credentials (user:password@)"
	case !fragment && (u.Fragment != "" || strings.Contains(raw, "#")):
		return fmt.Sprintf("%q must not have a fragment", raw)
	}
	return ""
}

// Allowed reports whether target (a URL, possibly with templates) starts with one of the
// allowed URL prefixes. A prefix without a path allows the whole host; otherwise the
// target's path must continue the prefix's path at a '/' boundary.
func Allowed(allowed []string, target string) bool {
	for _, a := range allowed {
		if urlUnder(a, target) {
			return true
		}
	}
	return false
}

func urlUnder(prefix, target string) bool {
	ps, ts := strings.ToLower(schemeHost(prefix)), strings.ToLower(schemeHost(target))
	if ps == "" || ps != ts {
		return false
	}
	pp, tp := pathOf(prefix), pathOf(target)
	if pp == "" || pp == "/" {
		return true
	}
	if !strings.HasPrefix(tp, pp) {
		return false
	}
	return strings.HasSuffix(pp, "/") || len(tp) == len(pp) || tp[len(pp)] == '/' || tp[len(pp)] == '?'
}

func schemeHost(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	host := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		host = rest[:i]
	}
	return scheme + "://" + host
}

func pathOf(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	i := strings.IndexAny(rest, "/?")
	if i < 0 {
		return ""
	}
	p := rest[i:]
	if j := strings.IndexByte(p, '?'); j >= 0 {
		p = p[:j]
	}
	return p
}

// Render fills the {{config.<field>}} templates of an endpoint or upstream URL with a
// connection's config values. A template whose value is missing is an error.
func Render(tmpl string, config map[string]string) (string, error) {
	var missing []string
	out := templateRE.ReplaceAllStringFunc(tmpl, func(t string) string {
		m := configRefRE.FindStringSubmatch(templateRE.FindStringSubmatch(t)[1])
		if m == nil {
			missing = append(missing, t)
			return t
		}
		v, ok := config[m[1]]
		if !ok {
			missing = append(missing, m[1])
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no config value for %s in %q", strings.Join(missing, ", "), tmpl)
	}
	return out, nil
}
