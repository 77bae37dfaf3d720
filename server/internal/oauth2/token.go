package oauth2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Token is an OAuth2 token set as stored for a connection.
//
// Token implements fmt.Stringer, fmt.Formatter, json.Marshaler and slog.LogValuer with a
// redacted description, so no fmt verb, structured logger or JSON encoder prints the access or
// refresh token. Use [Token.Marshal] and [UnmarshalToken] for the (to be encrypted) stored form.
type Token struct {
	AccessToken  string
	RefreshToken string
	TokenType    string
	// Expiry is when the access token expires; zero when the provider did not say.
	Expiry time.Time
	// Scope is the space-separated scope the provider reported, if any.
	Scope string
}

// ValidFor reports whether t has an access token that does not expire within lead.
// A token without an expiry is always valid.
func (t *Token) ValidFor(lead time.Duration) bool {
	if t == nil || t.AccessToken == "" {
		return false
	}
	return t.Expiry.IsZero() || time.Now().Add(lead).Before(t.Expiry)
}

// String describes t without its token values.
func (t Token) String() string {
	exp := "none"
	if !t.Expiry.IsZero() {
		exp = t.Expiry.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("Token{TokenType:%q, Expiry:%s, Scope:%q, AccessToken:%s, RefreshToken:%s}",
		t.TokenType, exp, t.Scope, redacted(t.AccessToken), redacted(t.RefreshToken))
}

func redacted(s string) string {
	if s == "" {
		return "[empty]"
	}
	return "[redacted]"
}

// Format writes [Token.String] whatever the verb.
func (t Token) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }

// MarshalJSON encodes [Token.String] as a JSON string. It is deliberately not the storage form.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// LogValue makes slog print [Token.String].
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// storedToken is the storage form of a Token.
type storedToken struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scope        string    `json:"scope,omitempty"`
}

// Marshal returns the JSON storage form of t, token values included. Encrypt it before it
// goes anywhere.
func (t *Token) Marshal() ([]byte, error) {
	if t == nil {
		return nil, errors.New("oauth2: marshal of a nil token")
	}
	return json.Marshal(storedToken{
		AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType,
		Expiry: t.Expiry, Scope: t.Scope,
	})
}

// UnmarshalToken reads the storage form written by [Token.Marshal]. Its errors never quote
// the input.
func UnmarshalToken(b []byte) (*Token, error) {
	var s storedToken
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errors.New("oauth2: stored token is not valid JSON")
	}
	if s.AccessToken == "" {
		return nil, errors.New("oauth2: stored token has no access token")
	}
	return &Token{AccessToken: s.AccessToken, RefreshToken: s.RefreshToken, TokenType: s.TokenType,
		Expiry: s.Expiry, Scope: s.Scope}, nil
}
