package oauth2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	xoauth2 "golang.org/x/oauth2"
)

// Error codes this package sets itself; other codes come from the provider's error response
// (RFC 6749 §5.2, RFC 7009 §2.2.1).
const (
	CodeNetwork          = "network_error"      // the endpoint could not be reached
	CodeTimeout          = "timeout"            // the endpoint did not answer in time
	CodeMalformed        = "malformed_response" // a 2xx answer that is not a usable token response
	CodeHTTP             = "http_error"         // a non-2xx answer without an OAuth2 error code
	CodeNoRefreshToken   = "no_refresh_token"   // the stored token has no refresh token
	CodeAccessDenied     = "access_denied"      // the user refused on the consent screen
	CodeInvalidCallback  = "invalid_callback"   // the callback query has neither code nor error
	codeInvalidGrant     = "invalid_grant"
	codeInvalidClient    = "invalid_client"
	codeUnauthorized     = "unauthorized_client"
	codeTempUnavailable  = "temporarily_unavailable"
	codeServerError      = "server_error"
	maxDescriptionLength = 300
)

// Error is a failed OAuth2 exchange with an OAuth2 authorization server.
//
// Permanent errors (invalid_grant, invalid_client, unauthorized_client, and other 4xx answers
// except 408 and 429) mean retrying the same request will not help: the connection needs to be
// re-authorized (or the connector fixed). Transient errors (network errors, timeouts, 5xx, 408,
// 429, temporarily_unavailable, malformed 2xx answers) may be retried with backoff.
//
// The message never contains tokens, authorization codes, PKCE verifiers or client secrets;
// values this package sent are scrubbed from the provider's description too.
type Error struct {
	// Op is the exchange: "authorization_code", "refresh_token", "client_credentials",
	// "revoke" or "callback".
	Op string
	// Code is the provider's OAuth2 error code, or one of the Code* constants.
	Code string
	// Description is the provider's error_description (scrubbed and shortened), if any.
	Description string
	// Status is the HTTP status of the answer; 0 when there was none.
	Status    int
	Permanent bool

	cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("oauth2 ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Permanent {
		b.WriteString(" [permanent: the connection needs to be re-authorized]")
	} else {
		b.WriteString(" [transient]")
	}
	return b.String()
}

// Unwrap returns the underlying transport error, if any (so errors.Is(err,
// context.DeadlineExceeded) works). Its text may name the endpoint URL, never a secret.
func (e *Error) Unwrap() error { return e.cause }

// Temporary reports whether retrying may help.
func (e *Error) Temporary() bool { return !e.Permanent }

// IsPermanent reports whether err is (or wraps) a permanent [Error]: the grant or the client
// is no longer valid and the connection needs to be re-authorized.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// IsTransient reports whether err is (or wraps) a transient [Error] that may be retried.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Permanent
}

// classifyStatus decides permanence from an OAuth2 error code and HTTP status.
func classifyStatus(code string, status int) bool {
	switch {
	case status >= 500, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return false
	case code == codeTempUnavailable, code == codeServerError:
		return false
	case code == codeInvalidGrant, code == codeInvalidClient, code == codeUnauthorized:
		return true
	case status >= 400:
		return true
	}
	return false
}

// newError turns anything golang.org/x/oauth2 or net/http returned into an *Error, scrubbing
// the given secrets from provider-supplied text.
func newError(op string, err error, secrets ...string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var re *xoauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code := re.ErrorCode
		if code == "" {
			// A non-2xx answer that is not an OAuth2 error (an HTML error page, an empty 401).
			code = CodeHTTP
			if status == http.StatusUnauthorized {
				code = codeInvalidClient
			}
		}
		out := &Error{Op: op, Code: scrub(code, 64, secrets), Description: scrub(re.ErrorDescription, maxDescriptionLength, secrets), Status: status}
		if status >= 200 && status < 300 && re.ErrorCode == "" {
			out.Code = CodeMalformed
		}
		out.Permanent = classifyStatus(re.ErrorCode, status)
		if code == codeInvalidClient && status == http.StatusUnauthorized {
			out.Permanent = true
		}
		return out
	}
	return transportError(op, err)
}

// transportError classifies an error that came with no HTTP answer we could read.
func transportError(op string, err error) *Error {
	var ne net.Error
	var ue *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &Error{Op: op, Code: CodeTimeout, Description: "the endpoint did not answer in time", cause: err}
	case errors.Is(err, context.Canceled):
		return &Error{Op: op, Code: CodeTimeout, Description: "the request was canceled", cause: err}
	case errors.As(err, &ue):
		// ue.Err is the dial/TLS/read error; ue.URL is the endpoint (no secrets: bodies are forms).
		return &Error{Op: op, Code: CodeNetwork, Description: scrub(ue.Err.Error(), maxDescriptionLength, nil), cause: err}
	}
	// golang.org/x/oauth2 could not parse a 2xx answer ("cannot parse json", "missing
	// access_token", ...). Its text is not quoted: only the class is reported.
	return &Error{Op: op, Code: CodeMalformed, Description: "the token endpoint's answer is not a valid token response"}
}

// scrub removes the given secrets, control characters and excess length from provider text.
func scrub(s string, max int, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// oauthErrorBody is an RFC 6749 §5.2 error answer.
type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// httpError classifies a non-2xx answer read by this package (revocation).
func httpError(op string, status int, body []byte, secrets ...string) *Error {
	var eb oauthErrorBody
	_ = json.Unmarshal(body, &eb)
	code := eb.Error
	if code == "" {
		code = CodeHTTP
		if status == http.StatusUnauthorized {
			code = codeInvalidClient
		}
	}
	return &Error{Op: op, Code: scrub(code, 64, secrets), Description: scrub(eb.ErrorDescription, maxDescriptionLength, secrets),
		Status: status, Permanent: classifyStatus(code, status)}
}
