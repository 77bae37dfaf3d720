// Package oauth2 is the OAuth2 client side of connections: the authorization code flow with
// PKCE, client credentials, refresh (with refresh-token rotation), RFC 7009 revocation, error
// classification, and [Refresher], which makes sure exactly one refresh per connection runs at
// a time across every replica.
//
// A [Client] is built from a connector's [definition.OAuth2], the client secret and the
// connection's config values; the exchanges themselves go through golang.org/x/oauth2 over the
// *http.Client the caller passes (the proxy passes one whose dials are guarded).
//
// Nothing in this package prints a secret: [Token] redacts itself under every fmt verb, slog
// and encoding/json (use [Token.Marshal] for the storage form), and [Error] messages never
// contain tokens, authorization codes, PKCE verifiers or client secrets.
package oauth2
