package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/authproxy/authproxy/sdk"
	"github.com/authproxy/authproxy/server/internal/actor"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// Bootstrap admin identity.
const (
	AdminExternalID = "admin"
	AdminSubject    = namespace.Root + "/" + AdminExternalID
)

// Bootstrap makes sure the admin actor exists in root holding every permission and that the
// private key at keyFile signs for it: an existing key file is reused, a missing one is
// generated (0600) and registered. It returns the admin actor.
func (a *App) Bootstrap(ctx context.Context, keyFile string) (*actor.Actor, error) {
	keyPEM, err := os.ReadFile(keyFile)
	var authorized string
	switch {
	case errors.Is(err, os.ErrNotExist):
		var pub string
		keyPEM, pub, err = sdk.GenerateKeyPair()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return nil, fmt.Errorf("write admin key: %w", err)
		}
		authorized = pub
	case err != nil:
		return nil, fmt.Errorf("read admin key: %w", err)
	default:
		signer, err := sdk.ParsePrivateKey(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("admin key %s: %w", keyFile, err)
		}
		authorized, err = sdk.AuthorizedKey(signer.Public())
		if err != nil {
			return nil, err
		}
	}
	all := []authz.Permission{{Namespace: namespace.Root + ".**", Resources: []string{authz.Wildcard}, Verbs: []string{authz.Wildcard}}}
	existing, err := a.Actors.GetByExternalID(ctx, namespace.Root, AdminExternalID)
	var pe *problem.Error
	switch {
	case errors.As(err, &pe) && pe.Status == 404:
		return a.Actors.Create(ctx, actor.Actor{Namespace: namespace.Root, ExternalID: AdminExternalID, Name: "Bootstrap admin",
			Permissions: all, PublicKeys: []string{authorized}, Labels: map[string]string{"authproxy.dev/bootstrap": "true"}})
	case err != nil:
		return nil, err
	}
	keys := []string{authorized}
	return a.Actors.Update(ctx, existing.ID, actor.Patch{Permissions: &all, PublicKeys: &keys})
}
