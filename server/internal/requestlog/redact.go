package requestlog

import (
	"net/url"
	"strings"
)

// Redacted replaces the value of every query parameter that may carry a secret.
const Redacted = "REDACTED"

// secretNames are query parameter names (lower case, without "-" and "_") whose values are
// always secrets; secretParts are substrings that make any name one.
var (
	secretNames = map[string]bool{"code": true, "sig": true, "pwd": true, "pass": true, "jwt": true, "otp": true,
		"sid": true, "hmac": true, "nonce": true, "state": true}
	secretParts = []string{"key", "token", "secret", "passw", "signature", "auth", "credential", "session", "cookie",
		"assertion", "bearer", "private"}
)

// SecretParam reports whether a query parameter of this name may carry a secret; extra
// names (the connector's own API-key parameter) count too, compared case-insensitively.
func SecretParam(name string, extra ...string) bool {
	for _, e := range extra {
		if e != "" && strings.EqualFold(name, e) {
			return true
		}
	}
	n := strings.NewReplacer("-", "", "_", "", ".", "").Replace(strings.ToLower(name))
	if secretNames[n] {
		return true
	}
	for _, p := range secretParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

// RedactURL renders u without user info or fragment and with the value of every query
// parameter that may carry a secret replaced by Redacted. Names, order and the other values
// are kept as sent.
func RedactURL(u *url.URL, extra ...string) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	c.ForceQuery = false
	if c.RawQuery != "" {
		c.RawQuery = redactQuery(c.RawQuery, extra)
	}
	return c.String()
}

// RedactRawURL parses s and redacts it; a URL that does not parse is dropped whole.
func RedactRawURL(s string, extra ...string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return RedactURL(u, extra...)
}

func redactQuery(raw string, extra []string) string {
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		rawName, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(rawName)
		switch {
		case err != nil:
			parts[i] = Redacted // a name that does not decode may itself hide a secret
		case hasValue && SecretParam(name, extra...):
			parts[i] = rawName + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}
