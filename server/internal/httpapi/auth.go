package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/authproxy/authproxy/server/internal/authn"
	"github.com/authproxy/authproxy/server/internal/authz"
	"github.com/authproxy/authproxy/server/internal/problem"
	"github.com/authproxy/authproxy/server/internal/store"
)

// Caller is the authenticated actor of a request and what it may do in it.
type Caller struct {
	Principal *authn.Principal
	Identity  *authn.Identity
	// Effective is the actor's permissions clamped to its subtree and narrowed by the token.
	Effective []authz.Permission
	Set       authz.Set
}

type callerKey struct{}

// CallerFrom returns the caller authenticated for ctx (nil outside /api).
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// NewCaller computes the effective permissions of a verified identity.
func NewCaller(id *authn.Identity) *Caller {
	eff := authz.Clamp(id.Principal.Namespace, id.Principal.Permissions)
	if id.Narrowing != nil {
		eff = authz.Intersect(eff, id.Narrowing)
	}
	return &Caller{Principal: id.Principal, Identity: id, Effective: eff, Set: authz.Compile(eff)}
}

func authenticate(v *authn.Verifier, audience string, l *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			scheme, raw, ok := strings.Cut(h, " ")
			if h == "" {
				writeProblem(w, r, problem.Unauthorized("missing Authorization header; send \"Authorization: Bearer <JWT>\""))
				return
			}
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
				writeProblem(w, r, problem.Unauthorized("the Authorization header must be \"Bearer <JWT>\""))
				return
			}
			id, err := v.Verify(r.Context(), strings.TrimSpace(raw), audience)
			if err != nil {
				var ae *authn.Error
				if errors.As(err, &ae) {
					writeProblem(w, r, problem.Unauthorized("%s", ae.Reason))
					return
				}
				logger(l).ErrorContext(r.Context(), "token verification failed", "error", err, "request_id", RequestID(r.Context()))
				writeProblem(w, r, problem.New(http.StatusServiceUnavailable, "could not verify the token right now; try again"))
				return
			}
			ctx := context.WithValue(r.Context(), callerKey{}, NewCaller(id))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// authorize is the one check every handler makes. A caller that may not even read the
// resource gets hidden (a 404 for existing resources, so nothing leaks across tenants); a
// caller that may read it but not perform verb gets a 403.
func authorize(ctx context.Context, ns, resource, verb, resourceID string, hidden error) error {
	c := CallerFrom(ctx)
	if c == nil {
		return problem.Unauthorized("not authenticated")
	}
	if c.Set.Allows(ns, resource, verb, resourceID) {
		return nil
	}
	if verb != authz.VerbGet && c.Set.Allows(ns, resource, authz.VerbGet, resourceID) {
		return problem.Forbidden("not permitted to %s %s in namespace %q", verb, resource, ns)
	}
	return hidden
}

// scope returns the rows of resource the caller may list, for filtering in the query.
func scope(ctx context.Context, resource string) store.Scope {
	c := CallerFrom(ctx)
	if c == nil {
		return store.Scope{}
	}
	return c.Set.Scope(resource, authz.VerbList).Query()
}
