package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/authproxy/authproxy/server/internal/actor"
	"github.com/authproxy/authproxy/server/internal/authn"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/namespace"
	"github.com/authproxy/authproxy/server/internal/problem"
)

// Refused is a hand-off that cannot start a session. Reason is safe to log; it is not shown
// to the browser, which goes to the host's login page instead.
type Refused struct{ Reason string }

func (e *Refused) Error() string { return "session refused: " + e.Reason }

func refused(format string, args ...any) error { return &Refused{Reason: fmt.Sprintf(format, args...)} }

// Broker turns delegated tokens into sessions.
type Broker struct {
	Verifier *authn.Verifier
	Actors   *actor.Service
	Store    *Store
}

// Start verifies the delegated token raw for audience (the service the session is for:
// "public" for the marketplace, "admin" for the admin pages) and creates a session of kind.
// A token that is invalid, expired, replayed, or whose signer may not act for its subject
// gives a *Refused; anything else is an internal failure.
func (b *Broker) Start(ctx context.Context, raw, audience, kind string) (string, *Session, error) {
	d, err := b.Verifier.VerifyDelegated(ctx, raw, audience)
	if err != nil {
		var ae *authn.Error
		if errors.As(err, &ae) {
			return "", nil, refused("%s", ae.Reason)
		}
		return "", nil, err
	}
	signer := authz.Compile(authz.Clamp(d.Signer.Namespace, d.Signer.Permissions))
	user, err := b.subject(ctx, d, signer)
	if err != nil {
		return "", nil, err
	}
	token, sess, err := b.Store.Create(ctx, Session{Kind: kind, ActorID: user.ID, Namespace: user.Namespace,
		ExternalID: user.ExternalID, SignerID: d.Signer.ID})
	if err != nil {
		return "", nil, err
	}
	return token, sess, nil
}

// subject resolves (or creates) the end user and checks the signer may impersonate it.
func (b *Broker) subject(ctx context.Context, d *authn.Delegation, signer authz.Set) (*actor.Actor, error) {
	var (
		user *actor.Actor
		err  error
		ns   string
		ext  string
	)
	if strings.HasPrefix(d.Subject, actor.IDPrefix+"_") {
		user, err = b.Actors.Get(ctx, d.Subject)
	} else {
		var ok bool
		ns, ext, ok = strings.Cut(d.Subject, "/")
		if !ok || ext == "" || namespace.ValidatePath(ns) != nil {
			return nil, refused("sub %q is neither an actor id nor <namespace>/<externalId>", d.Subject)
		}
		user, err = b.Actors.GetByExternalID(ctx, ns, ext)
	}
	var pe *problem.Error
	if err != nil && !(errors.As(err, &pe) && pe.Status == http.StatusNotFound) {
		return nil, err
	}
	if user != nil {
		if !signer.Allows(user.Namespace, authz.ResourceActors, authz.VerbImpersonate, user.ID) {
			return nil, refused("actor %s may not impersonate %s (actors:impersonate in %s)", d.Signer.ID, user.ID, user.Namespace)
		}
		return user, nil
	}
	if ns == "" {
		return nil, refused("sub %s names no actor", d.Subject)
	}
	if !signer.Allows(ns, authz.ResourceActors, authz.VerbImpersonate, "") {
		return nil, refused("actor %s may not impersonate actors in %s", d.Signer.ID, ns)
	}
	if !d.Create {
		return nil, refused("no actor %s in %s, and the token does not ask to create it", ext, ns)
	}
	if !signer.Allows(ns, authz.ResourceActors, authz.VerbCreate, "") {
		return nil, refused("actor %s may not create actors in %s", d.Signer.ID, ns)
	}
	user, err = b.Actors.Create(ctx, actor.Actor{Namespace: ns, ExternalID: ext,
		Annotations: map[string]string{"authproxy.io/created-by": d.Signer.ID}})
	if err != nil {
		var p *problem.Error
		if errors.As(err, &p) && p.Status == http.StatusConflict {
			// Created meanwhile by a concurrent hand-off: use it.
			return b.Actors.GetByExternalID(ctx, ns, ext)
		}
		if errors.As(err, &p) && p.Status < 500 {
			return nil, refused("creating actor %s in %s: %s", ext, ns, p.Detail)
		}
		return nil, err
	}
	return user, nil
}
