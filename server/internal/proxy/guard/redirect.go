package guard

import (
	"fmt"
	"net/http"
)

// RedirectPolicy decides which redirects an http.Client follows; use its
// CheckRedirect method as http.Client.CheckRedirect. The zero value never
// follows: the client returns the 3xx response itself, which the proxy
// passes back to its caller. This is the recommended setting — following
// would forward injected credentials (custom headers such as X-API-Key are
// not stripped by net/http on cross-host redirects) to wherever the
// upstream points.
//
// When following is enabled, every hop is still dialed through the guard
// Dialer, so a redirect to a refused address fails with a *RefusedError
// before any connection is made; AllowHost additionally keeps every hop on
// the connector's allowed hosts.
type RedirectPolicy struct {
	// Max is the number of redirects to follow; 0 never follows.
	Max int
	// AllowHost, if non-nil, must accept the host (without port) of every
	// redirect target, or the redirect is refused with a *RefusedError of
	// class ClassHostNotAllowed.
	AllowHost func(host string) bool
}

// CheckRedirect implements http.Client.CheckRedirect.
func (p RedirectPolicy) CheckRedirect(req *http.Request, via []*http.Request) error {
	if p.Max <= 0 {
		return http.ErrUseLastResponse
	}
	if len(via) > p.Max {
		return fmt.Errorf("guard: stopped after %d redirects", p.Max)
	}
	if p.AllowHost != nil && !p.AllowHost(req.URL.Hostname()) {
		return &RefusedError{Host: req.URL.Hostname(), Class: ClassHostNotAllowed}
	}
	return nil
}

// NeverFollow is an http.Client.CheckRedirect that never follows a
// redirect; it is RedirectPolicy{}.CheckRedirect.
func NeverFollow(req *http.Request, via []*http.Request) error {
	return RedirectPolicy{}.CheckRedirect(req, via)
}
