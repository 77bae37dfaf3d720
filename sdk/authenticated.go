package sdk

import "errors"

// Audiences of the authproxy services; a token's "aud" claim must name the one it calls.
const (
	AudienceAdmin  = "admin"
	AudienceAPI    = "api"
	AudiencePublic = "public"
)

// NewAuthenticatedClient returns a client whose every request carries a bearer token for
// audience, signed by s and reused until half of its lifetime has passed (see TokenSource).
// opts are applied after the authentication editor, so extra request editors run after it.
func NewAuthenticatedClient(server string, s *Signer, audience string, opts ...ClientOption) (*ClientWithResponses, error) {
	if s == nil {
		return nil, errors.New("signer is required")
	}
	if audience == "" {
		return nil, errors.New("audience is required")
	}
	all := make([]ClientOption, 0, len(opts)+1)
	all = append(all, WithRequestEditorFn(s.RequestEditor(audience)))
	all = append(all, opts...)
	return NewClientWithResponses(server, all...)
}

// NewClientFromKeyFile is NewAuthenticatedClient with a Signer for actor built from the
// private key in keyFile. Apps, the CLI and the Terraform provider all authenticate this way.
func NewClientFromKeyFile(server, actor, keyFile, audience string, opts ...ClientOption) (*ClientWithResponses, error) {
	s, err := NewSignerFromFile(actor, keyFile)
	if err != nil {
		return nil, err
	}
	return NewAuthenticatedClient(server, s, audience, opts...)
}
